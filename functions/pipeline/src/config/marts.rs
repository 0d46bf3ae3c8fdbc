//! `[[pipelines.<name>.marts]]`: what is refreshed after the checks pass, in dependency order.

use super::problem::At;
use super::read::Table;
use super::sql::{Need, one_statement};
use super::validate::Ctx;
use schemars::JsonSchema;
use serde::Deserialize;
use snowflake::ObjectName;
use std::collections::HashMap;

/// At most this many marts per pipeline (refreshed in order by one Lambda, with its loop).
pub const MAX_MARTS: usize = 100;

/// One mart as written, by kind.
#[derive(Deserialize, JsonSchema, Debug)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MartFile {
    /// `ALTER DYNAMIC TABLE <object> REFRESH`.
    DynamicTable {
        name: String,
        object: String,
        /// Marts that must be refreshed first.
        #[serde(default)]
        after: Vec<String>,
        /// The merges whose targets the mart reads: in a change-aware run it is refreshed only
        /// when one of them runs. Absent, whenever any merge does.
        depends_on: Option<Vec<String>>,
    },
    /// `EXECUTE TASK <object>`.
    Task {
        name: String,
        object: String,
        #[serde(default)]
        after: Vec<String>,
        depends_on: Option<Vec<String>>,
    },
    /// One statement from a file (relative to this config file).
    Sql {
        name: String,
        sql_file: String,
        #[serde(default)]
        after: Vec<String>,
        depends_on: Option<Vec<String>>,
    },
}

#[derive(Debug)]
pub struct Mart {
    pub name: String,
    pub action: MartAction,
    /// Merge names (see [`super::Scope`]); `None`: whenever any merge runs.
    pub depends_on: Option<Vec<String>>,
}

#[derive(Debug)]
pub enum MartAction {
    RefreshDynamicTable(ObjectName),
    ExecuteTask(ObjectName),
    /// The file's one statement, without comments around it or a final `;`.
    Sql(String),
}

#[derive(Clone, Copy)]
enum Kind {
    DynamicTable,
    Task,
    Sql,
}

/// A mart as read, before ordering.
pub(crate) struct Read {
    name: Option<String>,
    after: Vec<(At, String)>,
    action: Option<MartAction>,
    depends_on: Option<Vec<String>>,
}

pub(crate) fn read(mut t: Table<'_>) -> Read {
    let name = t.req_str("name").map(str::to_string);
    let after = t
        .strs("after")
        .unwrap_or_default()
        .into_iter()
        .map(|(at, s)| (at, s.to_string()))
        .collect();
    let depends_on = t
        .strs("depends_on")
        .map(|names| names.into_iter().map(|(_, n)| n.to_string()).collect());
    let kind = t.choice(
        "kind",
        &[
            ("dynamic_table", Kind::DynamicTable),
            ("task", Kind::Task),
            ("sql", Kind::Sql),
        ],
    );
    let action = kind.and_then(|kind| {
        let object = |t: &mut Table<'_>| {
            let at = t.at("object");
            t.req_str("object").and_then(|o| t.ctx.object(&at, o))
        };
        match kind {
            Kind::DynamicTable => object(&mut t).map(MartAction::RefreshDynamicTable),
            Kind::Task => object(&mut t).map(MartAction::ExecuteTask),
            Kind::Sql => {
                let at = t.at("sql_file");
                t.req_str("sql_file")
                    .and_then(|f| t.ctx.sql_file(&at, f))
                    .and_then(|sql| one_statement(t.ctx, &at, &sql, Need::Statement))
                    .map(MartAction::Sql)
            }
        }
    });
    t.finish();
    Read {
        name,
        after,
        action,
        depends_on,
    }
}

/// Orders the marts so every mart comes after those it names in `after`; file order breaks ties.
/// A cycle is a problem naming its members.
pub(crate) fn order(ctx: &Ctx, at: &At, marts: Vec<Read>) -> Option<Vec<Mart>> {
    let index: HashMap<&str, usize> = marts
        .iter()
        .enumerate()
        .filter_map(|(i, m)| Some((m.name.as_deref()?, i)))
        .collect();
    for m in &marts {
        for (dep_at, dep) in &m.after {
            if !index.contains_key(dep.as_str()) {
                ctx.problem(dep_at, format!("no mart named {dep:?}"));
            } else if Some(dep) == m.name.as_ref() {
                ctx.problem(dep_at, "a mart cannot come after itself");
            }
        }
    }
    // Kahn's algorithm, always taking the earliest ready mart in file order.
    let deps = |i: usize| {
        marts[i]
            .after
            .iter()
            .filter_map(|(_, d)| index.get(d.as_str()).copied())
    };
    let mut done = vec![false; marts.len()];
    let mut order = Vec::with_capacity(marts.len());
    while order.len() < marts.len() {
        let ready = (0..marts.len()).find(|&i| !done[i] && deps(i).all(|j| done[j] || j == i));
        let Some(i) = ready else {
            let cycle: Vec<&str> = (0..marts.len())
                .filter(|&i| !done[i])
                .filter_map(|i| marts[i].name.as_deref())
                .collect();
            ctx.problem(
                at,
                format!(
                    "marts depend on each other in a cycle: {}",
                    cycle.join(", ")
                ),
            );
            return None;
        };
        done[i] = true;
        order.push(i);
    }
    let mut slots: Vec<Option<Read>> = marts.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| {
            let m = slots[i].take()?;
            Some(Mart {
                name: m.name?,
                action: m.action?,
                depends_on: m.depends_on,
            })
        })
        .collect()
}
