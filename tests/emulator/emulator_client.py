"""What the emulator's tests share besides fixtures (those are in conftest.py): the process, an
HTTP client of the SQL API and admin API, RSA keys and key-pair JWTs made at test time, and checks
of SQL API answers. pytest advises against importing conftest.py, so test modules import these.
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT, USER = "XY12345", "SVC_USER"


# ---------------------------------------------------------------- keys and tokens

def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY1, KEY2, KEY3 = _new_key(), _new_key(), _new_key()


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key):
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def make_token(key=KEY1, fp_key=None, account=ACCOUNT, user=USER, iat=None, exp=None):
    now = int(time.time())
    iat = now if iat is None else iat
    claims = {"iss": f"{account}.{user}.{fingerprint(fp_key or key)}", "sub": f"{account}.{user}",
              "iat": iat, "exp": iat + 3540 if exp is None else exp}
    return jwt.encode(claims, key, algorithm="RS256")


# ---------------------------------------------------------------- server process and client

def start_emulator(*args):
    """`python -m snowflake_emulator <args>` with stdin and stdout piped (its first line: LISTENING ..)."""
    return subprocess.Popen([sys.executable, "-m", "snowflake_emulator", *args], cwd=HERE, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


class Client:
    def __init__(self, port):
        self.port = port
        self.connect()

    def connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go separately

    def raw(self, method, path, body=None, headers=None):
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=data, headers=headers or {})
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        payload = resp.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload.decode()
        return resp.status, parsed, resp

    def admin(self, method, path, body=None):
        status, parsed, _ = self.raw(method, "/_emulator" + path, body, {"Content-Type": "application/json"})
        return status, parsed

    def sql(self, statement, **kw):
        status, parsed = self.admin("POST", "/sql", {"statement": statement, **kw})
        assert status == 200, parsed
        return parsed

    def headers(self, token=None, **extra):
        h = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "emulator-tests/1.0",
             "Authorization": f"Bearer {token or make_token()}", "X-Snowflake-Authorization-Token-Type": "KEYPAIR_JWT"}
        h.update(extra)
        return {k: v for k, v in h.items() if v is not None}

    def submit(self, statement, token=None, query="", headers=None, **body):
        body = {"statement": statement, "warehouse": "WH", "database": "DB", "schema": "PUBLIC", **body}
        body = {k: v for k, v in body.items() if v is not None}
        status, parsed, resp = self.raw("POST", f"/api/v2/statements{query}", body, headers or self.headers(token))
        return status, parsed

    def get(self, handle, partition=None, token=None):
        q = f"?partition={partition}" if partition is not None else ""
        return self.raw("GET", f"/api/v2/statements/{handle}{q}", None, self.headers(token, **{"Content-Type": None}))

    def cancel(self, handle):
        status, parsed, _ = self.raw("POST", f"/api/v2/statements/{handle}/cancel", None,
                                     self.headers(**{"Content-Type": None}))
        return status, parsed

    def poll(self, handle, deadline=10.0):
        end = time.time() + deadline
        while True:
            status, parsed, _ = self.get(handle)
            if status != 202 or time.time() > end:
                return status, parsed
            time.sleep(0.05)


def data_of(body):
    return body["data"]


def ok(result):
    status, body = result
    assert status == 200, body
    return body


def fails(result, code, sql_state=None):
    status, body = result
    assert status == 422, body
    assert body["code"] == code, body
    if sql_state is not None:
        assert body["sqlState"] == sql_state, body
    return body["message"]


def rows(c, statement, **kw):
    return data_of(ok(c.submit(statement, **kw)))
