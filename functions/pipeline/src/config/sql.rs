//! SQL from the config, read with a real parser (sqlparser's Snowflake dialect): each place takes
//! exactly one statement of the kind it needs, and a custom rule's query is rebuilt from its parse
//! tree so that it cannot change the meaning of the wrapper that counts its rows.

use super::problem::At;
use super::validate::Ctx;
use sqlparser::ast::{SetExpr, Statement, TableFactor};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// What a place in the config runs.
#[derive(Clone, Copy)]
pub(crate) enum Need {
    /// A merge file: one data change (run-merge reports rows inserted, updated and deleted).
    Change,
    /// A `sql` mart: one statement of any kind but session and transaction control.
    Statement,
}

/// The statement dq-check runs for a custom rule: the number of rows the rule's query returns.
/// Validation checks that this wrapper, re-parsed, still counts exactly the rule's query.
pub fn count_failing_rows(query: &str) -> String {
    format!("SELECT COUNT(*) FROM ({query}) AS failing_rows")
}

fn parse(ctx: &Ctx, at: &At, what: &str, sql: &str) -> Option<Vec<Statement>> {
    Parser::parse_sql(&SnowflakeDialect, sql)
        .map_err(|e| ctx.problem(at, format!("{what} is not valid SQL: {e}")))
        .ok()
}

fn exactly_one(
    ctx: &Ctx,
    at: &At,
    what: &str,
    mut statements: Vec<Statement>,
) -> Option<Statement> {
    match statements.len() {
        1 => statements.pop(),
        0 => {
            ctx.problem(at, format!("{what} holds no SQL statement"));
            None
        }
        n => {
            ctx.problem(
                at,
                format!("{what} holds {n} statements; give exactly one (one statement per file)"),
            );
            None
        }
    }
}

/// Checks a file's SQL and returns the statement's own text: leading and trailing comments and
/// the terminating `;` removed, everything else as written.
pub(crate) fn one_statement(ctx: &Ctx, at: &At, sql: &str, need: Need) -> Option<String> {
    let statement = exactly_one(ctx, at, "the file", parse(ctx, at, "the file", sql)?)?;
    let fits = match need {
        Need::Change => matches!(
            statement,
            Statement::Merge(_)
                | Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
        ),
        Need::Statement => !matches!(
            statement,
            Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Use(_)
        ),
    };
    if !fits {
        let first = statement.to_string();
        let first = first.split_whitespace().next().unwrap_or_default();
        ctx.problem(
            at,
            match need {
                Need::Change => {
                    format!("a merge file holds one MERGE, INSERT, UPDATE or DELETE, not {first}")
                }
                Need::Statement => format!(
                    "{first} only changes the session; a mart runs one statement that refreshes it"
                ),
            },
        );
        return None;
    }
    statement_text(ctx, at, sql)
}

/// The text from the first token to the last one before a final `;`, comments outside it dropped.
fn statement_text(ctx: &Ctx, at: &At, sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&SnowflakeDialect, sql)
        .tokenize_with_location()
        .map_err(|e| ctx.problem(at, format!("the file is not valid SQL: {e}")))
        .ok()?;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .collect();
    let mut body = significant.as_slice();
    while let [rest @ .., last] = body
        && last.token == Token::SemiColon
    {
        body = rest;
    }
    let (first, last) = (body.first()?, body.last()?);
    let start = byte_offset(sql, first.span.start)?;
    let end = byte_offset(sql, last.span.end)?;
    Some(sql[start..end].to_string())
}

/// The byte offset of a tokenizer location (1-based line, 1-based column counted in chars).
fn byte_offset(text: &str, at: Location) -> Option<usize> {
    let (mut line, mut column) = (1u64, 1u64);
    for (i, c) in text.char_indices() {
        if (line, column) == (at.line, at.column) {
            return Some(i);
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    ((line, column) == (at.line, at.column)).then_some(text.len())
}

/// A custom rule's SQL: exactly one query, returned rebuilt from its parse tree (comments and
/// terminators gone), and only if the counting wrapper around it parses back to that same query.
pub(crate) fn failing_rows_query(ctx: &Ctx, at: &At, sql: &str) -> Option<String> {
    if sql.contains('\\') {
        ctx.problem(
            at,
            "a backslash is an escape character in Snowflake string literals; write CHR(92) for one",
        );
        return None;
    }
    let what = "the custom SQL";
    let statement = exactly_one(ctx, at, what, parse(ctx, at, what, sql)?)?;
    let Statement::Query(query) = statement else {
        ctx.problem(
            at,
            "a custom rule is one query (SELECT or WITH) returning the failing rows",
        );
        return None;
    };
    let rendered = query.to_string();
    let wrapper = count_failing_rows(&rendered);
    let counts_the_query = Parser::parse_sql(&SnowflakeDialect, &wrapper)
        .ok()
        .filter(|s| s.len() == 1)
        .and_then(|mut s| s.pop())
        .is_some_and(|s| match s {
            Statement::Query(outer) => match *outer.body {
                SetExpr::Select(select) => match select.from.as_slice() {
                    [only] if only.joins.is_empty() => {
                        matches!(&only.relation, TableFactor::Derived { subquery, .. } if subquery == &query)
                    }
                    _ => false,
                },
                _ => false,
            },
            _ => false,
        });
    if !counts_the_query {
        ctx.problem(
            at,
            "this query cannot be counted safely as a subquery; simplify it",
        );
        return None;
    }
    Some(rendered)
}
