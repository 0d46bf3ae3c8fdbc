"""SQL API bind variables ({"1": {"type": "FIXED", "value": "1"}}) -> DuckDB parameter values.

Values arrive as strings (or null). Date/time types accept ISO text, and also the numeric forms
Snowflake's drivers send (DATE as epoch milliseconds, TIME/TIMESTAMP as nanoseconds).
"""

import datetime
from decimal import Decimal, InvalidOperation

from .errors import SnowflakeError

_EPOCH = datetime.datetime(1970, 1, 1)


def _is_int(text):
    return text.lstrip("-").isdigit()


def _fixed(v):
    return int(v) if _is_int(v) else Decimal(v)


def _boolean(v):
    low = v.strip().lower()
    if low in ("true", "t", "1", "yes", "y", "on"):
        return True
    if low in ("false", "f", "0", "no", "n", "off"):
        return False
    raise ValueError(v)


def _date(v):
    if _is_int(v):
        return (_EPOCH + datetime.timedelta(milliseconds=int(v))).date()
    return datetime.date.fromisoformat(v.strip()[:10])


def _time(v):
    if _is_int(v):
        return (_EPOCH + datetime.timedelta(microseconds=int(v) // 1000)).time()
    return datetime.time.fromisoformat(v.strip())


def _timestamp_ntz(v):
    if _is_int(v):
        return _EPOCH + datetime.timedelta(microseconds=int(v) // 1000)
    return datetime.datetime.fromisoformat(v.strip().replace("T", " ")).replace(tzinfo=None)


def _timestamp_tz(v):
    # Left as text: DuckDB casts it where a TIMESTAMPTZ is expected (Python tz objects need pytz).
    head = v.strip().split(" ")[0]
    if _is_int(head):
        return (_EPOCH + datetime.timedelta(microseconds=int(head) // 1000)).isoformat(sep=" ") + "+00:00"
    return v


# Only the binding types the SQL API documents (Snowflake, "Submitting a request to execute SQL
# statements", Using bind variables in a statement: FIXED, REAL, TEXT, BINARY, BOOLEAN, DATE, TIME,
# TIMESTAMP_LTZ, TIMESTAMP_NTZ, TIMESTAMP_TZ; the spec's own example uses FIXED and TEXT). Names such
# as VARCHAR, NUMBER or VARIANT are SQL types, not binding types: refused like any unknown type.
_CONVERTERS = {
    "FIXED": _fixed,
    "REAL": float,
    "TEXT": str,
    "BOOLEAN": _boolean,
    "DATE": _date, "TIME": _time,
    "TIMESTAMP_NTZ": _timestamp_ntz,
    "TIMESTAMP_LTZ": _timestamp_tz, "TIMESTAMP_TZ": _timestamp_tz,
    "BINARY": bytes.fromhex,
}


def validate(bindings):
    """Shape check done when the request arrives (400 on failure). Returns an error text or None."""
    if bindings is None:
        return None
    if not isinstance(bindings, dict):
        return "bindings must be an object"
    for key, b in bindings.items():
        if not str(key).isdigit() or int(key) < 1:
            return f"binding name '{key}' must be a positive number"
        if not isinstance(b, dict) or not isinstance(b.get("type"), str):
            return f"binding '{key}' must be an object with a 'type'"
    return None


def convert(bindings):
    """Ordered DuckDB parameter list, or raise a SnowflakeError (422) for a bad type or value."""
    params = []
    for key in sorted(bindings or {}, key=int):
        b = bindings[key]
        btype = b["type"]         # as documented: upper case
        conv = _CONVERTERS.get(btype)
        if conv is None:
            raise SnowflakeError("002048", "42601", f"SQL compilation error:\nUnsupported bind type '{b['type']}'.")
        value = b.get("value")
        if value is None:
            params.append(None)
            continue
        try:
            params.append(conv(str(value)))
        except (ValueError, InvalidOperation, OverflowError):
            raise SnowflakeError("100038", "22018", f"Bind variable {key}: value '{value}' is not a valid {btype}.")
    return params
