//! Reads one execution's rows from the run ledger (`settings.ledger_table`).

use serde::Serialize;
use snowflake::{Binding, Client, ObjectName, Statement};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRow {
    pub step: String,
    pub item: String,
    pub status: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub seconds: Option<f64>,
    pub statement_handles: Vec<String>,
    pub rows_inserted: Option<i64>,
    pub rows_updated: Option<i64>,
    pub rows_deleted: Option<i64>,
    pub dq_outcome: Option<String>,
    pub dq_observed: Option<i64>,
    pub error: Option<String>,
    pub warehouse_seconds: Option<f64>,
    pub from_earlier_run: bool,
    pub detail: Option<String>,
}

const COLUMNS: &str = "STEP, ITEM, STATUS, STARTED_AT, ENDED_AT, STATEMENT_HANDLES, ROWS_INSERTED, \
     ROWS_UPDATED, ROWS_DELETED, DQ_OUTCOME, DQ_OBSERVED, ERROR, WAREHOUSE_SECONDS, \
     FROM_EARLIER_RUN, DETAIL";

/// The rows of `execution`, in the order they started.
pub async fn rows(
    client: &Client,
    table: &ObjectName,
    warehouse: &str,
    execution: &str,
) -> Result<Vec<LedgerRow>, snowflake::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {table} WHERE EXECUTION = ? ORDER BY STARTED_AT, STEP, ITEM"
    );
    let statement = Statement::new(sql)
        .bind(Binding::text(execution))
        .warehouse(warehouse);
    let set = client.query(&statement, Duration::from_secs(60)).await?;
    let mut rows = Vec::with_capacity(set.len());
    for r in set.iter() {
        let started = r.get_timestamp(3)?;
        let ended = r.get_timestamp(4)?;
        rows.push(LedgerRow {
            step: r.get_str(0)?.unwrap_or_default().to_string(),
            item: r.get_str(1)?.unwrap_or_default().to_string(),
            status: r.get_str(2)?.unwrap_or_default().to_string(),
            started_at: started.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            ended_at: ended.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            seconds: started.zip(ended).map(|(s, e)| (e - s).as_seconds_f64()),
            statement_handles: r
                .get_str(5)?
                .unwrap_or_default()
                .split(',')
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect(),
            rows_inserted: r.get_i64(6)?,
            rows_updated: r.get_i64(7)?,
            rows_deleted: r.get_i64(8)?,
            dq_outcome: r.get_str(9)?.map(String::from),
            dq_observed: r.get_i64(10)?,
            error: r.get_str(11)?.map(String::from),
            warehouse_seconds: r.get_f64(12)?,
            from_earlier_run: r.get_bool(13)?.unwrap_or(false),
            detail: r.get_str(14)?.map(String::from),
        });
    }
    Ok(rows)
}

/// The execution of the newest run with this run key (a replayed event makes several).
pub async fn execution_of_run_key(
    client: &Client,
    table: &ObjectName,
    warehouse: &str,
    run_key: &str,
) -> Result<Option<String>, snowflake::Error> {
    let sql = format!(
        "SELECT EXECUTION FROM {table} WHERE RUN_KEY = ? GROUP BY EXECUTION \
         ORDER BY MIN(STARTED_AT) DESC LIMIT 1"
    );
    let statement = Statement::new(sql)
        .bind(Binding::text(run_key))
        .warehouse(warehouse);
    let set = client.query(&statement, Duration::from_secs(60)).await?;
    Ok(set
        .row(0)
        .and_then(|r| r.get_str(0).ok().flatten().map(String::from)))
}
