"""The Snowflake SQL API v2: POST /api/v2/statements, GET /api/v2/statements/<h>, POST .../<h>/cancel."""

import json
import re
import threading
import time

from .auth import AuthError, authenticate, loggable_token_type, loggable_wif_form
from .bindings import validate as validate_bindings
from .faults import status_response
from .httpmsg import Response, error

BASE = "/api/v2/statements"
MAX_TIMEOUT = 604800
CANCEL_SETTLE_SECONDS = 5.0   # cancel answers once the statement has stopped (or after this)
_HANDLE_PATH = re.compile(r"^/api/v2/statements/([^/]+)(/cancel)?/?$")
_origin = threading.local()     # scheme://host:port of the request being answered (one thread each)


# ---------------------------------------------------------------- entry point

def handle(state, req):
    _origin.value = "http://" + (req.headers.get("Host") or "127.0.0.1")
    kind, handle_id = _route(req)
    if kind is None:
        return error(405 if handle_id == "method" else 404, "390404", "Not found")
    request_id = req.query.get("requestId")
    resp, after, hold = None, None, 0
    fault = state.faults.take(kind, _statement_text(state, req, kind, handle_id))
    if fault is not None:
        if fault["action"] == "slow":
            hold = fault["seconds"]
        elif fault["action"] == "status":
            resp = _fault_response(fault)
        elif fault["action"] == "drop":
            resp = Response(0, drop=True)
        elif fault["action"] == "delay":
            time.sleep(fault["seconds"])
        else:
            after = fault
    if resp is None:
        if kind == "submit":
            resp = _submit(state, req, hold)
        elif kind == "poll":
            resp = _poll(state, req, handle_id)
        else:
            resp = _cancel(state, req, handle_id)
    if after is not None:
        # The statement ran for real; the client only sees a failure (tests requestId + retry=true).
        resp = Response(0, drop=True) if after["action"] == "drop_after_execute" else _fault_response(after)
    if not resp.drop and kind in ("submit", "poll", "cancel"):
        state.spec.check(kind, req, resp.status, resp.body)
    code = resp.body.get("code") if resp.status >= 400 and isinstance(resp.body, dict) else None
    state.requests.add(req.method, req.path, req.raw_query, None if resp.drop else resp.status, request_id,
                       token_type=loggable_token_type(req.headers), principal=req.principal, code=code,
                       wif_form=loggable_wif_form(req.headers))
    return resp


def _route(req):
    if req.path.rstrip("/") == BASE:
        return ("submit", None) if req.method == "POST" else (None, "method")
    m = _HANDLE_PATH.match(req.path)
    if not m:
        return None, None
    if m.group(2):
        return ("cancel", m.group(1)) if req.method == "POST" else (None, "method")
    return ("poll", m.group(1)) if req.method == "GET" else (None, "method")


def _statement_text(state, req, kind, handle_id):
    """What `statement_contains` of a fault is matched against."""
    if kind == "submit":
        try:
            body = req.json()
            return body.get("statement") if isinstance(body, dict) else None
        except ValueError:
            return None
    stmt = state.registry.get(handle_id)
    return stmt.text if stmt else None


def _fault_response(fault):
    status, body, content_type = status_response(fault["status"])
    return Response(status, body, content_type)


# ---------------------------------------------------------------- checks shared by all calls

def _check_headers(req, json_body):
    if not (req.headers.get("User-Agent") or "").strip():
        return error(400, "390142", "The User-Agent header is required.")
    if json_body:
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return error(415, "390142", f"Unsupported Content-Type '{content_type}'; use application/json.")
    accept = (req.headers.get("Accept") or "").lower()
    if accept and not any(a.split(";")[0].strip() in ("application/json", "*/*", "application/*")
                          for a in accept.split(",")):
        return error(406, "390142", f"Unsupported Accept '{accept}'; use application/json.")
    return None


def _authenticate(state, req):
    """(principal, None) or (None, 401 response)."""
    try:
        req.principal = authenticate(req.headers, state)
    except AuthError as e:
        return None, Response(401, e.body())
    return req.principal, None


def _query_bool(req, name, default):
    value = req.query.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"query parameter '{name}' must be true or false")


def _bad_payload(detail="Incoming request does not contain a valid payload."):
    return error(400, "390142", detail)


# ---------------------------------------------------------------- POST /api/v2/statements

def _submit(state, req, hold=0):
    bad = _check_headers(req, json_body=True)
    if bad:
        return bad
    principal, denied = _authenticate(state, req)
    if denied:
        return denied
    try:
        async_ = _query_bool(req, "async", False)
        nullable = _query_bool(req, "nullable", True)
        retry = _query_bool(req, "retry", False)
    except ValueError as e:
        return _bad_payload(str(e))
    try:
        body = req.json()
    except ValueError:
        return _bad_payload()
    if not isinstance(body, dict) or not isinstance(body.get("statement"), str):
        return _bad_payload()
    parsed = _parse_body(body)
    if isinstance(parsed, Response):
        return parsed
    request_id = req.query.get("requestId")

    stmt = None
    if retry and request_id:
        known = state.registry.by_request_id(request_id)
        if known is not None and (known.account, known.user) == (principal.account, principal.user):
            stmt = known  # already ran for this requestId: report it, never run it again
    if stmt is None:
        stmt = state.registry.submit(principal=principal, text=body["statement"], request_id=request_id,
                                     role=body.get("role") or principal.default_role or "PUBLIC",
                                     nullable=nullable, hold_seconds=hold, **parsed)
    if async_:
        return _running(stmt)
    stmt.done.wait(state.config.get("sync_wait_seconds"))
    return _statement_response(stmt, 0, from_submit=True)


def _parse_body(body):
    """Validated execution arguments from the request body, or a 400 Response."""
    for key in ("database", "schema", "warehouse", "role"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return _bad_payload(f"'{key}' must be a string")
    timeout = body.get("timeout") or 0
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
        return _bad_payload("'timeout' must be a non-negative number of seconds")
    problem = validate_bindings(body.get("bindings"))
    if problem:
        return _bad_payload(problem)
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        return _bad_payload("'parameters' must be an object")
    params = {str(k).upper(): v for k, v in params.items()}
    try:
        count = int(params.get("MULTI_STATEMENT_COUNT", 1))
        if count < 0:
            raise ValueError
    except (TypeError, ValueError):
        return _bad_payload("MULTI_STATEMENT_COUNT must be a non-negative integer")
    return dict(database=body.get("database") or None, schema=body.get("schema") or None,
                warehouse=body.get("warehouse") or None, parameters=params, bindings=body.get("bindings"),
                timeout=min(timeout, MAX_TIMEOUT), expected_count=None if count == 0 else count)


# ---------------------------------------------------------------- GET /api/v2/statements/<h>

def _find(state, req, handle_id):
    """(statement, None) or (None, error response) after header and auth checks."""
    principal, denied = _authenticate(state, req)
    if denied:
        return None, denied
    stmt = state.registry.get(handle_id)
    if stmt is None or (stmt.account, stmt.user) != (principal.account, principal.user):
        return None, error(404, "390404", "statement not found")
    return stmt, None


def _poll(state, req, handle_id):
    bad = _check_headers(req, json_body=False)
    if bad:
        return bad
    stmt, bad = _find(state, req, handle_id)
    if bad:
        return bad
    try:
        partition = int(req.query.get("partition") or 0)
        if partition < 0:
            raise ValueError
    except ValueError:
        return _bad_payload("'partition' must be a non-negative integer")
    return _statement_response(stmt, partition)


# ---------------------------------------------------------------- POST /api/v2/statements/<h>/cancel

def _cancel(state, req, handle_id):
    bad = _check_headers(req, json_body=False)
    if bad:
        return bad
    stmt, bad = _find(state, req, handle_id)
    if bad:
        return bad
    stmt.request_cancel("cancel")
    stmt.done.wait(CANCEL_SETTLE_SECONDS)
    return Response(200, {"code": "000604", "sqlState": "57014", "message": "successfully canceled",
                          "statementHandle": stmt.handle, "statementStatusUrl": _status_url(stmt)})


# ---------------------------------------------------------------- statement bodies

def _status_url(stmt):
    # The spec types statementStatusUrl as `format: uri`: an absolute URL, on the host asked.
    return f"{getattr(_origin, 'value', 'http://127.0.0.1')}{BASE}/{stmt.handle}"


def _running(stmt):
    return Response(202, {"code": "333334", "message": "Asynchronous execution in progress. Use provided query id "
                                                       "to perform query monitoring and management.",
                          "statementHandle": stmt.handle, "statementStatusUrl": _status_url(stmt)})


def _statement_response(stmt, partition, from_submit=False):
    if not stmt.done.is_set():
        return _running(stmt)
    if stmt.status != "succeeded":
        body = {"code": stmt.error.code, "sqlState": stmt.error.sql_state, "message": stmt.error.message,
                "statementHandle": stmt.handle, "statementStatusUrl": _status_url(stmt),
                "createdOn": stmt.created_on}
        # A synchronous submit still waiting when the timeout fires answers 408; later polls answer 422.
        return Response(408 if from_submit and stmt.timed_out else 422, body)
    parts = stmt.partitions
    if partition >= len(parts):
        return error(400, "390142", f"Invalid partition number {partition}; the result has {len(parts)} partition(s).")
    headers = {"Link": _link_header(stmt, partition)}
    if partition > 0:
        return Response(200, {"data": parts[partition]}, headers=headers)
    body = {
        "resultSetMetaData": {
            "numRows": stmt.num_rows, "format": "jsonv2",
            "partitionInfo": [{"rowCount": len(p), "uncompressedSize": len(json.dumps(p))} for p in parts],
            "rowType": stmt.row_type,
        },
        "data": parts[0], "code": "090001", "sqlState": "00000",
        "statementStatusUrl": _status_url(stmt), "requestId": stmt.request_id,
        "statementHandle": stmt.handle, "message": "Statement executed successfully.",
        "createdOn": stmt.created_on,
    }
    if stmt.stats is not None:
        body["stats"] = stmt.stats
    if stmt.child_handles is not None:
        body["statementHandles"] = stmt.child_handles
    return Response(200, body, headers=headers)


def _link_header(stmt, partition):
    last = len(stmt.partitions) - 1
    links = {"first": 0, "last": last}
    if partition < last:
        links["next"] = partition + 1
    if partition > 0:
        links["prev"] = partition - 1
    return ",".join(f'<{BASE}/{stmt.handle}?partition={n}>; rel="{rel}"' for rel, n in links.items())
