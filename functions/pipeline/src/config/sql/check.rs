//! The parser's checks (sqlparser's Snowflake dialect): each place holds exactly one statement of
//! the kind it needs, the parser's tokens give the same text the Lambdas read, and a custom rule's
//! query cannot change the meaning of the wrapper that counts its rows.

use super::{Need, SqlCheck, count_failing_rows};
use crate::config::problem::At;
use crate::config::validate::Ctx;
use sqlparser::ast::{SetExpr, Statement, TableFactor};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The checks, made with a real parser.
pub(crate) struct Parser;

fn parse(ctx: &Ctx, at: &At, what: &str, sql: &str) -> Option<Vec<Statement>> {
    sqlparser::parser::Parser::parse_sql(&SnowflakeDialect, sql)
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

impl SqlCheck for Parser {
    fn statement(&self, ctx: &Ctx, at: &At, sql: &str, text: &str, need: Need) -> bool {
        let Some(statement) =
            parse(ctx, at, "the file", sql).and_then(|s| exactly_one(ctx, at, "the file", s))
        else {
            return false;
        };
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
                    Need::Change => format!(
                        "a merge file holds one MERGE, INSERT, UPDATE or DELETE, not {first}"
                    ),
                    Need::Statement => format!(
                        "{first} only changes the session; a mart runs one statement that refreshes it"
                    ),
                },
            );
            return false;
        }
        same_text(ctx, at, sql, text)
    }

    fn failing_rows_query(&self, ctx: &Ctx, at: &At, text: &str) -> bool {
        let what = "the custom SQL";
        let Some(statement) =
            parse(ctx, at, what, text).and_then(|s| exactly_one(ctx, at, what, s))
        else {
            return false;
        };
        let Statement::Query(query) = statement else {
            ctx.problem(
                at,
                "a custom rule is one query (SELECT or WITH) returning the failing rows",
            );
            return false;
        };
        let wrapper = count_failing_rows(text);
        let counts_the_query = sqlparser::parser::Parser::parse_sql(&SnowflakeDialect, &wrapper)
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
            return false;
        }
        true
    }
}

/// Whether the parser's tokens delimit the statement exactly where the Lambdas' reading does.
fn same_text(ctx: &Ctx, at: &At, sql: &str, text: &str) -> bool {
    let parsed = match Tokenizer::new(&SnowflakeDialect, sql).tokenize_with_location() {
        Ok(tokens) => {
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
            body.first().zip(body.last()).and_then(|(first, last)| {
                Some(&sql[byte_offset(sql, first.span.start)?..byte_offset(sql, last.span.end)?])
            })
        }
        Err(e) => {
            ctx.problem(at, format!("the file is not valid SQL: {e}"));
            return false;
        }
    };
    if parsed != Some(text) {
        ctx.problem(
            at,
            "the statement's start or end cannot be read reliably (comments or quotes around it); remove the comments around the statement",
        );
        return false;
    }
    true
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
