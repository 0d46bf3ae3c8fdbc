"""Table columns as Snowflake shows and changes them: DESCRIBE TABLE, and ALTER TABLE's column
actions (ADD, DROP, and ALTER | MODIFY .. SET DATA TYPE).

DuckDB holds the tables but keeps fewer type details than Snowflake: VARCHAR(20) and VARCHAR are
one VARCHAR, TIMESTAMP_LTZ and TIMESTAMP_TZ one TIMESTAMPTZ, VARIANT, OBJECT and ARRAY one JSON.
So the types the emulator's own DDL declared (CREATE TABLE, ALTER TABLE .. ADD / SET DATA TYPE,
Iceberg registrations) are kept here beside the DuckDB type they became (`Declared`); DESCRIBE
shows the declared type while the column still has that DuckDB type, else the one it derives from
DuckDB's (a table made by CTAS or by DuckDB itself shows VARCHAR(16777216) for any text).
"""

import re
import threading
from dataclasses import dataclass

import duckdb

from .errors import SnowflakeError
from .objects import display, key, parse_name, qualify, sql_name, wrong_type
from .registry import transaction
from .results import Column, Result
from .sqltext import TokenStream, ident_value, quote_ident, sql_literal, string_value, to_duckdb, tokenize

# Snowflake's defaults when no length or precision is given (Snowflake, String & binary data types:
# "If no length is specified, the default is 16777216"; BINARY's default is 8388608 bytes; NUMBER is
# NUMBER(38,0); TIME and the TIMESTAMPs default to 9 fractional digits).
TEXT_LENGTH, BINARY_LENGTH = 16777216, 8388608


@dataclass(frozen=True)
class SfType:
    """A Snowflake type in the canonical spelling DESCRIBE TABLE shows: NUMBER(10,2), VARCHAR(20), FLOAT."""
    base: str
    args: tuple = ()

    def __str__(self):
        return self.base + (f"({','.join(str(a) for a in self.args)})" if self.args else "")


_INTEGERS = {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"}
_NUMBERS = {"NUMBER", "DECIMAL", "NUMERIC", "DEC"}
_FLOATS = {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "REAL"}
_TEXTS = {"VARCHAR", "STRING", "TEXT", "NVARCHAR", "NVARCHAR2"}
_CHARS = {"CHAR", "CHARACTER", "NCHAR"}      # CHAR without a length is CHAR(1), a VARCHAR(1)
_TIMESTAMPS = {"TIMESTAMP": "TIMESTAMP_NTZ", "DATETIME": "TIMESTAMP_NTZ", "TIMESTAMP_NTZ": "TIMESTAMP_NTZ",
               "TIMESTAMPNTZ": "TIMESTAMP_NTZ", "TIMESTAMP_LTZ": "TIMESTAMP_LTZ", "TIMESTAMPLTZ": "TIMESTAMP_LTZ",
               "TIMESTAMP_TZ": "TIMESTAMP_TZ", "TIMESTAMPTZ": "TIMESTAMP_TZ"}
_PLAIN = {"BOOLEAN", "DATE", "VARIANT", "OBJECT", "ARRAY"}


def parse_type(toks, i):
    """The Snowflake type written at toks[i] (significant tokens): (SfType, or None for a type this
    module does not know, index after it). Synonyms become the type DESCRIBE shows (INT is
    NUMBER(38,0), STRING is VARCHAR(16777216), DOUBLE is FLOAT)."""
    if i >= len(toks) or toks[i].kind != "word":
        return None, i
    name, j = toks[i].upper, i + 1
    if name == "DOUBLE" and j < len(toks) and toks[j].is_word("PRECISION"):
        j += 1
    if name in _CHARS and j < len(toks) and toks[j].is_word("VARYING"):
        name, j = "VARCHAR", j + 1
    args = []
    if j < len(toks) and toks[j].is_op("("):
        depth, k = 0, j
        while k < len(toks):
            depth += 1 if toks[k].is_op("(") else -1 if toks[k].is_op(")") else 0
            if depth == 0:
                break
            k += 1
        inside = toks[j + 1:k]
        if not all(t.is_op(",") or (t.kind == "number" and t.text.isdigit()) for t in inside):
            return None, k + 1  # e.g. OBJECT(a INT): structured types are not known here
        args, j = [int(t.text) for t in inside if t.kind == "number"], k + 1
    if name in _INTEGERS:
        return SfType("NUMBER", (38, 0)), j
    if name in _NUMBERS:
        return SfType("NUMBER", (args[0] if args else 38, args[1] if len(args) > 1 else 0)), j
    if name in _FLOATS:
        return SfType("FLOAT"), j
    if name in _TEXTS or name in _CHARS:
        return SfType("VARCHAR", (args[0] if args else 1 if name in _CHARS else TEXT_LENGTH,)), j
    if name in ("BINARY", "VARBINARY"):
        return SfType("BINARY", (args[0] if args else BINARY_LENGTH,)), j
    if name == "TIME":
        return SfType("TIME", (args[0] if args else 9,)), j
    if name in _TIMESTAMPS:
        return SfType(_TIMESTAMPS[name], (args[0] if args else 9,)), j
    if name in _PLAIN and not args:
        return SfType(name), j
    return None, j


def type_of(text):
    """parse_type for a whole text ('NUMBER(10,2)'), or None when it is not exactly one known type."""
    toks = [t for t in tokenize(text) if t.kind not in ("ws", "comment")]
    found, after = parse_type(toks, 0)
    return found if after == len(toks) else None


_DUCK_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT"}
_DUCK_TIMESTAMPS = {"TIMESTAMP_S": 0, "TIMESTAMP_MS": 3, "TIMESTAMP": 9, "TIMESTAMP_NS": 9}


def from_duckdb(text):
    """The Snowflake type a DuckDB column type stands for, as sqltext translates Snowflake's types:
    integers NUMBER(38,0), DECIMAL(p,s) NUMBER(p,s), DOUBLE FLOAT, VARCHAR VARCHAR(16777216), BLOB
    BINARY(8388608), TIME TIME(9), TIMESTAMP TIMESTAMP_NTZ(9) (also what TIMESTAMP_NTZ(6) becomes),
    TIMESTAMPTZ TIMESTAMP_TZ(9) (also what TIMESTAMP_LTZ becomes), JSON VARIANT (also what OBJECT
    and ARRAY become), lists ARRAY, structs and maps OBJECT; anything else VARCHAR, as results.py
    shows such values as text."""
    t = text.strip().upper()
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return SfType("NUMBER", (int(m.group(1)), int(m.group(2))))
    if t in _DUCK_INTEGERS:
        return SfType("NUMBER", (38, 0))
    if t in ("DOUBLE", "FLOAT"):
        return SfType("FLOAT")
    if t in ("BOOLEAN", "DATE"):
        return SfType(t)
    if t in ("TIME", "TIME_NS"):
        return SfType("TIME", (9,))
    if t in _DUCK_TIMESTAMPS:
        return SfType("TIMESTAMP_NTZ", (_DUCK_TIMESTAMPS[t],))
    if t in ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"):
        return SfType("TIMESTAMP_TZ", (9,))
    if t == "BLOB":
        return SfType("BINARY", (BINARY_LENGTH,))
    if t == "JSON":
        return SfType("VARIANT")
    if t.endswith("]"):
        return SfType("ARRAY")
    if t.startswith(("STRUCT", "MAP")):
        return SfType("OBJECT")
    return SfType("VARCHAR", (TEXT_LENGTH,))


def iceberg_type(sf):
    """DESCRIBE ICEBERG TABLE's `source iceberg type`, guessed back from the Snowflake type along
    Snowflake's Iceberg mapping (Data types for Apache Iceberg tables: int is NUMBER(10,0), long
    NUMBER(19,0), decimal(P,S) NUMBER(P,S), double FLOAT, string VARCHAR, timestamp TIMESTAMP_NTZ,
    timestamptz TIMESTAMP_LTZ, list ARRAY, struct OBJECT). The emulator registers Snowflake types,
    not Glue's, so this is the emulator's inference, not the catalog's word."""
    if sf.base == "NUMBER":
        return {(10, 0): "int", (19, 0): "long"}.get(sf.args, f"decimal({sf.args[0]},{sf.args[1]})")
    names = {"FLOAT": "double", "VARCHAR": "string", "BINARY": "binary", "BOOLEAN": "boolean", "DATE": "date",
             "TIME": "time", "TIMESTAMP_NTZ": "timestamp", "TIMESTAMP_LTZ": "timestamptz",
             "TIMESTAMP_TZ": "timestamptz", "ARRAY": "list", "OBJECT": "struct"}
    return names.get(sf.base)


class Declared:
    """The Snowflake types the emulator's DDL declared, per table and column, with the DuckDB type
    each became: a declaration counts only while the column still has that DuckDB type, so one
    left behind by DDL that did not come through here (a table dropped and made again by CTAS)
    is ignored rather than shown."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tables = {}     # key(fq) -> {exact column name: (SfType, DuckDB type)}

    def set(self, fq, name, sf, duck):
        with self._lock:
            self._tables.setdefault(key(fq), {})[name] = (sf, duck)

    def remove(self, fq, name):
        with self._lock:
            self._tables.get(key(fq), {}).pop(name, None)

    def rename(self, fq, old, new):
        with self._lock:
            cols = self._tables.get(key(fq), {})
            if old in cols:
                cols[new] = cols.pop(old)

    def get(self, fq, name, duck):
        with self._lock:
            sf, was = self._tables.get(key(fq), {}).get(name, (None, None))
        return sf if was == duck else None

    def move(self, fq, to):
        with self._lock:
            cols = self._tables.pop(key(fq), None)
            if cols is not None:
                self._tables[key(to)] = cols

    def forget(self, database, schema=None, table=None):
        """A table (or everything in a schema or database) went away or was replaced."""
        with self._lock:
            for k in [k for k in self._tables if k[0] == database.upper() and (schema is None or k[1] == schema.upper())
                      and (table is None or k[2] == table.upper())]:
                del self._tables[k]


# ---------------------------------------------------------------- the catalog

@dataclass
class TableColumn:
    name: str
    duck: str          # DuckDB's type
    nullable: bool
    default: str
    comment: str
    sf: SfType = None  # the type DESCRIBE shows


_COLUMNS = ("SELECT table_name, column_name, data_type, is_nullable, column_default, comment FROM duckdb_columns() "
            "WHERE NOT internal AND lower(database_name) = lower(?) AND lower(schema_name) = lower(?) "
            "AND lower(table_name) = lower(?) ORDER BY column_index")
_KEYS = ("SELECT constraint_type, constraint_column_names FROM duckdb_constraints() WHERE lower(database_name) = "
         "lower(?) AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?) AND "
         "constraint_type IN ('PRIMARY KEY', 'UNIQUE')")


def table_columns(engine, fq, keys=False, cursor=None):
    """The columns of the table or view DuckDB holds under fq (its name matched exactly, as Snowflake
    matches a quoted name), in table order, with the types DESCRIBE shows; None when there is none.
    keys: also ({primary key columns}, {unique key columns}). cursor: a session's, to see what its
    own open transaction did."""
    cur = cursor or engine.cursor()
    try:
        rows = cur.execute(_COLUMNS, list(fq)).fetchall()
        constraints = cur.execute(_KEYS, list(fq)).fetchall() if keys and rows else []
    finally:
        if cursor is None:
            cur.close()
    if not rows or rows[0][0] != fq[2]:
        return None
    cols = [TableColumn(r[1], r[2], bool(r[3]), r[4], r[5]) for r in rows]
    for col in cols:
        col.sf = engine.declared.get(fq, col.name, col.duck) or from_duckdb(col.duck)
    if not keys:
        return cols
    primary = {n for kind, names in constraints if kind == "PRIMARY KEY" for n in names}
    unique = {n for kind, names in constraints if kind == "UNIQUE" for n in names}
    return cols, primary, unique


def declare(engine, fq, columns, cursor=None):
    """The table fq was just made with columns [(name, Snowflake type text)]: remember their types."""
    engine.declared.forget(*fq)
    now = {c.name: c.duck for c in table_columns(engine, fq, cursor=cursor) or []}
    for name, text in columns:
        sf = type_of(text)
        if sf is not None and name in now:
            engine.declared.set(fq, name, sf, now[name])


# ---------------------------------------------------------------- DESCRIBE

# DESCRIBE TABLE's output columns, in Snowflake's order (Snowflake, DESCRIBE TABLE; `write default`
# appended by the 2026_02 behavior change bundle, "DESCRIBE and SHOW commands for Apache Iceberg
# tables: New columns in output", for DESCRIBE TABLE, DESCRIBE ICEBERG TABLE and DESCRIBE DYNAMIC
# TABLE). DESCRIBE ICEBERG TABLE has `source iceberg type` right after `type` (2024_02 bundle,
# "DESCRIBE ICEBERG TABLE command: New column").
DESCRIBE_COLUMNS = ("name", "type", "kind", "null?", "default", "primary key", "unique key", "check", "expression",
                    "comment", "policy name", "privacy domain", "write default")
_DESCRIBED = {"TABLE": ("TABLE", "Table"), "VIEW": ("VIEW", "View"), "ICEBERG": ("ICEBERG TABLE", "Table"),
              "DYNAMIC": ("DYNAMIC TABLE", "Dynamic table")}


def describe(engine, session, sig, ctx):
    """{ DESC | DESCRIBE } { TABLE | VIEW | ICEBERG TABLE | DYNAMIC TABLE } <name> [ TYPE = COLUMNS ]:
    one row per column, in table order. TABLE and VIEW describe any table or view (Snowflake: "DESCRIBE
    TABLE and DESCRIBE VIEW are interchangeable"); ICEBERG and DYNAMIC only their own kind."""
    ts = TokenStream(sig)
    ts.next()
    kind = "ICEBERG" if ts.accept("ICEBERG", "TABLE") else "DYNAMIC" if ts.accept("DYNAMIC", "TABLE") else \
        "VIEW" if ts.accept("VIEW") else "TABLE" if ts.accept("TABLE") else None
    parts = parse_name(ts)
    if ts.accept("TYPE"):
        if not ts.accept_op("="):
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
        if ts.accept("STAGE"):
            raise SnowflakeError.unsupported("DESCRIBE TABLE TYPE = STAGE")
        if not ts.accept("COLUMNS"):
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
    if not ts.at_end():
        raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
    words, noun = _DESCRIBED[kind]
    fq = qualify(session, parts, f"DESCRIBE {words}")
    registry = {"ICEBERG": engine.iceberg, "DYNAMIC": engine.dynamic}.get(kind)
    if registry is not None and registry.get(key(fq)) is None:
        registry._missing(fq, parts, False)
    found = table_columns(engine, fq, keys=True, cursor=session.cursor)
    if found is None:
        raise SnowflakeError("002003", "42S02", f"SQL compilation error:\n{noun} '{display(parts)}' does not exist "
                                                "or not authorized.")
    cols, primary, unique = found
    names = list(DESCRIBE_COLUMNS)
    if kind == "ICEBERG":
        names.insert(2, "source iceberg type")
    rows = []
    for col in cols:
        row = [col.name, str(col.sf), "COLUMN", "Y" if col.nullable else "N", col.default,
               "Y" if col.name in primary else "N", "Y" if col.name in unique else "N", None, None, col.comment,
               None, None, None]
        if kind == "ICEBERG":
            row.insert(2, iceberg_type(col.sf))
        rows.append(tuple(row))
    return Result([Column.text(n) for n in names], rows)


# ---------------------------------------------------------------- ALTER TABLE column actions

@dataclass
class Action:
    verb: str            # ADD, DROP or TYPE (ALTER | MODIFY .. SET DATA TYPE)
    name: str            # the column, folded as Snowflake folds it
    pos: int             # where the name is written (error positions)
    guard: bool = False  # IF NOT EXISTS (ADD) / IF EXISTS (DROP)
    sf: SfType = None    # ADD, TYPE: the type, as DESCRIBE will show it
    type_text: str = ""  # ADD, TYPE: the type as written
    rest: list = None    # ADD: what follows the type (DEFAULT .., NOT NULL, COMMENT '..')
    old: SfType = None   # TYPE: the type it had


# After ADD / DROP without COLUMN, these words start other actions (constraints, clustering,
# search optimization, policies), which DuckDB handles or refuses as before.
_NOT_COLUMNS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "CLUSTERING", "SEARCH", "ROW", "AGGREGATION",
                "JOIN", "STORAGE", "ALL", "PROJECTION", "MASKING", "TAG", "DATA"}


def _items(toks):
    """toks split at commas outside parentheses."""
    items, current, depth = [], [], 0
    for tok in toks:
        if tok.is_op("(") or tok.is_op(")"):
            depth += 1 if tok.is_op("(") else -1
        if tok.is_op(",") and depth == 0:
            items.append(current)
            current = []
        else:
            current.append(tok)
    return items + [current]


def _accept(item, *words):
    """Drop the leading words from item if they are there."""
    if len(item) >= len(words) and all(t.is_word(w) for t, w in zip(item, words)):
        del item[:len(words)]
        return True
    return False


def parse_alter(sig):
    """`ALTER TABLE [IF EXISTS] <name> ADD | DROP | ALTER | MODIFY ...` when every action in it is a column
    change handled here: (if_exists, name parts, [Action]); else None, and DuckDB runs the statement
    as before (RENAME, SET NOT NULL, constraints, ...).

    Snowflake (ALTER TABLE, tableColumnAction): ADD [COLUMN] [IF NOT EXISTS] col type [..] [, ..];
    DROP [COLUMN] [IF EXISTS] col [, ..]; { ALTER | MODIFY } [(] [COLUMN] col [[SET DATA] TYPE] type
    [, ..] [)]. IF [NOT] EXISTS belongs to the one column it precedes."""
    ts = TokenStream(sig)
    if not ts.accept("ALTER", "TABLE"):
        return None
    if_exists = ts.accept("IF", "EXISTS")
    parts = ts.qualified_ident()
    verb = ts.next()
    if not parts or len(parts) > 3 or verb is None or not verb.is_word("ADD", "DROP", "ALTER", "MODIFY"):
        return None
    rest = ts.toks[ts.pos:]
    column = bool(rest) and rest[0].is_word("COLUMN")
    if column:
        rest = rest[1:]
    if verb.is_word("ALTER", "MODIFY") and rest and rest[0].is_op("(") and rest[-1].is_op(")"):
        rest = rest[1:-1]
    if not rest or (not column and rest[0].is_word(*_NOT_COLUMNS) and verb.is_word("ADD", "DROP")):
        return None
    actions = []
    for item in _items(rest):
        action = _action(verb.upper, list(item))
        if action is None:
            return None
        actions.append(action)
    return if_exists, parts, actions


def _action(verb, item):
    _accept(item, "COLUMN")
    if verb == "ADD":
        guard = _accept(item, "IF", "NOT", "EXISTS")
    elif verb == "DROP":
        guard = _accept(item, "IF", "EXISTS")
    else:
        guard = False
    if not item or item[0].kind not in ("word", "qident"):
        return None
    name_tok, item = item[0], item[1:]
    action = Action("TYPE" if verb in ("ALTER", "MODIFY") else verb, ident_value(name_tok), name_tok.pos, guard)
    if verb == "DROP":
        _accept(item, "CASCADE") or _accept(item, "RESTRICT")
        return action if not item else None
    if verb != "ADD" and not _accept(item, "SET", "DATA", "TYPE"):
        _accept(item, "TYPE")
    action.sf, after = parse_type(item, 0)
    if after == 0:
        return None
    action.type_text = " ".join(t.text for t in item[:after])
    action.rest = item[after:]
    if verb != "ADD" and (action.sf is None or action.rest):
        return None  # SET NOT NULL, DROP DEFAULT, COMMENT, unknown types: not handled here
    return action


def _cannot(name, old, new, reason=""):
    return f"SQL compilation error: cannot change column {name} from type {old} to {new}{reason}"


def type_change_problem(name, old, new):
    """None when Snowflake lets ALTER COLUMN .. SET DATA TYPE change a column from type old to new,
    else its error. Snowflake (ALTER TABLE .. ALTER COLUMN, "Data Types"): a synonymous type is fine;
    a text column may get longer, not shorter; a NUMBER may gain precision, or lose some when all
    values still fit (checked when it runs), never change its scale; any other type change fails.
    Errors as Snowflake words them (from its answers quoted in public issues): 002108 "cannot change
    column X from type NUMBER(38,0) to VARCHAR(16777216)" (MeltanoLabs/target-snowflake#276,
    airbytehq/airbyte#16668), 040052 ".. because changing the scale of a number is not supported."
    (snowflakedb/terraform-provider-snowflake acceptance tests), 040050 ".. because reducing the
    byte-length of a varchar is not supported." (re-data/re-data#324, django-snowflake's test
    skips)."""
    if old == new:
        return None
    if old.base == new.base == "VARCHAR":
        if new.args[0] >= old.args[0]:
            return None
        return SnowflakeError("040050", "22000", _cannot(name, old, new, " because reducing the byte-length of a "
                                                                         "varchar is not supported."))
    if old.base == new.base == "BINARY" and new.args[0] >= old.args[0]:
        return None
    if old.base == new.base == "NUMBER":
        if old.args[1] != new.args[1]:
            return SnowflakeError("040052", "22000", _cannot(name, old, new, " because changing the scale of a "
                                                                             "number is not supported."))
        return None
    return SnowflakeError("002108", "22000", _cannot(name, old, new))


def _invalid_identifier(action):
    shown = action.name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", action.name) else f'"{action.name}"'
    return SnowflakeError("000904", "42000", f"SQL compilation error: error line 1 at position {action.pos}\n"
                                             f"invalid identifier '{shown}'")


def alter_table(engine, session, sig, ctx):
    """ALTER TABLE .. ADD / DROP / ALTER COLUMN, checked as Snowflake checks them (all actions before
    any runs), then run on DuckDB as one transaction."""
    if_exists, parts, actions = parse_alter(sig)
    engine._check_table_ddl(session, sig)   # an Iceberg or dynamic table: 002203, as before
    fq = qualify(session, parts, "ALTER TABLE")
    if engine.relation_kind(fq) == "VIEW":
        raise wrong_type("VIEW", "TABLE")
    cur = session.cursor
    _commit_open_transaction(cur)
    current = table_columns(engine, fq, cursor=cur)
    if current is None:
        if if_exists:
            return Result.status("Statement executed successfully.")
        raise SnowflakeError("002003", "42S02", f"SQL compilation error:\nTable '{display(parts)}' does not exist or "
                                                "not authorized.")
    plan = _plan(fq, current, actions)
    _run(cur, ctx, fq, plan)
    after = {c.name: c.duck for c in table_columns(engine, fq, cursor=cur) or []}
    for action in plan:
        if action.verb == "DROP":
            engine.declared.remove(fq, action.name)
        elif action.sf is not None and action.name in after:
            engine.declared.set(fq, action.name, action.sf, after[action.name])
    return Result.status("Statement executed successfully.")


def _plan(fq, current, actions):
    """The actions that change something, after Snowflake's checks against the columns as each
    earlier action leaves them. Names are matched without regard to case (DuckDB's rule)."""
    cols = {c.name.upper(): c.sf for c in current}
    plan = []
    for action in actions:
        found = action.name.upper() in cols
        if action.verb == "ADD":
            if found:
                if action.guard:
                    continue
                # Snowflake: 001430 (42601) "column 'X' already exists" (MeltanoLabs/target-snowflake#525).
                raise SnowflakeError("001430", "42601",
                                     f"SQL compilation error:\ncolumn '{action.name}' already exists")
            # A type not known here stands for itself: changing it later is refused.
            cols[action.name.upper()] = action.sf or SfType(action.type_text.upper())
        elif not found:
            if action.verb == "DROP" and action.guard:
                continue
            raise _invalid_identifier(action)
        elif action.verb == "DROP":
            del cols[action.name.upper()]
            if not cols:
                # Snowflake: 001432 (42601) (snowflakedb/terraform-provider-snowflake#3677).
                raise SnowflakeError("001432", "42601",
                                     "SQL compilation error:\ncannot drop all the columns of a table")
        else:
            old = cols[action.name.upper()]
            problem = type_change_problem(action.name, old, action.sf)
            if problem is not None:
                raise problem
            if old == action.sf:
                continue
            action.old = old
            cols[action.name.upper()] = action.sf
        plan.append(action)
    return plan


def _statements(fq, action):
    """DuckDB statements for one action (Snowflake SQL, translated as any DDL is)."""
    table, col = sql_name(fq), quote_ident(action.name)
    if action.verb == "DROP":
        return [f"ALTER TABLE {table} DROP COLUMN {col}"]
    if action.verb == "TYPE":
        # A longer VARCHAR or BINARY is the same DuckDB type: only NUMBER precision reaches DuckDB.
        if action.sf.base != "NUMBER":
            return []
        return [to_duckdb(f"ALTER TABLE {table} ALTER COLUMN {col} TYPE {action.type_text}")]
    rest, comment = list(action.rest), None
    for i, tok in enumerate(rest):
        if tok.is_word("COMMENT") and i + 1 < len(rest) and rest[i + 1].kind in ("string", "dollar"):
            comment = string_value(rest[i + 1])
            del rest[i:i + 2]
            break
    stmts = [to_duckdb(f"ALTER TABLE {table} ADD COLUMN {col} {action.type_text} " + " ".join(t.text for t in rest))]
    if comment is not None:
        stmts.append(f"COMMENT ON COLUMN {table}.{col} IS {sql_literal(comment)}")
    return stmts


def _commit_open_transaction(cur):
    """DDL commits the session's active transaction, then runs as a transaction of its own
    (Snowflake, Transactions: DDL)."""
    try:
        cur.execute("COMMIT")
    except duckdb.TransactionException:
        pass  # none was open


def _run(cur, ctx, fq, plan):
    """The plan as one DuckDB transaction on the session's cursor. A NUMBER whose values do not fit its
    new precision fails with the emulator's 091324 (Snowflake documents the rule, not its error)."""
    def statement(action, sql):
        def run(cur):
            try:
                cur.execute(sql)
            except (duckdb.ConversionException, duckdb.OutOfRangeException):
                if action.verb != "TYPE":
                    raise
                raise SnowflakeError("091324", "22003", _cannot(action.name, action.old, action.sf, (
                    " because the new precision is not sufficient to hold all values currently in the "
                    "column.")))
        return run

    transaction(cur, ctx, [statement(a, sql) for a in plan for sql in _statements(fq, a)], "ALTER TABLE")


# ---------------------------------------------------------------- DDL DuckDB ran itself

def _ddl_target(session, sig):
    """CREATE / DROP / ALTER [modifiers] TABLE [IF [NOT] EXISTS] <name>: (verb, OR REPLACE, IF NOT
    EXISTS, the resolved name, the stream after it), else None."""
    if not sig or not sig[0].is_word("CREATE", "DROP", "ALTER"):
        return None
    ts = TokenStream(sig)
    verb = ts.next().upper
    replace = ts.accept("OR", "REPLACE")
    while ts.peek() is not None and ts.peek().is_word("LOCAL", "GLOBAL", "TEMP", "TEMPORARY", "VOLATILE", "TRANSIENT"):
        ts.next()
    if not ts.accept("TABLE"):
        return None
    if_not_exists = ts.accept("IF", "NOT", "EXISTS")
    ts.accept("IF", "EXISTS")
    parts = ts.qualified_ident()
    if not parts or len(parts) > 3:
        return None
    try:
        return verb, replace, if_not_exists, qualify(session, parts, verb), ts
    except SnowflakeError:
        return None


def kept_by_ddl(engine, session, sig):
    """Before DuckDB runs a DDL statement: True for CREATE TABLE IF NOT EXISTS naming a table that is
    already there (Snowflake then leaves it, and its declared types, as they are)."""
    target = _ddl_target(session, sig)
    if target is None or target[0] != "CREATE" or target[1] or not target[2]:
        return False
    return table_columns(engine, target[3], cursor=session.cursor) is not None


def after_ddl(engine, session, sig, kept=False):
    """Keep the declared types in step with CREATE / DROP / ALTER TABLE that DuckDB ran: CREATE TABLE
    with a column list declares them (unless it kept a table it found: kept_by_ddl); CTAS, LIKE,
    CLONE and DROP forget the table's; RENAME COLUMN and RENAME TO move them."""
    target = _ddl_target(session, sig)
    if target is None or kept:
        return
    verb, _, _, fq, ts = target
    if verb == "ALTER":
        if ts.accept("RENAME", "COLUMN"):
            old = ts.ident()
            if ts.accept("TO"):
                engine.declared.rename(fq, old, ts.ident())
        elif ts.accept("RENAME", "TO"):
            to = ts.qualified_ident()
            if to and len(to) == 1:  # DuckDB renames within the table's schema only
                engine.declared.move(fq, fq[:2] + (to[0],))
        return
    if verb == "DROP":
        engine.declared.forget(*fq)
        return
    declared = _column_definitions(ts)
    if declared is None:
        engine.declared.forget(*fq)
    else:
        declare(engine, fq, declared, cursor=session.cursor)


def _column_definitions(ts):
    """After CREATE TABLE <name>: [(column, type text)] from its column list, or None when the table
    takes its columns from elsewhere (AS SELECT, LIKE, CLONE)."""
    if ts.peek() is None or not ts.peek().is_op("("):
        return None
    rest = ts.toks[ts.pos + 1:]
    depth, end = 1, None
    for i, tok in enumerate(rest):
        depth += 1 if tok.is_op("(") else -1 if tok.is_op(")") else 0
        if depth == 0:
            end = i
            break
    if end is None or any(t.is_word("AS") for t in rest[end + 1:end + 2]):
        return None
    found = []
    for item in _items(rest[:end]):
        if len(item) < 2 or item[0].kind not in ("word", "qident") or item[0].is_word(*_NOT_COLUMNS):
            continue
        sf, after = parse_type(item, 1)
        if sf is not None:
            found.append((ident_value(item[0]), str(sf)))
    return found

