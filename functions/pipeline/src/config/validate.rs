//! The validation context: the problems found so far, where SQL files are looked up, and the
//! checks every part of the config shares (names, files).

use super::problem::{At, Problem};
use super::sql::SqlCheck;
use snowflake::{Identifier, ObjectName};
use std::cell::RefCell;
use std::path::{Component, Path, PathBuf};

pub(crate) struct Ctx {
    problems: RefCell<Vec<Problem>>,
    base_dir: PathBuf,
    /// How the config's SQL is checked: with the parser, or as text for a deployed config.
    sql_check: &'static dyn SqlCheck,
}

impl Ctx {
    pub(crate) fn new(base_dir: &Path, sql_check: &'static dyn SqlCheck) -> Self {
        Self {
            problems: RefCell::default(),
            base_dir: base_dir.to_path_buf(),
            sql_check,
        }
    }

    pub(crate) fn sql_check(&self) -> &'static dyn SqlCheck {
        self.sql_check
    }

    pub(crate) fn problem(&self, at: &At, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            path: at.as_str().to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn into_problems(self) -> Vec<Problem> {
        self.problems.into_inner()
    }

    /// A backslash is an escape character in Snowflake string literals, and names do end up in
    /// literals (`SHOW WAREHOUSES LIKE '<name>'`, query tags): refused rather than guessed at.
    fn no_backslash(&self, at: &At, name: &str) -> bool {
        if name.contains('\\') {
            self.problem(
                at,
                "a backslash in a name is not supported (Snowflake reads it as an escape in the string literals names appear in)",
            );
            return false;
        }
        true
    }

    pub(crate) fn ident(&self, at: &At, name: &str) -> Option<Identifier> {
        if !self.no_backslash(at, name) {
            return None;
        }
        Identifier::new(name)
            .map_err(|e| self.problem(at, e.to_string()))
            .ok()
    }

    pub(crate) fn object(&self, at: &At, name: &str) -> Option<ObjectName> {
        if !self.no_backslash(at, name) {
            return None;
        }
        ObjectName::parse(name)
            .map_err(|e| self.problem(at, e.to_string()))
            .ok()
    }

    /// A list of distinct column names.
    pub(crate) fn idents(&self, at: &At, names: &[(At, &str)]) -> Option<Vec<Identifier>> {
        let mut out: Vec<Identifier> = Vec::with_capacity(names.len());
        let mut ok = true;
        for (item, name) in names {
            match self.ident(item, name) {
                Some(id) if out.contains(&id) => {
                    self.problem(item, format!("{} is listed twice", id.as_str()));
                    ok = false;
                }
                Some(id) => out.push(id),
                None => ok = false,
            }
        }
        if names.is_empty() {
            self.problem(at, "name at least one column");
            ok = false;
        }
        ok.then_some(out)
    }

    /// Reads a SQL file that must live inside the config's folder (it ships as one directory, the
    /// Lambda layer), after following every symlink in its path: a link out of the folder is
    /// refused like `..` is.
    pub(crate) fn sql_file(&self, at: &At, file: &str) -> Option<String> {
        let relative = Path::new(file);
        if file.is_empty()
            || relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            self.problem(
                at,
                "a path inside the config's directory, such as sql/merge.sql",
            );
            return None;
        }
        let shown = self.base_dir.join(file).display().to_string();
        let resolved = self
            .base_dir
            .canonicalize()
            .and_then(|base| Ok((self.base_dir.join(file).canonicalize()?, base)));
        let (full, base) = match resolved {
            Ok(pair) => pair,
            Err(e) => {
                self.problem(at, format!("cannot read {shown}: {e}"));
                return None;
            }
        };
        if !full.starts_with(&base) {
            self.problem(
                at,
                format!(
                    "{shown} is a link to {}, outside the config's directory; copy the file in instead",
                    full.display()
                ),
            );
            return None;
        }
        if !full.is_file() {
            self.problem(at, format!("{shown} is not a file"));
            return None;
        }
        match std::fs::read_to_string(&full) {
            Ok(sql) if sql.trim().is_empty() => {
                self.problem(at, format!("{shown} is empty"));
                None
            }
            Ok(sql) => Some(sql),
            Err(e) => {
                self.problem(at, format!("cannot read {shown}: {e}"));
                None
            }
        }
    }

    /// Names of list items must be distinct within their list.
    pub(crate) fn unique_names<'n>(&self, items: impl IntoIterator<Item = (At, &'n str)>) {
        let mut seen = std::collections::HashSet::new();
        for (at, name) in items {
            if !seen.insert(name) {
                self.problem(&at, format!("duplicate name {name:?}"));
            }
        }
    }
}
