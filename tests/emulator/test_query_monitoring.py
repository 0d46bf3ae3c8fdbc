"""Tests of query monitoring over real HTTP: the INFORMATION_SCHEMA.QUERY_HISTORY* table functions,
SYSTEM$CANCEL_QUERY and ALTER WAREHOUSE .. ABORT ALL QUERIES (fixtures: conftest.py; client and
checks: emulator_client.py).

Run: cd tests/emulator && ../../.venv/bin/python -m pytest -q
"""

import json

from emulator_client import KEY3, data_of, fails, make_token, ok, public_pem, rows

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:post-etl:run-1"
# The query the warehouse Lambda sends to find the statements its execution left running.
RUNNING_OF_EXECUTION = (
    "SELECT QUERY_ID, QUERY_TAG, EXECUTION_STATUS FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_WAREHOUSE("
    "WAREHOUSE_NAME => 'POSTETL_WH', RESULT_LIMIT => 10000)) WHERE EXECUTION_STATUS IN ('RUNNING', 'QUEUED', "
    "'RESUMING_WAREHOUSE', 'BLOCKED') AND QUERY_TAG LIKE ?")
NOT_EXECUTING = "Identified SQL statement is not currently executing."


def text(value):
    return {"type": "TEXT", "value": value}


def tag(execution):
    return json.dumps({"app": "postetl", "pipeline": "orders", "execution": execution, "step": "run-merge"},
                      separators=(",", ":"))


def columns(body):
    return [col["name"] for col in body["resultSetMetaData"]["rowType"]]


def start(c, statement="SELECT SYSTEM$WAIT(10)", execution=EXECUTION, warehouse="POSTETL_WH"):
    """A slow statement submitted asynchronously, tagged like the Lambdas tag theirs; its handle."""
    status, body = c.submit(statement, query="?async=true", warehouse=warehouse,
                            parameters={"query_tag": tag(execution)} if execution else None)
    assert status == 202, body
    return body["statementHandle"]


def status_in_log(c, handle):
    return next(e["status"] for e in c.admin("GET", "/log")[1]["executions"] if e["statementHandle"] == handle)


def setup_warehouse(c):
    c.sql("CREATE WAREHOUSE POSTETL_WH")


def test_running_statement_found_by_tag_and_cancelled_with_cancel_query(c):
    setup_warehouse(c)
    ours = start(c)
    theirs = start(c, execution="arn:other")
    pattern = text(f'%"execution":"{EXECUTION}"%')
    # The history query is itself RUNNING (as in Snowflake) but carries no tag, so only ours matches.
    body = ok(c.submit(RUNNING_OF_EXECUTION, bindings={"1": pattern}, warehouse="POSTETL_WH"))
    assert columns(body) == ["QUERY_ID", "QUERY_TAG", "EXECUTION_STATUS"]
    assert data_of(body) == [[ours, tag(EXECUTION), "RUNNING"]]
    body = ok(c.submit("SELECT QUERY_ID FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY()) "
                       "WHERE EXECUTION_STATUS = 'RUNNING' ORDER BY START_TIME"))
    assert data_of(body) == [[ours], [theirs], [body["statementHandle"]]]

    # One SELECT SYSTEM$CANCEL_QUERY(?) per id, as the Lambda sends it; no warehouse needed.
    body = ok(c.submit("SELECT SYSTEM$CANCEL_QUERY(?)", bindings={"1": text(ours)}, warehouse=None))
    assert columns(body) == ["SYSTEM$CANCEL_QUERY(?)"]
    assert data_of(body) == [[f"query [{ours}] terminated."]]
    status, body, _ = c.get(ours)
    assert (status, body["code"], body["message"]) == (422, "000604", "SQL execution canceled")
    assert status_in_log(c, ours) == "canceled"
    assert data_of(ok(c.submit(RUNNING_OF_EXECUTION, bindings={"1": pattern}))) == []
    # Not running (any more), or unknown: Snowflake answers a message, not an error.
    assert rows(c, "SELECT SYSTEM$CANCEL_QUERY(?)", bindings={"1": text(ours)}) == [[NOT_EXECUTING]]
    body = ok(c.submit("SELECT SYSTEM$CANCEL_QUERY('00000000-0000-0000-0000-000000000000')"))
    assert columns(body) == ["SYSTEM$CANCEL_QUERY('00000000-0000-0000-0000-000000000000')"]
    assert data_of(body) == [[NOT_EXECUTING]]
    assert rows(c, "SELECT EXECUTION_STATUS, ERROR_CODE, ERROR_MESSAGE FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY("
                   "RESULT_LIMIT => 100)) WHERE QUERY_ID = ?", bindings={"1": text(ours)}) == \
        [["FAILED_WITH_ERROR", "604", "SQL execution canceled"]]

    # Cancel straight from the history: each selected row's query is canceled.
    body = ok(c.submit("SELECT SYSTEM$CANCEL_QUERY(QUERY_ID) AS RESULT FROM TABLE(\"INFORMATION_SCHEMA\"."
                       "\"QUERY_HISTORY_BY_WAREHOUSE\"(WAREHOUSE_NAME => 'postetl_wh')) WHERE EXECUTION_STATUS = "
                       "'RUNNING' AND QUERY_TAG LIKE :1", bindings={"1": text("%arn:other%")}))
    assert columns(body) == ["RESULT"] and data_of(body) == [[f"query [{theirs}] terminated."]]
    assert c.get(theirs)[1]["code"] == "000604" and status_in_log(c, theirs) == "canceled"


def test_finished_statements_status_error_codes_and_result_limit(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (A INT)")
    ok(c.submit("INSERT INTO T VALUES (1), (2)", parameters={"query_tag": "load"}))
    fails(c.submit("SELECT * FROM NOPE"), "002003")
    ok(c.submit("SELECT A FROM T", role="ANALYST"))
    query = ("SELECT QUERY_TEXT, QUERY_TYPE, EXECUTION_STATUS, ERROR_CODE, ERROR_MESSAGE, QUERY_TAG, WAREHOUSE_NAME, "
             "USER_NAME, ROLE_NAME, DATABASE_NAME, SCHEMA_NAME, ROWS_PRODUCED, END_TIME >= START_TIME "
             "FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(RESULT_LIMIT => 4))")
    body = ok(c.submit(query))
    me = body["statementHandle"]
    assert data_of(body) == [
        [query, "SELECT", "RUNNING", None, None, "", "WH", "SVC_USER", "LOADER", "DB", "PUBLIC", None,
         "false"],
        ["SELECT A FROM T", "SELECT", "SUCCESS", None, None, "", "WH", "SVC_USER", "ANALYST", "DB", "PUBLIC", "2",
         "true"],
        ["SELECT * FROM NOPE", "SELECT", "FAILED_WITH_ERROR", "2003",
         "SQL compilation error:\nObject 'NOPE' does not exist or not authorized.", "", "WH", "SVC_USER", "LOADER",
         "DB", "PUBLIC", None, "true"],
        ["INSERT INTO T VALUES (1), (2)", "INSERT", "SUCCESS", None, None, "load", "WH", "SVC_USER", "LOADER", "DB",
         "PUBLIC", "2", "true"],
    ]
    # RESULT_LIMIT is applied before WHERE: the most recent row is the querying statement itself.
    assert rows(c, "SELECT QUERY_ID FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(RESULT_LIMIT => 1)) "
                   "WHERE EXECUTION_STATUS = 'SUCCESS'") == []
    assert len(rows(c, "SELECT * FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(RESULT_LIMIT => 2))")) == 2
    assert rows(c, "SELECT COUNT(*) FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY()) WHERE QUERY_ID = ?",
                bindings={"1": text(me)}) == [["1"]]
    fails(c.submit("SELECT * FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(RESULT_LIMIT => 0))"), "002018")
    fails(c.submit("SELECT * FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(NOPE => 1))"), "002018")
    # A range end means completed queries only (the querying statement is not).
    assert rows(c, "SELECT COUNT(*) FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(END_TIME_RANGE_START => "
                   "CURRENT_TIMESTAMP() - INTERVAL 1 HOUR, END_TIME_RANGE_END => CURRENT_TIMESTAMP())) "
                   "WHERE EXECUTION_STATUS = 'RUNNING'") == [["0"]]


def test_history_dimensions_names_and_visibility(c):
    setup_warehouse(c)
    ok(c.submit("SELECT 1", warehouse="POSTETL_WH"))
    ok(c.submit("SELECT 2"))
    q = "SELECT QUERY_TEXT FROM TABLE({}) WHERE EXECUTION_STATUS = 'SUCCESS' AND QUERY_TEXT LIKE 'SELECT _'"
    assert rows(c, q.format("INFORMATION_SCHEMA.QUERY_HISTORY_BY_WAREHOUSE('postetl_wh')")) == [["SELECT 1"]]
    assert rows(c, q.format("INFORMATION_SCHEMA.QUERY_HISTORY_BY_WAREHOUSE()"), warehouse="POSTETL_WH") == \
        [["SELECT 1"]]  # default: the current warehouse
    assert rows(c, q.format("information_schema.query_history_by_warehouse(warehouse_name => '\"postetl_wh\"')")) == []
    assert rows(c, q.format("INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER(USER_NAME => 'svc_user')")) == \
        [["SELECT 2"], ["SELECT 1"]]
    assert rows(c, q.format("INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER(USER_NAME => 'SOMEONE')")) == []
    assert rows(c, "SELECT COUNT(*) FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION())") == [["1"]]
    # Any database context; without one the name must be qualified (like Snowflake).
    assert rows(c, q.format("DB.INFORMATION_SCHEMA.QUERY_HISTORY()"), database=None, schema=None) == \
        [["SELECT 2"], ["SELECT 1"]]
    assert len(rows(c, q.format("SNOWFLAKE.INFORMATION_SCHEMA.QUERY_HISTORY()"), database=None, schema=None)) == 2
    fails(c.submit(q.format("INFORMATION_SCHEMA.QUERY_HISTORY()"), database=None, schema=None), "090105")
    fails(c.submit(q.format("NOPE.INFORMATION_SCHEMA.QUERY_HISTORY()")), "002003")
    # Another account's statements are not in this account's history.
    c.admin("POST", "/users", {"account": "OTHER", "user": "U", "public_keys": [public_pem(KEY3)]})
    c.sql("CREATE DATABASE ODB")
    other = make_token(KEY3, account="OTHER", user="U")
    assert c.submit("SELECT 3", token=other, database="ODB")[0] == 200
    assert rows(c, q.format("INFORMATION_SCHEMA.QUERY_HISTORY()"), token=other, database="ODB") == [["SELECT 3"]]
    assert len(rows(c, q.format("INFORMATION_SCHEMA.QUERY_HISTORY()"))) == 2
    # The admin API sees every account.
    assert c.sql(q.format("DB.INFORMATION_SCHEMA.QUERY_HISTORY()"))["rows"] == \
        [["SELECT 3"], ["SELECT 2"], ["SELECT 1"]]


def test_abort_all_queries_and_several_cancels_in_one_request(c):
    setup_warehouse(c)
    first, second = start(c), start(c, execution=None)
    elsewhere = start(c, warehouse="WH")
    # Run on that same warehouse: it aborts the others, not itself.
    body = ok(c.submit("ALTER WAREHOUSE POSTETL_WH ABORT ALL QUERIES", warehouse="POSTETL_WH"))
    assert data_of(body) == [["Statement executed successfully."]]
    for handle in (first, second):
        assert c.get(handle)[1]["code"] == "000604" and status_in_log(c, handle) == "canceled"
    assert c.get(elsewhere)[0] == 202
    fails(c.submit("ALTER WAREHOUSE NOPE ABORT ALL QUERIES"), "002003")
    ok(c.submit("ALTER WAREHOUSE IF EXISTS NOPE ABORT ALL QUERIES"))

    another = start(c, warehouse="WH")
    body = ok(c.submit(f"SELECT SYSTEM$CANCEL_QUERY('{elsewhere}');\nSELECT SYSTEM$CANCEL_QUERY('{another}')",
                       parameters={"MULTI_STATEMENT_COUNT": 2}))
    answers = [data_of(c.get(h)[1]) for h in body["statementHandles"]]
    assert answers == [[[f"query [{elsewhere}] terminated."]], [[f"query [{another}] terminated."]]]
    assert [c.get(h)[1]["code"] for h in (elsewhere, another)] == ["000604", "000604"]
