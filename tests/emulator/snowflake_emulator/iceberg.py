"""Externally managed Iceberg tables: data written by Glue becomes visible only after REFRESH.

The admin API registers a table (an ordinary DuckDB table, empty, that queries read) and then
snapshots: each snapshot is the table's FULL contents as of one metadata file (Iceberg semantics),
kept in a hidden catalog until `ALTER ICEBERG TABLE .. REFRESH` copies it into the visible table.

- object_store tables (created from Iceberg files in object storage) refresh to the metadata file
  named in the statement, a path relative to the external volume's storage location;
- glue tables (catalog integration) refresh without a path, to the newest registered snapshot.

Iceberg tables are read-only to DML (external catalog); queries read them like any table.
"""

import re
import threading
import time

import duckdb

from . import errors
from .errors import Canceled, SnowflakeError
from .objects import (display, does_not_exist, key, parse_admin_name, parse_name, qualify,
                      sql_name, wrong_type)
from .results import Result
from .sqltext import TokenStream, quote_ident, string_value

CATALOGS = ("object_store", "glue")
STORE = "__emulator_store"     # hidden catalog holding snapshot contents (see Engine)
_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def refresh_failed(code, state, detail):
    return SnowflakeError(code, state, f"Failed to refresh Iceberg table: {detail}")


def _relative_path_problem(path):
    if path.startswith("/") or _URL.match(path):
        return (f"the metadata file path '{path}' must be relative to the external volume's active storage "
                "location (no leading '/', no URL).")
    return None


class IcebergTable:
    def __init__(self, fq, catalog, columns):
        self.fq = fq
        self.catalog = catalog
        self.columns = columns
        self.snapshots = {}           # metadata file -> hidden table name, oldest registration first
        self.current = None           # metadata file the visible table shows
        self.refresh_count = 0
        self.last_refreshed = None
        self.lock = threading.Lock()  # one refresh at a time

    def describe(self):
        return {"table": ".".join(self.fq), "catalog": self.catalog, "current_metadata_file": self.current,
                "snapshots": list(self.snapshots), "refresh_count": self.refresh_count,
                "last_refreshed": self.last_refreshed}


class IcebergTables:
    def __init__(self, engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._tables = {}
        self._seq = 0

    # ---- used by the engine
    def get(self, k):
        with self._lock:
            return self._tables.get(k)

    def forget(self, database, schema=None):
        """The database (or schema) was dropped or replaced: its tables and snapshots go with it."""
        with self._lock:
            gone = [k for k in self._tables if k[0] == database.upper() and (schema is None or k[1] == schema.upper())]
            tables = [self._tables.pop(k) for k in gone]
        for t in tables:
            self._drop_snapshots(t.snapshots.values())

    def read_only_error(self, parts):
        return SnowflakeError("091319", "0A000", f"SQL compilation error:\nIceberg table '{display(parts)}' uses "
                                                 "an external catalog: it is read-only and cannot be modified.")

    # ---- admin API
    def list(self):
        with self._lock:
            return [t.describe() for _, t in sorted(self._tables.items())]

    def register_table(self, body):
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        fq = parse_admin_name(body.get("table"))
        catalog = body.get("catalog", "object_store")
        if catalog not in CATALOGS:
            raise ValueError(f"'catalog' must be one of {', '.join(CATALOGS)}")
        columns = body.get("columns")
        if not isinstance(columns, list) or not columns:
            raise ValueError("'columns' must be a non-empty list of [name, type]")
        for col in columns:
            if not (isinstance(col, list) and len(col) == 2 and all(isinstance(x, str) and x for x in col)):
                raise ValueError("each column must be [name, type]")
            if not _TYPE.fullmatch(col[1].strip()):
                raise ValueError(f"unsupported column type '{col[1]}'")
        engine = self._engine
        if not engine.database_exists(fq[0]):
            engine.create_database(fq[0], if_not_exists=True)
        if engine.dynamic.get(key(fq)) is not None:
            raise ValueError(f"{display(fq)} is a dynamic table")
        cols = ", ".join(f"{quote_ident(name)} {ctype.strip()}" for name, ctype in columns)
        engine.run_internal([f"CREATE SCHEMA IF NOT EXISTS {quote_ident(fq[0])}.{quote_ident(fq[1])}",
                             f"CREATE OR REPLACE TABLE {sql_name(fq)} ({cols})"], translate=True)
        table = IcebergTable(fq, catalog, [list(c) for c in columns])
        with self._lock:
            old = self._tables.get(key(fq))
            self._tables[key(fq)] = table
        if old is not None:
            self._drop_snapshots(old.snapshots.values())
        return table.describe()

    def register_snapshot(self, body, admin_user, admin_role):
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        fq = parse_admin_name(body.get("table"))
        table = self.get(key(fq))
        if table is None:
            raise LookupError(f"no Iceberg table {display(fq)} is registered")
        path = body.get("metadata_file")
        if not isinstance(path, str) or not path.strip():
            raise ValueError("'metadata_file' must be a non-empty string")
        problem = _relative_path_problem(path)
        if problem:
            raise ValueError(problem)
        rows, sql = body.get("rows"), body.get("sql")
        if (rows is None) == (sql is None):
            raise ValueError("give exactly one of 'rows' and 'sql'")
        with self._lock:
            self._seq += 1
            hidden = f"{quote_ident(STORE)}.main.{quote_ident(f'snapshot_{self._seq}')}"
        engine = self._engine
        engine.run_internal([f"CREATE TABLE {hidden} AS SELECT * FROM {sql_name(table.fq)} LIMIT 0"])
        try:
            if rows is not None:
                self._insert_rows(hidden, table, rows)
            else:
                if not isinstance(sql, str) or not sql.strip():
                    raise ValueError("'sql' must be a non-empty string")
                text = sql.strip().rstrip(";")
                try:
                    engine.execute(f"INSERT INTO {hidden} SELECT * FROM (\n{text}\n)", user=admin_user,
                                   role=admin_role, require_warehouse=False, privileged=True)
                except SnowflakeError as e:
                    raise ValueError(f"snapshot SQL failed: {e.message}")
        except BaseException:
            self._drop_snapshots([hidden])
            raise
        with table.lock, self._lock:
            old = table.snapshots.pop(path, None)
            table.snapshots[path] = hidden
        if old is not None:
            self._drop_snapshots([old])
        return table.describe()

    def _insert_rows(self, hidden, table, rows):
        import json
        width = len(table.columns)
        if not isinstance(rows, list):
            raise ValueError("'rows' must be a list of rows")
        clean = []
        for row in rows:
            if not isinstance(row, list) or len(row) != width:
                raise ValueError(f"each row must be a list of {width} values")
            clean.append([json.dumps(v) if isinstance(v, (dict, list)) else v for v in row])
        if not clean:
            return
        marks = ", ".join("?" for _ in range(width))
        try:
            self._engine.run_internal([(f"INSERT INTO {hidden} VALUES ({marks})", clean)])
        except duckdb.Error as e:
            raise ValueError(f"rows do not fit the table's columns: {e}")

    def _drop_snapshots(self, hidden_tables):
        stmts = [f"DROP TABLE IF EXISTS {h}" for h in hidden_tables]
        if stmts:
            try:
                self._engine.run_internal(stmts)
            except duckdb.Error:
                pass

    # ---- SQL: ALTER ICEBERG TABLE [IF EXISTS] name REFRESH ['path'], DROP ICEBERG TABLE
    def alter(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("ALTER", "ICEBERG", "TABLE")
        if_exists = ts.accept("IF", "EXISTS")
        parts = parse_name(ts)
        action = ts.next()
        if action is None:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        if not action.is_word("REFRESH"):
            raise SnowflakeError.unsupported(f"ALTER ICEBERG TABLE {action.text.upper()}")
        path = None
        tok = ts.peek()
        if tok is not None and tok.kind in ("string", "dollar"):
            path = string_value(ts.next())
        if not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        fq = qualify(session, parts, "ALTER ICEBERG TABLE")
        table = self.get(key(fq))
        if table is None:
            self._missing(fq, parts, if_exists)
            return Result.status("Statement executed successfully.")
        with table.lock:
            if table.catalog == "glue":
                if path is not None:
                    raise refresh_failed("091317", "22023", f"a metadata file path cannot be specified for table "
                                                            f"'{display(parts)}', which uses a catalog integration.")
                if not table.snapshots:
                    target = None  # nothing written yet: nothing changes
                else:
                    target = list(table.snapshots)[-1]
            else:
                if path is None:
                    raise refresh_failed("091318", "22023", f"a metadata file path is required for table "
                                                            f"'{display(parts)}', which was created from Iceberg "
                                                            "files in object storage.")
                problem = _relative_path_problem(path)
                if problem:
                    raise refresh_failed("091316", "22023", problem)
                if path not in table.snapshots:
                    raise refresh_failed("091315", "22000", f"metadata file '{path}' not found.")
                target = path
            if target is not None:
                self._load(table, table.snapshots[target], ctx)
                table.current = target
            table.refresh_count += 1
            table.last_refreshed = time.time()
        return Result.status("Statement executed successfully.")

    def _load(self, table, hidden, ctx):
        """Make the visible table hold exactly the snapshot's rows (one transaction)."""
        cur = self._engine.cursor()
        ctx.attach(cur)
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute(f"DELETE FROM {sql_name(table.fq)}")
                cur.execute(f"INSERT INTO {sql_name(table.fq)} SELECT * FROM {hidden}")
                cur.execute("COMMIT")
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
        except duckdb.InterruptException:
            raise Canceled()
        except duckdb.Error as e:
            if ctx.cancel_event.is_set():
                raise Canceled()
            raise errors.from_duckdb(e, "ALTER ICEBERG TABLE")
        finally:
            ctx.detach()
            cur.close()

    def _missing(self, fq, parts, if_exists):
        if self._engine.dynamic.get(key(fq)) is not None:
            raise wrong_type("DYNAMIC_TABLE", "ICEBERG_TABLE")
        kind = self._engine.relation_kind(fq)
        if kind is not None:
            raise wrong_type(kind, "ICEBERG_TABLE")
        if not if_exists:
            raise does_not_exist("Table", parts)

    def drop(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("DROP", "ICEBERG", "TABLE")
        if_exists = ts.accept("IF", "EXISTS")
        parts = parse_name(ts)
        if not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        fq = qualify(session, parts, "DROP ICEBERG TABLE")
        with self._lock:
            table = self._tables.pop(key(fq), None)
        if table is None:
            self._missing(fq, parts, if_exists)
            return Result.status(f"Drop statement executed successfully ({parts[-1]} already dropped).")
        self._drop_snapshots(table.snapshots.values())
        self._engine.run_internal([f"DROP TABLE IF EXISTS {sql_name(fq)}"])
        return Result.status(f"{parts[-1]} successfully dropped.")

