"""Dynamic tables: a stored query whose result is materialised at creation (INITIALIZE = ON_CREATE)
and again on each `ALTER DYNAMIC TABLE .. REFRESH`. There is no scheduler: TARGET_LAG is stored,
never acted on. A manual refresh first refreshes the dynamic tables its query reads (upstream),
like Snowflake, unless SCHEDULER = DISABLE. SUSPEND / RESUME only change the recorded state (they
cascade downstream); a suspended dynamic table can still be refreshed by hand.

The materialised result is an ordinary DuckDB table under the dynamic table's name; DML into it
fails. Until its first refresh (INITIALIZE = ON_SCHEDULE) the name is a view that fails when read,
as Snowflake refuses to query a dynamic table that is not initialized.
"""

import re
import threading
import time

import duckdb

from . import errors
from .errors import Canceled, SnowflakeError
from .objects import (already_exists, body_after, display, does_not_exist, key, option_value, parse_name, qualify,
                      references, skip_parens, sql_name, wrong_type)
from .results import Result
from .session import Session
from .sqltext import TokenStream, quote_ident, to_duckdb, tokenize

PROPERTIES = {"TARGET_LAG", "WAREHOUSE", "REFRESH_MODE", "INITIALIZE", "COMMENT", "DATA_RETENTION_TIME_IN_DAYS",
              "MAX_DATA_EXTENSION_TIME_IN_DAYS", "SCHEDULER", "INITIALIZATION_WAREHOUSE", "LOG_LEVEL",
              "TRACE_LEVEL", "CHANGE_TRACKING"}
_LAG = re.compile(r"\s*\d+\s*(seconds?|minutes?|hours?|days?)\s*", re.I)
_CHOICES = {"REFRESH_MODE": ("AUTO", "FULL", "INCREMENTAL"), "INITIALIZE": ("ON_CREATE", "ON_SCHEDULE"),
            "SCHEDULER": ("ENABLE", "DISABLE")}


def _invalid_value(name, value):
    return SnowflakeError("002018", "22023", f"SQL compilation error:\ninvalid value ['{value}'] for parameter '{name}'")


def _warehouse_missing(name):
    return SnowflakeError("002003", "02000", f"SQL compilation error:\nWarehouse '{name}' does not exist or not "
                                             "authorized.")


class DynamicTable:
    def __init__(self, fq, query, columns, props, owner):
        self.fq = fq
        self.query = query
        self.columns = columns
        self.target_lag = props.get("TARGET_LAG", "DOWNSTREAM")
        self.warehouse = props["WAREHOUSE"]
        self.refresh_mode = props.get("REFRESH_MODE", "AUTO")
        self.initialize = props.get("INITIALIZE", "ON_CREATE")
        self.scheduler = props.get("SCHEDULER", "ENABLE")
        self.comment = props.get("COMMENT")
        self.owner = owner
        self.state = "ACTIVE"
        self.suspended_by = None      # None, "manual" or "upstream" (cascaded SUSPEND)
        self.initialized = False
        self.refresh_count = 0
        self.last_refreshed = None
        self.rows = None
        self.created = time.time()

    def describe(self):
        return {"name": ".".join(self.fq), "state": self.state, "refresh_count": self.refresh_count,
                "last_refreshed": self.last_refreshed, "rows": self.rows, "initialized": self.initialized,
                "target_lag": self.target_lag, "warehouse": self.warehouse, "refresh_mode": self.refresh_mode,
                "query": self.query}


def _check_props(props):
    for name, choices in _CHOICES.items():
        if name in props and props[name] not in choices:
            raise _invalid_value(name, props[name])
    lag = props.get("TARGET_LAG")
    if lag is not None and lag != "DOWNSTREAM" and not _LAG.fullmatch(lag):
        raise _invalid_value("TARGET_LAG", lag)


def _parse_props(ts, stop_at_as):
    """KEY = value options (plus CLUSTER BY (..), WITH TAG (..), COPY GRANTS) up to AS or the end."""
    props = {}
    while True:
        tok = ts.peek()
        if tok is None:
            if stop_at_as:
                raise SnowflakeError.syntax("unexpected '<EOF>'.")
            return props, None
        if stop_at_as and tok.is_word("AS"):
            return props, ts.next()
        if tok.is_op(","):
            ts.next()
        elif ts.accept("COPY", "GRANTS"):
            pass
        elif ts.accept("CLUSTER", "BY") or ts.accept("WITH", "TAG") or ts.accept("TAG") or \
                ts.accept("IMMUTABLE", "WHERE"):
            if not skip_parens(ts):
                raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        elif tok.kind == "word" and ts.peek(1) is not None and ts.peek(1).is_op("="):
            ts.next()
            ts.next()
            if tok.upper not in PROPERTIES:
                raise SnowflakeError("001003", "42000", f"SQL compilation error:\ninvalid property '{tok.text}' "
                                                        "for 'DYNAMIC_TABLE'")
            props[tok.upper] = option_value(ts)
        else:
            raise SnowflakeError.syntax(f"unexpected '{tok.text}'.")


def _column_list(ts):
    """Optional '(a, b COMMENT '..', ...)' after the name: the column names."""
    if ts.peek() is None or not ts.peek().is_op("("):
        return None
    ts.next()
    names = []
    while True:
        name = ts.ident()
        if name is None:
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        names.append(name)
        depth = 0
        while True:  # skip a type or COMMENT '..' after the name
            tok = ts.next()
            if tok is None:
                raise SnowflakeError.syntax("unexpected '<EOF>'.")
            if tok.is_op("("):
                depth += 1
            elif tok.is_op(")"):
                if depth == 0:
                    return names
                depth -= 1
            elif tok.is_op(",") and depth == 0:
                break


class DynamicTables:
    def __init__(self, engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._refresh_lock = threading.RLock()   # refreshes (and their upstream cascades) one at a time
        self._tables = {}

    # ---- used by the engine and the admin API
    def get(self, k):
        with self._lock:
            return self._tables.get(k)

    def list(self):
        with self._lock:
            return [t.describe() for _, t in sorted(self._tables.items())]

    def forget(self, database, schema=None):
        with self._lock:
            for k in [k for k in self._tables if k[0] == database.upper() and (schema is None or k[1] == schema.upper())]:
                del self._tables[k]

    def read_only_error(self, parts):
        return SnowflakeError("091320", "0A000", f"SQL compilation error:\nDynamic table '{display(parts)}' cannot "
                                                 "be modified: its contents come only from refreshes of its query.")

    # ---- CREATE [OR REPLACE] [TRANSIENT] DYNAMIC TABLE [IF NOT EXISTS] name [(cols)] options AS query
    def create(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("CREATE")
        replace = ts.accept("OR", "REPLACE")
        ts.accept("TRANSIENT")
        if not ts.accept("DYNAMIC", "TABLE"):
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        if_not_exists = ts.accept("IF", "NOT", "EXISTS")
        parts = parse_name(ts)
        columns = _column_list(ts)
        props, as_tok = _parse_props(ts, stop_at_as=True)
        query = body_after(session, as_tok)
        if not query:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        _check_props(props)
        if "WAREHOUSE" not in props:
            raise SnowflakeError("001003", "42000", "SQL compilation error:\nMissing option(s): [WAREHOUSE]")
        if not self._engine.warehouses.exists(props["WAREHOUSE"]):
            raise _warehouse_missing(props["WAREHOUSE"])
        fq = qualify(session, parts, "CREATE DYNAMIC TABLE")
        engine = self._engine
        if not engine.database_exists(fq[0]):
            raise does_not_exist("Database", fq[:1])
        if not engine.schema_exists(fq[0], fq[1]):
            raise does_not_exist("Schema", fq[:2])
        k = key(fq)
        with self._refresh_lock:
            existing = self.get(k)
            other = "ICEBERG_TABLE" if engine.iceberg.get(k) is not None else engine.relation_kind(fq)
            if existing is not None or other is not None:
                if if_not_exists and not replace:
                    return Result.status(f"{parts[-1]} already exists, statement succeeded.")
                if not replace:
                    raise already_exists(parts)
                if existing is None:
                    raise already_exists(parts, other)
            dt = DynamicTable(fq, query, columns, props, session.role)
            if dt.initialize == "ON_CREATE":
                self._materialize(dt, ctx)
            else:
                self._placeholder(dt, ctx)
            with self._lock:
                self._tables[k] = dt
        return Result.status(f"Dynamic table {parts[-1]} successfully created.")

    # ---- ALTER DYNAMIC TABLE [IF EXISTS] name REFRESH | SUSPEND | RESUME | SET ...
    def alter(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("ALTER", "DYNAMIC", "TABLE")
        if_exists = ts.accept("IF", "EXISTS")
        parts = parse_name(ts)
        action = ts.next()
        if action is None or action.kind != "word":
            raise SnowflakeError.syntax(f"unexpected '{action.text if action else '<EOF>'}'.")
        verb = action.upper
        fq = qualify(session, parts, "ALTER DYNAMIC TABLE")
        dt = self.get(key(fq))
        if verb == "REFRESH":
            ts.accept("COPY", "SESSION")
        elif verb == "SET":
            props, _ = _parse_props(ts, stop_at_as=False)
            _check_props(props)
        elif verb not in ("SUSPEND", "RESUME"):
            raise SnowflakeError.unsupported(f"ALTER DYNAMIC TABLE {verb}")
        if not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        if dt is None:
            self._missing(fq, parts, if_exists)
            return Result.status("Statement executed successfully.")
        if verb == "REFRESH":
            with self._refresh_lock:
                self._refresh_tree(dt, ctx, set())
        elif verb == "SUSPEND":
            with self._lock:
                dt.state, dt.suspended_by = "SUSPENDED", "manual"
                for down in self._downstream(dt):
                    if down.state == "ACTIVE":
                        down.state, down.suspended_by = "SUSPENDED", "upstream"
        elif verb == "RESUME":
            with self._lock:
                dt.state, dt.suspended_by = "ACTIVE", None
                for down in self._downstream(dt):
                    if down.suspended_by == "upstream":
                        down.state, down.suspended_by = "ACTIVE", None
        else:
            if "WAREHOUSE" in props and not self._engine.warehouses.exists(props["WAREHOUSE"]):
                raise _warehouse_missing(props["WAREHOUSE"])
            if "REFRESH_MODE" in props or "INITIALIZE" in props:
                raise SnowflakeError("001003", "42000", "SQL compilation error:\ninvalid property "
                                                        f"'{'REFRESH_MODE' if 'REFRESH_MODE' in props else 'INITIALIZE'}'"
                                                        " for 'ALTER DYNAMIC TABLE'")
            with self._lock:
                dt.target_lag = props.get("TARGET_LAG", dt.target_lag)
                dt.warehouse = props.get("WAREHOUSE", dt.warehouse)
                dt.scheduler = props.get("SCHEDULER", dt.scheduler)
                dt.comment = props.get("COMMENT", dt.comment)
        return Result.status("Statement executed successfully.")

    def drop(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("DROP", "DYNAMIC", "TABLE")
        if_exists = ts.accept("IF", "EXISTS")
        parts = parse_name(ts)
        if not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        fq = qualify(session, parts, "DROP DYNAMIC TABLE")
        with self._refresh_lock:
            with self._lock:
                dt = self._tables.pop(key(fq), None)
            if dt is None:
                self._missing(fq, parts, if_exists)
                return Result.status(f"Drop statement executed successfully ({parts[-1]} already dropped).")
            kind = self._engine.relation_kind(fq)
            if kind is not None:
                self._engine.run_internal([f"DROP {kind} {sql_name(fq)}"])
        return Result.status(f"{parts[-1]} successfully dropped.")

    # ---- internals
    def _missing(self, fq, parts, if_exists):
        if self._engine.iceberg.get(key(fq)) is not None:
            raise wrong_type("ICEBERG_TABLE", "DYNAMIC_TABLE")
        kind = self._engine.relation_kind(fq)
        if kind is not None:
            raise wrong_type(kind, "DYNAMIC_TABLE")
        if not if_exists:
            raise does_not_exist("Dynamic table", parts)

    def _upstream(self, dt):
        """Registered dynamic tables named in dt's query (resolved in dt's database and schema)."""
        found = []
        for parts in references(tokenize(dt.query)):
            fq = tuple(parts) if len(parts) == 3 else (dt.fq[0],) + tuple(parts) if len(parts) == 2 \
                else (dt.fq[0], dt.fq[1], parts[0])
            k = key(fq)
            up = self._tables.get(k)
            if up is not None and up is not dt and up not in found:
                found.append(up)
        return found

    def _downstream(self, dt):
        """Dynamic tables that read dt, directly or not (call with self._lock held)."""
        out, frontier = [], [dt]
        while frontier:
            current = frontier.pop()
            for other in self._tables.values():
                if other is not dt and other not in out and current in self._upstream(other):
                    out.append(other)
                    frontier.append(other)
        return out

    def _refresh_tree(self, dt, ctx, done):
        done.add(id(dt))
        if dt.scheduler != "DISABLE":
            with self._lock:
                upstream = self._upstream(dt)
            for up in upstream:
                if id(up) not in done:
                    self._refresh_tree(up, ctx, done)
        if not self._engine.warehouses.exists(dt.warehouse):
            raise _warehouse_missing(dt.warehouse)
        self._materialize(dt, ctx)

    def _session(self, dt):
        session = Session(self._engine, "SYSTEM", dt.owner, None)
        try:
            session.start(dt.fq[0], dt.fq[1], None)
        except BaseException:
            session.close()
            raise
        return session

    def _run(self, dt, ctx, statements, count=False):
        session = self._session(dt)
        cur = session.cursor
        ctx.attach(cur)
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                for sql in statements:
                    cur.execute(sql)
                cur.execute("COMMIT")
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            return cur.execute(f"SELECT COUNT(*) FROM {sql_name(dt.fq)}").fetchone()[0] if count else None
        except duckdb.InterruptException:
            raise Canceled()
        except duckdb.Error as e:
            if ctx.cancel_event.is_set():
                raise Canceled()
            raise errors.from_duckdb(e, "REFRESH DYNAMIC TABLE")
        finally:
            ctx.detach()
            session.close()

    def _drop_current(self, dt):
        kind = self._engine.relation_kind(dt.fq)
        return [f"DROP {kind} {sql_name(dt.fq)}"] if kind is not None else []

    def _source(self, dt):
        alias = "" if not dt.columns else "(" + ", ".join(quote_ident(c) for c in dt.columns) + ")"
        return f"(\n{to_duckdb(dt.query)}\n) AS __dynamic_source{alias}"

    def _materialize(self, dt, ctx):
        drop = [s for s in self._drop_current(dt) if s.startswith("DROP VIEW")]
        rows = self._run(dt, ctx, drop + [f"CREATE OR REPLACE TABLE {sql_name(dt.fq)} AS SELECT * FROM {self._source(dt)}"],
                         count=True)
        dt.rows = rows
        dt.initialized = True
        dt.refresh_count += 1
        dt.last_refreshed = time.time()

    def _placeholder(self, dt, ctx):
        message = (f"Dynamic Table '{display(dt.fq)}' is not initialized. Please run a manual refresh or wait for "
                   "a scheduled refresh before querying.")
        fail = errors.raise_sql("091321", "55000", message)
        self._run(dt, ctx, self._drop_current(dt) + [
            f"CREATE VIEW {sql_name(dt.fq)} AS SELECT __dynamic_source.* FROM {self._source(dt)}, "
            f"(SELECT {fail} AS e) AS __not_initialized WHERE __not_initialized.e IS NULL"])

