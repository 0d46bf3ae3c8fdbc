//! The text of a statement as written: from its first token to its last one before a final `;`,
//! with the whitespace and comments around it dropped. A small scanner that knows only what can
//! hide a comment marker or a `;` (string literals, quoted names, `$$` strings, comments), so the
//! Lambdas read SQL without a parser; `postetl validate` checks that the parser agrees.

/// The statement text, `Ok(None)` when the SQL holds only comments, whitespace and `;`.
pub(crate) fn statement_text(sql: &str) -> Result<Option<&str>, String> {
    let bytes = sql.as_bytes();
    let (mut start, mut end) = (None, 0);
    let mut i = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        let token_end = if rest.starts_with("--") || rest.starts_with("//") {
            // A comment is part of the text only when a token follows it.
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        } else if let Some(body) = rest.strip_prefix("/*") {
            let close = body.find("*/").ok_or("a /* comment is not closed")?;
            i += 2 + close + 2;
            continue;
        } else if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        } else if bytes[i] == b';' {
            // Part of the text only if a token follows (then validation refuses two statements).
            i += 1;
            start.get_or_insert(i - 1);
            continue;
        } else if let Some(body) = rest.strip_prefix("$$") {
            i + 2 + body.find("$$").ok_or("a $$ string is not closed")? + 2
        } else if bytes[i] == b'\'' {
            i + quoted(rest, b'\'', true).ok_or("a string literal is not closed")?
        } else if bytes[i] == b'"' {
            i + quoted(rest, b'"', false).ok_or("a quoted name is not closed")?
        } else {
            i + rest.chars().next().map_or(1, char::len_utf8)
        };
        start.get_or_insert(i);
        end = token_end;
        i = token_end;
    }
    Ok(start.filter(|&s| s < end).map(|s| &sql[s..end]))
}

/// The length of the quoted token at the start of `s` (closing quote included): a doubled quote
/// stands for one, and in string literals a backslash escapes the next character.
fn quoted(s: &str, quote: u8, backslash_escapes: bool) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash_escapes => i += 2,
            b if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::statement_text;

    #[test]
    fn drops_comments_and_terminators_around_the_statement() {
        let sql = "-- header\n/* block */\nMERGE INTO t USING s ON t.id = s.id -- why\n  WHEN MATCHED THEN DELETE;\n;  // end\n";
        assert_eq!(
            statement_text(sql).unwrap(),
            Some("MERGE INTO t USING s ON t.id = s.id -- why\n  WHEN MATCHED THEN DELETE")
        );
    }

    #[test]
    fn comment_markers_and_semicolons_inside_quotes_are_text() {
        for sql in [
            "SELECT '--;' AS a",
            "SELECT 'it''s; -- fine' AS a",
            "SELECT 'a\\'; --' AS a",
            "SELECT \"odd--name;\" FROM t",
            "SELECT $$ ; -- $$ AS a",
        ] {
            assert_eq!(statement_text(&format!("{sql};\n-- c")).unwrap(), Some(sql));
        }
    }

    #[test]
    fn a_second_statement_stays_in_the_text() {
        assert_eq!(
            statement_text("DELETE FROM a; DELETE FROM b;").unwrap(),
            Some("DELETE FROM a; DELETE FROM b")
        );
    }

    #[test]
    fn nothing_but_comments_is_no_statement() {
        assert_eq!(statement_text("-- x\n/* y */ ;\n").unwrap(), None);
    }

    #[test]
    fn unclosed_quotes_and_comments_are_errors() {
        for sql in ["SELECT 'a", "SELECT \"a", "SELECT 1 /* x", "SELECT $$ a"] {
            assert!(statement_text(sql).is_err(), "{sql}");
        }
    }
}
