"""Injected failures for SQL API calls (429/5xx answers, dropped connections, delays, and failures
after the statement really ran), so clients' retry and de-duplication logic can be tested."""

import threading

KINDS = ("submit", "poll", "cancel", "any")
STATUS_ACTIONS = ("status", "status_after_execute")
# "slow": the statement itself takes `seconds` longer (cancellable), e.g. a long MERGE.
ACTIONS = ("status", "drop", "delay", "slow", "status_after_execute", "drop_after_execute")
AFTER_EXECUTE = ("status_after_execute", "drop_after_execute")
STATUSES = (401, 408, 429, 500, 502, 503, 504)


def status_response(status):
    """(status, body, content type) shaped like what Snowflake or its load balancer sends."""
    if status == 429:
        return status, {"code": "390505", "message": "Too many requests. Please retry after some time."}, None
    if status == 401:
        return status, {"code": "390144", "message": "JWT token is invalid."}, None
    if status == 408:
        return status, {"code": "000630", "sqlState": "57014",
                        "message": "Statement reached its statement or warehouse timeout and was canceled."}, None
    if status == 500:
        return status, {"code": "390500", "message": "Internal error processing the request."}, None
    # 502/503/504 come from the load balancer in front of Snowflake: plain text, not JSON.
    text = {502: "502 Bad Gateway", 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}[status]
    return status, text, "text/plain"


def _validate(f):
    if not isinstance(f, dict):
        raise ValueError("a fault must be an object")
    f = dict(f)
    f.setdefault("on", "any")
    f.setdefault("times", 1)
    if f["on"] not in KINDS:
        raise ValueError(f"'on' must be one of {KINDS}")
    if f.get("action") not in ACTIONS:
        raise ValueError(f"'action' must be one of {ACTIONS}")
    if not isinstance(f["times"], int) or isinstance(f["times"], bool) or f["times"] < 1:
        raise ValueError("'times' must be a positive integer")
    if f["action"] in STATUS_ACTIONS and f.get("status") not in STATUSES:
        raise ValueError(f"'status' must be one of {STATUSES}")
    if f["action"] in ("delay", "slow"):
        if not isinstance(f.get("seconds"), (int, float)) or f["seconds"] < 0:
            raise ValueError("'seconds' must be a non-negative number")
    if f["action"] in AFTER_EXECUTE + ("slow",) and f["on"] not in ("submit", "any"):
        raise ValueError(f"'{f['action']}' only applies to submit")
    if f.get("statement_contains") is not None and not isinstance(f["statement_contains"], str):
        raise ValueError("'statement_contains' must be a string")
    return f


class FaultQueue:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, faults):
        if not isinstance(faults, list):
            raise ValueError("'faults' must be a list")
        checked = [_validate(f) for f in faults]
        with self._lock:
            self._faults.extend(checked)

    def clear(self):
        with self._lock:
            self._faults.clear()

    def list(self):
        with self._lock:
            return [dict(f) for f in self._faults]

    def take(self, kind, statement_text):
        """The first matching fault (its `times` decremented), or None."""
        with self._lock:
            for f in self._faults:
                if f["on"] not in (kind, "any"):
                    continue
                if f["action"] in AFTER_EXECUTE and kind != "submit":
                    continue
                needle = f.get("statement_contains")
                if needle is not None and (statement_text is None or needle not in statement_text):
                    continue
                f["times"] -= 1
                if f["times"] <= 0:
                    self._faults.remove(f)
                return dict(f)
        return None
