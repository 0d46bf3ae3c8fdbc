//! Statement results. The SQL API sends every value as a string or null (`jsonv2`); typed
//! accessors convert on read, by the column's Snowflake type.

use crate::error::{Error, Result};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use serde::Deserialize;

/// A column of `resultSetMetaData.rowType`.
#[derive(Clone, Debug, Deserialize)]
pub struct Column {
    pub name: String,
    /// Lowercase Snowflake type: fixed, real, text, boolean, date, timestamp_ntz, ...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub precision: Option<u32>,
    #[serde(default)]
    pub scale: Option<u32>,
    #[serde(default)]
    pub nullable: Option<bool>,
}

/// DML counts from `stats`; zero for statements that change nothing.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stats {
    pub num_rows_inserted: u64,
    pub num_rows_updated: u64,
    pub num_rows_deleted: u64,
    pub num_duplicate_rows_updated: u64,
}

/// A finished statement's result, every partition included.
#[derive(Clone, Debug)]
pub struct ResultSet {
    pub handle: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
    pub stats: Stats,
    /// For a multi-statement request: the handle of each statement, in order.
    pub statement_handles: Vec<String>,
    /// When Snowflake started the statement (`createdOn`), if it said: earlier than the request
    /// means Snowflake answered from an earlier request with the same request id.
    pub created_on: Option<std::time::SystemTime>,
}

impl ResultSet {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Position of a column, by name, case-insensitively.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::Protocol(format!("no column {name:?} in the result")))
    }

    pub fn row(&self, index: usize) -> Option<Row<'_>> {
        self.rows.get(index).map(|values| Row { set: self, values })
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row { set: self, values })
    }
}

/// Something that names a column: its position or its name.
pub trait ColumnRef {
    fn position(&self, set: &ResultSet) -> Result<usize>;
}

impl ColumnRef for usize {
    fn position(&self, set: &ResultSet) -> Result<usize> {
        if *self < set.columns.len() {
            Ok(*self)
        } else {
            Err(Error::Protocol(format!(
                "column {self} out of range ({} columns)",
                set.columns.len()
            )))
        }
    }
}

impl ColumnRef for &str {
    fn position(&self, set: &ResultSet) -> Result<usize> {
        set.column(self)
    }
}

/// One row, with accessors that convert the wire strings.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    set: &'a ResultSet,
    values: &'a [Option<String>],
}

impl<'a> Row<'a> {
    fn raw(&self, col: impl ColumnRef) -> Result<(usize, Option<&'a str>)> {
        let i = col.position(self.set)?;
        Ok((i, self.values.get(i).and_then(|v| v.as_deref())))
    }

    fn convert<T>(
        &self,
        col: impl ColumnRef,
        want: &str,
        f: impl FnOnce(&str, &Column) -> Option<T>,
    ) -> Result<Option<T>> {
        let (i, value) = self.raw(col)?;
        let column = &self.set.columns[i];
        value
            .map(|v| {
                f(v, column).ok_or_else(|| {
                    Error::Protocol(format!(
                        "column {} ({}) value {v:?} is not {want}",
                        column.name, column.kind
                    ))
                })
            })
            .transpose()
    }

    pub fn get_str(&self, col: impl ColumnRef) -> Result<Option<&'a str>> {
        Ok(self.raw(col)?.1)
    }

    pub fn get_i64(&self, col: impl ColumnRef) -> Result<Option<i64>> {
        self.convert(col, "an integer", |v, _| v.parse().ok())
    }

    pub fn get_f64(&self, col: impl ColumnRef) -> Result<Option<f64>> {
        self.convert(col, "a number", |v, _| v.parse().ok())
    }

    pub fn get_bool(&self, col: impl ColumnRef) -> Result<Option<bool>> {
        self.convert(col, "a boolean", |v, _| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            }
        })
    }

    /// DATE arrives as days since 1970-01-01.
    pub fn get_date(&self, col: impl ColumnRef) -> Result<Option<NaiveDate>> {
        self.convert(col, "a date", |v, _| {
            let days: i64 = v.parse().ok()?;
            NaiveDate::from_ymd_opt(1970, 1, 1)?
                .checked_add_signed(chrono::TimeDelta::try_days(days)?)
        })
    }

    /// TIMESTAMP_NTZ (and LTZ, read as UTC wall time) arrive as `seconds.nanoseconds`.
    pub fn get_timestamp(&self, col: impl ColumnRef) -> Result<Option<NaiveDateTime>> {
        self.convert(col, "a timestamp", |v, _| {
            let epoch = v.split_whitespace().next()?;
            parse_epoch(epoch).map(|t| t.naive_utc())
        })
    }

    /// TIMESTAMP_TZ arrives as `seconds.nanoseconds offset`, offset being 1440 + minutes east of UTC.
    pub fn get_timestamp_tz(&self, col: impl ColumnRef) -> Result<Option<DateTime<FixedOffset>>> {
        self.convert(col, "a timestamp with time zone", |v, _| {
            let mut parts = v.split_whitespace();
            let utc = parse_epoch(parts.next()?)?;
            let offset_minutes: i32 = match parts.next() {
                Some(o) => o.parse::<i32>().ok()? - 1440,
                None => 0,
            };
            Some(utc.with_timezone(&FixedOffset::east_opt(offset_minutes * 60)?))
        })
    }
}

fn parse_epoch(text: &str) -> Option<DateTime<chrono::Utc>> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits = frac.len().min(9);
    let mut nanos: i64 = frac.get(..digits)?.parse().ok()?;
    nanos *= 10_i64.pow((9 - digits) as u32);
    // A negative epoch carries its sign on the fraction too: -1.5 is 1.5 s before 1970.
    let nanos = if text.starts_with('-') { -nanos } else { nanos };
    DateTime::from_timestamp(secs, 0)?.checked_add_signed(chrono::TimeDelta::nanoseconds(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(kind: &str, value: Option<&str>) -> ResultSet {
        ResultSet {
            handle: "h".into(),
            columns: vec![Column {
                name: "V".into(),
                kind: kind.into(),
                precision: None,
                scale: None,
                nullable: Some(true),
            }],
            rows: vec![vec![value.map(String::from)]],
            stats: Stats::default(),
            statement_handles: vec![],
            created_on: None,
        }
    }

    #[test]
    fn typed_accessors() {
        let s = set("fixed", Some("42"));
        assert_eq!(s.row(0).unwrap().get_i64("v").unwrap(), Some(42));
        assert_eq!(s.row(0).unwrap().get_f64(0).unwrap(), Some(42.0));
        let s = set("boolean", Some("true"));
        assert_eq!(s.row(0).unwrap().get_bool(0).unwrap(), Some(true));
        let s = set("date", Some("19723"));
        assert_eq!(
            s.row(0).unwrap().get_date(0).unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 1)
        );
        let s = set("timestamp_ntz", Some("1704067200.123456789"));
        let t = s.row(0).unwrap().get_timestamp(0).unwrap().unwrap();
        assert_eq!(t.to_string(), "2024-01-01 00:00:00.123456789");
        let s = set("timestamp_tz", Some("1704067200.000000000 1500"));
        let t = s.row(0).unwrap().get_timestamp_tz(0).unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-01T01:00:00+01:00");
        let s = set("timestamp_ntz", Some("-1.500000000"));
        let t = s.row(0).unwrap().get_timestamp(0).unwrap().unwrap();
        assert_eq!(t.to_string(), "1969-12-31 23:59:58.500");
    }

    #[test]
    fn nulls_and_bad_values() {
        let s = set("fixed", None);
        assert_eq!(s.row(0).unwrap().get_i64(0).unwrap(), None);
        let s = set("fixed", Some("x"));
        assert_eq!(
            s.row(0).unwrap().get_i64(0).unwrap_err().name(),
            "Snowflake.Protocol"
        );
        assert!(s.row(0).unwrap().get_i64("missing").is_err());
        assert!(s.row(0).unwrap().get_i64(3).is_err());
    }
}
