"""The emulator's whole state in one object, so POST /_emulator/reset can swap it atomically."""

import threading
import time

from .aws_outbound import OutboundFederation
from .engine import Engine
from .faults import FaultQueue
from .oauth import Integrations
from .spec import SpecLog
from .statements import Registry
from .users import UserStore
from .warehouses import Warehouses
from .wif_aws import Sts

DEFAULT_CONFIG = {
    "sync_wait_seconds": 45.0,        # how long a synchronous POST waits before answering 202
    "partition_rows": 10000,          # rows per result partition
    "max_token_age_seconds": 3600.0,  # a JWT is refused once now > iat + this, whatever its exp
    # Snowflake documents only the GetWebIdentityToken JWT as the AWS workload identity credential of
    # the SQL API; a signed GetCallerIdentity request is refused unless a test opts in (then it is
    # accepted as an unverified path, and the request log says so).
    "accept_wif_signed_request": False,
    "warehouse_resume_seconds": 0.0,  # provisioning time of an auto-resume (statements: RESUMING_WAREHOUSE)
    "warehouse_max_concurrency": 0,   # statements computing at once per warehouse, 0 = no limit (QUEUED)
}
BOOLEAN_KEYS = {"accept_wif_signed_request"}
MAX_REQUEST_LOG = 10000


class Config:
    def __init__(self):
        self._lock = threading.Lock()
        self._values = dict(DEFAULT_CONFIG)

    def get(self, key):
        with self._lock:
            return self._values[key]

    def all(self):
        with self._lock:
            return dict(self._values)

    def update(self, changes):
        if not isinstance(changes, dict):
            raise ValueError("config must be an object")
        clean = {}
        for key, value in changes.items():
            if key not in DEFAULT_CONFIG:
                raise ValueError(f"unknown config key '{key}'")
            if key in BOOLEAN_KEYS:
                if not isinstance(value, bool):
                    raise ValueError(f"'{key}' must be true or false")
                clean[key] = value
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"'{key}' must be a non-negative number")
            if key in ("partition_rows", "warehouse_max_concurrency"):
                if key == "warehouse_max_concurrency" and int(value) == value:
                    clean[key] = int(value)
                    continue
                if int(value) != value or value < 1:
                    raise ValueError(f"'{key}' must be a positive integer")
                value = int(value)
            clean[key] = value if key == "partition_rows" else float(value)
        with self._lock:
            self._values.update(clean)
            return dict(self._values)




class BoundedLog:
    """The last MAX_REQUEST_LOG entries (dicts), oldest first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def add_entry(self, entry):
        with self._lock:
            self._entries.append(entry)
            del self._entries[:-MAX_REQUEST_LOG]

    def list(self):
        with self._lock:
            return [dict(e) for e in self._entries]


class RequestLog(BoundedLog):
    """SQL API requests as received (method, path, query, status, requestId), the token type they
    carried (and, for workload identity federation, the attestation's form), whom it authenticated
    and the error code of a failed answer; never headers or tokens."""

    def add(self, method, path, query, status, request_id, token_type=None, principal=None, code=None,
            wif_form=None):
        self.add_entry({"method": method, "path": path, "query": query, "status": status,
                        "requestId": request_id, "time": time.time(), "token_type": token_type,
                        "wif_form": wif_form,
                        "account": principal.account if principal else None,
                        "user": principal.user if principal else None,
                        "code": code})


class StsLog(BoundedLog):
    """Calls to the emulated STS endpoint (aws_outbound.py builds the entries: action, caller ARN,
    parameters, status, STS error code); never headers, signatures, secrets or tokens."""

    add = BoundedLog.add_entry


class State:
    def __init__(self):
        self.config = Config()
        self.users = UserStore()
        self.aws = Sts()                # session credentials for workload identity federation
        self.aws_outbound = OutboundFederation()  # accounts' outbound identity federation issuers
        self.sts_log = StsLog()         # calls to POST /_emulator/sts
        self.oauth = Integrations()     # External OAuth security integrations
        self.faults = FaultQueue()
        self.warehouses = Warehouses()
        self.warehouses.config = self.config
        self.engine = Engine(self.warehouses)
        self.registry = Registry(self.engine, self.config)
        self.engine.queries = self.registry  # query history, SYSTEM$CANCEL_QUERY, ABORT ALL QUERIES
        self.requests = RequestLog()
        self.spec = SpecLog()           # exchanges checked against the SQL API spec (spec.py)

    def close(self):
        self.registry.cancel_all()
        self.engine.close()


class Emulator:
    def __init__(self):
        self._lock = threading.Lock()
        self.state = State()

    def reset(self):
        with self._lock:
            old, self.state = self.state, State()
        old.close()

    def close(self):
        self.state.close()
