"""Snowflake SQL text handling: tokenizing, splitting, classifying and rewriting for DuckDB.

The emulator never parses SQL fully: DuckDB does that. This module only knows enough of the
lexical structure (strings, quoted identifiers, comments) to split batches safely, to recognise
the statements the emulator must handle itself, and to translate the few Snowflake spellings
DuckDB does not accept (types, backslash escapes, `$$` strings, `:1` placeholders, `//` comments).
"""

import re
from dataclasses import dataclass

from .errors import SnowflakeError

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^'\\]|\\.|'')*(?:'|\Z))
  | (?P<dollar>\$\$.*?(?:\$\$|\Z))
  | (?P<qident>"(?:[^"]|"")*(?:"|\Z))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<param>\?|:\d+)
  | (?P<word>[^\W\d]\w*(?:\$\w*)*)
  | (?P<semi>;)
  | (?P<op>::|<=|>=|<>|!=|\|\||=>|->>|->|.)
    """,
    re.VERBOSE | re.DOTALL,
)

TRIVIA = ("ws", "comment")


@dataclass
class Token:
    kind: str
    text: str
    pos: int = -1   # offset in the text it was read from (-1 when made up)

    @property
    def upper(self):
        return self.text.upper()

    def is_word(self, *words):
        return self.kind == "word" and (not words or self.text.upper() in words)

    def is_op(self, op):
        return self.kind == "op" and self.text == op


def tokenize(text):
    return [Token(m.lastgroup, m.group(), m.start()) for m in _TOKEN_RE.finditer(text)]


def significant(tokens):
    return [t for t in tokens if t.kind not in TRIVIA]


def split_statements(text):
    """Split a batch on `;` outside strings, identifiers and comments; drop empty pieces."""
    pieces, current = [], []
    for tok in tokenize(text) + [Token("semi", ";")]:
        if tok.kind == "semi":
            if significant(current):
                pieces.append("".join(t.text for t in current).strip())
            current = []
        else:
            current.append(tok)
    return pieces


def ident_value(tok):
    """Snowflake identifier folding: unquoted -> uppercase, quoted -> exact."""
    if tok.kind == "qident":
        return tok.text[1:-1].replace('""', '"')
    return tok.text.upper()


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value):
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def string_value(tok):
    """Value of a Snowflake string literal ('..' with '' and backslash escapes, or $$..$$)."""
    if tok.kind == "dollar":
        return tok.text[2:-2]
    body = tok.text[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        elif ch == "'" and body[i + 1: i + 2] == "'":
            out.append("'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class TokenStream:
    """Cursor over significant tokens, for the small hand-written parsers of emulated statements."""

    def __init__(self, tokens):
        self.toks = [t for t in tokens if t.kind not in TRIVIA and t.kind != "semi"]
        self.pos = 0

    def peek(self, k=0):
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else None

    def next(self):
        tok = self.peek()
        if tok is not None:
            self.pos += 1
        return tok

    def at_end(self):
        return self.pos >= len(self.toks)

    def accept(self, *words):
        """Consume the word sequence if it is next (case-insensitive)."""
        for k, w in enumerate(words):
            tok = self.peek(k)
            if tok is None or not tok.is_word(w):
                return False
        self.pos += len(words)
        return True

    def accept_op(self, op):
        tok = self.peek()
        if tok is not None and tok.is_op(op):
            self.pos += 1
            return True
        return False

    def ident(self):
        tok = self.peek()
        if tok is None or tok.kind not in ("word", "qident"):
            return None
        self.pos += 1
        return ident_value(tok)

    def qualified_ident(self):
        parts = [self.ident()]
        if parts[0] is None:
            return None
        while self.accept_op("."):
            part = self.ident()
            if part is None:
                return None
            parts.append(part)
        return parts

    def rest_text(self):
        return " ".join(t.text for t in self.toks[self.pos:])


def leading_words(sig, n=4):
    """Uppercased leading words (stops at the first non-word), for dispatch."""
    words = []
    for tok in sig[:n]:
        if tok.kind != "word":
            break
        words.append(tok.upper)
    return words


# ---------------------------------------------------------------- classification

_CREATE_MODIFIERS = {"OR", "REPLACE", "LOCAL", "GLOBAL", "TEMP", "TEMPORARY", "VOLATILE", "TRANSIENT"}
_NATIVE_CREATE = {"TABLE", "VIEW", "SCHEMA", "SEQUENCE"}
_NATIVE_DROP = {"TABLE", "VIEW", "SCHEMA", "SEQUENCE"}


def object_kind(sig):
    """For CREATE/DROP/ALTER: the object keyword after modifiers, e.g. TABLE, WAREHOUSE, DYNAMIC."""
    for tok in sig[1:]:
        if tok.kind != "word":
            return None
        if tok.upper not in _CREATE_MODIFIERS:
            return tok.upper
    return None


def classify(sig):
    """Kind of a statement DuckDB runs natively, or None when it is not allowed natively.

    An allow-list on purpose: anything Snowflake has that the emulator does not implement must
    fail, and anything DuckDB-only (PRAGMA, ATTACH, COPY...) must not leak through.
    """
    if not sig:
        return None
    first = sig[0]
    if first.is_op("("):
        return "query"
    if first.kind != "word":
        return None
    w = first.upper
    if w in ("SELECT", "WITH", "VALUES"):
        return "query"
    if w in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        return w.lower()
    if w == "CREATE" and object_kind(sig) in _NATIVE_CREATE:
        return "ddl"
    if w == "DROP" and object_kind(sig) in _NATIVE_DROP:
        return "ddl"
    if w == "ALTER" and object_kind(sig) == "TABLE":
        return "ddl"
    if w in ("TRUNCATE", "COMMENT"):
        return "ddl"
    if w in ("BEGIN", "START", "COMMIT", "ROLLBACK"):
        return "transaction"
    return None


def needs_compute(kind, sig):
    """Statements that run on a warehouse in Snowflake (queries, DML, CREATE TABLE AS SELECT)."""
    if kind in ("query", "insert", "update", "delete", "merge"):
        return True
    if kind == "ddl" and sig[0].is_word("CREATE") and object_kind(sig) == "TABLE":
        return any(t.is_word("SELECT") for t in sig)
    return False


def write_target(sig):
    """The table an INSERT / UPDATE / DELETE / MERGE / TRUNCATE writes to, as name parts, or None."""
    ts = TokenStream(sig)
    if ts.accept("INSERT"):
        ts.accept("OVERWRITE")
        if not ts.accept("INTO"):
            return None  # INSERT ALL / FIRST (multi-table): not resolved here
    elif ts.accept("UPDATE"):
        pass
    elif ts.accept("DELETE"):
        if not ts.accept("FROM"):
            return None
    elif ts.accept("MERGE"):
        if not ts.accept("INTO"):
            return None
    elif ts.accept("TRUNCATE"):
        ts.accept("TABLE")
        ts.accept("IF", "EXISTS")
    else:
        return None
    return ts.qualified_ident()


def table_ddl_target(sig):
    """For DROP TABLE, ALTER TABLE and CREATE OR REPLACE TABLE: the table's name parts, else None."""
    if not sig or object_kind(sig) != "TABLE" or not sig[0].is_word("DROP", "ALTER", "CREATE"):
        return None
    ts = TokenStream(sig)
    ts.next()
    replace = ts.accept("OR", "REPLACE")
    if sig[0].is_word("CREATE") and not replace:
        return None
    while ts.peek() is not None and ts.peek().is_word(*_CREATE_MODIFIERS):
        ts.next()
    if not ts.accept("TABLE"):
        return None
    ts.accept("IF", "NOT", "EXISTS") or ts.accept("IF", "EXISTS")
    return ts.qualified_ident()


def merge_actions(sig):
    """Which actions a MERGE statement has (THEN INSERT / UPDATE / DELETE)."""
    actions = set()
    for a, b in zip(sig, sig[1:]):
        if a.is_word("THEN") and b.is_word("INSERT", "UPDATE", "DELETE"):
            actions.add(b.upper)
    return actions


def ddl_status(sig):
    """Snowflake's status text for a DDL statement."""
    ts = TokenStream(sig)
    verb = ts.next().upper
    if verb in ("CREATE", "DROP"):
        while ts.peek() is not None and ts.peek().is_word(*_CREATE_MODIFIERS):
            ts.next()
        kind = ts.next()
        ts.accept("IF", "NOT", "EXISTS") or ts.accept("IF", "EXISTS")
        name = ts.qualified_ident()
        if kind is not None and name:
            if verb == "CREATE":
                return f"{kind.upper.capitalize()} {name[-1]} successfully created."
            return f"{name[-1]} successfully dropped."
    return "Statement executed successfully."


# ---------------------------------------------------------------- SYSTEM$WAIT

_WAIT_UNITS = {"SECONDS": 1.0, "MILLISECONDS": 0.001}


@dataclass
class Wait:
    seconds: float
    text: str


def extract_waits(tokens):
    """Find SYSTEM$WAIT(n [, unit]) calls. Returns (rewritten SQL, waits), or (None, []) if none.

    The caller sleeps (interruptibly) for each wait, then runs the rewritten SQL in which each call
    became the literal it returns. A bare `SELECT SYSTEM$WAIT(..)` / `CALL SYSTEM$WAIT(..)` keeps
    Snowflake's column name.
    """
    waits, out, calls, i = [], [], [], 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.is_word("SYSTEM$WAIT"):
            out.append(tok.text)
            i += 1
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].kind in TRIVIA:
            j += 1
        close = j
        while close < len(tokens) and not tokens[close].is_op(")"):
            close += 1
        if j >= len(tokens) or not tokens[j].is_op("(") or close >= len(tokens):
            raise SnowflakeError.syntax(f"unexpected '{tok.text}'")
        args = [t for t in tokens[j + 1:close] if t.kind not in TRIVIA and not t.is_op(",")]
        if not args or args[0].kind != "number" or len(args) > 2:
            raise SnowflakeError("100035", "22023", "SYSTEM$WAIT expects (amount [, 'SECONDS'|'MILLISECONDS']).")
        unit = "SECONDS"
        if len(args) == 2:
            unit = string_value(args[1]).upper() if args[1].kind == "string" else ""
            if unit not in _WAIT_UNITS:
                raise SnowflakeError("100035", "22023", "Invalid time unit for SYSTEM$WAIT.")
        waits.append(Wait(float(args[0].text) * _WAIT_UNITS[unit], f"waited {args[0].text} {unit.lower()}"))
        calls.append("".join(t.text for t in tokens[i:close + 1]).upper())
        out.append(sql_literal(waits[-1].text))
        i = close + 1
    if not waits:
        return None, []
    sig = [t for t in significant(tokens) if t.kind != "semi"]
    bare = (len(waits) == 1 and len(sig) >= 2 and sig[0].is_word("SELECT", "CALL") and sig[1].is_word("SYSTEM$WAIT")
            and sig[-1].is_op(")") and sum(1 for t in sig if t.is_op(")")) == 1)
    if bare:
        alias = "SYSTEM$WAIT" if sig[0].is_word("CALL") else calls[0]
        return f"SELECT {sql_literal(waits[0].text)} AS {quote_ident(alias)}", waits
    return "".join(out), waits


# ---------------------------------------------------------------- DuckDB rewrite

def _type_positions(tokens):
    """Indices (into tokens) where a data type starts, in the few places types appear in DDL/casts."""
    positions = set()
    sig = [k for k, t in enumerate(tokens) if t.kind not in TRIVIA]
    words = [tokens[k].upper if tokens[k].kind == "word" else None for k in sig]
    is_alter_table = bool(sig) and words[0] == "ALTER" and len(words) > 1 and words[1] == "TABLE"
    coldef_open = _column_list_start([tokens[k] for k in sig])  # index into sig, or None
    added_types = _added_column_types([tokens[k] for k in sig]) if is_alter_table else set()
    coldef_depth = None
    stack = []  # (function word before '(' or None)
    for j, k in enumerate(sig):
        tok = tokens[k]
        prev = tokens[sig[j - 1]] if j > 0 else None
        prev2 = tokens[sig[j - 2]] if j > 1 else None
        if tok.is_op("("):
            stack.append(prev.upper if prev is not None and prev.kind == "word" else None)
            if j == coldef_open:
                coldef_depth = len(stack)
            continue
        if tok.is_op(")"):
            if stack:
                stack.pop()
            continue
        if tok.kind != "word" or prev is None:
            continue
        if prev.is_op("::"):
            positions.add(k)
        elif prev.is_word("AS") and stack and stack[-1] in ("CAST", "TRY_CAST"):
            positions.add(k)
        elif coldef_depth is not None and coldef_depth == len(stack) and prev.kind in ("word", "qident") \
                and prev2 is not None and (prev2.is_op("(") or prev2.is_op(",")):
            positions.add(k)
        elif is_alter_table and not stack and (prev.is_word("TYPE") or j in added_types):
            positions.add(k)
    return positions


def _added_column_types(sig):
    """In ALTER TABLE .. ADD [COLUMN] [IF NOT EXISTS] name TYPE: the indexes of TYPE in sig."""
    found = set()
    for j, tok in enumerate(sig):
        if not tok.is_word("ADD"):
            continue
        k = j + 1
        if k < len(sig) and sig[k].is_word("COLUMN"):
            k += 1
        if k + 2 < len(sig) and sig[k].is_word("IF") and sig[k + 1].is_word("NOT") and sig[k + 2].is_word("EXISTS"):
            k += 3
        if k + 1 < len(sig):
            found.add(k + 1)
    return found


def _column_list_start(sig):
    """In CREATE TABLE [IF NOT EXISTS] name (...): the index of that '(' in sig, else None."""
    if not sig or not sig[0].is_word("CREATE") or object_kind(sig) != "TABLE":
        return None
    ts = TokenStream(sig)
    while not ts.at_end() and not ts.peek().is_word("TABLE"):
        ts.next()
    ts.accept("TABLE")
    ts.accept("IF", "NOT", "EXISTS")
    if not ts.qualified_ident():
        return None
    return ts.pos if ts.peek() is not None and ts.peek().is_op("(") else None


def _type_args(tokens, i):
    """Parse an optional '(...)' after tokens[i]. Returns (args as text list, index after)."""
    j = i + 1
    while j < len(tokens) and tokens[j].kind == "ws":
        j += 1
    if j >= len(tokens) or not tokens[j].is_op("("):
        return None, i + 1
    depth, k, args, cur = 0, j, [], []
    while k < len(tokens):
        t = tokens[k]
        if t.is_op("("):
            depth += 1
            if depth == 1:
                k += 1
                continue
        elif t.is_op(")"):
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and t.is_op(","):
            args.append("".join(x.text for x in cur).strip())
            cur = []
        else:
            cur.append(t)
        k += 1
    args.append("".join(x.text for x in cur).strip())
    return [a for a in args if a], k + 1


def _translate_type(tokens, i):
    """Snowflake type name at tokens[i] -> (DuckDB spelling or None to keep, index after)."""
    name = tokens[i].upper
    args, after = _type_args(tokens, i)
    if name in ("NUMBER", "DECIMAL", "NUMERIC", "DEC"):
        precision = args[0] if args else "38"
        scale = args[1] if args and len(args) > 1 else "0"
        return f"DECIMAL({precision},{scale})", after
    if name in ("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"):
        return "BIGINT", i + 1
    if name in ("FLOAT", "FLOAT4", "FLOAT8", "REAL"):
        return "DOUBLE", i + 1
    if name in ("VARCHAR", "CHAR", "CHARACTER", "STRING", "TEXT", "NCHAR", "NVARCHAR", "NVARCHAR2"):
        return "VARCHAR", after
    if name in ("BINARY", "VARBINARY"):
        return "BLOB", after
    if name in ("TIMESTAMP_NTZ", "TIMESTAMPNTZ", "DATETIME", "TIMESTAMP"):
        if not args:
            return ("TIMESTAMP" if name != "TIMESTAMP" else None), after
        p = int(args[0]) if args[0].isdigit() else 9
        return ("TIMESTAMP_S" if p == 0 else "TIMESTAMP_MS" if p <= 3 else
                "TIMESTAMP" if p <= 6 else "TIMESTAMP_NS"), after
    if name in ("TIMESTAMP_LTZ", "TIMESTAMPLTZ", "TIMESTAMP_TZ", "TIMESTAMPTZ"):
        return "TIMESTAMPTZ", after
    if name == "TIME":
        return "TIME", after
    if name in ("VARIANT", "OBJECT", "ARRAY"):
        return "JSON", after
    return None, i + 1


def to_duckdb(text):
    """Rewrite one Snowflake statement into DuckDB SQL (lexical translation only)."""
    tokens = tokenize(text)
    types = _type_positions(tokens)
    sig = significant(tokens)
    drop_transient = len(sig) > 2 and sig[0].is_word("CREATE")
    out, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if i in types:
            replacement, after = _translate_type(tokens, i)
            if replacement is not None:
                out.append(replacement)
                i = after
                continue
        if tok.kind == "comment" and tok.text.startswith("//"):
            out.append("--" + tok.text[2:])
        elif tok.kind == "string" and "\\" in tok.text:
            out.append(sql_literal(string_value(tok)))
        elif tok.kind == "dollar":
            out.append(sql_literal(string_value(tok)))
        elif tok.kind == "param" and tok.text.startswith(":"):
            out.append("$" + tok.text[1:])
        elif drop_transient and tok.is_word("TRANSIENT"):
            pass
        elif tok.kind == "word":
            # Snowflake folds unquoted identifiers to upper case, so DuckDB's catalog holds the
            # names Snowflake would: `create table orders` makes ORDERS, and `"orders"` stays a
            # different name (identifiers.py checks that). Keywords and functions do not care.
            out.append(tok.text.upper())
        else:
            out.append(tok.text)
        i += 1
    return "".join(out)


def quoted_identifiers(text):
    """Names written as quoted identifiers: their case is kept in result column names."""
    return {ident_value(t) for t in tokenize(text) if t.kind == "qident"}
