"""Checks each SQL API exchange against the official spec's schemas (tests/emulator/sqlapi_schema.json,
transcribed from snowflakedb/snowflake-rest-api-specs, specifications/sqlapi.yaml): the request body
a client sends to POST /api/v2/statements, the X-Snowflake-Authorization-Token-Type it names, and the
answer the emulator gives (by status, the schema the spec names for it). Violations are recorded,
never enforced, and read from GET /_emulator/spec so a test can assert that a whole run had none.
Needs the jsonschema package (tests/requirements.txt); without it nothing is checked and the list
says so.
"""

import json
import os
import threading
from urllib.parse import urlsplit

try:
    import jsonschema
except ImportError:  # pragma: no cover - the project venv has it
    jsonschema = None

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sqlapi_schema.json")
# The token types the spec and Snowflake's SQL API authentication page name.
TOKEN_TYPES = ("KEYPAIR_JWT", "OAUTH", "PROGRAMMATIC_ACCESS_TOKEN", "WORKLOAD_IDENTITY_FEDERATION")
MAX_VIOLATIONS = 200

# (operation, status) -> schema name, as the spec's `responses` say.
_ANSWERS = {
    ("submit", 200): "ResultSet", ("submit", 202): "QueryStatus", ("submit", 408): "QueryStatus",
    ("submit", 422): "QueryFailureStatus",
    ("poll", 200): "ResultSet", ("poll", 202): "QueryStatus", ("poll", 422): "QueryFailureStatus",
    ("cancel", 200): "CancelStatus", ("cancel", 422): "CancelStatus",
}

_validators = None
_validators_lock = threading.Lock()


def _validator(name):
    global _validators
    with _validators_lock:
        if _validators is None:
            with open(SCHEMA_FILE) as f:
                document = json.load(f)
            checker = jsonschema.FormatChecker()

            # jsonschema checks `uri` only with an optional package; RFC 3986's absolute URI is
            # scheme ":" hier-part, so a bare path ("/api/v2/statements/..") is not one.
            @checker.checks("uri", raises=ValueError)
            def _uri(value):
                if not isinstance(value, str):
                    return True
                parts = urlsplit(value)
                return bool(parts.scheme) and bool(parts.netloc or parts.path)
            _validators = {
                n: jsonschema.Draft202012Validator({"$ref": f"#/$defs/{n}", "$defs": document["$defs"]},
                                                   format_checker=checker)
                for n in document["$defs"]
            }
    return _validators[name]


def problems(name, body):
    """Messages for each way `body` breaks schema `name` (empty when it conforms)."""
    if jsonschema is None:
        return ["jsonschema is not installed: nothing was checked"]
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}"
            for e in _validator(name).iter_errors(body)]


class SpecLog:
    """Exchanges that broke the spec: which side, the operation, what was wrong (no bodies, no tokens)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._violations = []
        self.checked = 0

    def check(self, kind, req, status, body):
        found = []
        if kind == "submit":
            try:
                request = req.json()
            except ValueError:
                request = None
            if request is not None:
                found += [("request", p) for p in problems("StatementRequest", request)]
        token_type = req.headers.get("X-Snowflake-Authorization-Token-Type")
        if token_type is not None and token_type.strip().upper() not in TOKEN_TYPES:
            found.append(("request", "X-Snowflake-Authorization-Token-Type is not a documented token type"))
        schema = _ANSWERS.get((kind, status))
        if schema is not None and isinstance(body, dict) and not (kind in ("submit", "poll") and status == 200
                                                                  and "resultSetMetaData" not in body):
            found += [("answer", p) for p in problems(schema, body)]
        with self._lock:
            self.checked += 1
            for side, problem in found:
                self._violations.append({"side": side, "operation": kind, "status": status, "problem": problem})
            del self._violations[:-MAX_VIOLATIONS]

    def report(self):
        with self._lock:
            return {"checked": self.checked, "violations": list(self._violations)}
