"""Fixtures every emulator test module shares: `server`, one emulator process per test module (its
port), and `c`, a client of a freshly reset emulator with the service user registered (keys KEY1
and KEY2, default role LOADER), warehouse WH and database DB. Helpers: emulator_client.py.
"""

import pytest

from emulator_client import ACCOUNT, KEY1, KEY2, USER, Client, fingerprint, public_pem, start_emulator


@pytest.fixture(scope="module")
def server():
    proc = start_emulator("--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof")
    line = proc.stdout.readline()
    assert line.startswith("LISTENING http://127.0.0.1:"), line
    yield int(line.strip().rsplit(":", 1)[1])
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def c(server):
    client = Client(server)
    assert client.admin("POST", "/reset")[0] == 200
    status, body = client.admin("POST", "/users", {"account": ACCOUNT.lower(), "user": USER,
                                                   "public_keys": [public_pem(KEY1), public_pem(KEY2)],
                                                   "default_role": "LOADER"})
    assert status == 200 and body["fingerprints"] == [fingerprint(KEY1), fingerprint(KEY2)]
    client.sql("CREATE WAREHOUSE WH; CREATE DATABASE DB")
    yield client
    client.conn.close()
