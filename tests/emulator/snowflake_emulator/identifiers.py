"""Quoted identifiers are case-sensitive, as in Snowflake.

Snowflake stores an unquoted identifier in upper case and a quoted one exactly as written, and
resolves names the same way: `"orders"` is not `ORDERS` (Snowflake, Identifier requirements:
"Identifiers enclosed in double quotes are also case-sensitive"; and "unquoted object
identifiers are stored and resolved as uppercase characters"). DuckDB matches names without
regard to case, so it would find a table `"orders"` for `ORDERS`. The translation to DuckDB
already upper-cases unquoted words (sqltext.to_duckdb), so its catalog holds Snowflake's names;
this check refuses a statement that names a table, view or column only by a different case of a
name that exists, with Snowflake's errors. Columns are matched across the catalog (not per table):
a name that exists exactly somewhere passes.
"""

from .errors import SnowflakeError
from .sqltext import significant, tokenize

_CATALOG = """
SELECT 'table', table_name FROM duckdb_tables() WHERE NOT internal
UNION ALL SELECT 'table', view_name FROM duckdb_views() WHERE NOT internal
UNION ALL SELECT 'column', column_name FROM duckdb_columns() WHERE NOT internal
"""


def check(cursor, text):
    """Raise Snowflake's error when `text` names an object or column by the wrong case."""
    names = None
    toks = significant(tokenize(text))
    for i, tok in enumerate(toks):
        if tok.kind == "qident":
            value = tok.text[1:-1].replace('""', '"')
        elif tok.kind == "word" and not (i + 1 < len(toks) and toks[i + 1].is_op("(")):
            value = tok.text.upper()
        else:
            continue
        if names is None:
            names = {}
            for kind, name in cursor.execute(_CATALOG).fetchall():
                names.setdefault(name.upper(), {}).setdefault(name, kind)
        found = names.get(value.upper())
        if found is None or value in found:
            continue
        kind = next(iter(found.values()))
        shown = value if tok.kind == "word" else f'"{value}"'
        if kind == "table":
            raise SnowflakeError("002003", "42S02", f"SQL compilation error:\nObject '{shown}' does not exist or "
                                                    "not authorized.")
        raise SnowflakeError("000904", "42000", f"SQL compilation error: error line 1 at position {tok.pos}\n"
                                                f"invalid identifier '{shown}'")
