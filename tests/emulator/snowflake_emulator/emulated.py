"""Statements the emulator implements itself, because DuckDB has no equivalent.

Dispatch is by leading keywords (longest match wins). To emulate another Snowflake statement, add
a handler here: handlers get (engine, session, sig, ctx) and return a Result or raise a
SnowflakeError (session.text is the statement as written, sig its significant tokens). Everything not listed here and not allowed by sqltext.classify fails as an
unsupported feature.
"""

from . import columns
from .errors import SnowflakeError
from .results import Result
from .sqltext import TokenStream


def _ok():
    return Result.status("Statement executed successfully.")


def _use(engine, session, sig, ctx):
    ts = TokenStream(sig)
    ts.accept("USE")
    if ts.accept("SECONDARY", "ROLES"):
        ts.next()
        return _ok()
    if ts.accept("ROLE"):
        role = ts.ident()
        if role is None:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        session.set_role(role)
        return _ok()
    if ts.accept("WAREHOUSE"):
        name = ts.ident()
        if name is None:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        if not engine.warehouses.exists(name):
            raise SnowflakeError.not_exists()
        session.set_warehouse(name)
        return _ok()
    kind = "DATABASE" if ts.accept("DATABASE") else "SCHEMA" if ts.accept("SCHEMA") else None
    parts = ts.qualified_ident()
    if not parts or len(parts) > 2 or not ts.at_end() or (kind == "DATABASE" and len(parts) != 1):
        raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
    if kind == "SCHEMA" or len(parts) == 2:
        database = parts[0] if len(parts) == 2 else session.database
        if database is None:
            raise SnowflakeError("090105", "22000", "Cannot perform USE SCHEMA. This session does not have a "
                                                    "current database. Call 'USE DATABASE', or use a qualified name.")
        session.use(database, parts[-1])
    else:
        session.use(parts[0])
    return _ok()


def _create_database(engine, session, sig, ctx):
    ts = TokenStream(sig)
    ts.accept("CREATE")
    replace = ts.accept("OR", "REPLACE")
    ts.accept("TRANSIENT")
    ts.accept("DATABASE")
    if_not_exists = ts.accept("IF", "NOT", "EXISTS")
    name = ts.ident()
    if name is None:
        raise SnowflakeError.syntax("unexpected '<EOF>'.")
    # Trailing properties (COMMENT = '..', DATA_RETENTION_TIME_IN_DAYS = n) have no effect here.
    created = engine.create_database(name, replace=replace, if_not_exists=if_not_exists)
    if not created:
        return Result.status(f"{name} already exists, statement succeeded.")
    session.use(name)  # Snowflake makes a new database (and its PUBLIC schema) current
    return Result.status(f"Database {name} successfully created.")


def _drop_database(engine, session, sig, ctx):
    ts = TokenStream(sig)
    ts.accept("DROP", "DATABASE")
    if_exists = ts.accept("IF", "EXISTS")
    name = ts.ident()
    if name is None:
        raise SnowflakeError.syntax("unexpected '<EOF>'.")
    if not engine.drop_database(name):
        if if_exists:
            return Result.status(f"Drop statement executed successfully ({name} already dropped).")
        raise SnowflakeError("002003", "02000", f"SQL compilation error:\nDatabase '{name}' does not exist or not authorized.")
    if session.database == name:
        session.use(None)
    return Result.status(f"{name} successfully dropped.")


def _warehouse(method):
    return lambda engine, session, sig, ctx: getattr(engine.warehouses, method)(session, sig)


def _registry(name, method):
    """Handler calling engine.<name>.<method>(session, sig, ctx): iceberg, dynamic or tasks."""
    return lambda engine, session, sig, ctx: getattr(getattr(engine, name), method)(session, sig, ctx)


HANDLERS = {
    ("USE",): _use,
    ("CREATE", "DATABASE"): _create_database,
    ("CREATE", "TRANSIENT", "DATABASE"): _create_database,
    ("CREATE", "OR", "REPLACE", "DATABASE"): _create_database,
    ("CREATE", "OR", "REPLACE", "TRANSIENT", "DATABASE"): _create_database,
    ("DROP", "DATABASE"): _drop_database,
    ("CREATE", "WAREHOUSE"): _warehouse("create"),
    ("CREATE", "OR", "REPLACE", "WAREHOUSE"): _warehouse("create"),
    ("ALTER", "WAREHOUSE"): _warehouse("alter"),
    ("DROP", "WAREHOUSE"): _warehouse("drop"),
    ("SHOW", "WAREHOUSES"): _warehouse("show"),
    # Iceberg tables are registered through the admin API (iceberg.py); SQL refreshes and drops them.
    ("ALTER", "ICEBERG", "TABLE"): _registry("iceberg", "alter"),
    ("CREATE", "EXTERNAL", "VOLUME"): _registry("iceberg", "create_volume"),
    ("CREATE", "OR", "REPLACE", "EXTERNAL", "VOLUME"): _registry("iceberg", "create_volume"),
    ("DROP", "EXTERNAL", "VOLUME"): _registry("iceberg", "drop_volume"),
    ("DROP", "ICEBERG", "TABLE"): _registry("iceberg", "drop"),
    ("CREATE", "DYNAMIC", "TABLE"): _registry("dynamic", "create"),
    ("CREATE", "TRANSIENT", "DYNAMIC", "TABLE"): _registry("dynamic", "create"),
    ("CREATE", "OR", "REPLACE", "DYNAMIC", "TABLE"): _registry("dynamic", "create"),
    ("CREATE", "OR", "REPLACE", "TRANSIENT", "DYNAMIC", "TABLE"): _registry("dynamic", "create"),
    ("ALTER", "DYNAMIC", "TABLE"): _registry("dynamic", "alter"),
    ("DROP", "DYNAMIC", "TABLE"): _registry("dynamic", "drop"),
    ("CREATE", "TASK"): _registry("tasks", "create"),
    ("CREATE", "OR", "REPLACE", "TASK"): _registry("tasks", "create"),
    ("ALTER", "TASK"): _registry("tasks", "alter"),
    ("DROP", "TASK"): _registry("tasks", "drop"),
    ("EXECUTE", "TASK"): _registry("tasks", "execute"),
    # DESCRIBE in Snowflake's shape (columns.py); ALTER TABLE column changes: see lookup.
    **{(verb, *kind): columns.describe for verb in ("DESC", "DESCRIBE")
       for kind in (("TABLE",), ("VIEW",), ("ICEBERG", "TABLE"), ("DYNAMIC", "TABLE"))},
}


def lookup(sig):
    if columns.parse_alter(sig) is not None:
        return columns.alter_table  # ADD / DROP / ALTER COLUMN; other ALTER TABLE actions go to DuckDB
    words = []
    for tok in sig[:6]:
        if tok.kind != "word":
            break
        words.append(tok.upper)
    for n in range(len(words), 0, -1):
        handler = HANDLERS.get(tuple(words[:n]))
        if handler is not None:
            return handler
    return None
