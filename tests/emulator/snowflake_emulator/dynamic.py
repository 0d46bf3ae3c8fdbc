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

from . import errors
from .errors import SnowflakeError
from .objects import body_after, display, key, option_value, parse_name, qualify, references, skip_parens, sql_name
from .registry import ObjectRegistry, transaction
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


class DynamicTables(ObjectRegistry):
    KIND, NOUN, KEYWORDS, TABLE_LIKE = "DYNAMIC_TABLE", "Dynamic table", ("DYNAMIC", "TABLE"), True

    def __init__(self, engine):
        super().__init__(engine)
        self._refresh_lock = threading.RLock()   # refreshes (and their upstream cascades) one at a time

    # ---- used by the engine
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
        self._check_warehouse(props["WAREHOUSE"])
        fq = qualify(session, parts, "CREATE DYNAMIC TABLE")
        self._check_schema(fq)
        k = key(fq)
        with self._refresh_lock:
            answer = self._create_conflict(self.get(k), fq, parts, replace, if_not_exists)
            if answer is not None:
                return answer
            dt = DynamicTable(fq, query, columns, props, session.role)
            if dt.initialize == "ON_CREATE":
                self._materialize(dt, ctx)
            else:
                self._placeholder(dt, ctx)
            with self._lock:
                self._objects[k] = dt
        return Result.status(f"Dynamic table {parts[-1]} successfully created.")

    # ---- ALTER DYNAMIC TABLE [IF EXISTS] name REFRESH | SUSPEND | RESUME | SET ...
    def alter(self, session, sig, ctx):
        ts, if_exists, parts, verb, fq, dt = self._alter_target(session, sig)
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
            if "WAREHOUSE" in props:
                self._check_warehouse(props["WAREHOUSE"])
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

    # ---- DROP DYNAMIC TABLE [IF EXISTS] name (registry.py), under the refresh lock
    def _exclusive(self):
        return self._refresh_lock

    def _dropped(self, dt, fq):
        kind = self._engine.relation_kind(fq)
        if kind is not None:
            self._engine.run_internal([f"DROP {kind} {sql_name(fq)}"])

    # ---- internals

    def _upstream(self, dt):
        """Registered dynamic tables named in dt's query (resolved in dt's database and schema)."""
        found = []
        for parts in references(tokenize(dt.query)):
            fq = tuple(parts) if len(parts) == 3 else (dt.fq[0],) + tuple(parts) if len(parts) == 2 \
                else (dt.fq[0], dt.fq[1], parts[0])
            k = key(fq)
            up = self._objects.get(k)
            if up is not None and up is not dt and up not in found:
                found.append(up)
        return found

    def _downstream(self, dt):
        """Dynamic tables that read dt, directly or not (call with self._lock held)."""
        out, frontier = [], [dt]
        while frontier:
            current = frontier.pop()
            for other in self._objects.values():
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
        self._check_warehouse(dt.warehouse)
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
        try:
            return transaction(session.cursor, ctx, statements, "REFRESH DYNAMIC TABLE",
                               f"SELECT COUNT(*) FROM {sql_name(dt.fq)}" if count else None)
        finally:
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

