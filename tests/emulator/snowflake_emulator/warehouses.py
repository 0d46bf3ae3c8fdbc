"""Emulated virtual warehouses: state, billing clock, and the warehouse SQL statements.

DuckDB has no warehouses, so CREATE/ALTER/DROP/SHOW WAREHOUSE(S) are implemented here, and the
engine asks `begin_compute` before any statement that needs compute (auto-resume or 000606).
Running time uses a monotonic clock; each start bills at least 60 seconds, like Snowflake.
AUTO_SUSPEND is applied lazily: when the warehouse is looked at, an idle period longer than
AUTO_SUSPEND seconds ends the run at (last activity + AUTO_SUSPEND).

A statement that needs a suspended AUTO_RESUME warehouse waits while it is provisioned, in the
state Snowflake reports for it, RESUMING_WAREHOUSE; one that finds the warehouse running its
maximum number of statements waits QUEUED (Snowflake, QUERY_HISTORY: EXECUTION_STATUS is one of
resuming_warehouse, running, queued, blocked, success, failed_with_error, failed_with_incident).
Both waits last only as long as the emulator's config says (`warehouse_resume_seconds`,
`warehouse_max_concurrency`; 0 = none), so tests choose to see them; the warehouse shows RESUMING
meanwhile.
"""

import re
import threading
import time

from . import monitoring
from .errors import SnowflakeError
from .results import Column, Result
from .sqltext import TokenStream, string_value

MIN_BILLED_SECONDS = 60.0

SIZES = {
    "XSMALL": "X-Small", "X-SMALL": "X-Small", "SMALL": "Small", "MEDIUM": "Medium", "LARGE": "Large",
    "XLARGE": "X-Large", "X-LARGE": "X-Large", "XXLARGE": "2X-Large", "X2LARGE": "2X-Large",
    "2X-LARGE": "2X-Large", "XXXLARGE": "3X-Large", "X3LARGE": "3X-Large", "3X-LARGE": "3X-Large",
    "X4LARGE": "4X-Large", "4X-LARGE": "4X-Large", "X5LARGE": "5X-Large", "5X-LARGE": "5X-Large",
    "X6LARGE": "6X-Large", "6X-LARGE": "6X-Large",
}

# Properties accepted by CREATE/ALTER WAREHOUSE. Only the first four change behaviour here.
PROPERTIES = {
    "WAREHOUSE_SIZE", "AUTO_SUSPEND", "AUTO_RESUME", "INITIALLY_SUSPENDED", "COMMENT", "WAREHOUSE_TYPE",
    "MIN_CLUSTER_COUNT", "MAX_CLUSTER_COUNT", "SCALING_POLICY", "ENABLE_QUERY_ACCELERATION",
    "QUERY_ACCELERATION_MAX_SCALE_FACTOR", "RESOURCE_MONITOR", "MAX_CONCURRENCY_LEVEL",
    "STATEMENT_QUEUED_TIMEOUT_IN_SECONDS", "STATEMENT_TIMEOUT_IN_SECONDS", "RESOURCE_CONSTRAINT",
}
_ACTIONS = {"SUSPEND", "RESUME", "SET", "UNSET", "RENAME", "ABORT"}


def warehouse_missing(name):
    return SnowflakeError("002003", "02000", f"SQL compilation error:\nWarehouse '{name}' does not exist or not authorized.")


def _invalid_state(name, verb):
    return SnowflakeError("090064", "22000", f"Invalid state. Warehouse '{name}' cannot be {verb}.")


def _ok():
    return Result.status("Statement executed successfully.")


class Warehouse:
    def __init__(self, name, owner):
        now = time.time()
        self.name = name
        self.owner = owner
        self.state = "SUSPENDED"
        self.size = "X-Small"
        self.auto_resume = True
        self.auto_suspend = 600
        self.comment = None
        self.created_on = self.updated_on = now
        self.resumed_on = None
        self.resume_count = 0
        self.active = 0                 # statements computing right now
        self.last_activity = time.monotonic()
        self._run_start = None          # monotonic start of the current run
        self._running_total = 0.0       # completed runs
        self._billed_total = 0.0

    def start(self, resume):
        self.state = "STARTED"
        self._run_start = self.last_activity = time.monotonic()
        self.resumed_on = time.time()
        if resume:
            self.resume_count += 1

    def stop(self, at=None):
        end = time.monotonic() if at is None else at
        run = max(0.0, end - self._run_start)
        self._running_total += run
        self._billed_total += max(MIN_BILLED_SECONDS, run)
        self._run_start = None
        self.state = "SUSPENDED"

    def refresh(self):
        """Apply AUTO_SUSPEND lazily."""
        if self.state == "STARTED" and self.auto_suspend and self.active == 0:
            idle_since = max(self.last_activity, self._run_start)
            if time.monotonic() - idle_since >= self.auto_suspend:
                self.stop(at=idle_since + self.auto_suspend)

    def running_seconds(self):
        current = time.monotonic() - self._run_start if self._run_start is not None else 0.0
        return self._running_total + current

    def billed_seconds(self):
        current = time.monotonic() - self._run_start if self._run_start is not None else None
        return self._billed_total + (max(MIN_BILLED_SECONDS, current) if current is not None else 0.0)


def _parse_value(ts):
    tok = ts.next()
    if tok is None:
        raise SnowflakeError.syntax("unexpected '<EOF>'.")
    if tok.kind in ("string", "dollar"):
        return string_value(tok)
    if tok.kind == "number":
        return float(tok.text) if "." in tok.text else int(tok.text)
    if tok.kind in ("word", "qident"):
        return tok.text.upper() if tok.kind == "word" else tok.text[1:-1]
    raise SnowflakeError.syntax(f"unexpected '{tok.text}'.")


def _parse_properties(ts, allow_names=PROPERTIES):
    props = {}
    while not ts.at_end():
        ts.accept_op(",")
        if ts.at_end():
            break
        tok = ts.next()
        name = tok.text.upper()
        if tok.kind != "word" or name not in allow_names:
            raise SnowflakeError("001003", "42000", f"SQL compilation error:\ninvalid property '{tok.text}' for 'WAREHOUSE'")
        if not ts.accept_op("="):
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        props[name] = _parse_value(ts)
    return props


def _bool(name, value):
    if value in ("TRUE", True, 1):
        return True
    if value in ("FALSE", False, 0):
        return False
    raise SnowflakeError("002018", "22023", f"SQL compilation error:\ninvalid value [{value}] for parameter '{name}'")


class Warehouses:
    def __init__(self):
        self._lock = threading.Lock()
        self._whs = {}
        self.config = None              # the emulator's Config (resume time, concurrency)

    def _setting(self, key):
        return self.config.get(key) if self.config is not None else 0

    # ---- used by the engine and the admin API
    def exists(self, name):
        with self._lock:
            return name in self._whs

    def begin_compute(self, name, ctx=None, on_wait=None):
        """Called before a statement that needs compute; auto-resumes or raises 000606. While the
        statement waits (warehouse resuming, or at its concurrency limit) `on_wait` gets its
        execution status, RESUMING_WAREHOUSE or QUEUED."""
        while True:
            with self._lock:
                wh = self._whs.get(name) if name else None
                if wh is None:
                    raise SnowflakeError.no_warehouse()
                wh.refresh()
                if wh.state == "SUSPENDED":
                    if not wh.auto_resume:
                        raise SnowflakeError.no_warehouse()
                    delay = float(self._setting("warehouse_resume_seconds") or 0)
                    if delay > 0:
                        wh.state, wh.ready_at = "RESUMING", time.monotonic() + delay
                    else:
                        wh.start(resume=True)
                status = None
                if wh.state == "RESUMING":
                    if time.monotonic() >= wh.ready_at:
                        wh.start(resume=True)
                    else:
                        status = "RESUMING_WAREHOUSE"
                if status is None:
                    limit = int(self._setting("warehouse_max_concurrency") or 0)
                    if limit and wh.active >= limit:
                        status = "QUEUED"
                    else:
                        wh.active += 1
                        return wh
            if on_wait is not None:
                on_wait(status)
            if ctx is not None:
                ctx.sleep(0.05)
            else:
                time.sleep(0.05)

    def end_compute(self, wh):
        with self._lock:
            wh.active -= 1
            wh.last_activity = time.monotonic()

    def snapshot(self):
        with self._lock:
            out = []
            for wh in sorted(self._whs.values(), key=lambda w: w.name):
                wh.refresh()
                out.append({"name": wh.name, "state": wh.state, "size": wh.size, "auto_resume": wh.auto_resume,
                            "auto_suspend": wh.auto_suspend, "resume_count": wh.resume_count,
                            "running_seconds": wh.running_seconds(), "billed_seconds": wh.billed_seconds()})
            return out

    # ---- SQL: CREATE / ALTER / DROP WAREHOUSE, SHOW WAREHOUSES
    def create(self, session, sig):
        ts = TokenStream(sig)
        ts.accept("CREATE")
        replace = ts.accept("OR", "REPLACE")
        ts.accept("WAREHOUSE")
        if_not_exists = ts.accept("IF", "NOT", "EXISTS")
        name = ts.ident()
        if name is None:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        ts.accept("WITH")
        props = _parse_properties(ts)
        with self._lock:
            if name in self._whs and not replace:
                if if_not_exists:
                    return Result.status(f"{name} already exists, statement succeeded.")
                raise SnowflakeError("002002", "42710", f"SQL compilation error:\nObject '{name}' already exists.")
            wh = Warehouse(name, session.role)
            self._apply(wh, props)
            if not _bool("INITIALLY_SUSPENDED", props.get("INITIALLY_SUSPENDED", "FALSE")):
                wh.start(resume=False)
            old = self._whs.get(name)
            if old is not None and old.state == "STARTED":
                old.stop()
            self._whs[name] = wh
        session.set_warehouse(name)  # Snowflake makes a new warehouse the session's current one
        return Result.status(f"Warehouse {name} successfully created.")

    def _apply(self, wh, props):
        if "WAREHOUSE_SIZE" in props:
            size = SIZES.get(str(props["WAREHOUSE_SIZE"]).upper())
            if size is None:
                raise SnowflakeError("002018", "22023", "SQL compilation error:\ninvalid value "
                                     f"['{props['WAREHOUSE_SIZE']}'] for parameter 'WAREHOUSE_SIZE'")
            wh.size = size
        if "AUTO_RESUME" in props:
            wh.auto_resume = _bool("AUTO_RESUME", props["AUTO_RESUME"])
        if "AUTO_SUSPEND" in props:
            value = props["AUTO_SUSPEND"]
            if value == "NULL" or value == 0:
                wh.auto_suspend = None
            elif isinstance(value, int) and value > 0:
                wh.auto_suspend = value
            else:
                raise SnowflakeError("002018", "22023", f"SQL compilation error:\ninvalid value [{value}] "
                                                        "for parameter 'AUTO_SUSPEND'")
        if "COMMENT" in props:
            wh.comment = props["COMMENT"]
        wh.updated_on = time.time()

    def alter(self, session, sig):
        ts = TokenStream(sig)
        ts.accept("ALTER", "WAREHOUSE")
        if_exists = ts.accept("IF", "EXISTS")
        nxt = ts.peek()
        if nxt is not None and nxt.kind == "word" and nxt.upper in _ACTIONS:
            name = session.warehouse  # ALTER WAREHOUSE SUSPEND acts on the current warehouse
            if name is None:
                raise SnowflakeError.no_warehouse()
        else:
            name = ts.ident()
        action = ts.next()
        if name is None or action is None or action.kind != "word":
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        action = action.upper
        if action == "ABORT":
            return self._abort_all(session, ts, name, if_exists)
        with self._lock:
            wh = self._whs.get(name)
            if wh is None:
                if if_exists:
                    return _ok()
                raise warehouse_missing(name)
            wh.refresh()
            if action == "RESUME":
                if_suspended = ts.accept("IF", "SUSPENDED")
                if wh.state == "STARTED":
                    if if_suspended:
                        return _ok()
                    raise _invalid_state(name, "resumed")
                wh.start(resume=True)
            elif action == "SUSPEND":
                if wh.state == "SUSPENDED":
                    raise _invalid_state(name, "suspended")
                wh.stop()
            elif action == "SET":
                self._apply(wh, _parse_properties(ts, PROPERTIES - {"INITIALLY_SUSPENDED"}))
            elif action == "UNSET":
                defaults = {"AUTO_SUSPEND": 600, "AUTO_RESUME": "TRUE", "WAREHOUSE_SIZE": "XSMALL"}
                while not ts.at_end():
                    prop = ts.next().upper
                    if prop == "COMMENT":
                        wh.comment = None
                    elif prop in defaults:
                        self._apply(wh, {prop: defaults[prop]})
                    elif prop not in PROPERTIES:
                        raise SnowflakeError("001003", "42000", "SQL compilation error:\n"
                                                                f"invalid property '{prop}' for 'WAREHOUSE'")
                    ts.accept_op(",")
            elif action == "RENAME" and ts.accept("TO"):
                new = ts.ident()
                if new is None:
                    raise SnowflakeError.syntax("unexpected '<EOF>'.")
                if new in self._whs:
                    raise SnowflakeError("002002", "42710", f"SQL compilation error:\nObject '{new}' already exists.")
                wh.name = new
                self._whs[new] = self._whs.pop(name)
            else:
                raise SnowflakeError.unsupported(f"ALTER WAREHOUSE {action}")
            if not ts.at_end():
                raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        return _ok()

    def _abort_all(self, session, ts, name, if_exists):
        """ALTER WAREHOUSE <name> ABORT ALL QUERIES: cancel every statement running on it (but this one),
        waiting (bounded) until they stopped, like the SQL API's cancel."""
        if not ts.accept("ALL", "QUERIES") or not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        if not self.exists(name):
            if if_exists:
                return _ok()
            raise warehouse_missing(name)
        monitoring.abort_warehouse(session, name)
        return _ok()

    def drop(self, session, sig):
        ts = TokenStream(sig)
        ts.accept("DROP", "WAREHOUSE")
        if_exists = ts.accept("IF", "EXISTS")
        name = ts.ident()
        if name is None:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        with self._lock:
            wh = self._whs.pop(name, None)
            if wh is None:
                if if_exists:
                    return Result.status(f"Drop statement executed successfully ({name} already dropped).")
                raise warehouse_missing(name)
            if wh.state == "STARTED":
                wh.stop()
        return Result.status(f"{name} successfully dropped.")

    def show(self, session, sig):
        ts = TokenStream(sig)
        ts.accept("SHOW", "WAREHOUSES")
        pattern = None
        if ts.accept("LIKE"):
            tok = ts.next()
            if tok is None or tok.kind != "string":
                raise SnowflakeError.syntax("unexpected token after LIKE.")
            pattern = string_value(tok)
        if not ts.at_end():
            raise SnowflakeError.unsupported(f"SHOW WAREHOUSES {ts.rest_text()}")
        regex = None
        if pattern is not None:
            regex = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern),
                               re.I | re.S)
        columns = [Column.text(n) for n in ("name", "state", "type", "size")] + \
            [Column.fixed(n) for n in ("min_cluster_count", "max_cluster_count", "started_clusters", "running",
                                       "queued")] + \
            [Column.text(n) for n in ("is_default", "is_current")] + [Column.fixed("auto_suspend")] + \
            [Column.text(n) for n in ("auto_resume", "available", "provisioning", "quiescing", "other")] + \
            [Column.timestamp_ltz(n) for n in ("created_on", "resumed_on", "updated_on")] + \
            [Column.text(n) for n in ("owner", "comment", "enable_query_acceleration")] + \
            [Column.fixed("query_acceleration_max_scale_factor")] + \
            [Column.text(n) for n in ("resource_monitor", "scaling_policy", "owner_role_type")]

        def ns(t):
            return None if t is None else int(t * 1_000_000) * 1000

        rows = []
        with self._lock:
            for wh in sorted(self._whs.values(), key=lambda w: w.name):
                if regex is not None and not regex.fullmatch(wh.name):
                    continue
                wh.refresh()
                started = wh.state == "STARTED"
                rows.append((wh.name, wh.state, "STANDARD", wh.size, 1, 1, 1 if started else 0, wh.active, 0,
                             "N", "Y" if wh.name == session.warehouse else "N", wh.auto_suspend,
                             "true" if wh.auto_resume else "false", "100" if started else "", "0" if started else "",
                             "0" if started else "", "0" if started else "", ns(wh.created_on), ns(wh.resumed_on),
                             ns(wh.updated_on), wh.owner, wh.comment or "", "false", 8, "null", "STANDARD", "ROLE"))
        return Result(columns, rows)
