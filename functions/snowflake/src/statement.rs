//! What to run: SQL text, bindings, context and the request id that makes a re-send safe.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// A bound value. Snowflake takes every value as a string with a type name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Binding {
    #[serde(rename = "type")]
    kind: &'static str,
    value: Option<String>,
}

impl Binding {
    pub fn text(value: impl Into<String>) -> Self {
        Self {
            kind: "TEXT",
            value: Some(value.into()),
        }
    }
    pub fn fixed(value: i64) -> Self {
        Self {
            kind: "FIXED",
            value: Some(value.to_string()),
        }
    }
    pub fn real(value: f64) -> Self {
        Self {
            kind: "REAL",
            value: Some(value.to_string()),
        }
    }
    pub fn boolean(value: bool) -> Self {
        Self {
            kind: "BOOLEAN",
            value: Some(value.to_string()),
        }
    }
    /// A typed NULL.
    pub fn null(kind: &'static str) -> Self {
        Self { kind, value: None }
    }
}

/// Namespace for request ids derived from names (UUID v5), so the same execution, step and item
/// always yield the same id.
const REQUEST_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5f0e_7c1a_3b2d_4e8f_9a61_c0d2_e4f6_a8b1);

/// A request id derived from its parts, e.g. `[execution_arn, "run-merge", "ORDERS", "0"]`.
/// Parts are length-prefixed so `["ab", "c"]` and `["a", "bc"]` differ.
pub fn derive_request_id(parts: &[&str]) -> Uuid {
    let mut name = String::new();
    for p in parts {
        name.push_str(&p.len().to_string());
        name.push(':');
        name.push_str(p);
    }
    Uuid::new_v5(&REQUEST_ID_NAMESPACE, name.as_bytes())
}

/// One request to `POST /api/v2/statements`.
#[derive(Clone, Debug)]
pub struct Statement {
    pub(crate) sql: String,
    pub(crate) bindings: Vec<Binding>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) request_id: Uuid,
    /// True when the id was derived: an earlier invocation may have sent it, so even the first
    /// send asks Snowflake to return that run instead of starting another.
    pub(crate) maybe_sent_before: bool,
    pub(crate) query_tag: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) warehouse: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) schema: Option<String>,
    pub(crate) statement_count: Option<u32>,
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            bindings: Vec::new(),
            timeout: None,
            request_id: Uuid::new_v4(),
            maybe_sent_before: false,
            query_tag: None,
            role: None,
            warehouse: None,
            database: None,
            schema: None,
            statement_count: None,
        }
    }

    /// Several statements separated by `;`; Snowflake checks the count (0 = any).
    pub fn multi(sql: impl Into<String>, count: u32) -> Self {
        Self {
            statement_count: Some(count),
            ..Self::new(sql)
        }
    }

    /// Sends the text as a multi-statement request of `count` statements (0 = any number).
    pub fn statements(mut self, count: u32) -> Self {
        self.statement_count = Some(count);
        self
    }

    pub fn bind(mut self, value: Binding) -> Self {
        self.bindings.push(value);
        self
    }

    /// Snowflake's own limit on the statement; it is cancelled after this (408 / 000630).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A caller-chosen id (see [`derive_request_id`]). Every send of it carries `retry=true`, so a
    /// statement that already ran for this id is never run again.
    pub fn request_id(mut self, id: Uuid) -> Self {
        self.request_id = id;
        self.maybe_sent_before = true;
        self
    }

    /// The same statement under the `n`th re-run id of its derived request id: for running again
    /// a statement whose earlier attempt failed (see `Client::execute`).
    pub fn rerun(&self, n: u32) -> Self {
        let mut again = self.clone();
        again.request_id =
            derive_request_id(&[&self.request_id.to_string(), "rerun", &n.to_string()]);
        again
    }

    pub fn query_tag(mut self, tag: impl Into<String>) -> Self {
        self.query_tag = Some(tag.into());
        self
    }

    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    pub fn warehouse(mut self, warehouse: impl Into<String>) -> Self {
        self.warehouse = Some(warehouse.into());
        self
    }

    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn id(&self) -> Uuid {
        self.request_id
    }
}

/// The JSON body of the request, with the connection's defaults filled in.
#[derive(Serialize)]
pub(crate) struct Body<'a> {
    pub statement: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, &'a Binding>,
    pub parameters: BTreeMap<&'static str, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derive_request_id(&["arn:exec:1", "run-merge", "ORDERS"]);
        assert_eq!(a, derive_request_id(&["arn:exec:1", "run-merge", "ORDERS"]));
        assert_ne!(a, derive_request_id(&["arn:exec:2", "run-merge", "ORDERS"]));
        assert_ne!(
            derive_request_id(&["ab", "c"]),
            derive_request_id(&["a", "bc"])
        );
    }

    #[test]
    fn bindings_serialise_as_typed_strings() {
        let json = serde_json::to_value([Binding::fixed(7), Binding::null("TEXT")]).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"type": "FIXED", "value": "7"}, {"type": "TEXT", "value": null}])
        );
    }
}
