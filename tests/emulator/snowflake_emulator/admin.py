"""Admin API under /_emulator/ (no auth): users, fixtures SQL, config, faults, logs, warehouses,
Iceberg tables and snapshots, dynamic tables, tasks, reset."""

import duckdb

from .errors import Canceled, SnowflakeError
from .httpmsg import Response

ADMIN_USER = "EMULATOR_ADMIN"
ADMIN_ROLE = "ACCOUNTADMIN"


def _bad(message, **extra):
    return Response(400, {"error": message, **extra})


def handle(emulator, req):
    state = emulator.state
    route = (req.method, req.path.rstrip("/"))
    body = None
    if req.method == "POST" and req.body:
        try:
            body = req.json()
        except ValueError:
            return _bad("body is not valid JSON")
    body = body if body is not None else {}

    try:
        if route == ("GET", "/_emulator/health"):
            return Response(200, {"ok": True})
        if route == ("POST", "/_emulator/users"):
            return _register_user(state, body)
        if route == ("GET", "/_emulator/users"):
            return Response(200, {"users": state.users.list()})
        if route == ("POST", "/_emulator/sql"):
            return _sql(state, body)
        if route == ("POST", "/_emulator/config"):
            return Response(200, state.config.update(body))
        if route == ("GET", "/_emulator/config"):
            return Response(200, state.config.all())
        if route == ("POST", "/_emulator/faults"):
            state.faults.add(body.get("faults") if isinstance(body, dict) else None)
            return Response(200, {"faults": state.faults.list()})
        if route == ("GET", "/_emulator/faults"):
            return Response(200, {"faults": state.faults.list()})
        if route == ("DELETE", "/_emulator/faults"):
            state.faults.clear()
            return Response(200, {"faults": []})
        if route == ("GET", "/_emulator/log"):
            return Response(200, {"executions": state.registry.executions(), "requests": state.requests.list()})
        if route == ("GET", "/_emulator/warehouses"):
            return Response(200, {"warehouses": state.warehouses.snapshot()})
        if route == ("POST", "/_emulator/iceberg/tables"):
            return Response(200, state.engine.iceberg.register_table(body))
        if route == ("POST", "/_emulator/iceberg/snapshots"):
            return Response(200, state.engine.iceberg.register_snapshot(body, ADMIN_USER, ADMIN_ROLE))
        if route == ("GET", "/_emulator/iceberg"):
            return Response(200, {"tables": state.engine.iceberg.list()})
        if route == ("GET", "/_emulator/dynamic_tables"):
            return Response(200, {"dynamic_tables": state.engine.dynamic.list()})
        if route == ("GET", "/_emulator/tasks"):
            return Response(200, {"tasks": state.engine.tasks.list()})
        if route == ("POST", "/_emulator/reset"):
            emulator.reset()
            return Response(200, {"reset": True})
    except LookupError as e:
        return Response(404, {"error": str(e).strip("'\"")})
    except (ValueError, duckdb.Error) as e:
        return _bad(str(e))
    except SnowflakeError as e:
        return _bad(e.message, code=e.code, sqlState=e.sql_state)
    return Response(404, {"error": f"no admin route {req.method} {req.path}"})


def _register_user(state, body):
    if not isinstance(body, dict):
        return _bad("body must be an object")
    account, user = body.get("account"), body.get("user")
    if not isinstance(account, str) or not account or not isinstance(user, str) or not user:
        return _bad("'account' and 'user' are required strings")
    role = body.get("default_role")
    if role is not None and not isinstance(role, str):
        return _bad("'default_role' must be a string")
    try:
        fingerprints = state.users.register(account, user, body.get("public_keys"), role)
    except (ValueError, TypeError) as e:
        return _bad(f"invalid public key: {e}")
    return Response(200, {"fingerprints": fingerprints})


def _sql(state, body):
    """Fixture/assertion SQL through the same engine: batches allowed, no warehouse needed, not logged."""
    if not isinstance(body, dict) or not isinstance(body.get("statement"), str):
        return _bad("'statement' is required")
    try:
        outcome = state.engine.execute(body["statement"], user=ADMIN_USER, role=ADMIN_ROLE,
                                       database=body.get("database"), schema=body.get("schema"),
                                       expected_count=None, require_warehouse=False, privileged=True)
    except SnowflakeError as e:
        return _bad(e.message, code=e.code, sqlState=e.sql_state)
    except Canceled:
        return _bad("canceled")
    result = outcome.results[-1][1]
    return Response(200, {"columns": [c.name for c in result.columns], "rows": result.json_rows()})
