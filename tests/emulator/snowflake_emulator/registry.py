"""The base of the registries of objects DuckDB has no notion of: Iceberg tables (iceberg.py),
dynamic tables (dynamic.py) and tasks (tasks.py).

A registry keeps its objects by normalized name (objects.key: the uppercased (database, schema,
name), see objects.py) under one lock, and shares here what its statements have in common: the
name after `ALTER | DROP <kind> [IF EXISTS]`, DROP itself, the error for a name that is not one of
its objects (another kind's object under it, or nothing), the rules of CREATE [OR REPLACE] [IF NOT
EXISTS], forgetting a dropped database or schema, and running its own DuckDB statements as one
transaction that a cancel interrupts. A subclass says what it is (KIND, NOUN, KEYWORDS, TABLE_LIKE)
and what a drop must clean up (`_dropped`).
"""

import contextlib
import threading

import duckdb

from . import errors
from .errors import Canceled, SnowflakeError
from .objects import already_exists, does_not_exist, key, parse_name, qualify, wrong_type
from .results import Result
from .sqltext import TokenStream
from .warehouses import warehouse_missing


class ObjectRegistry:
    KIND = None         # the type Snowflake's messages name: ICEBERG_TABLE, DYNAMIC_TABLE, TASK
    NOUN = None         # how "does not exist" names one: Table, Dynamic table, Task
    KEYWORDS = ()       # the words naming the kind after ALTER / DROP, e.g. ("DYNAMIC", "TABLE")
    TABLE_LIKE = False  # shares the tables' namespace: a DuckDB table or view, or another table-like
                        # registry's object, under the same name is a conflict

    def __init__(self, engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._objects = {}              # key(fq) -> object

    # ---- used by the engine and the admin API
    def get(self, k):
        with self._lock:
            return self._objects.get(k)

    def list(self):
        with self._lock:
            return [o.describe() for _, o in sorted(self._objects.items())]

    def forget(self, database, schema=None):
        """The database (or schema) was dropped or replaced: its objects go with it (returned)."""
        with self._lock:
            gone = [k for k in self._objects
                    if k[0] == database.upper() and (schema is None or k[1] == schema.upper())]
            return [self._objects.pop(k) for k in gone]

    # ---- statement plumbing
    def _target(self, sig, verb):
        """`<verb> <KEYWORDS> [IF EXISTS] <name>`: (the stream after the name, if_exists, name parts)."""
        ts = TokenStream(sig)
        ts.accept(verb, *self.KEYWORDS)
        if_exists = ts.accept("IF", "EXISTS")
        return ts, if_exists, parse_name(ts)

    def _alter_target(self, session, sig):
        """`ALTER <KEYWORDS> [IF EXISTS] <name> <verb> ..`: (the stream after the verb, if_exists, name
        parts, the verb uppercased, the resolved name, our object under it or None)."""
        ts, if_exists, parts = self._target(sig, "ALTER")
        action = ts.next()
        if action is None or action.kind != "word":
            raise SnowflakeError.syntax(f"unexpected '{action.text if action else '<EOF>'}'.")
        fq = qualify(session, parts, " ".join(("ALTER",) + self.KEYWORDS))
        return ts, if_exists, parts, action.upper, fq, self.get(key(fq))

    def _exclusive(self):
        """Held around a DROP (a registry whose objects change under a lock of their own overrides it)."""
        return contextlib.nullcontext()

    def _dropped(self, obj, fq):
        """Clean up after obj left the registry (DROP under the statement's name fq)."""

    # DROP <KEYWORDS> [IF EXISTS] name
    def drop(self, session, sig, ctx):
        ts, if_exists, parts = self._target(sig, "DROP")
        if not ts.at_end():
            raise SnowflakeError.syntax(f"unexpected '{ts.peek().text}'.")
        fq = qualify(session, parts, " ".join(("DROP",) + self.KEYWORDS))
        with self._exclusive():
            with self._lock:
                obj = self._objects.pop(key(fq), None)
            if obj is None:
                self._missing(fq, parts, if_exists)
                return Result.status(f"Drop statement executed successfully ({parts[-1]} already dropped).")
            self._dropped(obj, fq)
        return Result.status(f"{parts[-1]} successfully dropped.")

    def _other_kind(self, fq):
        """The kind of another object holding this name in our namespace (ICEBERG_TABLE, TABLE, ..), or None."""
        if not self.TABLE_LIKE:
            return None
        k = key(fq)
        for other in (self._engine.iceberg, self._engine.dynamic):
            if other is not self and other.get(k) is not None:
                return other.KIND
        return self._engine.relation_kind(fq)

    def _missing(self, fq, parts, if_exists):
        """The name is not one of ours: another kind's object is the wrong type (IF EXISTS or not);
        nothing at all does not exist, unless IF EXISTS."""
        other = self._other_kind(fq)
        if other is not None:
            raise wrong_type(other, self.KIND)
        if not if_exists:
            raise does_not_exist(self.NOUN, parts)

    def _create_conflict(self, existing, fq, parts, replace, if_not_exists):
        """CREATE [OR REPLACE] .. [IF NOT EXISTS] where `existing` (ours, or None) holds the name: None
        when it may go on (a free name, or OR REPLACE of ours), the answer when IF NOT EXISTS ends it;
        raises when it fails (another kind's object is never replaced)."""
        other = None if existing is not None else self._other_kind(fq)
        if existing is None and other is None:
            return None
        if if_not_exists and not replace:
            return Result.status(f"{parts[-1]} already exists, statement succeeded.")
        if not replace:
            raise already_exists(parts)
        if existing is None:
            raise already_exists(parts, other)
        return None

    def _check_schema(self, fq):
        """A new object's database and schema must exist."""
        if not self._engine.database_exists(fq[0]):
            raise does_not_exist("Database", fq[:1])
        if not self._engine.schema_exists(fq[0], fq[1]):
            raise does_not_exist("Schema", fq[:2])

    def _check_warehouse(self, name):
        if not self._engine.warehouses.exists(name):
            raise warehouse_missing(name)


def transaction(cur, ctx, statements, label, scalar=None):
    """Run statements on cur as one transaction that ctx can cancel; then, when given, the query
    `scalar` and return its single value. DuckDB errors become Snowflake errors named by label. A
    statement may be a function of the cursor instead of SQL: one that maps some errors itself."""
    ctx.attach(cur)
    try:
        cur.execute("BEGIN TRANSACTION")
        try:
            for sql in statements:
                sql(cur) if callable(sql) else cur.execute(sql)
            cur.execute("COMMIT")
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        return cur.execute(scalar).fetchone()[0] if scalar is not None else None
    except duckdb.InterruptException:
        raise Canceled()
    except duckdb.Error as e:
        if ctx.cancel_event.is_set():
            raise Canceled()
        raise errors.from_duckdb(e, label)
    finally:
        ctx.detach()
