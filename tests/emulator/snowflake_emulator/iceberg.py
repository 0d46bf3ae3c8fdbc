"""Externally managed Iceberg tables: data written by Glue becomes visible only after REFRESH.

The admin API registers a table (an ordinary DuckDB table, empty, that queries read) and then
snapshots: each snapshot is the table's FULL contents as of one metadata file (Iceberg semantics),
kept in a hidden catalog until `ALTER ICEBERG TABLE .. REFRESH` copies it into the visible table.

- object_store tables (created from Iceberg files in object storage) refresh to the metadata file
  named in the statement, a path relative to the external volume's active storage location
  (Snowflake, ALTER ICEBERG TABLE .. REFRESH: "specify the relative path ... from the active
  storage location of the external volume"). A table registered with an `external_volume` (made
  with CREATE EXTERNAL VOLUME .. STORAGE_LOCATIONS = ((.. STORAGE_BASE_URL = 's3://..'))) keeps
  its snapshots by their absolute location and resolves a REFRESH path against the volume's first
  (active) STORAGE_BASE_URL, so a caller that computes the path from a wrong base fails as it
  would on Snowflake; a table without a volume compares paths as given (older tests);
- glue tables (catalog integration) refresh without a path, to the newest registered snapshot.

A snapshot may have columns of its own (the Glue job added, dropped or retyped one): the REFRESH
that shows it gives the visible table those columns, in the same transaction as its rows
(Snowflake, ALTER ICEBERG TABLE .. REFRESH: "Refreshing an Iceberg table synchronizes the table
metadata with the most recent table changes"; the schema is part of an Iceberg metadata file). A
snapshot registered without columns has the table's columns as they are when it is registered.

Iceberg tables are read-only to DML (external catalog); queries read them like any table.
"""

import re
import threading
import time

import duckdb

from .columns import declare, type_of
from .errors import SnowflakeError
from .objects import display, key, parse_admin_name, qualify, sql_name
from .registry import ObjectRegistry, transaction
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


def _join(base, path):
    return base.rstrip("/") + "/" + path


def _check_columns(columns):
    """A registration's or a snapshot's columns: a non-empty list of [name, type], copied."""
    if not isinstance(columns, list) or not columns:
        raise ValueError("'columns' must be a non-empty list of [name, type]")
    for col in columns:
        if not (isinstance(col, list) and len(col) == 2 and all(isinstance(x, str) and x for x in col)):
            raise ValueError("each column must be [name, type]")
        if not _TYPE.fullmatch(col[1].strip()):
            raise ValueError(f"unsupported column type '{col[1]}'")
    if len({name.upper() for name, _ in columns}) != len(columns):
        raise ValueError("column names must be unique")
    return [[name, ctype.strip()] for name, ctype in columns]


def _same_columns(a, b):
    """Same names in the same order, and types Snowflake would show alike (INTEGER is NUMBER(38,0))."""
    def shown(ctype):
        return str(type_of(ctype) or ctype.upper())
    return [(n, shown(t)) for n, t in a] == [(n, shown(t)) for n, t in b]


def _create(fq_sql, columns, replace=False):
    cols = ", ".join(f"{quote_ident(name)} {ctype}" for name, ctype in columns)
    return f"CREATE {'OR REPLACE ' if replace else ''}TABLE {fq_sql} ({cols})"


class IcebergTable:
    def __init__(self, fq, catalog, columns, volume=None):
        self.fq = fq
        self.catalog = catalog
        self.columns = columns        # [[name, type]] of the visible table, as its last REFRESH left it
        self.volume = volume          # external volume name (object_store tables), or None
        self.snapshots = {}           # metadata file -> hidden table name, oldest registration first
        self.schemas = {}             # metadata file -> its snapshot's columns
        self.current = None           # metadata file the visible table shows
        self.refresh_count = 0
        self.last_refreshed = None
        self.lock = threading.Lock()  # one refresh at a time

    def describe(self):
        return {"table": ".".join(self.fq), "catalog": self.catalog, "external_volume": self.volume,
                "current_metadata_file": self.current, "columns": [list(c) for c in self.columns],
                "snapshots": list(self.snapshots), "refresh_count": self.refresh_count,
                "last_refreshed": self.last_refreshed}


class IcebergTables(ObjectRegistry):
    KIND, NOUN, KEYWORDS, TABLE_LIKE = "ICEBERG_TABLE", "Table", ("ICEBERG", "TABLE"), True

    def __init__(self, engine):
        super().__init__(engine)
        self._volumes = {}            # name -> [storage location {NAME, STORAGE_PROVIDER, STORAGE_BASE_URL, ..}]
        self._seq = 0

    # ---- external volumes: CREATE [OR REPLACE] EXTERNAL VOLUME [IF NOT EXISTS] name
    #      STORAGE_LOCATIONS = ((NAME = '..' STORAGE_PROVIDER = 'S3' STORAGE_BASE_URL = 's3://..' ..), ..)
    #      [ALLOW_WRITES = ..] [COMMENT = '..']   (Snowflake, CREATE EXTERNAL VOLUME)
    def create_volume(self, session, sig, ctx):
        from .objects import option_value
        ts = TokenStream(sig)
        ts.accept("CREATE")
        replace = ts.accept("OR", "REPLACE")
        ts.accept("EXTERNAL", "VOLUME")
        if_not_exists = ts.accept("IF", "NOT", "EXISTS")
        name = ts.ident()
        if name is None:
            raise SnowflakeError.syntax("unexpected '<EOF>'.")
        locations = None
        while not ts.at_end():
            tok = ts.next()
            if tok.is_word("STORAGE_LOCATIONS") and ts.accept_op("=") and ts.accept_op("("):
                locations = []
                while True:
                    if not ts.accept_op("("):
                        raise SnowflakeError.syntax(f"unexpected '{ts.peek().text if ts.peek() else '<EOF>'}'.")
                    location = {}
                    while not ts.accept_op(")"):
                        k = ts.next()
                        if k is None or k.kind != "word" or not ts.accept_op("="):
                            raise SnowflakeError.syntax(f"unexpected '{k.text if k else '<EOF>'}'.")
                        if k.upper == "ENCRYPTION" and ts.peek() is not None and ts.peek().is_op("("):
                            from .objects import skip_parens
                            skip_parens(ts)
                            continue
                        location[k.upper] = option_value(ts)
                    for required in ("NAME", "STORAGE_PROVIDER", "STORAGE_BASE_URL"):
                        if required not in location:
                            raise SnowflakeError("001008", "22023", f"SQL compilation error:\nMissing option "
                                                                    f"'{required}' in STORAGE_LOCATIONS.")
                    locations.append(location)
                    if ts.accept_op(")"):
                        break
                    ts.accept_op(",")
            elif tok.kind == "word" and ts.accept_op("="):
                option_value(ts)
            else:
                raise SnowflakeError.syntax(f"unexpected '{tok.text}'.")
        if not locations:
            raise SnowflakeError("001008", "22023", "SQL compilation error:\nMissing option 'STORAGE_LOCATIONS'.")
        with self._lock:
            if name in self._volumes and not replace:
                if if_not_exists:
                    return Result.status(f"{name} already exists, statement succeeded.")
                raise SnowflakeError("002002", "42710", f"SQL compilation error:\nObject '{name}' already exists.")
            self._volumes[name] = locations
        return Result.status(f"External volume {name} successfully created.")

    def drop_volume(self, session, sig, ctx):
        ts = TokenStream(sig)
        ts.accept("DROP", "EXTERNAL", "VOLUME")
        if_exists = ts.accept("IF", "EXISTS")
        name = ts.ident()
        with self._lock:
            found = self._volumes.pop(name, None)
        if found is None and not if_exists:
            raise SnowflakeError("002003", "02000", f"SQL compilation error:\nExternal volume '{name}' does not "
                                                    "exist or not authorized.")
        return Result.status(f"{name} successfully dropped.")

    def volume_base(self, name):
        """The active storage location's STORAGE_BASE_URL (the first one), or None."""
        with self._lock:
            locations = self._volumes.get(name)
        return locations[0]["STORAGE_BASE_URL"] if locations else None

    # ---- used by the engine
    def forget(self, database, schema=None):
        """The database (or schema) was dropped or replaced: its tables and snapshots go with it."""
        tables = super().forget(database, schema)
        for t in tables:
            self._drop_snapshots(t.snapshots.values())
        return tables

    def read_only_error(self, parts):
        return SnowflakeError("091319", "0A000", f"SQL compilation error:\nIceberg table '{display(parts)}' uses "
                                                 "an external catalog: it is read-only and cannot be modified.")

    # ---- admin API
    def register_table(self, body):
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        fq = parse_admin_name(body.get("table"))
        catalog = body.get("catalog", "object_store")
        if catalog not in CATALOGS:
            raise ValueError(f"'catalog' must be one of {', '.join(CATALOGS)}")
        columns = _check_columns(body.get("columns"))
        volume = body.get("external_volume")
        if volume is not None:
            if catalog != "object_store":
                raise ValueError("'external_volume' is for object_store tables")
            if not isinstance(volume, str) or self.volume_base(volume) is None:
                raise ValueError(f"no external volume {volume!r}: CREATE EXTERNAL VOLUME first")
        engine = self._engine
        if not engine.database_exists(fq[0]):
            engine.create_database(fq[0], if_not_exists=True)
        if engine.dynamic.get(key(fq)) is not None:
            raise ValueError(f"{display(fq)} is a dynamic table")
        engine.run_internal([f"CREATE SCHEMA IF NOT EXISTS {quote_ident(fq[0])}.{quote_ident(fq[1])}",
                             _create(sql_name(fq), columns, replace=True)], translate=True)
        declare(engine, fq, columns)
        table = IcebergTable(fq, catalog, columns, volume)
        with self._lock:
            old = self._objects.get(key(fq))
            self._objects[key(fq)] = table
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
        if table.volume is not None:
            # Kept by absolute location: Glue's metadata_location, whatever base the caller uses.
            if not _URL.match(path):
                path = _join(self.volume_base(table.volume), path)
        else:
            problem = _relative_path_problem(path)
            if problem:
                raise ValueError(problem)
        rows, sql = body.get("rows"), body.get("sql")
        if (rows is None) == (sql is None):
            raise ValueError("give exactly one of 'rows' and 'sql'")
        with table.lock:
            given = body.get("columns")
            columns = _check_columns(given) if given is not None else [list(c) for c in table.columns]
        with self._lock:
            self._seq += 1
            hidden = f"{quote_ident(STORE)}.main.{quote_ident(f'snapshot_{self._seq}')}"
        engine = self._engine
        try:
            engine.run_internal([_create(hidden, columns)], translate=True)
        except duckdb.Error as e:
            raise ValueError(f"bad columns: {e}")
        try:
            if rows is not None:
                self._insert_rows(hidden, len(columns), rows)
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
            table.schemas[path] = columns
        if old is not None:
            self._drop_snapshots([old])
        return table.describe()

    def _insert_rows(self, hidden, width, rows):
        import json
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
            raise ValueError(f"rows do not fit the snapshot's columns: {e}")

    def _drop_snapshots(self, hidden_tables):
        stmts = [f"DROP TABLE IF EXISTS {h}" for h in hidden_tables]
        if stmts:
            try:
                self._engine.run_internal(stmts)
            except duckdb.Error:
                pass

    # ---- SQL: ALTER ICEBERG TABLE [IF EXISTS] name REFRESH ['path'], DROP ICEBERG TABLE (registry.py)
    def alter(self, session, sig, ctx):
        ts, if_exists, parts = self._target(sig, "ALTER")
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
                target = path
                if table.volume is not None:
                    base = self.volume_base(table.volume)
                    if base is None:
                        raise refresh_failed("091320", "22000", f"external volume '{table.volume}' does not exist.")
                    target = _join(base, path)
                if target not in table.snapshots:
                    raise refresh_failed("091315", "22000", f"metadata file '{target}' not found.")
            if target is not None:
                self._load(table, target, ctx)
                table.current = path if path is not None else target
            table.refresh_count += 1
            table.last_refreshed = time.time()
        return Result.status("Statement executed successfully.")

    def _load(self, table, path, ctx):
        """Make the visible table hold exactly the snapshot's rows, and its columns when they differ
        (one transaction; call with table.lock held)."""
        hidden, columns, visible = table.snapshots[path], table.schemas[path], sql_name(table.fq)
        changed = not _same_columns(columns, table.columns)
        if changed:
            statements = [f"CREATE OR REPLACE TABLE {visible} AS SELECT * FROM {hidden}"]
        else:
            statements = [f"DELETE FROM {visible}", f"INSERT INTO {visible} SELECT * FROM {hidden}"]
        cur = self._engine.cursor()
        try:
            transaction(cur, ctx, statements, "ALTER ICEBERG TABLE")
        finally:
            cur.close()
        if changed:
            table.columns = [list(c) for c in columns]
            declare(self._engine, table.fq, columns)

    def _dropped(self, table, fq):
        self._drop_snapshots(table.snapshots.values())
        self._engine.run_internal([f"DROP TABLE IF EXISTS {sql_name(fq)}"])
        self._engine.declared.forget(*fq)

