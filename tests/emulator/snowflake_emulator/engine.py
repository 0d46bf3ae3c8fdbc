"""SQL execution on one shared embedded DuckDB database, with Snowflake session semantics.

- Databases: CREATE DATABASE X is `ATTACH ':memory:' AS X` plus a PUBLIC schema.
- Sessions (session.py): one DuckDB cursor (its own connection) per request, used only by the worker
  thread running that request; cancel interrupts it from another thread (ExecContext).
- Iceberg tables, dynamic tables and tasks live in registries (iceberg.py, dynamic.py, tasks.py);
  their data are ordinary DuckDB tables, and `_run` refuses DML into the read-only ones.
- DESCRIBE TABLE and ALTER TABLE's column changes are columns.py's, which also keeps the Snowflake
  types DDL declared (DuckDB's types lose VARCHAR lengths and more): `_run_duckdb` tells it of the
  CREATE / DROP / ALTER TABLE statements DuckDB runs.
- Query history table functions and SYSTEM$CANCEL_QUERY are rewritten before DuckDB runs the
  statement (monitoring.py), reading the SQL API statements through `engine.queries`.
"""

import collections
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

import duckdb

from . import bindings as binding_values
from . import columns, emulated, errors, identifiers, monitoring, objects
from .dynamic import DynamicTables
from .errors import Canceled, SnowflakeError
from .iceberg import STORE, IcebergTables
from .results import Column, Result
from .session import NO_DATABASE, ExecContext, Session
from .sqltext import (TokenStream, classify, ddl_status, extract_waits, leading_words, merge_actions,
                      needs_compute, object_kind, quote_ident, quoted_identifiers, significant, split_statements,
                      sql_literal, table_ddl_target, to_duckdb, tokenize, write_target)
from .tasks import Tasks

# First words of Snowflake commands: others are syntax errors, these (when not implemented) are
# unsupported features.
SNOWFLAKE_COMMANDS = (
    "ALTER", "BEGIN", "CALL", "COMMENT", "COMMIT", "COPY", "CREATE", "DECLARE", "DELETE", "DESC", "DESCRIBE",
    "DROP", "EXECUTE", "EXPLAIN", "GET", "GRANT", "INSERT", "LIST", "LS", "MERGE", "PUT", "REMOVE", "REVOKE",
    "RM", "ROLLBACK", "SELECT", "SET", "SHOW", "START", "TRUNCATE", "UNDROP", "UNSET", "UPDATE", "USE",
    "WITH", "VALUES", "LET", "RETURN", "CASE", "FOR", "WHILE", "REPEAT", "LOOP", "IF", "RAISE",
)


@dataclass
class Outcome:
    results: list                     # [(statement text, Result)]
    multi: bool
    context: dict = field(default_factory=dict)


class Engine:
    def __init__(self, warehouses):
        self.warehouses = warehouses
        self._lock = threading.Lock()
        self._databases = set()
        tmp = tempfile.mkdtemp(prefix="snowflake-emulator-")
        try:
            empty = os.path.join(tmp, "no_database.duckdb")
            duckdb.connect(empty).close()
            self._conn = duckdb.connect(":memory:")
            self._conn.execute(f"ATTACH {sql_literal(empty)} AS {quote_ident(NO_DATABASE)} (READ_ONLY)")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # DuckDB keeps the file open; nothing to clean up later
        # Hidden catalog for the emulator's own data (Iceberg snapshots not yet refreshed into view).
        self._conn.execute(f"ATTACH ':memory:' AS {quote_ident(STORE)}")
        # Statements must not reach the local file system (read_csv, COPY, ATTACH 'file'...).
        self._conn.execute("SET enable_external_access = false")
        # Objects DuckDB has no notion of (see iceberg.py, dynamic.py, tasks.py).
        self.iceberg = IcebergTables(self)
        self.dynamic = DynamicTables(self)
        self.tasks = Tasks(self)
        # The Snowflake types DDL declared, which DuckDB's types do not keep (columns.py).
        self.declared = columns.Declared()
        # The SQL API statements (statements.Registry), for query history and cancel; set by the owner.
        self.queries = None

    def close(self):
        self.tasks.close()
        try:
            self._conn.close()
        except duckdb.Error:
            pass

    def cursor(self):
        with self._lock:
            return self._conn.cursor()

    def run_internal(self, statements, translate=False):
        """Run the emulator's own statements on a fresh cursor: SQL text, or (SQL, rows) for executemany.
        translate: apply the Snowflake -> DuckDB rewrite (types in DDL). Raises duckdb.Error."""
        cur = self.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            for stmt in statements:
                if isinstance(stmt, tuple):
                    cur.executemany(stmt[0], stmt[1])
                else:
                    cur.execute(to_duckdb(stmt) if translate else stmt)
        finally:
            cur.close()

    def relation_kind(self, fq):
        """'TABLE' or 'VIEW' if DuckDB holds a relation under (database, schema, name), else None."""
        database, schema, name = fq
        sql = ("SELECT 'TABLE' FROM duckdb_tables() WHERE lower(database_name) = lower(?) AND "
               "lower(schema_name) = lower(?) AND lower(table_name) = lower(?) UNION ALL "
               "SELECT 'VIEW' FROM duckdb_views() WHERE NOT internal AND lower(database_name) = lower(?) AND "
               "lower(schema_name) = lower(?) AND lower(view_name) = lower(?)")
        with self._lock:
            row = self._conn.execute(sql, [database, schema, name] * 2).fetchone()
        return row[0] if row else None

    def forget(self, database, schema=None):
        """A database or schema went away (or was replaced): so do the emulated objects in it."""
        for registry in (self.iceberg, self.dynamic, self.tasks):
            registry.forget(database, schema)
        self.declared.forget(database, schema)

    # ---- databases (emulated as attached in-memory catalogs)
    def database_exists(self, name):
        with self._lock:
            return name in self._databases

    def schema_exists(self, database, schema):
        with self._lock:
            rows = self._conn.execute("SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?",
                                      [database]).fetchall()
        return any(r[0].upper() == schema.upper() for r in rows)

    def create_database(self, name, replace=False, if_not_exists=False):
        """Returns False when it already existed (IF NOT EXISTS)."""
        with self._lock:
            if name in self._databases:
                if if_not_exists and not replace:
                    return False
                if not replace:
                    raise SnowflakeError("002002", "42710", f"SQL compilation error:\nObject '{name}' already exists.")
                self._conn.execute(f"DETACH {quote_ident(name)}")
                self._databases.discard(name)
                replaced = True
            else:
                replaced = False
            self._conn.execute(f"ATTACH ':memory:' AS {quote_ident(name)}")
            self._conn.execute(f"CREATE SCHEMA {quote_ident(name)}.PUBLIC")
            self._databases.add(name)
        if replaced:
            self.forget(name)  # outside self._lock: registries call back into the engine
        return True

    def drop_database(self, name):
        with self._lock:
            if name not in self._databases:
                return False
            self._conn.execute(f"DETACH {quote_ident(name)}")
            self._databases.discard(name)
        self.forget(name)
        return True

    # ---- execution
    def execute(self, text, *, user, role=None, database=None, schema=None, warehouse=None, timezone=None,
                bindings=None, expected_count=1, ctx=None, require_warehouse=True, privileged=False, account=None,
                query_id=None):
        """Run a request (one statement or a batch) in a fresh session. expected_count: None = any.
        privileged (admin fixtures): DML may write into Iceberg and dynamic tables. account, query_id: the
        SQL API request's account and statement handle (query history, cancel)."""
        ctx = ctx or ExecContext()
        pieces = split_statements(text)
        if not pieces:
            raise SnowflakeError("000900", "42000", "Empty SQL statement.")
        if expected_count not in (None, 0) and len(pieces) != expected_count:
            raise SnowflakeError("000008", "0A000", f"Actual statement count {len(pieces)} did not match the "
                                                    f"desired statement count {expected_count}.")
        multi = len(pieces) > 1 or (expected_count or 1) > 1
        if bindings and len(pieces) > 1:
            raise SnowflakeError("000002", "0A000", "Unsupported feature 'bind variables in a multi-statement request'.")
        params = binding_values.convert(bindings)
        session = Session(self, user, role, timezone, account, query_id)
        try:
            session.start(database, schema, warehouse)
            results = []
            for piece in pieces:
                ctx.check()
                results.append((piece, self._run(session, piece, params, ctx, require_warehouse, privileged)))
            return Outcome(results, multi, session.context())
        finally:
            session.close()

    def _run(self, session, text, params, ctx, require_warehouse, privileged=False):
        tokens = tokenize(text)
        sig = [t for t in significant(tokens) if t.kind != "semi"]
        handler = emulated.lookup(sig)
        if handler is not None:
            ctx.check()
            session.text = text  # handlers that keep SQL (dynamic table queries, task bodies) slice it
            return handler(self, session, sig, ctx)
        kind = classify(sig)
        compute = kind is not None and needs_compute(kind, sig)
        if kind is None and len(sig) > 1 and sig[0].is_word("CALL") and sig[1].is_word("SYSTEM$WAIT"):
            kind, compute = "query", False
        if compute and monitoring.cancel_only(sig):
            compute = False  # SELECT SYSTEM$CANCEL_QUERY(..) alone runs in cloud services
        if kind is None:
            if not sig[0].is_word(*SNOWFLAKE_COMMANDS):
                raise SnowflakeError.syntax(f"line 1 at position 0 unexpected '{sig[0].text}'.")
            raise SnowflakeError.unsupported(" ".join(leading_words(sig, 2)))
        if kind in ("insert", "update", "delete", "merge") and any(t.is_word("RETURNING") for t in sig):
            raise SnowflakeError.syntax("unexpected 'RETURNING'.")
        if kind in ("insert", "update", "delete", "merge") or (kind == "ddl" and sig[0].is_word("TRUNCATE")):
            if not privileged:
                self._check_writable(session, sig)
        elif kind == "ddl":
            self._check_table_ddl(session, sig)
        wh = None
        if compute and require_warehouse:
            wh = self.warehouses.begin_compute(session.warehouse, ctx, lambda s: self._waiting(session, s))
            self._waiting(session, None)
        prepared = None
        try:
            source = text
            if monitoring.mentions(text):
                # Query history table functions and SYSTEM$CANCEL_QUERY (monitoring.py).
                prepared = monitoring.prepare(session, text, params, kind, ctx)
                source, params = prepared.text, prepared.params
                tokens = tokenize(source)
            if kind != "ddl":
                identifiers.check(session.cursor, text)   # quoted names are case-sensitive
            rewritten, waits = extract_waits(tokens)
            for wait in waits:
                ctx.sleep(wait.seconds)
            sql = to_duckdb(rewritten if rewritten is not None else source)
            result = self._run_duckdb(session, kind, sig, sql, text, params, ctx)
            return prepared.finish(result) if prepared is not None else result
        finally:
            if prepared is not None:
                prepared.close()
            if wh is not None:
                self.warehouses.end_compute(wh)

    def _waiting(self, session, status):
        """The SQL API statement's execution status while it waits for its warehouse (None: running)."""
        stmt = self.queries.get(session.query_id) if self.queries is not None and session.query_id else None
        if stmt is not None:
            stmt.execution_status = status

    def _run_duckdb(self, session, kind, sig, sql, original, params, ctx):
        cur = session.cursor
        ctx.attach(cur)
        try:
            if kind == "query":
                return self._query(cur, sql, params, quoted_identifiers(original))
            if kind == "merge":
                cur.execute(sql + "\nRETURNING merge_action", params or None)
                counts = collections.Counter(row[0] for row in cur.fetchall())
                names = [("INSERT", "number of rows inserted"), ("UPDATE", "number of rows updated"),
                         ("DELETE", "number of rows deleted")]
                present = [(action, name) for action, name in names if action in merge_actions(sig)]
                return Result([Column.fixed(name, 19, 0, False) for _, name in present],
                              [tuple(counts[action] for action, _ in present)],
                              _stats(counts["INSERT"], counts["UPDATE"], counts["DELETE"]))
            kept = kind == "ddl" and columns.kept_by_ddl(self, session, sig)  # before DuckDB runs it
            cur.execute(sql, params or None)
            if kind == "insert":
                n = cur.fetchone()[0]
                return Result([Column.fixed("number of rows inserted", 19, 0, False)], [(n,)], _stats(inserted=n))
            if kind == "update":
                n = cur.fetchone()[0]
                return Result([Column.fixed("number of rows updated", 19, 0, False),
                               Column.fixed("number of multi-joined rows updated", 19, 0, False)],
                              [(n, 0)], _stats(updated=n))
            if kind == "delete":
                n = cur.fetchone()[0]
                return Result([Column.fixed("number of rows deleted", 19, 0, False)], [(n,)], _stats(deleted=n))
            self._after_ddl(session, sig)
            columns.after_ddl(self, session, sig, kept)
            return Result.status(ddl_status(sig))
        except duckdb.InterruptException:
            raise Canceled()
        except duckdb.Error as e:
            if ctx.cancel_event.is_set():
                raise Canceled()
            raise errors.from_duckdb(e, " ".join(leading_words(sig, 2)))
        finally:
            ctx.detach()

    def _emulated_table(self, session, parts, verb):
        """('ICEBERG_TABLE' | 'DYNAMIC_TABLE', registry) if the name is one of those, else (None, None)."""
        if not parts or len(parts) > 3:
            return None, None
        try:
            k = objects.key(objects.qualify(session, parts, verb))
        except SnowflakeError:
            return None, None  # DuckDB will report it
        for registry in (self.iceberg, self.dynamic):
            if registry.get(k) is not None:
                return registry.KIND, registry
        return None, None

    def _check_writable(self, session, sig):
        """Iceberg tables (external catalog) and dynamic tables are read-only to DML."""
        parts = write_target(sig)
        kind, registry = self._emulated_table(session, parts, " ".join(leading_words(sig, 1)))
        if registry is not None:
            raise registry.read_only_error(parts)

    def _check_table_ddl(self, session, sig):
        """DROP / ALTER / CREATE OR REPLACE TABLE must not hit an Iceberg or dynamic table."""
        parts = table_ddl_target(sig)
        kind, _ = self._emulated_table(session, parts, " ".join(leading_words(sig, 2)))
        if kind is None:
            return
        if sig[0].is_word("CREATE"):
            raise objects.already_exists(parts, kind)
        raise objects.wrong_type(kind, "TABLE")

    def _after_ddl(self, session, sig):
        """Snowflake makes a schema it creates current, and forgets a current schema that is dropped."""
        if object_kind(sig) != "SCHEMA" or not sig[0].is_word("CREATE", "DROP"):
            return
        ts = TokenStream(sig)
        replace = sig[0].is_word("CREATE") and ts.peek(1) is not None and ts.peek(1).is_word("OR")
        while ts.peek() is not None and not ts.peek().is_word("SCHEMA"):
            ts.next()
        ts.accept("SCHEMA")
        ts.accept("IF", "NOT", "EXISTS") or ts.accept("IF", "EXISTS")
        parts = ts.qualified_ident() or []
        database = parts[0] if len(parts) == 2 else session.database
        if (replace or sig[0].is_word("DROP")) and database is not None and len(parts) in (1, 2):
            self.forget(database, parts[-1])
        if sig[0].is_word("CREATE") and database is not None and len(parts) in (1, 2):
            session.use(database, parts[-1])
        elif sig[0].is_word("DROP") and database == session.database and parts and \
                (session.schema or "").upper() == parts[-1].upper():
            session.clear_schema()

    @staticmethod
    def _query(cur, sql, params, quoted):
        rel = cur.sql(sql, params=params or None)
        if rel is None:
            return Result.status("Statement executed successfully.")
        # Snowflake folds unquoted names to uppercase; quoted aliases keep their case.
        columns = [Column.from_duckdb(_column_name(name, quoted), dtype) for name, dtype in zip(rel.columns, rel.types)]
        if any(c.projection != "{}" for c in columns):
            rel = rel.project(", ".join(c.projection.format(f"#{i + 1}") for i, c in enumerate(columns)))
        return Result(columns, rel.fetchall())


def _column_name(name, quoted):
    """Snowflake folds unquoted names to uppercase; quoted aliases keep their case."""
    if name in quoted:
        return name
    return "COUNT(*)" if name == "count_star()" else name.upper()


def _stats(inserted=0, updated=0, deleted=0):
    return {"numRowsInserted": inserted, "numRowsUpdated": updated, "numRowsDeleted": deleted,
            "numDuplicateRowsUpdated": 0}
