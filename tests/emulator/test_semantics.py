"""The Snowflake semantics postetl relies on, one row each, with the documentation it encodes.

Each row runs against the emulator through the SQL API, so the emulator and the project's SQL are
held to the same rules: if the emulator drifted from a documented rule, the row would fail here
before a replay test could pass for the wrong reason.
"""

import json
import time

import pytest

from emulator_client import data_of, make_token, rows

DOCS = {
    "null_ordering": "https://docs.snowflake.com/en/sql-reference/parameters#default-null-ordering "
                     "(DEFAULT_NULL_ORDERING = LAST: NULLs are higher than any non-NULL value)",
    "merge_duplicates": "https://docs.snowflake.com/en/sql-reference/sql/merge#duplicate-join-behavior "
                        "(ERROR_ON_NONDETERMINISTIC_MERGE = TRUE: several source rows for one target row fail)",
    "identifiers": "https://docs.snowflake.com/en/sql-reference/identifiers-syntax "
                   "(double-quoted identifiers are case-sensitive; unquoted ones resolve as upper case)",
    "sqlapi_values": "https://docs.snowflake.com/en/developer-guide/sql-api/handling-responses "
                     "(DATE as days since the epoch, TIMESTAMP_* as seconds.nanoseconds, TZ with 1440+offset)",
    "execute_task": "https://docs.snowflake.com/en/sql-reference/sql/execute-task "
                    "(an asynchronous single run; syntax EXECUTE TASK <name> [RETRY LAST], no AWAIT)",
    "task_history": "https://docs.snowflake.com/en/sql-reference/functions/task_history "
                    "(SCHEDULED / EXECUTING / SUCCEEDED / FAILED runs, ERROR_CODE, ERROR_MESSAGE)",
    "bindings": "https://docs.snowflake.com/en/developer-guide/sql-api/submitting-requests#using-bind-variables"
                "-in-a-statement (FIXED, REAL, TEXT, BINARY, BOOLEAN, DATE, TIME, TIMESTAMP_LTZ/NTZ/TZ)",
    "spec": "snowflakedb/snowflake-rest-api-specs specifications/sqlapi.yaml (statementStatusUrl format uri; "
            "rowType length/precision/scale integers; no token type header = OAUTH)",
    "query_states": "https://docs.snowflake.com/en/sql-reference/functions/query_history "
                    "(EXECUTION_STATUS resuming_warehouse, running, queued, ...)",
    "refresh_path": "https://docs.snowflake.com/en/sql-reference/sql/alter-iceberg-table-refresh "
                    "(the path is relative to the external volume's active storage location)",
}


def ok(c, statement, **kw):
    status, body = c.submit(statement, **kw)
    assert status == 200, body
    return body


def fails(c, statement, **kw):
    status, body = c.submit(statement, **kw)
    assert status == 422, body
    return body["code"], body["message"]


@pytest.fixture
def t(c):
    c.sql("CREATE TABLE DB.PUBLIC.SRC (K BIGINT, V BIGINT, S VARCHAR)")
    c.sql("CREATE TABLE DB.PUBLIC.TGT (K BIGINT, V BIGINT, S VARCHAR)")
    return c


DEDUP = ("SELECT K, V, S FROM DB.PUBLIC.SRC QUALIFY ROW_NUMBER() OVER (PARTITION BY K ORDER BY {order}) = 1")
MERGE = ("MERGE INTO DB.PUBLIC.TGT AS t USING ({source}) AS s ON t.K = s.K "
         "WHEN MATCHED AND (t.V IS NULL OR s.V > t.V) THEN UPDATE SET V = s.V, S = s.S "
         "WHEN NOT MATCHED THEN INSERT (K, V, S) VALUES (s.K, s.V, s.S)")


# (name, documentation key, function(client) checking the rule)
def null_desc_first(c):
    assert rows(c, "SELECT V FROM (VALUES (1), (NULL), (3)) AS x(V) ORDER BY V DESC") == [[None], ["3"], ["1"]]


def null_asc_last(c):
    assert rows(c, "SELECT V FROM (VALUES (1), (NULL), (3)) AS x(V) ORDER BY V") == [["1"], ["3"], [None]]


def dedup_desc_alone_keeps_the_null_version(c):
    c.sql("INSERT INTO DB.PUBLIC.SRC VALUES (1, NULL, 'null'), (1, 5, 'newest'), (1, 2, 'old')")
    assert rows(c, DEDUP.format(order="V DESC")) == [["1", None, "null"]]


def dedup_nulls_last_keeps_the_newest(c):
    c.sql("INSERT INTO DB.PUBLIC.SRC VALUES (1, NULL, 'null'), (1, 5, 'newest'), (1, 2, 'old')")
    assert rows(c, DEDUP.format(order="V DESC NULLS LAST, S DESC NULLS LAST")) == [["1", "5", "newest"]]


def merge_with_null_version_dedup_skips_the_update(c):
    # The bug the generated MERGE had: the NULL row wins the dedup, the guard is NULL, nothing applies.
    c.sql("INSERT INTO DB.PUBLIC.TGT VALUES (1, 3, 'target')")
    c.sql("INSERT INTO DB.PUBLIC.SRC VALUES (1, NULL, 'null'), (1, 5, 'newest')")
    ok(c, MERGE.format(source=DEDUP.format(order="V DESC")))
    assert rows(c, "SELECT V, S FROM DB.PUBLIC.TGT") == [["3", "target"]]
    ok(c, MERGE.format(source=DEDUP.format(order="V DESC NULLS LAST")))
    assert rows(c, "SELECT V, S FROM DB.PUBLIC.TGT") == [["5", "newest"]]


def merge_duplicate_matched_keys_fail(c):
    c.sql("INSERT INTO DB.PUBLIC.TGT VALUES (1, 0, 'target')")
    c.sql("INSERT INTO DB.PUBLIC.SRC VALUES (1, 1, 'a'), (1, 2, 'b')")
    code, message = fails(c, MERGE.format(source="SELECT * FROM DB.PUBLIC.SRC"))
    assert code == "100090" and "Duplicate row" in message
    assert rows(c, "SELECT V FROM DB.PUBLIC.TGT") == [["0"]]


def merge_duplicate_new_keys_insert_twice(c):
    c.sql("INSERT INTO DB.PUBLIC.SRC VALUES (7, 1, 'a'), (7, 2, 'b')")
    body = ok(c, MERGE.format(source="SELECT * FROM DB.PUBLIC.SRC"))
    assert body["stats"]["numRowsInserted"] == 2
    assert rows(c, "SELECT COUNT(*) FROM DB.PUBLIC.TGT WHERE K = 7") == [["2"]]


def quoted_names_are_case_sensitive(c):
    c.sql('CREATE TABLE DB.PUBLIC."orders" ("id" BIGINT)')
    c.sql('INSERT INTO DB.PUBLIC."orders" VALUES (1)')
    assert rows(c, 'SELECT "id" FROM DB.PUBLIC."orders"') == [["1"]]
    code, message = fails(c, "SELECT * FROM DB.PUBLIC.ORDERS")
    assert code == "002003" and "ORDERS" in message
    code, _ = fails(c, 'SELECT * FROM DB.PUBLIC."ORDERS"')
    assert code == "002003"
    code, message = fails(c, 'SELECT id FROM DB.PUBLIC."orders"')
    assert code == "000904" and "ID" in message


def unquoted_names_resolve_upper_case(c):
    c.sql("CREATE TABLE DB.PUBLIC.mixed_Case (Col BIGINT)")
    assert rows(c, 'SELECT "COL" FROM DB.PUBLIC."MIXED_CASE"') == []
    code, _ = fails(c, 'SELECT * FROM DB.PUBLIC."mixed_Case"')
    assert code == "002003"


def date_and_timestamps_through_the_api(c):
    c.sql("CREATE TABLE DB.PUBLIC.TS (D DATE, NTZ TIMESTAMP_NTZ, LTZ TIMESTAMP_LTZ, TZ TIMESTAMP_TZ)")
    c.sql("INSERT INTO DB.PUBLIC.TS VALUES ('2024-01-02', '2024-01-02 03:04:05.5', "
          "'2024-01-02 03:04:05+00:00', '2024-01-02 03:04:05+02:00')")
    body = ok(c, "SELECT D, NTZ, LTZ, TZ FROM DB.PUBLIC.TS", parameters={"timezone": "UTC"})
    types = [col["type"] for col in body["resultSetMetaData"]["rowType"]]
    assert types[:2] == ["date", "timestamp_ntz"] and types[3] == "timestamp_tz"
    d, ntz, ltz, tz = data_of(body)[0]
    assert d == "19724"                                   # days since 1970-01-01, not seconds
    assert ntz == "1704164645.500000000"                  # wall time as seconds.nanoseconds
    assert ltz.split(" ")[0] == "1704164645.000000000"    # the instant in UTC seconds
    secs, offset = tz.split(" ")
    # UTC seconds, then 1440 + offset minutes. Snowflake keeps the offset written (+02:00 -> 1560);
    # DuckDB keeps none, so the emulator shows the session's (UTC -> 1440). postetl reads only the
    # seconds (the instant), which both agree on.
    assert secs == "1704157445.000000000" and int(offset) in (1440, 1440 + 120)


def execute_task_returns_at_once_and_history_follows_it(c):
    c.sql("CREATE TABLE DB.PUBLIC.LOG (N BIGINT)")
    c.sql("CREATE TASK DB.PUBLIC.SLOW WAREHOUSE = WH AS "
          "INSERT INTO DB.PUBLIC.LOG SELECT SYSTEM$WAIT(1) IS NOT NULL::INT")
    started = time.time()
    ok(c, "EXECUTE TASK DB.PUBLIC.SLOW")
    assert time.time() - started < 1.0            # scheduled, not awaited
    history = ("SELECT STATE, ERROR_CODE, ERROR_MESSAGE, SCHEDULED_FROM FROM TABLE(DB.INFORMATION_SCHEMA.TASK_HISTORY("
               "TASK_NAME => 'slow', SCHEDULED_TIME_RANGE_START => TO_TIMESTAMP_LTZ(?))) "
               "ORDER BY SCHEDULED_TIME DESC LIMIT 1")
    since = {"1": {"type": "TEXT", "value": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 60))}}
    first = rows(c, history, bindings=since)
    assert first[0][0] in ("SCHEDULED", "EXECUTING") and first[0][3] == "EXECUTE TASK"
    deadline = time.time() + 10
    while rows(c, history, bindings=since)[0][0] in ("SCHEDULED", "EXECUTING") and time.time() < deadline:
        time.sleep(0.1)
    assert rows(c, history, bindings=since)[0][:3] == ["SUCCEEDED", None, None]


def failed_task_run_reports_its_error(c):
    c.sql("CREATE TASK DB.PUBLIC.BROKEN WAREHOUSE = WH AS INSERT INTO DB.PUBLIC.NOWHERE VALUES (1)")
    ok(c, "EXECUTE TASK DB.PUBLIC.BROKEN")
    query = ("SELECT STATE, ERROR_CODE, ERROR_MESSAGE FROM TABLE(DB.INFORMATION_SCHEMA.TASK_HISTORY("
             "TASK_NAME => 'BROKEN')) ORDER BY SCHEDULED_TIME DESC LIMIT 1")
    deadline = time.time() + 10
    while rows(c, query)[0][0] in ("SCHEDULED", "EXECUTING") and time.time() < deadline:
        time.sleep(0.1)
    state, code, message = rows(c, query)[0]
    assert state == "FAILED" and code == "002003" and "NOWHERE" in message


def execute_task_await_is_not_documented(c):
    c.sql("CREATE TASK DB.PUBLIC.T1 WAREHOUSE = WH AS SELECT 1")
    code, _ = fails(c, "EXECUTE TASK DB.PUBLIC.T1 AWAIT")
    assert code == "001003"


def only_documented_binding_types(c):
    for kind, value in [("FIXED", "1"), ("REAL", "1.5"), ("TEXT", "x"), ("BOOLEAN", "true"), ("DATE", "2024-01-02"),
                        ("TIME", "03:04:05"), ("TIMESTAMP_NTZ", "2024-01-02 03:04:05"),
                        ("TIMESTAMP_LTZ", "2024-01-02 03:04:05+00:00"), ("TIMESTAMP_TZ", "2024-01-02 03:04:05+00:00"),
                        ("BINARY", "6162")]:
        ok(c, "SELECT ? AS X", bindings={"1": {"type": kind, "value": value}})
    for kind in ("VARCHAR", "NUMBER", "VARIANT", "text"):
        code, _ = fails(c, "SELECT ? AS X", bindings={"1": {"type": kind, "value": "1"}})
        assert code == "002048", kind


def no_token_type_means_oauth(c):
    status, body = c.submit("SELECT 1", headers=c.headers(make_token(), **{"X-Snowflake-Authorization-Token-Type": None}))
    assert (status, body["code"]) == (401, "390303")   # checked as an OAuth token, not a key-pair JWT


def answers_follow_the_spec(c):
    c.sql("CREATE TABLE DB.PUBLIC.W (N NUMBER(10,2), S VARCHAR, D DATE)")
    ok(c, "INSERT INTO DB.PUBLIC.W VALUES (1.5, 'a', '2024-01-01')")
    body = ok(c, "SELECT * FROM DB.PUBLIC.W")
    for col in body["resultSetMetaData"]["rowType"]:
        assert all(isinstance(col[k], int) for k in ("length", "precision", "scale")), col
    assert body["statementStatusUrl"].startswith(f"http://127.0.0.1:{c.port}/api/v2/statements/")
    status, body = c.submit("SELECT 1", query="?async=true")
    assert status == 202
    c.poll(body["statementHandle"])
    fails(c, "SELECT * FROM DB.PUBLIC.NOPE")
    report = c.admin("GET", "/spec")[1]
    assert report["checked"] >= 5 and report["violations"] == []
    # And the check does catch a request the spec forbids (timeout is an integer).
    c.submit("SELECT 1", timeout="10")
    violations = c.admin("GET", "/spec")[1]["violations"]
    assert violations and violations[0]["side"] == "request" and "timeout" in violations[0]["problem"]


def resuming_warehouse_and_queued_states(c):
    c.sql("CREATE WAREHOUSE SLEEPY WITH AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE; CREATE WAREHOUSE WATCH")
    c.admin("POST", "/config", {"warehouse_resume_seconds": 1.5, "warehouse_max_concurrency": 1})
    status, waiting = c.submit("SELECT 1 AS N", warehouse="SLEEPY", query="?async=true")
    assert status == 202
    states = ("SELECT EXECUTION_STATUS FROM TABLE(DB.INFORMATION_SCHEMA.QUERY_HISTORY_BY_WAREHOUSE("
              "WAREHOUSE_NAME => 'SLEEPY')) WHERE QUERY_ID = ?")
    handle = {"1": {"type": "TEXT", "value": waiting["statementHandle"]}}
    seen = set()
    deadline = time.time() + 2
    while time.time() < deadline and "RESUMING_WAREHOUSE" not in seen:
        seen.update(r[0] for r in rows(c, states, warehouse="WATCH", bindings=handle))
        time.sleep(0.05)
    assert "RESUMING_WAREHOUSE" in seen
    assert c.poll(waiting["statementHandle"])[0] == 200
    # One slot: a second statement waits QUEUED behind a slow one.
    status, slow = c.submit("SELECT SYSTEM$WAIT(2) AS W FROM (SELECT 1)", warehouse="SLEEPY", query="?async=true")
    time.sleep(0.3)
    status, queued = c.submit("SELECT 2 AS N", warehouse="SLEEPY", query="?async=true")
    handle = {"1": {"type": "TEXT", "value": queued["statementHandle"]}}
    seen = set()
    deadline = time.time() + 2
    while time.time() < deadline and "QUEUED" not in seen:
        seen.update(r[0] for r in rows(c, states, warehouse="WATCH", bindings=handle))
        time.sleep(0.05)
    assert "QUEUED" in seen
    assert c.poll(queued["statementHandle"])[0] == 200


def refresh_path_resolves_against_the_external_volume(c):
    c.sql("CREATE EXTERNAL VOLUME LAKE_VOLUME STORAGE_LOCATIONS = ((NAME = 'lake-s3' STORAGE_PROVIDER = 'S3' "
          "STORAGE_BASE_URL = 's3://postetl-lake/warehouse/' "
          "STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/lake'))")
    status, _ = c.admin("POST", "/iceberg/tables", {"table": "DB.PUBLIC.EVENTS", "catalog": "object_store",
                                                     "external_volume": "LAKE_VOLUME", "columns": [["N", "BIGINT"]]})
    assert status == 200
    location = "s3://postetl-lake/warehouse/events/metadata/00001.metadata.json"
    status, body = c.admin("POST", "/iceberg/snapshots", {"table": "DB.PUBLIC.EVENTS", "metadata_file": location,
                                                           "rows": [[1], [2]]})
    assert status == 200 and body["snapshots"] == [location]
    # A path computed from a wrong base (the bucket, not the volume's location) does not resolve.
    code, message = fails(c, "ALTER ICEBERG TABLE DB.PUBLIC.EVENTS REFRESH "
                             "'warehouse/events/metadata/00001.metadata.json'")
    assert code == "091315" and "s3://postetl-lake/warehouse/warehouse/events" in message
    ok(c, "ALTER ICEBERG TABLE DB.PUBLIC.EVENTS REFRESH 'events/metadata/00001.metadata.json'")
    assert rows(c, "SELECT COUNT(*) FROM DB.PUBLIC.EVENTS") == [["2"]]


ROWS = [
    ("DESC puts NULLs first", "null_ordering", null_desc_first),
    ("ASC puts NULLs last", "null_ordering", null_asc_last),
    ("dedup by version DESC alone keeps a NULL version", "null_ordering", dedup_desc_alone_keeps_the_null_version),
    ("dedup with NULLS LAST keeps the newest version", "null_ordering", dedup_nulls_last_keeps_the_newest),
    ("a NULL version winning the dedup leaves the target stale", "null_ordering",
     merge_with_null_version_dedup_skips_the_update),
    ("duplicate source keys matching a target row fail the MERGE", "merge_duplicates",
     merge_duplicate_matched_keys_fail),
    ("duplicate new source keys are inserted twice", "merge_duplicates", merge_duplicate_new_keys_insert_twice),
    ("quoted names are case-sensitive", "identifiers", quoted_names_are_case_sensitive),
    ("unquoted names resolve in upper case", "identifiers", unquoted_names_resolve_upper_case),
    ("DATE and TIMESTAMP values through the SQL API", "sqlapi_values", date_and_timestamps_through_the_api),
    ("EXECUTE TASK returns at once; TASK_HISTORY follows the run", "execute_task",
     execute_task_returns_at_once_and_history_follows_it),
    ("a failed task run carries its error in TASK_HISTORY", "task_history", failed_task_run_reports_its_error),
    ("EXECUTE TASK .. AWAIT is not Snowflake syntax", "execute_task", execute_task_await_is_not_documented),
    ("only the documented binding types", "bindings", only_documented_binding_types),
    ("no token type header means OAUTH", "spec", no_token_type_means_oauth),
    ("answers follow the SQL API spec's schemas", "spec", answers_follow_the_spec),
    ("RESUMING_WAREHOUSE and QUEUED statement states", "query_states", resuming_warehouse_and_queued_states),
    ("REFRESH paths resolve against the external volume", "refresh_path",
     refresh_path_resolves_against_the_external_volume),
]


@pytest.mark.parametrize("name,doc,check", ROWS, ids=[r[0] for r in ROWS])
def test_snowflake_semantics(t, name, doc, check):
    assert doc in DOCS, f"{name}: cite its documentation"
    check(t)


def test_every_row_cites_documentation():
    assert {doc for _, doc, _ in ROWS} == set(DOCS)
    assert all(json.dumps(DOCS[doc]) for _, doc, _ in ROWS)
