//! The lines after the steps: status, what the run changed (and what an earlier run had already
//! done), checks, marts, the dry run's SQL, the error in words, and the execution's own duration.

use crate::Summary;
use crate::text::{cause_in_words, wrap};
use std::io::Write;

fn field(out: &mut impl Write, name: &str, value: &str) -> std::io::Result<()> {
    for line in wrap(&format!("  {name:<14} {value}"), 17) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// What a change-aware run left out, and since which run it was unchanged.
fn unchanged(out: &mut impl Write, plan: &serde_json::Value) -> std::io::Result<()> {
    let since = plan["changedSince"]
        .as_str()
        .map(|arn| arn.rsplit(':').next().unwrap_or(arn));
    if plan["gate"] == "unchanged" {
        return field(
            out,
            "changes",
            &format!(
                "none since run {}: no Iceberg table's metadata moved, so no warehouse was resumed (0 warehouse seconds)",
                since.unwrap_or("?")
            ),
        );
    }
    let names = |key: &str| -> Vec<&str> {
        plan["skipped"][key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default()
    };
    let parts: Vec<String> = [
        ("icebergTables", "table"),
        ("merges", "merge"),
        ("checks", "check"),
        ("marts", "mart"),
    ]
    .iter()
    .filter_map(|(key, what)| {
        let items = names(key);
        let plural = if items.len() == 1 { "" } else { "s" };
        (!items.is_empty())
            .then(|| format!("{} {what}{plural} ({})", items.len(), items.join(", ")))
    })
    .collect();
    if !parts.is_empty() {
        field(
            out,
            "skipped",
            &format!(
                "unchanged since run {}: {}",
                since.unwrap_or("?"),
                parts.join("; ")
            ),
        )?;
    }
    Ok(())
}

/// The final lines.
pub fn print_summary(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    let f = &summary.facts;
    writeln!(out)?;
    let status = if f.dry_run {
        format!(
            "{} (dry run: statements logged, no data changed)",
            summary.status
        )
    } else {
        summary.status.clone()
    };
    field(out, "status", &status)?;
    if let Some(plan) = summary
        .output
        .as_ref()
        .map(|o| &o[pipeline::states::PLAN_KEY])
    {
        unchanged(out, plan)?;
    }
    // A dry run changed nothing: its statements are listed at the end instead.
    if !f.merges.is_empty() && !f.dry_run {
        let ours: Vec<_> = f.merges.values().filter(|m| !m.from_earlier_run).collect();
        let sum = |get: fn(&crate::Merged) -> u64| ours.iter().map(|m| get(m)).sum::<u64>();
        let mut rows = format!(
            "{} inserted, {} updated, {} deleted ({} merges)",
            sum(|m| m.inserted),
            sum(|m| m.updated),
            sum(|m| m.deleted),
            ours.len()
        );
        let earlier: Vec<&str> = f
            .merges
            .iter()
            .filter(|(_, m)| m.from_earlier_run)
            .map(|(n, _)| n.as_str())
            .collect();
        if !earlier.is_empty() {
            rows.push_str(&format!(
                "; {} answered by an earlier run, not counted: {}",
                earlier.len(),
                earlier.join(", ")
            ));
        }
        field(out, "rows merged", &rows)?;
    }
    if f.tables_refreshed > 0 {
        let mut tables = format!("{} refreshed", f.tables_refreshed);
        if f.tables_from_earlier_run > 0 {
            tables.push_str(&format!(
                " ({} answered by an earlier run)",
                f.tables_from_earlier_run
            ));
        }
        field(out, "tables", &tables)?;
    }
    for drift in &f.schema_drift {
        field(out, "schema drift", drift)?;
    }
    if let Some(q) = &f.quality {
        field(
            out,
            "checks",
            &format!(
                "{} passed, {} warned, {} failed",
                q["passed"], q["warned"], q["failed"]
            ),
        )?;
    }
    if !f.marts.is_empty() {
        field(
            out,
            "marts",
            &format!("{} refreshed: {}", f.marts.len(), f.marts.join(", ")),
        )?;
    }
    if let Some(w) = &f.warehouse {
        let how = match f.resumed {
            Some(true) => "resumed by this run, then suspended",
            Some(false) => "already running: left as found",
            None => "",
        };
        field(out, "warehouse", &format!("{w} {how}"))?;
    }
    if let Some(error) = &summary.error {
        let step = match &f.failed_step {
            Some((step, _)) => format!(" (in {step})"),
            None => String::new(),
        };
        field(out, "error", &format!("{error}{step}"))?;
        let words = cause_in_words(summary.cause.as_deref().unwrap_or(""));
        if !words.is_empty() {
            field(out, "cause", &words)?;
        }
    }
    field(out, "transitions", &f.transitions.to_string())?;
    if let Some(d) = summary.duration {
        field(
            out,
            "took",
            &format!("{:.1} s (the execution, start to stop)", d.as_secs_f64()),
        )?;
    }
    if f.dry_run && !f.dry_run_sql.is_empty() {
        writeln!(out, "\n  dry run: the statements a real run would send")?;
        for (n, sql) in f.dry_run_sql.iter().enumerate() {
            // A step's own comment lines (e.g. run-merge's warning) stay apart from the SQL.
            let (comments, code): (Vec<&str>, Vec<&str>) =
                sql.lines().partition(|l| l.trim_start().starts_with("--"));
            let one = code
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let mut lines = vec![format!("  {:>3}. {one}", n + 1)];
            lines.extend(comments.iter().map(|c| format!("       {}", c.trim())));
            for line in lines.iter().flat_map(|l| wrap(l, 7)) {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary_of(plan: serde_json::Value) -> String {
        let summary = Summary {
            status: "SUCCEEDED".into(),
            error: None,
            cause: None,
            output: Some(json!({ "plan": plan })),
            facts: Default::default(),
            duration: None,
        };
        let mut out = Vec::new();
        print_summary(&summary, &mut out).unwrap();
        // Lines wrap at 80 columns: compare the words.
        String::from_utf8(out)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_run_with_nothing_changed_says_so_and_since_when() {
        let text = summary_of(json!({"gate": "unchanged",
            "changedSince": "arn:aws:states:us-east-1:1:execution:post-etl:run-7"}));
        assert!(text.contains("changes none since run run-7"), "{text}");
        assert!(text.contains("0 warehouse seconds"), "{text}");
    }

    #[test]
    fn skipped_items_are_listed_by_kind() {
        let text = summary_of(json!({"gate": "proceed",
            "changedSince": "arn:aws:states:us-east-1:1:execution:post-etl:run-7",
            "skipped": {"icebergTables": ["LAKE.RAW.CUSTOMERS"], "merges": ["customers"],
                "checks": [], "marts": []}}));
        assert!(
            text.contains(
                "skipped unchanged since run run-7: 1 table (LAKE.RAW.CUSTOMERS); 1 merge (customers)"
            ),
            "{text}"
        );
        let full = summary_of(json!({"gate": "proceed", "skipped": {}}));
        assert!(!full.contains("skipped"), "{full}");
    }
}
