"""Snowflake-shaped statement errors, and the mapping from DuckDB exceptions to them."""

import re

import duckdb


class SnowflakeError(Exception):
    """A statement failure as Snowflake reports it (QueryFailureStatus: code, sqlState, message)."""

    def __init__(self, code, sql_state, message):
        super().__init__(message)
        self.code = code
        self.sql_state = sql_state
        self.message = message

    @classmethod
    def syntax(cls, detail):
        return cls("001003", "42000", f"SQL compilation error:\nsyntax error {detail}")

    @classmethod
    def unsupported(cls, feature):
        return cls("000002", "0A000", f"Unsupported feature '{feature}'.")

    @classmethod
    def not_exists(cls):
        # What Snowflake answers when the request's database/schema or USE names something missing.
        return cls("002043", "02000", "SQL compilation error:\nObject does not exist, or operation cannot be performed.")

    @classmethod
    def no_warehouse(cls):
        return cls("000606", "57P03", "No active warehouse selected in the current session.  "
                                      "Select an active warehouse with the 'use warehouse' command.")


class Canceled(Exception):
    """Raised inside a worker when its statement was canceled (by request or by timeout)."""


def timeout_error(seconds):
    return SnowflakeError("000630", "57014", f"Statement reached its statement or warehouse timeout of "
                                             f"{seconds} second(s) and was canceled.")


def canceled_error():
    return SnowflakeError("000604", "57014", "SQL execution canceled")


_RAISED = "SNOWFLAKE_ERROR|"


def raise_sql(code, sql_state, message):
    """A SQL expression that fails, when evaluated, with this Snowflake error (see from_duckdb)."""
    text = f"{_RAISED}{code}|{sql_state}|{message}".replace("'", "''")
    return f"error('{text}')"


def _first_line(msg):
    return msg.split("\n", 1)[0]


def _strip_prefix(line):
    # "Catalog Error: Table with name x does not exist!" -> "Table with name x does not exist!"
    return re.sub(r"^[A-Za-z ]+ Error: ", "", line)


def _position(msg):
    """Snowflake-style 'line L at position P' from DuckDB's 'LINE L: ...' + caret line."""
    m = re.search(r"^LINE (\d+): .*\n( *)\^", msg, re.M)
    if not m:
        return "line 1 at position 0"
    return f"line {m.group(1)} at position {max(0, len(m.group(2)) - len(f'LINE {m.group(1)}: '))}"


def _name(raw):
    return raw.strip('"').upper()


def from_duckdb(exc, verb="statement"):
    """Map a DuckDB exception to a SnowflakeError. `verb` names the statement, e.g. 'CREATE TABLE'."""
    msg = str(exc)
    line = _strip_prefix(_first_line(msg))

    if line.startswith(_RAISED):
        code, sql_state, message = line[len(_RAISED):].split("|", 2)
        return SnowflakeError(code, sql_state, message)

    if isinstance(exc, duckdb.ParserException):
        m = re.search(r'syntax error at or near "(.*)"', line)
        if m:
            return SnowflakeError.syntax(f"{_position(msg)} unexpected '{m.group(1)}'.")
        if "syntax error at end of input" in line:
            return SnowflakeError.syntax(f"{_position(msg)} unexpected '<EOF>'.")
        return SnowflakeError("001003", "42000", f"SQL compilation error:\n{line}")

    if "cannot affect the same target row more than once" in line:
        # Snowflake: ERROR_ON_NONDETERMINISTIC_MERGE is TRUE by default, so a MERGE whose source has
        # several rows for one target row fails (Snowflake, MERGE: "Duplicate join behavior").
        return SnowflakeError("100090", "42P18", "Duplicate row detected during DML action")

    if "attached in read-only mode" in line and "__no_database" in line:
        # The hidden read-only catalog stands for "no current database" (see engine.py).
        return SnowflakeError("090105", "22000", f"Cannot perform {verb}. This session does not have a current "
                                                 "database. Call 'USE DATABASE', or use a qualified name.")

    if isinstance(exc, duckdb.CatalogException):
        m = re.search(r'Table with name (\S+) does not exist because schema (\S+) does not exist', line)
        if m:
            return SnowflakeError("002003", "02000", f"SQL compilation error:\nSchema '{_name(m.group(2))}' "
                                                     "does not exist or not authorized.")
        m = re.search(r'(?:Table|View|Table Function) with name (\S+) does not exist', line)
        if m:
            return SnowflakeError("002003", "42S02", f"SQL compilation error:\nObject '{_name(m.group(1))}' "
                                                     "does not exist or not authorized.")
        m = re.search(r'Schema with name (\S+) does not exist', line)
        if m:
            return SnowflakeError("002003", "02000", f"SQL compilation error:\nSchema '{_name(m.group(1))}' "
                                                     "does not exist or not authorized.")
        m = re.search(r'Catalog (?:with name )?"?(\S+?)"? does not exist', line)
        if m:
            return SnowflakeError("002003", "02000", f"SQL compilation error:\nDatabase '{_name(m.group(1))}' "
                                                     "does not exist or not authorized.")
        m = re.search(r'Function with name (\S+) does not exist', line)
        if m:
            return SnowflakeError("002140", "42601", f"SQL compilation error:\nUnknown function {_name(m.group(1))}")
        m = re.search(r'with name (\S+) already exists', line)
        if m:
            return SnowflakeError("002002", "42710", f"SQL compilation error:\nObject '{_name(m.group(1))}' "
                                                     "already exists.")
        return SnowflakeError("002003", "02000", f"SQL compilation error:\n{line}")

    if isinstance(exc, duckdb.BinderException):
        m = re.search(r'(?:Values list|Table) "([^"]+)" does not have a column named "([^"]+)"', line)
        if m:
            return SnowflakeError("000904", "42000", f"SQL compilation error: error {_position(msg)}\n"
                                                     f"invalid identifier '{_name(m.group(1))}.{_name(m.group(2))}'")
        m = re.search(r'(?:Referenced column|Column with name|column) "?([^"\s]+)"? (?:not found|does not exist)',
                      line, re.I)
        if m:
            return SnowflakeError("000904", "42000", f"SQL compilation error: error {_position(msg)}\n"
                                                     f"invalid identifier '{_name(m.group(1))}'")
        return SnowflakeError("002020", "42601", f"SQL compilation error:\n{line}")

    if isinstance(exc, duckdb.ConstraintException):
        if "NOT NULL" in line:
            return SnowflakeError("100072", "22000", "NULL result in a non-nullable column")
        return SnowflakeError("100072", "22000", line)

    if isinstance(exc, duckdb.ConversionException):
        m = re.search(r"""Could not convert string ['"](.*)['"] to (\w+)""", line)
        if m:
            target = m.group(2).upper()
            if target.startswith("DATE") or target.startswith("TIMESTAMP") or target.startswith("TIME"):
                return SnowflakeError("100040", "22007", f"{'Date' if target == 'DATE' else 'Timestamp'} "
                                                         f"'{m.group(1)}' is not recognized")
            return SnowflakeError("100038", "22018", f"Numeric value '{m.group(1)}' is not recognized")
        return SnowflakeError("100038", "22018", line)

    if isinstance(exc, duckdb.OutOfRangeException):
        return SnowflakeError("100046", "22003", f"Number out of representable range: {line}")

    if isinstance(exc, duckdb.InvalidInputException) and ("prepared statement parameters" in line or
                                                          "Values were not provided for the following" in line):
        return SnowflakeError("002049", "42601", f"SQL compilation error: error {_position(msg)}\n"
                                                 "Bind variable ? not set.")

    if isinstance(exc, duckdb.TransactionException):
        return SnowflakeError("000625", "57014", f"Statement aborted because of a conflict: {line}")

    return SnowflakeError("100000", "P0000", line)
