"""Admin API under /_emulator/ (no auth): users and their credentials (key slots, workload
identities, PATs), the emulated STS (credentials, outbound identity federation, and the awsQuery
endpoint /_emulator/sts), External OAuth integrations, fixtures SQL, config, faults, logs,
warehouses, Iceberg tables and snapshots, dynamic tables, tasks, reset."""

import duckdb

from . import aws_outbound, users
from .errors import Canceled, SnowflakeError
from .httpmsg import Response

ADMIN_USER = "EMULATOR_ADMIN"
ADMIN_ROLE = "ACCOUNTADMIN"


def _bad(message, **extra):
    return Response(400, {"error": message, **extra})


def handle(emulator, req):
    state = emulator.state
    route = (req.method, req.path.rstrip("/"))
    if route[1] == "/_emulator/sts":
        return aws_outbound.handle(state, req)  # STS's awsQuery protocol (form body, XML answers)
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
        if route == ("POST", "/_emulator/users/keys"):
            return Response(200, state.users.set_keys(*_who(body), body))
        if route == ("POST", "/_emulator/users/workload_identities"):
            return Response(200, {"workload_identities": state.users.change_workload_identities(
                *_who(body), add=body.get("add"), remove=body.get("remove"))})
        if route == ("POST", "/_emulator/users/pat"):
            return Response(200, state.users.add_pat(*_who(body), body.get("name"),
                                                     body.get("daysToExpiry", users.PAT_DEFAULT_DAYS),
                                                     body.get("roleRestriction")))
        if route == ("POST", "/_emulator/users/pat/remove"):
            return Response(200, state.users.remove_pat(*_who(body), body.get("name")))
        if route == ("POST", "/_emulator/aws/credentials"):
            return Response(200, state.aws.mint(body))
        if route == ("POST", "/_emulator/aws/outbound_federation"):
            return Response(200, state.aws_outbound.enable(body))
        if route == ("POST", "/_emulator/aws/outbound_federation/sign"):
            return Response(200, state.aws_outbound.sign(body))
        if route == ("GET", "/_emulator/aws/outbound_federation"):
            return Response(200, {"accounts": state.aws_outbound.list()})
        if route == ("POST", "/_emulator/oauth/integrations"):
            return Response(200, state.oauth.register(body))
        if route == ("GET", "/_emulator/oauth/integrations"):
            return Response(200, {"integrations": state.oauth.list()})
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
            return Response(200, {"executions": state.registry.executions(), "requests": state.requests.list(),
                                  "sts": state.sts_log.list()})
        if route == ("GET", "/_emulator/spec"):
            return Response(200, state.spec.report())
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


def _who(body):
    """(account, user) the body names; ValueError (400) when it names none."""
    if not isinstance(body, dict):
        raise ValueError("body must be an object")
    account, user = body.get("account"), body.get("user")
    if not isinstance(account, str) or not account or not isinstance(user, str) or not user:
        raise ValueError("'account' and 'user' are required strings")
    return account, user


def _register_user(state, body):
    """Creates the user or updates it in place: only the fields in the body change."""
    account, user = _who(body)
    fields = {k: body[k] for k in ("public_keys", "default_role", "workload_identity") if k in body}
    return Response(200, state.users.register(account, user, **fields))


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
