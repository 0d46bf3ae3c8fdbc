//! SQL from the config. Every place takes its statement's text as written (comments and a final
//! `;` around it dropped, see [`text`]). Where a config is validated (`postetl validate`, which
//! `cdk synth` runs, and the tests), a real parser ([`check`], sqlparser's Snowflake dialect) also
//! checks that each place holds exactly one statement of the kind it needs, read the same way.
//! The Lambdas load the deployed config, validated at synth, without the parser: it would be the
//! largest part of every binary and of its cold start.

mod check;
mod text;

use super::problem::At;
use super::validate::Ctx;
pub(crate) use check::Parser;

/// What a place in the config runs.
#[derive(Clone, Copy)]
pub(crate) enum Need {
    /// A merge file: one data change (run-merge reports rows inserted, updated and deleted).
    Change,
    /// A `sql` mart: one statement of any kind but session and transaction control.
    Statement,
}

/// The checks beyond the text, made where a config is validated.
pub(crate) trait SqlCheck {
    /// Whether `sql` holds exactly one statement of the kind `need` names, whose text is `text`.
    fn statement(&self, ctx: &Ctx, at: &At, sql: &str, text: &str, need: Need) -> bool;
    /// Whether `text` is exactly one query that [`count_failing_rows`] counts as written.
    fn failing_rows_query(&self, ctx: &Ctx, at: &At, text: &str) -> bool;
}

/// A deployed config's SQL: its text only, as the Lambdas read it (synth validated the rest). A
/// check of its own rather than no check, so that nothing in a Lambda refers to the parser.
pub(crate) struct TextOnly;

impl SqlCheck for TextOnly {
    fn statement(&self, _: &Ctx, _: &At, _: &str, _: &str, _: Need) -> bool {
        true
    }
    fn failing_rows_query(&self, _: &Ctx, _: &At, _: &str) -> bool {
        true
    }
}

/// The statement dq-check runs for a custom rule: the number of rows the rule's query returns.
/// Validation checks that this wrapper, parsed, still counts exactly the rule's query.
pub fn count_failing_rows(query: &str) -> String {
    format!("SELECT COUNT(*) FROM ({query}) AS failing_rows")
}

fn read_text<'s>(ctx: &Ctx, at: &At, what: &str, sql: &'s str) -> Option<&'s str> {
    match text::statement_text(sql) {
        Ok(Some(text)) => Some(text),
        Ok(None) => {
            ctx.problem(at, format!("{what} holds no SQL statement"));
            None
        }
        Err(e) => {
            ctx.problem(at, format!("{what} is not valid SQL: {e}"));
            None
        }
    }
}

/// A file's one statement, as written without the comments around it or a final `;`.
pub(crate) fn one_statement(ctx: &Ctx, at: &At, sql: &str, need: Need) -> Option<String> {
    let text = read_text(ctx, at, "the file", sql)?;
    ctx.sql_check()
        .statement(ctx, at, sql, text, need)
        .then_some(())?;
    Some(text.to_string())
}

/// A custom rule's query, as written without the comments around it or a final `;`.
pub(crate) fn failing_rows_query(ctx: &Ctx, at: &At, sql: &str) -> Option<String> {
    if sql.contains('\\') {
        ctx.problem(
            at,
            "a backslash is an escape character in Snowflake string literals; write CHR(92) for one",
        );
        return None;
    }
    let text = read_text(ctx, at, "the custom SQL", sql)?;
    ctx.sql_check()
        .failing_rows_query(ctx, at, text)
        .then_some(())?;
    Some(text.to_string())
}
