//! Output that fits an 80-column terminal, and errors in words.

use serde_json::Value;

/// The widest line the CLI prints.
pub const WIDTH: usize = 80;

/// Splits `line` at spaces into lines of at most [`WIDTH`] characters, keeping its spacing;
/// continuation lines are indented by `indent`. A word longer than a line is cut, never lost.
pub fn wrap(line: &str, indent: usize) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    if len(line) <= WIDTH {
        return vec![line.to_string()];
    }
    // (spaces before, word) pairs; the line's own indent is the first gap.
    let mut tokens: Vec<(String, String)> = Vec::new();
    for ch in line.chars() {
        match tokens.last_mut() {
            Some((_, word)) if ch != ' ' => word.push(ch),
            Some((gap, word)) if word.is_empty() => gap.push(ch),
            _ => tokens.push((ch.to_string(), String::new())),
        }
    }
    let pad = " ".repeat(indent.min(WIDTH / 2));
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut at_start = true;
    for (i, (gap, word)) in tokens.into_iter().enumerate() {
        let gap = if i == 0 || !at_start {
            gap
        } else {
            String::new()
        };
        if len(&current) + len(&gap) + len(&word) <= WIDTH {
            current.push_str(&gap);
            current.push_str(&word);
            at_start = word.is_empty() && at_start;
            continue;
        }
        if !at_start {
            lines.push(std::mem::replace(&mut current, pad.clone()));
        } else if i == 0 {
            current.push_str(&gap);
        }
        let mut word = word;
        while len(&current) + len(&word) > WIDTH {
            let room = WIDTH.saturating_sub(len(&current)).max(1);
            let head: String = word.chars().take(room).collect();
            word = word.chars().skip(room).collect();
            current.push_str(&head);
            lines.push(std::mem::replace(&mut current, pad.clone()));
        }
        current.push_str(&word);
        at_start = word.is_empty();
    }
    if !at_start {
        lines.push(current);
    }
    lines.iter().map(|l| l.trim_end().to_string()).collect()
}

/// The first `width` characters of `line`, with `…` when cut.
pub fn truncate(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// An error's cause as a person reads it: a Lambda's error JSON gives its `errorMessage`; the
/// quality gate's list of failed rules gives each rule and its message; other text stays as it is.
/// Whitespace runs become one space.
pub fn cause_in_words(cause: &str) -> String {
    let words = match serde_json::from_str::<Value>(cause.trim()) {
        Ok(Value::Object(o)) => match o.get("errorMessage").and_then(Value::as_str) {
            Some(message) => message.to_string(),
            None => cause.to_string(),
        },
        Ok(Value::Array(rules)) if rules.iter().all(|r| r["rule"].is_string()) => rules
            .iter()
            .map(|r| {
                format!(
                    "rule {} ({}): {}",
                    r["rule"].as_str().unwrap_or("?"),
                    r["severity"].as_str().unwrap_or("?"),
                    r["message"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => cause.to_string(),
    };
    words.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_within_80_columns() {
        let line = format!("  ✗ RunMerges {}", "word ".repeat(40));
        let lines = wrap(&line, 6);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(l.chars().count() <= WIDTH, "{l:?}");
            assert!(!l.ends_with(' '), "{l:?}");
        }
        assert!(lines[1].starts_with("      word"));
        let long = format!("    {}", "x".repeat(200));
        let lines = wrap(&long, 4);
        assert_eq!(lines.iter().map(|l| l.trim().len()).sum::<usize>(), 200);
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH));
        assert_eq!(wrap("  short   spaced", 4), vec!["  short   spaced"]);
        let table = format!("  status         {}", "word ".repeat(20));
        assert!(wrap(&table, 17)[0].starts_with("  status         word"));
    }

    #[test]
    fn causes_in_words() {
        assert_eq!(
            cause_in_words(
                r#"{"errorType":"Snowflake.SqlError","errorMessage":"merge ORDERS:\n  SQL error 000904"}"#
            ),
            "merge ORDERS: SQL error 000904"
        );
        assert_eq!(
            cause_in_words(
                r#"[{"rule":"amount_not_null","severity":"error","message":"1 rows with AMOUNT NULL"}]"#
            ),
            "rule amount_not_null (error): 1 rows with AMOUNT NULL"
        );
        assert_eq!(cause_in_words("plain text"), "plain text");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
