"""Query monitoring: the INFORMATION_SCHEMA.QUERY_HISTORY* table functions, SYSTEM$CANCEL_QUERY and
ALTER WAREHOUSE .. ABORT ALL QUERIES.

The history is the statements registry (statements.py: one entry per SQL API request that really
ran, the same entries as the execution log), reached through `engine.queries`. A statement that
reads it gets each `TABLE([db.]INFORMATION_SCHEMA.QUERY_HISTORY...(args))` replaced by a temporary
DuckDB table holding the rows the call selects (its arguments are evaluated first, then the
dimension filter, the time range and RESULT_LIMIT are applied, most recent first, as Snowflake
documents), so WHERE / ORDER BY / LIKE with bindings on top are ordinary SQL. The statement itself
is in the history, RUNNING, like in Snowflake.

DuckDB has no side-effecting functions without numpy (Python UDFs need it), so SYSTEM$CANCEL_QUERY
is rewritten too: when the select list is that one call (`SELECT SYSTEM$CANCEL_QUERY(<expr>) [alias]
[FROM ...]`) the query runs with the call replaced by its argument, and each row's query id is then
canceled in order; anywhere else the argument must be a constant (literal, binding, constant
expression) and the call becomes the literal it answers.
"""

import time
from decimal import Decimal

import duckdb

from . import errors
from .errors import SnowflakeError
from .results import Column, Result
from .sqltext import TRIVIA, ident_value, quote_ident, split_statements, string_value, to_duckdb, tokenize

CANCEL_SETTLE_SECONDS = 5.0     # like POST /api/v2/statements/<h>/cancel: wait for the statement to stop
NOT_EXECUTING = "Identified SQL statement is not currently executing."
MAX_QUERY_TEXT = 100_000        # QUERY_TEXT is truncated to 100K characters
DEFAULT_RESULT_LIMIT = 100
MAX_RESULT_LIMIT = 10_000
SNOWFLAKE_DATABASE = "SNOWFLAKE"  # the shared database every account has

# Function -> its dimension argument (first positional one), then the common arguments.
FUNCTIONS = {
    "QUERY_HISTORY": None,
    "QUERY_HISTORY_BY_SESSION": "SESSION_ID",
    "QUERY_HISTORY_BY_USER": "USER_NAME",
    "QUERY_HISTORY_BY_WAREHOUSE": "WAREHOUSE_NAME",
}
COMMON_ARGUMENTS = ("END_TIME_RANGE_START", "END_TIME_RANGE_END", "RESULT_LIMIT", "INCLUDE_CLIENT_GENERATED_STATEMENT")

# The documented output columns the emulator can fill, in Snowflake's order (a subset of them).
COLUMNS = [
    ("QUERY_ID", "VARCHAR"), ("QUERY_TEXT", "VARCHAR"), ("DATABASE_NAME", "VARCHAR"), ("SCHEMA_NAME", "VARCHAR"),
    ("QUERY_TYPE", "VARCHAR"), ("SESSION_ID", "BIGINT"), ("USER_NAME", "VARCHAR"), ("ROLE_NAME", "VARCHAR"),
    ("WAREHOUSE_NAME", "VARCHAR"), ("QUERY_TAG", "VARCHAR"), ("EXECUTION_STATUS", "VARCHAR"),
    ("ERROR_CODE", "BIGINT"), ("ERROR_MESSAGE", "VARCHAR"), ("START_TIME", "TIMESTAMPTZ"),
    ("END_TIME", "TIMESTAMPTZ"), ("TOTAL_ELAPSED_TIME", "BIGINT"), ("ROWS_PRODUCED", "BIGINT"),
]
CANCEL = "SYSTEM$CANCEL_QUERY"


# INFORMATION_SCHEMA.TASK_HISTORY (Snowflake, TASK_HISTORY table function): its arguments, all
# named and optional, and the documented output columns the emulator fills, in Snowflake's order.
# Unlike the ACCOUNT_USAGE view it lists SCHEDULED and EXECUTING runs too.
TASK_HISTORY = "TASK_HISTORY"
TASK_ARGUMENTS = ("SCHEDULED_TIME_RANGE_START", "SCHEDULED_TIME_RANGE_END", "RESULT_LIMIT", "TASK_NAME",
                  "ERROR_ONLY", "ROOT_TASK_ID")
TASK_COLUMNS = [
    ("QUERY_ID", "VARCHAR"), ("NAME", "VARCHAR"), ("DATABASE_NAME", "VARCHAR"), ("SCHEMA_NAME", "VARCHAR"),
    ("QUERY_TEXT", "VARCHAR"), ("CONDITION_TEXT", "VARCHAR"), ("STATE", "VARCHAR"), ("ERROR_CODE", "VARCHAR"),
    ("ERROR_MESSAGE", "VARCHAR"), ("SCHEDULED_TIME", "TIMESTAMPTZ"), ("QUERY_START_TIME", "TIMESTAMPTZ"),
    ("COMPLETED_TIME", "TIMESTAMPTZ"), ("ROOT_TASK_ID", "VARCHAR"), ("GRAPH_VERSION", "BIGINT"),
    ("RUN_ID", "BIGINT"), ("RETURN_VALUE", "VARCHAR"), ("SCHEDULED_FROM", "VARCHAR"), ("ATTEMPT_NUMBER", "BIGINT"),
]


def mentions(text):
    """Cheap test before any token work."""
    up = text.upper()
    return "QUERY_HISTORY" in up or CANCEL in up or TASK_HISTORY in up


# ---------------------------------------------------------------- tokens and bind markers

class _Tokens:
    """A statement's tokens, with the bind value of each marker (`?` by position, `:n` by number)."""

    def __init__(self, text, params):
        self.toks = tokenize(text)
        self.params = list(params or [])
        self.sig = [i for i, t in enumerate(self.toks) if t.kind not in TRIVIA and t.kind != "semi"]
        self._ordinal = {}
        for i, t in enumerate(self.toks):
            if t.kind == "param" and t.text == "?":
                self._ordinal[i] = len(self._ordinal)

    def value(self, i):
        """(True, value) for the bind marker at token i, (False, None) when unbound."""
        t = self.toks[i]
        n = self._ordinal[i] if t.text == "?" else int(t.text[1:]) - 1
        if 0 <= n < len(self.params):
            return True, self.params[n]
        return False, None

    def render(self, pieces):
        """SQL text of pieces (strings, or (start, end) token ranges), every bound marker turned into
        `?`; returns (text, values in order)."""
        out, values = [], []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            for i in range(*piece):
                t = self.toks[i]
                bound, value = self.value(i) if t.kind == "param" else (False, None)
                if bound:
                    out.append("?")
                    values.append(value)
                else:
                    out.append(t.text)
        return "".join(out), values

    def rewrite(self, spans):
        """The whole statement with spans {start: (end, pieces)} replaced. Returns (text, values)."""
        pieces, i = [], 0
        for start in sorted(spans):
            if start < i:
                continue    # nested in the span before, which replaces it whole
            end, replacement = spans[start]
            pieces.append((i, start))
            pieces.extend(replacement)
            i = end
        pieces.append((i, len(self.toks)))
        return self.render(pieces)

    def matching(self, k):
        """For the '(' at sig position k: the sig position of its ')', or None."""
        depth = 0
        for j in range(k, len(self.sig)):
            t = self.toks[self.sig[j]]
            if t.is_op("("):
                depth += 1
            elif t.is_op(")"):
                depth -= 1
                if depth == 0:
                    return j
        return None

    def tok(self, k):
        return self.toks[self.sig[k]] if 0 <= k < len(self.sig) else None


def _evaluate(session, toks, start, end, wrap="{}"):
    """Value of the constant expression in tokens [start, end)."""
    sig = [i for i in range(start, end) if toks.toks[i].kind not in TRIVIA]
    if not sig:
        raise SnowflakeError.syntax("unexpected ')'.")
    if wrap == "{}" and len(sig) == 1:
        t = toks.toks[sig[0]]
        if t.kind in ("string", "dollar"):
            return string_value(t)
        if t.kind == "number":
            return Decimal(t.text) if any(c in t.text for c in ".eE") else int(t.text)
        if t.kind == "param":
            bound, value = toks.value(sig[0])
            if bound:
                return value
    text, values = toks.render([(start, end)])
    try:
        return session.cursor.execute("SELECT " + wrap.format(to_duckdb(f"({text})")), values or None).fetchone()[0]
    except duckdb.Error as e:
        raise errors.from_duckdb(e, "SELECT")


# ---------------------------------------------------------------- INFORMATION_SCHEMA.QUERY_HISTORY*

def _bad_argument(function, message):
    return SnowflakeError("002018", "22023", f"SQL compilation error:\nInvalid argument for {function}: {message}")


def _fold(function, name, value):
    """A name argument as Snowflake reads it: '"Exact"' keeps its case, anything else is uppercased."""
    if not isinstance(value, str):
        raise _bad_argument(function, f"{name} must be a string.")
    value = value.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('""', '"')
    return value.upper()


def _integer(function, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or value != int(value):
        raise _bad_argument(function, f"{name} must be an integer.")
    return int(value)


class _Call:
    """One TABLE(...QUERY_HISTORY...(args)) found in a statement."""

    def __init__(self, start, end, function, args):
        self.start, self.end = start, end     # token range of TABLE ( ... )
        self.function = function
        self.args = args                      # [(name or None, start, end)] token ranges


def _history_calls(session, toks):
    calls = []
    k = 0
    while k < len(toks.sig):
        t = toks.tok(k)
        if not (t.is_word("TABLE") and toks.tok(k + 1) is not None and toks.tok(k + 1).is_op("(")):
            k += 1
            continue
        parts, j = [], k + 2
        while toks.tok(j) is not None and toks.tok(j).kind in ("word", "qident"):
            parts.append(ident_value(toks.tok(j)))
            j += 1
            if toks.tok(j) is not None and toks.tok(j).is_op("."):
                j += 1
                continue
            break
        close_fn = toks.matching(j) if toks.tok(j) is not None and toks.tok(j).is_op("(") else None
        close_table = toks.matching(k + 1)
        if not parts or (parts[-1] not in FUNCTIONS and parts[-1] != TASK_HISTORY) or close_fn is None or close_table != close_fn + 1 \
                or not _resolves(session, parts):
            k += 1
            continue
        args, depth, arg_start = [], 0, toks.sig[j] + 1
        for m in range(j + 1, close_fn + 1):
            tok = toks.tok(m)
            if tok.is_op("("):
                depth += 1
            elif tok.is_op(")") and depth:
                depth -= 1
            elif depth == 0 and (tok.is_op(",") or m == close_fn):
                args.append(_argument(toks, arg_start, toks.sig[m]))
                arg_start = toks.sig[m] + 1
        if len(args) == 1 and args[0] is None:
            args = []   # f()
        if any(a is None for a in args):
            raise SnowflakeError.syntax("unexpected ','.")
        calls.append(_Call(toks.sig[k], toks.sig[close_table] + 1, parts[-1], args))
        k = close_table + 1
    return calls


def _argument(toks, start, end):
    sig = [i for i in range(start, end) if toks.toks[i].kind not in TRIVIA]
    if not sig:
        return None
    first = toks.toks[sig[0]]
    if len(sig) > 2 and first.kind == "word" and toks.toks[sig[1]].is_op("=>"):
        return first.upper, sig[1] + 1, end
    return None, start, end


def _resolves(session, parts):
    """Is this name the INFORMATION_SCHEMA function (raising Snowflake's errors when it cannot be)?"""
    if len(parts) == 1:
        return (session.schema or "").upper() == "INFORMATION_SCHEMA"
    if len(parts) > 3 or parts[-2] != "INFORMATION_SCHEMA":
        return False
    if len(parts) == 3:
        if parts[0] != SNOWFLAKE_DATABASE and not session.engine.database_exists(parts[0]):
            raise SnowflakeError("002003", "02000", f"SQL compilation error:\nDatabase '{parts[0]}' does not "
                                                    "exist or not authorized.")
    elif session.database is None:
        raise SnowflakeError("090105", "22000", "Cannot perform SELECT. This session does not have a current "
                                                "database. Call 'USE DATABASE', or use a qualified name.")
    return True


def _arguments(session, toks, call):
    function = call.function
    if function == TASK_HISTORY:
        order = list(TASK_ARGUMENTS)
    else:
        order = ([FUNCTIONS[function]] if FUNCTIONS[function] else []) + list(COMMON_ARGUMENTS)
    values, named = {}, False
    for n, (name, start, end) in enumerate(call.args):
        if name is None:
            if named or n >= len(order):
                raise _bad_argument(function, "too many or misplaced positional arguments.")
            name = order[n]
        else:
            named = True
        if name not in order:
            raise _bad_argument(function, f"unknown argument '{name}'.")
        if name in values:
            raise _bad_argument(function, f"argument '{name}' is given twice.")
        wrap = "epoch(CAST({} AS TIMESTAMPTZ))" if "TIME_RANGE" in name else "{}"
        values[name] = _evaluate(session, toks, start, end, wrap)
    return values


def _history_rows(session, function, args, now):
    registry = session.engine.queries
    statements = registry.statements(session.account) if registry is not None else []
    if function == "QUERY_HISTORY_BY_WAREHOUSE":
        if "WAREHOUSE_NAME" in args:
            name = _fold(function, "WAREHOUSE_NAME", args["WAREHOUSE_NAME"])
        else:
            name = session.warehouse    # default: CURRENT_WAREHOUSE()
        statements = [s for s in statements if name is not None and s.warehouse == name]
    elif function == "QUERY_HISTORY_BY_USER":
        name = _fold(function, "USER_NAME", args["USER_NAME"]) if "USER_NAME" in args else session.user
        statements = [s for s in statements if s.user == name]
    elif function == "QUERY_HISTORY_BY_SESSION":
        if "SESSION_ID" in args:
            sid = _integer(function, "SESSION_ID", args["SESSION_ID"])
        else:
            own = registry.get(session.query_id) if registry is not None and session.query_id else None
            sid = own.session_id if own is not None else None
        statements = [s for s in statements if s.session_id == sid]
    limit = args.get("RESULT_LIMIT", DEFAULT_RESULT_LIMIT)
    limit = _integer(function, "RESULT_LIMIT", limit)
    if not 1 <= limit <= MAX_RESULT_LIMIT:
        raise _bad_argument(function, f"RESULT_LIMIT must be between 1 and {MAX_RESULT_LIMIT}, not {limit}.")
    low, high = args.get("END_TIME_RANGE_START"), args.get("END_TIME_RANGE_END")
    rows = []
    for s in statements:
        row = history_row(s, now)
        end = None if row["running"] else row["end"]
        if end is None:
            if "END_TIME_RANGE_END" in args:
                continue    # a given range end means completed queries only
        elif (low is not None and end < float(low)) or (high is not None and end > float(high)):
            continue
        rows.append(row)
    # Most recent first: still running (newest start first), then by end time.
    rows.sort(key=lambda r: (0, -r["start"]) if r["running"] else (1, -r["end"]))
    return rows[:limit]


def _task_rows(session, args, now):
    function = TASK_HISTORY
    limit = _integer(function, "RESULT_LIMIT", args.get("RESULT_LIMIT", DEFAULT_RESULT_LIMIT))
    if not 1 <= limit <= MAX_RESULT_LIMIT:
        raise _bad_argument(function, f"RESULT_LIMIT must be between 1 and {MAX_RESULT_LIMIT}, not {limit}.")
    name = args.get("TASK_NAME")
    if name is not None:
        if not isinstance(name, str):
            raise _bad_argument(function, "TASK_NAME must be a string.")
        name = name.strip().upper()     # "a case-insensitive string", unqualified names only
    low, high = args.get("SCHEDULED_TIME_RANGE_START"), args.get("SCHEDULED_TIME_RANGE_END")
    error_only = bool(args.get("ERROR_ONLY", False))
    root = args.get("ROOT_TASK_ID")
    rows = []
    for task_fq, run in session.engine.tasks.history():
        if name is not None and task_fq[2].upper() != name:
            continue
        if (low is not None and run.scheduled < float(low)) or (high is not None and run.scheduled > float(high)):
            continue
        if error_only and run.state not in ("FAILED", "CANCELLED"):
            continue
        if root is not None and str(root) != run.root_id:
            continue
        rows.append({"start": run.scheduled, "values": (
            run.query_id, task_fq[2], task_fq[0], task_fq[1], run.query_text, run.condition, run.state,
            run.error_code, run.error, run.scheduled, run.started, run.completed, run.root_id, 1,
            run.run_id, None, run.scheduled_from, run.attempt)})
    rows.sort(key=lambda r: -r["start"])    # the most recent runs, up to RESULT_LIMIT
    return rows[:limit]


def history_row(stmt, now):
    running = not stmt.done.is_set()
    error = stmt.error
    if running:
        # RESUMING_WAREHOUSE or QUEUED while it waits for its warehouse (warehouses.py).
        status, code, message = getattr(stmt, "execution_status", None) or "RUNNING", None, None
    elif stmt.status == "succeeded":
        status, code, message = "SUCCESS", None, None
    else:
        # Canceled statements are FAILED_WITH_ERROR (604, "SQL execution canceled"), as Snowflake documents.
        internal = error is not None and error.code == "000603"
        status = "FAILED_WITH_INCIDENT" if internal else "FAILED_WITH_ERROR"
        code = int(error.code) if error is not None and error.code.isdigit() else None
        message = error.message if error is not None else None
    end = (stmt.ended or now) if not running else None
    if running or stmt.status != "succeeded":
        produced = None
    elif stmt.stats:
        produced = sum(stmt.stats.get(k, 0) for k in ("numRowsInserted", "numRowsUpdated", "numRowsDeleted"))
    else:
        produced = stmt.num_rows
    return {
        "running": running, "start": stmt.started, "end": end,
        "values": (stmt.handle, stmt.text[:MAX_QUERY_TEXT], stmt.database, stmt.schema, query_type(stmt),
                   stmt.session_id, stmt.user, stmt.role, stmt.warehouse, stmt.query_tag or "", status, code,
                   message, stmt.started, end if end is not None else 0.0,
                   int(((end if end is not None else now) - stmt.started) * 1000), produced),
    }


def query_type(stmt):
    """QUERY_TYPE from the statement's leading keywords (UNKNOWN for the rest); cached."""
    cached = getattr(stmt, "query_type", None)
    if cached is None:
        cached = stmt.query_type = _classify(stmt.text)
    return cached


def _classify(text):
    pieces = split_statements(text)
    if len(pieces) != 1:
        return "MULTI_STATEMENT" if pieces else "UNKNOWN"
    words = [t.upper for t in tokenize(pieces[0]) if t.kind == "word"]
    if not words:
        return "SELECT" if pieces[0].lstrip().startswith("(") else "UNKNOWN"
    first = words[0]
    if first in ("SELECT", "WITH", "VALUES"):
        return "SELECT"
    if first in ("INSERT", "UPDATE", "DELETE", "MERGE", "USE", "SHOW", "CALL"):
        return first
    if first == "TRUNCATE":
        return "TRUNCATE_TABLE"
    head = words[:8]
    if first == "CREATE" and "TABLE" in head and not {"DYNAMIC", "ICEBERG"} & set(head):
        return "CREATE_TABLE_AS_SELECT" if "SELECT" in words else "CREATE_TABLE"
    return "UNKNOWN"


def _materialize(session, name, rows, columns_spec=COLUMNS):
    cur = session.cursor
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} (" +
                ", ".join(f"{quote_ident(c)} {t}" for c, t in columns_spec) + ")")
    if not rows:
        return
    columns = list(zip(*(r["values"] for r in rows)))
    select = ", ".join(f"to_timestamp(unnest(?::DOUBLE[]))" if t == "TIMESTAMPTZ" else f"unnest(?::{t}[])"
                       for _, t in columns_spec)
    cur.execute(f"INSERT INTO temp.main.{quote_ident(name)} SELECT {select}", [list(c) for c in columns])


# ---------------------------------------------------------------- SYSTEM$CANCEL_QUERY

def cancel_query(session, query_id):
    """Cancel a running statement like POST /api/v2/statements/<h>/cancel. Returns (answer, statement)."""
    registry = session.engine.queries
    if query_id is None:
        return None, None
    stmt = registry.running(session.account, str(query_id)) if registry is not None else None
    if stmt is None:
        return NOT_EXECUTING, None
    stmt.request_cancel("cancel")
    return f"query [{stmt.handle}] terminated.", stmt


def settle(session, statements, ctx=None):
    """Wait (bounded) until canceled statements have stopped; never for the caller's own statement."""
    deadline = time.monotonic() + CANCEL_SETTLE_SECONDS
    for stmt in statements:
        if stmt is None or stmt.handle == session.query_id:
            continue
        while not stmt.done.wait(0.05):
            if time.monotonic() > deadline or (ctx is not None and ctx.cancel_event.is_set()):
                return


def abort_warehouse(session, warehouse, ctx=None):
    """ALTER WAREHOUSE .. ABORT ALL QUERIES: cancel every running statement on it (not this one)."""
    registry = session.engine.queries
    if registry is None:
        return
    stopped = []
    for stmt in registry.statements(session.account):
        if stmt.warehouse == warehouse and not stmt.done.is_set() and stmt.handle != session.query_id:
            stmt.request_cancel("cancel")
            stopped.append(stmt)
    settle(session, stopped, ctx)


def _cancel_calls(toks):
    """[(sig position of SYSTEM$CANCEL_QUERY, sig position of its ')')]."""
    found = []
    for k in range(len(toks.sig)):
        if toks.tok(k).is_word(CANCEL) and toks.tok(k + 1) is not None and toks.tok(k + 1).is_op("("):
            close = toks.matching(k + 1)
            if close is None:
                raise SnowflakeError.syntax("unexpected '<EOF>'.")
            found.append((k, close))
    return found


def _select_list_call(toks):
    """`SELECT SYSTEM$CANCEL_QUERY(<expr>) [[AS] alias] [FROM ...]`: (close, alias token, end of the
    select item) in sig positions, else None."""
    if not (toks.tok(0) is not None and toks.tok(0).is_word("SELECT") and toks.tok(1) is not None
            and toks.tok(1).is_word(CANCEL) and toks.tok(2) is not None and toks.tok(2).is_op("(")):
        return None
    close = toks.matching(2)
    if close is None:
        return None
    k, alias = close + 1, None
    if toks.tok(k) is not None and toks.tok(k).is_word("AS"):
        alias, k = toks.tok(k + 1), k + 2
        if alias is None or alias.kind not in ("word", "qident"):
            return None
    elif toks.tok(k) is not None and toks.tok(k).kind in ("word", "qident") and not toks.tok(k).is_word("FROM"):
        alias, k = toks.tok(k), k + 1
    if toks.tok(k) is not None and not toks.tok(k).is_word("FROM"):
        return None
    return close, alias, k


def _whole_select_item(toks, k, close):
    """Is the call at sig positions k..close a top-level select item without an alias?"""
    before, after = toks.tok(k - 1), toks.tok(close + 1)
    if before is None or not (before.is_word("SELECT") or before.is_op(",")):
        return False
    depth = 0
    for j in range(k):
        t = toks.tok(j)
        depth += 1 if t.is_op("(") else -1 if t.is_op(")") else 0
    return depth == 0 and (after is None or after.is_op(",") or after.is_word("FROM"))


def cancel_only(sig):
    """A bare `SELECT SYSTEM$CANCEL_QUERY(..)` (no FROM) runs in cloud services: no warehouse needed."""
    if len(sig) < 4 or not (sig[0].is_word("SELECT") and sig[1].is_word(CANCEL) and sig[2].is_op("(")):
        return False
    depth = 0
    for j in range(2, len(sig)):
        if sig[j].is_op("("):
            depth += 1
        elif sig[j].is_op(")"):
            depth -= 1
            if depth == 0:
                rest = sig[j + 1:]
                return not rest or (rest[0].is_word("AS") and len(rest) == 2) or \
                    (len(rest) == 1 and rest[0].kind in ("word", "qident"))
    return False


# ---------------------------------------------------------------- the rewrite

class Prepared:
    """A statement after the rewrite: run `text` with `params`, pass its result through `finish`,
    then `close`."""

    def __init__(self, session, text, params, tables, row_cancel=None, ctx=None):
        self.session = session
        self.text = text
        self.params = params
        self.tables = tables
        self.row_cancel = row_cancel    # column name when each row's query id is to be canceled
        self.ctx = ctx

    def finish(self, result):
        if self.row_cancel is None:
            return result
        answers, targets = [], []
        for row in result.rows:
            answer, stmt = cancel_query(self.session, row[0])
            answers.append((answer,))
            targets.append(stmt)
        settle(self.session, targets, self.ctx)
        if self.ctx is not None:
            self.ctx.check()    # it canceled itself
        return Result([Column.text(self.row_cancel)], answers)

    def close(self):
        for name in self.tables:
            try:
                self.session.cursor.execute(f"DROP TABLE IF EXISTS temp.main.{quote_ident(name)}")
            except duckdb.Error:
                pass


def prepare(session, text, params, kind, ctx=None):
    """Rewrite the history calls and SYSTEM$CANCEL_QUERY calls of one statement."""
    toks = _Tokens(text, params)
    spans, tables = {}, []
    now = time.time()
    for n, call in enumerate(_history_calls(session, toks), 1):
        args = _arguments(session, toks, call)
        name = f"__query_history_{n}"
        if call.function == TASK_HISTORY:
            _materialize(session, name, _task_rows(session, args, now), TASK_COLUMNS)
        else:
            _materialize(session, name, _history_rows(session, call.function, args, now))
        tables.append(name)
        spans[call.start] = (call.end, [f"temp.main.{quote_ident(name)}"])
    row_cancel = None
    calls = _cancel_calls(toks)
    shape = _select_list_call(toks) if kind == "query" and len(calls) == 1 else None
    if shape is not None:
        close, alias, item_end = shape
        call_text = "".join(t.text for t in toks.toks[toks.sig[1]:toks.sig[close] + 1]).upper()
        row_cancel = ident_value(alias) if alias is not None else call_text
        end = toks.sig[item_end] if item_end < len(toks.sig) else len(toks.toks)
        spans[toks.sig[1]] = (end, ["CAST((", (toks.sig[2] + 1, toks.sig[close]), ") AS VARCHAR) "])
    else:
        targets = []
        for k, close in calls:
            if any(start <= toks.sig[k] < end for start, (end, _) in spans.items()):
                continue
            value = _evaluate(session, toks, toks.sig[k + 1] + 1, toks.sig[close])
            answer, stmt = cancel_query(session, value)
            targets.append(stmt)
            literal = "NULL" if answer is None else "'" + answer.replace("'", "''") + "'"
            if _whole_select_item(toks, k, close):
                # Snowflake names the column after the call as written, uppercased.
                call_text = "".join(t.text for t in toks.toks[toks.sig[k]:toks.sig[close] + 1]).upper()
                literal += " AS " + quote_ident(call_text)
            spans[toks.sig[k]] = (toks.sig[close] + 1, [literal])
        settle(session, targets, ctx)
    new_text, values = toks.rewrite(spans)
    return Prepared(session, new_text, values, tables, row_cancel, ctx)
