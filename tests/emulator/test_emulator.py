"""Tests of the Snowflake SQL API emulator over real HTTP, with RSA keys made at test time (fixtures:
conftest.py; client and keys: emulator_client.py).

Run: cd tests/emulator && ../../.venv/bin/python -m pytest -q
"""

import http.client
import json
import threading
import time
import uuid

import pytest

from emulator_client import KEY1, KEY2, KEY3, USER, Client, data_of, make_token, start_emulator


# ---------------------------------------------------------------- process contract

def test_exits_when_stdin_closes():
    proc = start_emulator("--port", "0", "--exit-on-stdin-eof")
    assert proc.stdout.readline().startswith("LISTENING http://127.0.0.1:")
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


# ---------------------------------------------------------------- authentication

def test_good_token_and_second_key(c):
    for key in (KEY1, KEY2):
        status, body = c.submit("SELECT CURRENT_USER(), CURRENT_ROLE()", token=make_token(key))
        assert status == 200, body
        assert data_of(body) == [["SVC_USER", "LOADER"]]


@pytest.mark.parametrize("token_args, reason", [
    (dict(key=KEY3, fp_key=KEY1), "signature verification failed"),
    (dict(key=KEY3), "public key fingerprint is not registered"),
    (dict(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "token expired"),
    (dict(iat=int(time.time()) - 3700, exp=int(time.time()) + 3600), "token expired"),
    (dict(user="OTHER"), "does not exist"),
])
def test_bad_tokens(c, token_args, reason):
    status, body = c.submit("SELECT 1", token=make_token(**token_args))
    assert status == 401
    assert body["code"] == "390144" and body["message"].startswith("JWT token is invalid. [")
    assert reason in body["message"]


def test_token_type_and_missing_auth(c):
    status, body = c.submit("SELECT 1", headers=c.headers(**{"X-Snowflake-Authorization-Token-Type": "SAML"}))
    assert (status, body["code"]) == (401, "390101")
    status, body = c.submit("SELECT 1", headers=c.headers(Authorization=None))
    assert (status, body["code"]) == (401, "390144")


def test_header_checks(c):
    status, _ = c.submit("SELECT 1", headers=c.headers(**{"Content-Type": "text/plain"}))
    assert status == 415
    status, _ = c.submit("SELECT 1", headers=c.headers(**{"User-Agent": None}))
    assert status == 400
    status, body, _ = c.raw("POST", "/api/v2/statements", b"not json", c.headers())
    assert (status, body["code"]) == (400, "390142")
    status, body = c.submit(None)
    assert (status, body["code"]) == (400, "390142")


# ---------------------------------------------------------------- SQL and result sets

def test_types_row_type_and_values(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (ID NUMBER, NAME VARCHAR, AMOUNT NUMBER(10,2), F FLOAT, B BOOLEAN, D DATE, "
          "TS TIMESTAMP_NTZ, TZ TIMESTAMP_TZ, BIN BINARY, V VARIANT)")
    status, body = c.submit("INSERT INTO T VALUES (1, 'a', 12.5, 1.5, TRUE, '2024-01-01', "
                            "'2023-11-14 22:13:20.123456', '2024-01-01 00:00:00+00:00', 'ab'::BINARY, "
                            "PARSE_JSON('{\"k\": [1]}')), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    assert status == 200, body
    assert data_of(body) == [["2"]] and body["stats"]["numRowsInserted"] == 2
    assert body["resultSetMetaData"]["rowType"][0]["name"] == "number of rows inserted"

    status, body = c.submit("SELECT * FROM T ORDER BY ID", parameters={"timezone": "UTC"})
    assert status == 200, body
    assert body["code"] == "090001" and body["sqlState"] == "00000"
    meta = body["resultSetMetaData"]
    assert meta["format"] == "jsonv2" and meta["numRows"] == 2
    types = {col["name"]: col for col in meta["rowType"]}
    assert [col["name"] for col in meta["rowType"]] == ["ID", "NAME", "AMOUNT", "F", "B", "D", "TS", "TZ", "BIN", "V"]
    assert {n: t["type"] for n, t in types.items()} == {
        "ID": "fixed", "NAME": "text", "AMOUNT": "fixed", "F": "real", "B": "boolean", "D": "date",
        "TS": "timestamp_ntz", "TZ": "timestamp_tz", "BIN": "binary", "V": "variant"}
    assert (types["AMOUNT"]["precision"], types["AMOUNT"]["scale"]) == (10, 2)
    assert (types["ID"]["precision"], types["ID"]["scale"]) == (38, 0)
    row1, row2 = data_of(body)
    assert row1[:8] == ["1", "a", "12.50", "1.5", "true", "19723", "1700000000.123456000", "1704067200.000000000 1440"]
    assert row1[8] == "6162" and json.loads(row1[9]) == {"k": [1]}
    assert row2 == ["2"] + [None] * 9


def test_bindings(c):
    status, body = c.submit("SELECT ? AS A, ? AS B, ? AS C, ? AS D", bindings={
        "1": {"type": "FIXED", "value": "42"}, "2": {"type": "TEXT", "value": "x'y"},
        "3": {"type": "BOOLEAN", "value": "true"}, "4": {"type": "DATE", "value": "2024-01-02"}})
    assert status == 200, body
    assert data_of(body) == [["42", "x'y", "true", "19724"]]
    status, body = c.submit("SELECT :2 || :1 AS S", bindings={
        "1": {"type": "TEXT", "value": "b"}, "2": {"type": "TEXT", "value": "a"}})
    assert status == 200 and data_of(body) == [["ab"]]


def test_partitions(c):
    c.admin("POST", "/config", {"partition_rows": 2})
    c.sql("CREATE TABLE DB.PUBLIC.P AS SELECT range AS N FROM range(5)")
    status, body = c.submit("SELECT N FROM P ORDER BY N")
    assert status == 200
    meta = body["resultSetMetaData"]
    assert meta["numRows"] == 5 and [p["rowCount"] for p in meta["partitionInfo"]] == [2, 2, 1]
    assert data_of(body) == [["0"], ["1"]]
    handle = body["statementHandle"]
    status, part, resp = c.get(handle, partition=2)
    assert status == 200 and part == {"data": [["4"]]}
    assert 'rel="first"' in resp.getheader("Link")
    status, part, _ = c.get(handle, partition=1)
    assert part["data"] == [["2"], ["3"]]
    assert c.get(handle, partition=3)[0] in (400, 422)


def test_errors(c):
    status, body = c.submit("SELEC 1")
    assert status == 422
    assert (body["code"], body["sqlState"]) == ("001003", "42000")
    assert body["message"].startswith("SQL compilation error:\nsyntax error") and body["statementHandle"]
    status, body = c.submit("SELECT * FROM NO_SUCH_TABLE")
    assert (status, body["code"], body["sqlState"]) == (422, "002003", "42S02")
    assert "does not exist or not authorized" in body["message"]
    status, body = c.get(body["statementHandle"])[:2]
    assert status == 422 and body["code"] == "002003"
    assert c.get(str(uuid.uuid4()))[0] == 404


def test_merge_stats(c):
    c.sql("CREATE TABLE DB.PUBLIC.TGT (ID INT, V VARCHAR); INSERT INTO DB.PUBLIC.TGT VALUES (1, 'a'), (2, 'b')")
    status, body = c.submit("MERGE INTO TGT USING (SELECT 1 AS ID, 'x' AS V UNION ALL SELECT 3, 'c') S "
                            "ON TGT.ID = S.ID WHEN MATCHED THEN UPDATE SET V = S.V "
                            "WHEN NOT MATCHED THEN INSERT (ID, V) VALUES (S.ID, S.V)")
    assert status == 200, body
    assert [col["name"] for col in body["resultSetMetaData"]["rowType"]] == \
        ["number of rows inserted", "number of rows updated"]
    assert data_of(body) == [["1", "1"]]
    assert body["stats"] == {"numRowsInserted": 1, "numRowsUpdated": 1, "numRowsDeleted": 0,
                             "numDuplicateRowsUpdated": 0}


def test_multi_statement(c):
    status, body = c.submit("CREATE TABLE M (A INT); INSERT INTO M VALUES (1), (2); SELECT SUM(A) AS S FROM M;",
                            parameters={"MULTI_STATEMENT_COUNT": 3})
    assert status == 200, body
    assert data_of(body) == [["Multiple statements executed successfully."]]
    assert body["resultSetMetaData"]["rowType"][0]["name"] == "multiple statement execution"
    handles = body["statementHandles"]
    assert len(handles) == 3
    assert data_of(c.get(handles[1])[1]) == [["2"]]
    assert data_of(c.get(handles[2])[1]) == [["3"]]

    status, body = c.submit("SELECT 1; SELECT 2")
    assert (status, body["code"], body["sqlState"]) == (422, "000008", "0A000")
    assert body["message"] == "Actual statement count 2 did not match the desired statement count 1."


def test_session_context_and_use(c):
    status, body = c.submit("USE WAREHOUSE WH; CREATE SCHEMA S2; CREATE TABLE X (A INT); "
                            "SELECT CURRENT_WAREHOUSE(), CURRENT_DATABASE(), CURRENT_SCHEMA()",
                            warehouse=None, parameters={"MULTI_STATEMENT_COUNT": 0})
    assert status == 200, body
    assert data_of(c.get(body["statementHandles"][3])[1]) == [["WH", "DB", "S2"]]
    assert c.sql("SELECT COUNT(*) FROM DB.S2.X")["rows"] == [[0]]
    status, body = c.submit("SELECT 1", database="NO_SUCH_DB")
    assert (status, body["code"]) == (422, "002043")


def test_nullable_false_and_time_functions(c):
    status, body = c.submit("SELECT NULL AS N, CURRENT_TIMESTAMP() AS TS, CURRENT_DATE() AS D", query="?nullable=false")
    assert status == 200, body
    n, ts, d = data_of(body)[0]
    assert n == "null"
    assert abs(float(ts.split()[0]) - time.time()) < 60 and int(d) > 19000


def test_concurrent_requests_share_one_database(c):
    c.sql("CREATE TABLE DB.PUBLIC.CC (A INT)")
    failures = []

    def insert(i):
        client = Client(c.port)
        for j in range(5):
            status, body = client.submit(f"INSERT INTO CC VALUES ({i * 10 + j})")
            if status != 200:
                failures.append(body)

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert failures == []
    assert c.sql("SELECT COUNT(DISTINCT A) FROM DB.PUBLIC.CC")["rows"] == [[20]]


# ---------------------------------------------------------------- asynchronous execution, cancel, timeout

def test_async_then_poll(c):
    status, body = c.submit("SELECT 7 AS N", query="?async=true")
    assert status == 202 and body["code"] == "333334"
    # An absolute URI (the spec's `format: uri`), on the host the client called.
    assert body["statementStatusUrl"] == f"http://127.0.0.1:{c.port}/api/v2/statements/{body['statementHandle']}"
    status, body = c.poll(body["statementHandle"])
    assert status == 200 and data_of(body) == [["7"]]


def test_sync_wait_then_202_then_result(c):
    c.admin("POST", "/config", {"sync_wait_seconds": 0.2})
    started = time.time()
    status, body = c.submit("SELECT SYSTEM$WAIT(1)")
    assert status == 202 and time.time() - started < 0.9
    status, body = c.poll(body["statementHandle"])
    assert status == 200 and data_of(body) == [["waited 1 seconds"]]
    assert body["resultSetMetaData"]["rowType"][0]["name"] == "SYSTEM$WAIT(1)"


@pytest.mark.parametrize("statement", ["CALL SYSTEM$WAIT(20)", "SELECT COUNT(*) FROM range(100000000000)"])
def test_cancel(c, statement):
    status, body = c.submit(statement, query="?async=true")
    assert status == 202
    handle = body["statementHandle"]
    time.sleep(0.3)
    started = time.time()
    status, body = c.cancel(handle)
    assert status == 200 and body["code"] == "000604" and body["statementHandle"] == handle
    status, body = c.poll(handle)
    assert (status, body["code"], body["sqlState"]) == (422, "000604", "57014")
    assert body["message"] == "SQL execution canceled"
    assert time.time() - started < 3
    assert c.cancel(handle)[0] == 200  # canceling a finished statement is fine and changes nothing
    assert c.get(handle)[1]["code"] == "000604"


def test_timeout_408(c):
    started = time.time()
    status, body = c.submit("SELECT SYSTEM$WAIT(20)", timeout=1)
    assert status == 408
    assert (body["code"], body["sqlState"]) == ("000630", "57014")
    assert body["message"] == "Statement reached its statement or warehouse timeout of 1 second(s) and was canceled."
    assert time.time() - started < 5
    status, body = c.get(body["statementHandle"])[:2]
    assert (status, body["code"]) == (422, "000630")


# ---------------------------------------------------------------- faults and requestId de-duplication

def test_retry_with_request_id_does_not_rerun(c):
    c.sql("CREATE TABLE DB.PUBLIC.R (A INT)")
    c.admin("POST", "/faults", {"faults": [{"on": "submit", "statement_contains": "INSERT INTO R",
                                            "action": "status_after_execute", "status": 500}]})
    rid = str(uuid.uuid4())
    status, body = c.submit("INSERT INTO R VALUES (1)", query=f"?requestId={rid}")
    assert status == 500
    status, body = c.submit("INSERT INTO R VALUES (1)", query=f"?requestId={rid}&retry=true")
    assert status == 200 and data_of(body) == [["1"]]
    assert c.sql("SELECT COUNT(*) FROM DB.PUBLIC.R")["rows"] == [[1]]
    log = c.admin("GET", "/log")[1]
    runs = [e for e in log["executions"] if e["statement"].startswith("INSERT INTO R")]
    assert len(runs) == 1 and runs[0]["requestId"] == rid and runs[0]["status"] == "succeeded"
    assert runs[0]["user"] == USER and runs[0]["warehouse"] == "WH"
    assert [r["status"] for r in log["requests"] if r["requestId"] == rid] == [500, 200]
    # Without retry=true a known requestId runs again (that is the client's responsibility).
    c.submit("INSERT INTO R VALUES (1)", query=f"?requestId={rid}")
    assert c.sql("SELECT COUNT(*) FROM DB.PUBLIC.R")["rows"] == [[2]]


def test_fault_statuses_and_drop(c):
    c.admin("POST", "/faults", {"faults": [
        {"on": "submit", "action": "status", "status": 429},
        {"on": "submit", "action": "status", "status": 503},
        {"on": "submit", "action": "drop"},
    ]})
    status, body = c.submit("SELECT 1")
    assert (status, body["code"]) == (429, "390505")
    assert c.submit("SELECT 1")[0] == 503
    with pytest.raises((http.client.HTTPException, OSError)):
        c.submit("SELECT 1")
    c.connect()
    assert c.admin("GET", "/faults")[1] == {"faults": []}
    assert c.submit("SELECT 1")[0] == 200
    executions = c.admin("GET", "/log")[1]["executions"]
    assert len(executions) == 1  # faulted submits never ran


def test_delay_fault_and_poll_fault(c):
    c.admin("POST", "/faults", {"faults": [{"on": "poll", "action": "status", "status": 502, "times": 2}]})
    status, body = c.submit("SELECT 1", query="?async=true")
    handle = body["statementHandle"]
    assert c.get(handle)[0] == 502 and c.get(handle)[0] == 502
    assert c.poll(handle)[0] == 200
    c.admin("POST", "/faults", {"faults": [{"action": "delay", "seconds": 0.3}]})
    started = time.time()
    assert c.submit("SELECT 1")[0] == 200 and time.time() - started >= 0.3


# ---------------------------------------------------------------- warehouses

def warehouse(c, name):
    return next(w for w in c.admin("GET", "/warehouses")[1]["warehouses"] if w["name"] == name)


def test_warehouse_statements(c):
    ok = c.submit("CREATE WAREHOUSE LOAD_WH WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_RESUME = FALSE "
                  "INITIALLY_SUSPENDED = TRUE")
    assert ok[0] == 200, ok[1]
    status, body = c.submit("SELECT 1", warehouse="LOAD_WH")
    assert (status, body["code"], body["sqlState"]) == (422, "000606", "57P03")
    assert c.submit("ALTER WAREHOUSE LOAD_WH RESUME")[0] == 200
    status, body = c.submit("ALTER WAREHOUSE LOAD_WH RESUME")
    assert (status, body["code"], body["sqlState"]) == (422, "090064", "22000")
    assert body["message"] == "Invalid state. Warehouse 'LOAD_WH' cannot be resumed."
    assert c.submit("ALTER WAREHOUSE LOAD_WH RESUME IF SUSPENDED")[0] == 200
    assert c.submit("SELECT 1", warehouse="LOAD_WH")[0] == 200
    assert c.submit("ALTER WAREHOUSE LOAD_WH SUSPEND")[0] == 200
    status, body = c.submit("ALTER WAREHOUSE LOAD_WH SUSPEND")
    assert body["message"] == "Invalid state. Warehouse 'LOAD_WH' cannot be suspended."
    status, body = c.submit("ALTER WAREHOUSE NOPE RESUME")
    assert (status, body["code"], body["sqlState"]) == (422, "002003", "02000")
    assert c.submit("ALTER WAREHOUSE IF EXISTS NOPE RESUME")[0] == 200

    status, body = c.submit("SHOW WAREHOUSES LIKE 'load%'")
    assert status == 200
    names = [col["name"] for col in body["resultSetMetaData"]["rowType"]]
    rows = [dict(zip(names, row)) for row in data_of(body)]
    assert [(r["name"], r["state"], r["size"], r["auto_resume"]) for r in rows] == \
        [("LOAD_WH", "SUSPENDED", "X-Small", "false")]
    status, body = c.submit("ALTER WAREHOUSE LOAD_WH SET WAREHOUSE_SIZE = 'SMALL' AUTO_RESUME = TRUE")
    assert status == 200
    assert warehouse(c, "LOAD_WH")["size"] == "Small"


def test_auto_resume_and_billing(c):
    c.sql("CREATE WAREHOUSE AUTO_WH INITIALLY_SUSPENDED = TRUE")
    assert warehouse(c, "AUTO_WH")["state"] == "SUSPENDED"
    status, body = c.submit("SELECT SYSTEM$WAIT(200, 'MILLISECONDS')", warehouse="AUTO_WH")
    assert status == 200
    wh = warehouse(c, "AUTO_WH")
    assert wh["state"] == "STARTED" and wh["resume_count"] == 1
    assert wh["running_seconds"] >= 0.2 and wh["billed_seconds"] >= 60
    status, body = c.submit("SELECT 1", warehouse=None)
    assert (status, body["code"]) == (422, "000606")


def test_unsupported_statements_fail(c):
    for statement in ("CREATE ICEBERG TABLE T (A INT)", "ALTER ICEBERG TABLE T SET AUTO_REFRESH = TRUE",
                      "ALTER DYNAMIC TABLE D RENAME TO E", "SHOW TABLES", "PRAGMA version"):
        status, body = c.submit(statement)
        assert status == 422, (statement, body)
        assert body["code"] in ("000002", "001003"), body


# ---------------------------------------------------------------- admin API

def test_admin_api(c):
    status, body = c.admin("POST", "/sql", {"statement": "SELECT * FROM NOPE"})
    assert status == 400 and "does not exist" in body["error"]
    assert c.admin("POST", "/config", {"nope": 1})[0] == 400
    assert c.admin("POST", "/config", {"sync_wait_seconds": 1})[1]["sync_wait_seconds"] == 1.0
    rows = c.sql("SELECT 1 AS A, 'x' AS B, 1.5::DOUBLE AS C, NULL AS D, TRUE AS E")["rows"]
    assert rows == [[1, "x", 1.5, None, True]]
    assert c.admin("POST", "/reset")[0] == 200
    assert c.admin("GET", "/config")[1]["sync_wait_seconds"] == 45.0
    assert c.admin("GET", "/warehouses")[1] == {"warehouses": []}
    assert c.submit("SELECT 1")[0] == 401  # users are gone
