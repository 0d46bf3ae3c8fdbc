//! The report as one HTML file with its picture inline (SVG) and no outside resources, so it
//! opens anywhere, offline, and can be attached to a ticket.

use super::Report;
use super::timeline::Row;
use std::fmt::Write as _;

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const WIDTH: f64 = 1000.0;
const LABEL: f64 = 240.0;
const RIGHT: f64 = 150.0;
const ROW: f64 = 24.0;
const TOP: f64 = 30.0;

/// Rows worth a line in the picture: tasks, Maps and their items, waits and the end states.
fn shown(row: &Row) -> bool {
    !matches!(row.kind, "choice" | "pass")
}

fn color(status: &str, kind: &str) -> &'static str {
    match (status, kind) {
        ("failed", _) => "#c62828",
        ("running", _) => "#9e9e9e",
        (_, "wait") => "#f9a825",
        (_, "map") => "#1565c0",
        (_, "item") => "#42a5f5",
        (_, "fail") => "#c62828",
        _ => "#2e7d32",
    }
}

/// A tick step giving about eight ticks over `span` seconds.
fn tick_step(span: f64) -> f64 {
    let steps = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ];
    steps
        .into_iter()
        .find(|s| span / s <= 8.0)
        .unwrap_or(7200.0)
}

/// The timeline picture: one row per step and per Map item, the warehouse band underneath.
pub fn svg(report: &Report) -> String {
    let t = &report.timeline;
    // Items go right under their Map.
    let mut ordered: Vec<&Row> = Vec::new();
    for row in t.rows.iter().filter(|r| r.parent.is_none() && shown(r)) {
        ordered.push(row);
        ordered.extend(
            t.rows
                .iter()
                .filter(|r| r.parent.as_deref() == Some(&row.name)),
        );
    }
    let span = t.duration.max(0.001);
    let chart = WIDTH - LABEL - RIGHT;
    let x = |s: f64| LABEL + s / span * chart;
    let band_rows = usize::from(report.warehouse.is_some());
    let height = TOP + ROW * (ordered.len() + band_rows) as f64 + 30.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12" role="img" aria-label="timeline of the run">"#
    );
    // Time axis.
    let step = tick_step(span);
    let mut tick = 0.0;
    while tick <= span + 1e-9 {
        let tx = x(tick);
        let _ = write!(
            out,
            r##"<line x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{tx:.1}" y="{}" text-anchor="middle" fill="#616161">{}s</text>"##,
            TOP - 8.0,
            height - 24.0,
            TOP - 12.0,
            format_seconds(tick)
        );
        tick += step;
    }
    for (i, row) in ordered.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let indent = if row.parent.is_some() { 16.0 } else { 4.0 };
        let weight = if row.parent.is_some() {
            "normal"
        } else {
            "bold"
        };
        let _ = write!(
            out,
            r##"<g class="row" data-step="{}" data-kind="{}" data-status="{}"><text x="{indent}" y="{:.1}" font-weight="{weight}" fill="#212121">{}</text>"##,
            esc(&row.name),
            row.kind,
            if row.failed() { "failed" } else { "ok" },
            y + 16.0,
            esc(&truncate(&row.name, 32))
        );
        let mut retries = 0;
        let mut error = None;
        for seg in &row.segments {
            let x0 = x(seg.start);
            let w = (x(seg.end) - x0).max(2.0);
            retries += seg.retries;
            if seg.error.is_some() && seg.status == "failed" {
                error = seg.error.clone();
            }
            let mut title = format!(
                "{} {}: {:.2}s to {:.2}s, {}",
                row.kind, row.name, seg.start, seg.end, seg.status
            );
            if seg.retries > 0 {
                let _ = write!(title, ", {} retries", seg.retries);
            }
            if let Some(e) = &seg.error {
                let _ = write!(title, ", {e}");
            }
            if let Some(c) = &seg.cause {
                let _ = write!(title, ": {}", truncate(&cause_in_words(c), 300));
            }
            let _ = write!(
                out,
                r#"<rect class="bar" x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="2" fill="{}" data-status="{}"><title>{}</title></rect>"#,
                y + 4.0,
                ROW - 8.0,
                color(seg.status, row.kind),
                seg.status,
                esc(&title)
            );
        }
        let end = row.segments.iter().map(|s| s.end).fold(0.0, f64::max);
        let mut marks = Vec::new();
        if retries > 0 {
            marks.push(format!(
                "↻ {retries} retr{}",
                if retries == 1 { "y" } else { "ies" }
            ));
        }
        if row.polls > 0 && row.kind != "wait" {
            marks.push(format!(
                "⟳ {} poll{}",
                row.polls,
                if row.polls == 1 { "" } else { "s" }
            ));
        }
        if row.kind == "wait" && row.segments.len() > 1 {
            marks.push(format!("{} waits", row.segments.len()));
        }
        if let Some(e) = error {
            marks.push(format!("✗ {e}"));
        }
        if !marks.is_empty() {
            let fill = if row.failed() { "#c62828" } else { "#424242" };
            let _ = write!(
                out,
                r#"<text class="marks" x="{:.1}" y="{:.1}" fill="{fill}">{}</text>"#,
                (x(end) + 6.0).min(WIDTH - RIGHT + 4.0),
                y + 16.0,
                esc(&marks.join("  "))
            );
        }
        out.push_str("</g>");
    }
    if let Some(w) = &report.warehouse {
        let y = TOP + ROW * ordered.len() as f64 + 4.0;
        let label = format!(
            "warehouse {}{}",
            w.name,
            w.size
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        );
        let note = if w.resumed_by_run {
            "resumed → suspended"
        } else {
            "already running"
        };
        let x0 = x(w.from);
        let wd = (x(w.to) - x0).max(2.0);
        let _ = write!(
            out,
            r##"<g class="row" data-step="warehouse" data-kind="warehouse"><text x="4" y="{:.1}" fill="#4a148c" font-weight="bold">{}</text><rect class="band" x="{x0:.1}" y="{:.1}" width="{wd:.1}" height="{:.1}" fill="#ce93d8" stroke="#6a1b9a"><title>{} {:.2}s to {:.2}s</title></rect><text x="{:.1}" y="{:.1}" fill="#4a148c">{}</text></g>"##,
            y + 16.0,
            esc(&truncate(&label, 32)),
            y + 2.0,
            ROW - 4.0,
            esc(note),
            w.from,
            w.to,
            (x(w.to) + 6.0).min(WIDTH - RIGHT + 4.0),
            y + 16.0,
            esc(note)
        );
    }
    out.push_str("</svg>");
    out
}

/// A Lambda's cause is its error as JSON (`{"errorType", "errorMessage"}`): the message is the words.
fn cause_in_words(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(String::from))
        .unwrap_or_else(|| cause.to_string())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn format_seconds(s: f64) -> String {
    if s.fract().abs() < 1e-9 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

/// The first two query ids and how many more (an invocation may send dozens).
fn short_list(ids: &[String]) -> String {
    match ids {
        [] => String::new(),
        [a] => a.clone(),
        [a, b] => format!("{a} {b}"),
        [a, b, rest @ ..] => format!("{a} {b} (+{} more)", rest.len()),
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

pub fn page(report: &Report) -> String {
    let mut html = String::new();
    let title = format!(
        "postetl run {} {}",
        report.pipeline.as_deref().unwrap_or("?"),
        report.status
    );
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{}</title>
<style>
body{{font-family:sans-serif;margin:24px;color:#212121}} h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left}}
th{{background:#f5f5f5}} td.num{{text-align:right}} .failed{{color:#c62828;font-weight:bold}}
.badge{{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-size:12px;margin-left:8px}}
code{{font-size:12px}}
</style></head><body>
"#,
        esc(&title)
    );
    let badge = match report.status.as_str() {
        "SUCCEEDED" => "#2e7d32",
        "RUNNING" => "#9e9e9e",
        _ => "#c62828",
    };
    let _ = write!(
        html,
        r#"<h1>postetl run: {}<span class="badge" id="status" style="background:{badge}">{}</span>{}</h1>
<p>Execution <code>{}</code><br>Run key <code>{}</code><br>Duration {:.1} s, {} state transitions</p>
"#,
        esc(report.pipeline.as_deref().unwrap_or("unknown pipeline")),
        esc(&report.status),
        if report.dry_run {
            r#"<span class="badge" style="background:#6d4c41">dry run</span>"#
        } else {
            ""
        },
        esc(&report.execution),
        esc(report.run_key.as_deref().unwrap_or("")),
        report.timeline.duration,
        report.timeline.state_transitions
    );
    if let Some(by) = &report.superseded_by {
        let _ = writeln!(
            html,
            "<p>Superseded: a newer run of the pipeline does this work ({}). This run sent nothing to Snowflake.</p>",
            esc(by)
        );
    }
    changes(&mut html, report);
    if let Some(e) = &report.error {
        let _ = writeln!(
            html,
            r#"<p class="failed" id="error">{}{}</p>"#,
            esc(e),
            report
                .cause
                .as_deref()
                .map(|c| format!(": {}", esc(&truncate(&cause_in_words(c), 600))))
                .unwrap_or_default()
        );
    }
    html.push_str("<h2>Timeline</h2>\n");
    html.push_str(&svg(report));
    html.push_str("\n<h2>Statements (run ledger)</h2>\n");
    match &report.statements {
        None => html.push_str("<p>Not read (see the notes below).</p>\n"),
        Some(rows) if rows.is_empty() => {
            html.push_str("<p>No rows: this run wrote nothing to the ledger (dry run, superseded, or ended before Snowflake).</p>\n")
        }
        Some(rows) => {
            html.push_str(r#"<table id="statements"><tr><th>step</th><th>item</th><th>status</th><th>inserted</th><th>updated</th><th>deleted</th><th>check</th><th>seconds</th><th>query ids</th><th>error</th></tr>"#);
            for r in rows {
                let class = if r.status == "failed" { r#" class="failed""# } else { "" };
                let status = if r.from_earlier_run {
                    format!("{} (answered by an earlier run)", r.status)
                } else {
                    r.status.clone()
                };
                let check = match (&r.dq_outcome, r.dq_observed) {
                    (Some(o), Some(n)) => format!("{o} ({n})"),
                    (Some(o), None) => o.clone(),
                    _ => String::new(),
                };
                let _ = write!(
                    html,
                    r#"<tr{class}><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td><code>{}</code></td><td>{}</td></tr>"#,
                    esc(&r.step),
                    esc(&r.item),
                    esc(&status),
                    opt(&r.rows_inserted),
                    opt(&r.rows_updated),
                    opt(&r.rows_deleted),
                    esc(&check),
                    r.seconds.map(|s| format!("{s:.2}")).unwrap_or_default(),
                    esc(&short_list(&r.statement_handles)),
                    esc(r.error.as_deref().unwrap_or(""))
                );
            }
            html.push_str("</table>\n");
        }
    }
    let c = &report.cost;
    let _ = write!(
        html,
        r#"<h2>Cost</h2>
<table id="cost"><tr><th>part</th><th>usage</th><th>price</th><th>dollars</th></tr>
<tr><td>Snowflake warehouse</td><td>{} at {:.0} s billed = {:.4} credits</td><td>${} per credit</td><td class="num">{:.4}</td></tr>
<tr><td>Step Functions</td><td>{} state transitions</td><td>${} each</td><td class="num">{:.4}</td></tr>
<tr><td>Lambda</td><td>{} requests, {:.2} GB-s ({} MB)</td><td>${} per GB-s, ${} per request</td><td class="num">{:.6}</td></tr>
<tr><th colspan="3">total ({})</th><th class="num" id="total">{:.4}</th></tr></table>
"#,
        esc(c.usage.warehouse_size.as_deref().unwrap_or("size unknown")),
        c.billed_warehouse_seconds,
        c.credits,
        c.prices.snowflake_credit,
        c.snowflake_usd,
        c.usage.state_transitions,
        c.prices.state_transition,
        c.step_functions_usd,
        c.usage.lambda_requests,
        c.lambda_gb_seconds,
        c.prices.lambda_memory_mb,
        c.prices.lambda_gb_second,
        c.prices.lambda_request,
        c.lambda_usd,
        esc(&c.prices.region),
        c.total_usd
    );
    let notes: Vec<&String> = report.notes.iter().chain(&c.notes).collect();
    if !notes.is_empty() {
        html.push_str("<h2>Notes</h2><ul>");
        for n in notes {
            let _ = write!(html, "<li>{}</li>", esc(n));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// What a change-aware run left out, and since which run (the ledger lists each skipped item too).
fn changes(html: &mut String, report: &Report) {
    let since = report
        .changed_since
        .as_deref()
        .map(|arn| arn.rsplit(':').next().unwrap_or(arn))
        .unwrap_or("the last successful run");
    if report.unchanged {
        let _ = writeln!(
            html,
            r#"<p id="changes">Nothing changed since run {}: no Iceberg table's metadata moved, so nothing was refreshed or merged and no warehouse was resumed.</p>"#,
            esc(since)
        );
        return;
    }
    let s = &report.skipped;
    let parts: Vec<String> = [
        ("tables", &s.iceberg_tables),
        ("merges", &s.merges),
        ("checks", &s.checks),
        ("marts", &s.marts),
    ]
    .iter()
    .filter(|(_, items)| !items.is_empty())
    .map(|(what, items)| format!("{what} {}", esc(&items.join(", "))))
    .collect();
    if !parts.is_empty() {
        let _ = writeln!(
            html,
            r#"<p id="changes">Skipped as unchanged since run {}: {}.</p>"#,
            esc(since),
            parts.join("; ")
        );
    }
    schema_drift(html, report);
}

/// Drift the merges followed, and drift that stopped the run, each as its own line.
fn schema_drift(html: &mut String, report: &Report) {
    for d in &report.schema_drift {
        let done = match (d.statements.is_empty(), d.applied) {
            (true, _) => "target left as it is".to_string(),
            (false, true) => format!("ran {}", d.statements.join("; ")),
            (false, false) => format!("would run {}", d.statements.join("; ")),
        };
        let _ = writeln!(
            html,
            r#"<p class="drift">Schema drift, merge {} (on_schema_change = {}): {}. {}.</p>"#,
            esc(&d.merge),
            esc(&d.on_schema_change),
            esc(&d.differences.join("; ")),
            esc(&done)
        );
    }
    if report.error.as_deref() == Some("Schema.Drift") {
        let cause = crate::text::cause_in_words(report.cause.as_deref().unwrap_or(""));
        let _ = writeln!(
            html,
            r#"<p class="drift">Stopped before any MERGE: {}.</p>"#,
            esc(&cause)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(tick_step(5.0), 1.0);
        assert_eq!(tick_step(170.0), 30.0);
    }
}
