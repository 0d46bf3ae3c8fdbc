"""Result sets: Snowflake column metadata (rowType) and value encodings.

The SQL API (format jsonv2) sends every value as a string or null, in Snowflake's internal forms:
DATE as days since the epoch, TIMESTAMP_NTZ as "seconds.nanoseconds", TIMESTAMP_TZ with
"1440 + offset minutes" appended, TIME as seconds since midnight, BINARY as hex. The admin API
instead gets plain JSON values. Timestamps are read from DuckDB as epoch nanoseconds through a
SQL projection (exact, and Python's datetime would need pytz and lose nanoseconds).
"""

import datetime
import json
import math
from decimal import Decimal

_EPOCH_DATE = datetime.date(1970, 1, 1)
_EPOCH = datetime.datetime(1970, 1, 1)
_TEXT_LEN = 16777216
_BINARY_LEN = 8388608

_INTEGER_IDS = {"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
                "ubigint", "uhugeint", "bignum", "varint"}
_TIMESTAMP_IDS = {"timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns"}


def _ns_seconds(ns):
    """Exact decimal seconds with 9 fractional digits: 1700000000123456000 -> '1700000000.123456000'."""
    sign = "-" if ns < 0 else ""
    secs, frac = divmod(abs(ns), 1_000_000_000)
    return f"{sign}{secs}.{frac:09d}"


def _ns_iso(ns, offset_minutes=None):
    secs, frac = divmod(ns, 1_000_000_000)
    local = _EPOCH + datetime.timedelta(seconds=secs + (offset_minutes or 0) * 60)
    text = f"{local:%Y-%m-%d %H:%M:%S}.{frac:09d}"
    if offset_minutes is not None:
        sign = "+" if offset_minutes >= 0 else "-"
        text += f" {sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    return text


def _real(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _json_text(text):
    # Snowflake prints semi-structured values as indented JSON.
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _time_seconds(t):
    secs = t.hour * 3600 + t.minute * 60 + t.second
    return f"{secs}.{t.microsecond * 1000:09d}"


class Column:
    """One result column: its Snowflake metadata and how to encode its raw values."""

    def __init__(self, name, sf_type, precision=None, scale=None, length=None, byte_length=None,
                 nullable=True, projection="{}"):
        self.name = name
        self.sf_type = sf_type
        self.precision = precision
        self.scale = scale
        self.length = length
        self.byte_length = byte_length
        self.nullable = nullable
        self.projection = projection  # SQL applied to the DuckDB column ("{}" = as is)

    # ---- factories
    @classmethod
    def text(cls, name, nullable=True):
        return cls(name, "text", length=_TEXT_LEN, byte_length=_TEXT_LEN, nullable=nullable)

    @classmethod
    def fixed(cls, name, precision=38, scale=0, nullable=True):
        return cls(name, "fixed", precision=precision, scale=scale, nullable=nullable)

    @classmethod
    def timestamp_ltz(cls, name):
        return cls(name, "timestamp_ltz", precision=0, scale=9)

    @classmethod
    def from_duckdb(cls, name, dtype):
        tid = dtype.id
        spelled = str(dtype).upper()
        if tid == "boolean":
            return cls(name, "boolean")
        if tid in _INTEGER_IDS:
            return cls.fixed(name)
        if tid == "decimal":
            params = dict(dtype.children)
            return cls.fixed(name, params["precision"], params["scale"])
        if tid in ("float", "double"):
            return cls(name, "real")
        if tid == "date":
            return cls(name, "date")
        if tid in ("time", "time_ns"):
            return cls(name, "time", precision=0, scale=9)
        if tid in _TIMESTAMP_IDS:
            return cls(name, "timestamp_ntz", precision=0, scale=9, projection="epoch_ns({})")
        if tid == "timestamp with time zone":
            return cls(name, "timestamp_tz", precision=0, scale=9,
                       projection="[epoch_ns({0}), (epoch_ns({0}::TIMESTAMP) - epoch_ns({0})) // 60000000000]")
        if tid == "blob":
            return cls(name, "binary", length=_BINARY_LEN, byte_length=_BINARY_LEN)
        if tid in ("list", "array"):
            return cls(name, "array", length=_TEXT_LEN, byte_length=_TEXT_LEN, projection="to_json({})::VARCHAR")
        if tid in ("struct", "map"):
            return cls(name, "object", length=_TEXT_LEN, byte_length=_TEXT_LEN, projection="to_json({})::VARCHAR")
        if spelled == "JSON" or tid in ("variant", "union"):
            return cls(name, "variant", length=_TEXT_LEN, byte_length=_TEXT_LEN, projection="to_json({})::VARCHAR")
        if tid in ("interval", "time with time zone"):
            # No Snowflake equivalent: show DuckDB's text form rather than fail.
            return cls(name, "text", length=_TEXT_LEN, byte_length=_TEXT_LEN, projection="{}::VARCHAR")
        return cls.text(name)

    # ---- metadata
    def row_type(self, database, schema):
        # The SQL API spec (snowflakedb/snowflake-rest-api-specs, specifications/sqlapi.yaml,
        # ResultSet.resultSetMetaData.rowType) types length, precision and scale as integers with
        # minimum 0, its example giving 0 where a type has none: never null here.
        def number(v):
            return 0 if v is None else v
        return {
            "name": self.name, "database": database or "", "schema": schema or "", "table": "",
            "type": self.sf_type, "precision": number(self.precision), "scale": number(self.scale),
            "length": number(self.length), "byteLength": number(self.byte_length), "nullable": self.nullable,
            "collation": None,
        }

    # ---- encodings
    def to_api(self, v):
        if v is None:
            return None
        t = self.sf_type
        if t == "fixed":
            if isinstance(v, Decimal):
                return f"{v:.{self.scale}f}"
            return str(int(v))
        if t == "real":
            return _real(float(v))
        if t == "boolean":
            return "true" if v else "false"
        if t == "date":
            return str((v - _EPOCH_DATE).days)
        if t == "time":
            return _time_seconds(v)
        if t in ("timestamp_ntz", "timestamp_ltz"):
            return _ns_seconds(v)
        if t == "timestamp_tz":
            if v[0] is None:
                return None
            return f"{_ns_seconds(v[0])} {1440 + v[1]}"
        if t == "binary":
            return bytes(v).hex().upper()
        if t in ("array", "object", "variant"):
            return _json_text(v)
        return str(v)

    def to_json(self, v):
        if v is None:
            return None
        t = self.sf_type
        if t == "fixed":
            if isinstance(v, Decimal):
                return int(v) if self.scale == 0 else float(v)
            return int(v)
        if t == "real":
            f = float(v)
            return f if math.isfinite(f) else _real(f)
        if t == "boolean":
            return bool(v)
        if t in ("date", "time"):
            return v.isoformat()
        if t in ("timestamp_ntz", "timestamp_ltz"):
            return _ns_iso(v)
        if t == "timestamp_tz":
            return None if v[0] is None else _ns_iso(v[0], v[1])
        if t == "binary":
            return bytes(v).hex().upper()
        if t in ("array", "object", "variant"):
            try:
                return json.loads(v)
            except ValueError:
                return v
        return str(v)


class Result:
    """Columns plus raw rows of one statement, and DML stats when it changed rows."""

    def __init__(self, columns, rows, stats=None):
        self.columns = columns
        self.rows = rows
        self.stats = stats

    @classmethod
    def status(cls, message):
        # DDL and emulated commands answer one row in a column named "status", like Snowflake.
        return cls([Column.text("status")], [(message,)])

    def api_rows(self, nullable=True):
        rows = [[c.to_api(v) for c, v in zip(self.columns, row)] for row in self.rows]
        if not nullable:
            rows = [["null" if v is None else v for v in row] for row in rows]
        return rows

    def json_rows(self):
        return [[c.to_json(v) for c, v in zip(self.columns, row)] for row in self.rows]

    def row_type(self, database, schema):
        return [c.row_type(database, schema) for c in self.columns]
