"""A request's Snowflake session on a DuckDB cursor, and the cancellation plumbing around it.

Kept apart from engine.py because the emulated objects (dynamic.py, tasks.py) run their own
sessions, and the engine imports them: a session that lived in the engine would make a circle.

- "No current database": each session starts in a hidden, empty, read-only catalog (NO_DATABASE,
  attached by the engine), so an unqualified CREATE fails (as in Snowflake) instead of landing in
  DuckDB's default catalog.
- CURRENT_WAREHOUSE() & co, and a few Snowflake functions DuckDB lacks, are per-session temp macros.
"""

import threading

import duckdb

from .errors import Canceled, SnowflakeError
from .sqltext import quote_ident, sql_literal

NO_DATABASE = "__no_database"
DEFAULT_TIMEZONE = "America/Los_Angeles"  # Snowflake's default TIMEZONE parameter

# Snowflake functions missing from DuckDB that are cheap to express as macros.
_FUNCTION_MACROS = """
CREATE OR REPLACE TEMP MACRO iff(c, a, b) AS CASE WHEN c THEN a ELSE b END;
CREATE OR REPLACE TEMP MACRO nvl(a, b) AS coalesce(a, b);
CREATE OR REPLACE TEMP MACRO nvl2(a, b, c) AS CASE WHEN a IS NOT NULL THEN b ELSE c END;
CREATE OR REPLACE TEMP MACRO zeroifnull(a) AS coalesce(a, 0);
CREATE OR REPLACE TEMP MACRO to_varchar(a) AS CAST(a AS VARCHAR);
CREATE OR REPLACE TEMP MACRO parse_json(a) AS CAST(a AS JSON);
CREATE OR REPLACE TEMP MACRO to_date(a) AS CAST(a AS DATE);
CREATE OR REPLACE TEMP MACRO to_number(a) AS CAST(a AS DECIMAL(38, 0));
CREATE OR REPLACE TEMP MACRO uuid_string() AS CAST(uuid() AS VARCHAR);
CREATE OR REPLACE TEMP MACRO startswith(a, b) AS starts_with(a, b);
CREATE OR REPLACE TEMP MACRO sysdate() AS CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP);
CREATE OR REPLACE TEMP MACRO current_timestamp() AS now();
CREATE OR REPLACE TEMP MACRO getdate() AS now();
CREATE OR REPLACE TEMP MACRO current_date() AS CAST(now() AS DATE);
CREATE OR REPLACE TEMP MACRO localtimestamp() AS CAST(now() AS TIMESTAMP);
CREATE OR REPLACE TEMP MACRO current_time() AS CAST(CAST(now() AS TIMESTAMP) AS TIME);
CREATE OR REPLACE TEMP MACRO to_timestamp_ltz(a) AS CAST(a AS TIMESTAMPTZ);
CREATE OR REPLACE TEMP MACRO to_timestamp_tz(a) AS CAST(a AS TIMESTAMPTZ);
CREATE OR REPLACE TEMP MACRO to_timestamp_ntz(a) AS CAST(a AS TIMESTAMP);
"""

# Snowflake sorts NULL as the largest value: DEFAULT_NULL_ORDERING defaults to LAST, "NULL values
# are higher than any non-NULL values" (Snowflake, parameters: DEFAULT_NULL_ORDERING; release 9.9),
# so ASC puts NULLs last and DESC puts them first, unless NULLS FIRST / LAST says otherwise. DuckDB
# puts them last both ways by default; this is its setting for Snowflake's rule.
NULL_ORDER = "SET default_null_order = 'nulls_last_on_asc_first_on_desc'"


class ExecContext:
    """Cancellation plumbing between a worker thread and whoever cancels it."""

    def __init__(self):
        self.cancel_event = threading.Event()
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._cursor = None

    def attach(self, cursor):
        with self._lock:
            self._cursor = cursor
        self.check()

    def detach(self):
        with self._lock:
            self._cursor = None

    def check(self):
        if self.cancel_event.is_set():
            raise Canceled()

    def sleep(self, seconds):
        if self.cancel_event.wait(seconds):
            raise Canceled()

    def cancel(self):
        """Stop the work: flag it, and keep interrupting the cursor until the worker finishes,
        which closes the window where an interrupt arrives just before DuckDB starts executing."""
        if self.cancel_event.is_set():
            return
        self.cancel_event.set()

        def keep_interrupting():
            while True:
                with self._lock:
                    cur = self._cursor
                if cur is not None:
                    try:
                        cur.interrupt()
                    except duckdb.Error:
                        pass
                if self.finished.wait(0.05):
                    return

        threading.Thread(target=keep_interrupting, daemon=True, name="interrupt").start()


class Session:
    """One request's Snowflake session: context (database, schema, warehouse, role) on a cursor."""

    def __init__(self, engine, user, role, timezone, account=None, query_id=None):
        self.engine = engine
        self.user = user
        self.role = role
        self.account = account      # None: not an SQL API request (admin fixtures, task runs)
        self.query_id = query_id    # the SQL API statement handle this session runs
        self.database = None
        self.schema = None
        self.warehouse = None
        self.cursor = engine.cursor()
        try:
            self.cursor.execute(f"SET TimeZone = {sql_literal(timezone or DEFAULT_TIMEZONE)}")
        except duckdb.Error:
            self.close()
            raise SnowflakeError("002097", "22023", f"Invalid value [{timezone}] for parameter 'TIMEZONE'")
        self.cursor.execute(_FUNCTION_MACROS)
        self.cursor.execute(NULL_ORDER)

    def start(self, database, schema, warehouse):
        """Initial context from the request body; applied to the cursor once."""
        if database is not None:
            self._check(database, schema)
            self.database, self.schema = database, self._default_schema(database, schema)
        elif schema is not None:
            raise SnowflakeError.not_exists()
        self.warehouse = warehouse
        self._apply()

    def _default_schema(self, database, schema):
        if schema is None and self.engine.schema_exists(database, "PUBLIC"):
            return "PUBLIC"
        return schema

    def _check(self, database, schema):
        if not self.engine.database_exists(database):
            raise SnowflakeError.not_exists()
        if schema is not None and not self.engine.schema_exists(database, schema):
            raise SnowflakeError.not_exists()

    def use(self, database, schema=None):
        """Switch database (and schema; PUBLIC by default). Names are exact, as in the SQL API body."""
        if database is None:
            self.database = self.schema = None
            self._apply()
            return
        self._check(database, schema)
        self.database, self.schema = database, self._default_schema(database, schema)
        self._apply()

    def clear_schema(self):
        self.schema = None
        self._apply()

    def set_warehouse(self, name):
        self.warehouse = name
        self._apply()

    def set_role(self, role):
        self.role = role
        self._apply()

    def _apply(self):
        if self.database is None:
            target = quote_ident(NO_DATABASE)
        elif self.schema is None:
            target = quote_ident(self.database)
        else:
            target = f"{quote_ident(self.database)}.{quote_ident(self.schema)}"
        warehouse = self.warehouse if self.warehouse and self.engine.warehouses.exists(self.warehouse) else None
        macros = {"current_warehouse": warehouse, "current_role": self.role, "current_user": self.user,
                  "current_database": self.database, "current_schema": self.schema}
        self.cursor.execute(f"USE {target};" + "".join(
            f"CREATE OR REPLACE TEMP MACRO {name}() AS {sql_literal(value)};" for name, value in macros.items()))

    def context(self):
        return {"database": self.database, "schema": self.schema, "warehouse": self.warehouse, "role": self.role}

    def close(self):
        try:
            self.cursor.close()
        except duckdb.Error:
            pass
