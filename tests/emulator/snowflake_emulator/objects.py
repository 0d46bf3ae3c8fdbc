"""Names of schema objects (tables, dynamic tables, tasks) in emulated statements: parsing,
resolution against the session's current database and schema, display, and the small parsers
for `KEY = value` options that CREATE DYNAMIC TABLE and CREATE TASK share.

A resolved name is a tuple (database, schema, name) of exact (already folded) identifiers. Keys
for the emulator's own registries are the uppercased tuple, because DuckDB, which holds the data,
matches identifiers case-insensitively: two names DuckDB would confuse must not be two objects.
"""

import re

from .errors import SnowflakeError
from .sqltext import TokenStream, quote_ident, string_value, tokenize

_PLAIN = re.compile(r"[A-Z_][A-Z0-9_$]*")


def parse_name(ts):
    """One, two or three part name at the stream's position (quoted parts kept exact)."""
    parts = ts.qualified_ident()
    if not parts or len(parts) > 3:
        tok = ts.peek()
        raise SnowflakeError.syntax(f"unexpected '{tok.text if tok else '<EOF>'}'.")
    return parts


def parse_admin_name(text):
    """A fully qualified name given to the admin API: 'DB.SCHEMA.NAME' or with quoted parts."""
    if not isinstance(text, str):
        raise ValueError("'table' must be a string like DB.SCHEMA.TABLE")
    ts = TokenStream(tokenize(text))
    parts = ts.qualified_ident()
    if not parts or len(parts) != 3 or not ts.at_end():
        raise ValueError(f"'{text}' is not a three-part name DB.SCHEMA.TABLE")
    return tuple(parts)


def qualify(session, parts, verb):
    """Resolve a name against the session's current database and schema, like Snowflake."""
    if len(parts) == 3:
        return tuple(parts)
    if session.database is None:
        raise SnowflakeError("090105", "22000", f"Cannot perform {verb}. This session does not have a current "
                                                "database. Call 'USE DATABASE', or use a qualified name.")
    if len(parts) == 2:
        return (session.database, parts[0], parts[1])
    if session.schema is None:
        raise SnowflakeError("090106", "22000", f"Cannot perform {verb}. This session does not have a current "
                                                "schema. Call 'USE SCHEMA', or use a qualified name.")
    return (session.database, session.schema, parts[0])


def key(fq):
    return tuple(p.upper() for p in fq)


def display(parts):
    """A name as Snowflake prints it: plain parts as they are, others double-quoted."""
    return ".".join(p if _PLAIN.fullmatch(p) else quote_ident(p) for p in parts)


def sql_name(fq):
    return ".".join(quote_ident(p) for p in fq)


def does_not_exist(kind, parts):
    return SnowflakeError("002003", "02000", f"SQL compilation error:\n{kind} '{display(parts)}' "
                                             "does not exist or not authorized.")


def wrong_type(found, wanted):
    return SnowflakeError("002203", "42601", f"SQL compilation error:\nObject found is of type '{found}', "
                                             f"not specified type '{wanted}'.")


def already_exists(parts, as_kind=None):
    suffix = f" already exists as {as_kind}" if as_kind else " already exists."
    return SnowflakeError("002002", "42710", f"SQL compilation error:\nObject '{display(parts)}'{suffix}")


def references(tokens):
    """Every qualified name (1-3 parts) written in a token list: candidates for dependencies."""
    sig = [t for t in tokens if t.kind not in ("ws", "comment")]
    found, i = [], 0
    while i < len(sig):
        if sig[i].kind in ("word", "qident") and (i == 0 or not sig[i - 1].is_op(".")):
            ts = TokenStream(sig[i:])
            parts = ts.qualified_ident()
            if parts and len(parts) <= 3:
                found.append(parts)
            i += max(1, ts.pos)
        else:
            i += 1
    return found


def option_value(ts):
    """The value after `KEY =`: a string, number, word or quoted identifier (words uppercased)."""
    tok = ts.next()
    if tok is None:
        raise SnowflakeError.syntax("unexpected '<EOF>'.")
    if tok.kind in ("string", "dollar"):
        return string_value(tok)
    if tok.kind == "number":
        return tok.text
    if tok.kind == "word":
        return tok.upper
    if tok.kind == "qident":
        return tok.text[1:-1].replace('""', '"')
    raise SnowflakeError.syntax(f"unexpected '{tok.text}'.")


def skip_parens(ts):
    """Skip a balanced '( ... )' group if one is next."""
    if ts.peek() is None or not ts.peek().is_op("("):
        return False
    depth = 0
    while not ts.at_end():
        tok = ts.next()
        if tok.is_op("("):
            depth += 1
        elif tok.is_op(")"):
            depth -= 1
            if depth == 0:
                return True
    raise SnowflakeError.syntax("unexpected '<EOF>'.")


def body_after(session, tok):
    """The statement text after a token (e.g. the query after AS), as the client wrote it."""
    text = getattr(session, "text", None)
    if text is None or tok.pos < 0:
        raise SnowflakeError("000603", "XX000", "SQL execution internal error: statement text unavailable")
    return text[tok.pos + len(tok.text):].strip()
