"""Tests of the emulated Iceberg tables, dynamic tables and tasks, and of the statements the
project's Lambdas send, over real HTTP (fixtures: conftest.py; client and checks: emulator_client.py).

Run: cd tests/emulator && ../../.venv/bin/python -m pytest -q
"""

import datetime
import time

import pytest

from emulator_client import data_of, fails, ok, rows

ORDERS_COLUMNS = [["ORDER_ID", "INTEGER"], ["STATUS", "VARCHAR"], ["AMOUNT", "NUMBER(10,2)"],
                  ["UPDATED_AT", "TIMESTAMP_NTZ"]]
V1 = "orders/metadata/00001-aaa.metadata.json"
V2 = "orders/metadata/00002-abc.metadata.json"
OK = [["Statement executed successfully."]]


def register_orders(c, catalog="object_store", table="LAKE.RAW.ORDERS"):
    status, body = c.admin("POST", "/iceberg/tables", {"table": table, "catalog": catalog, "columns": ORDERS_COLUMNS})
    assert status == 200, body
    return body


def snapshot(c, path, table="LAKE.RAW.ORDERS", **data):
    status, body = c.admin("POST", "/iceberg/snapshots", {"table": table, "metadata_file": path, **data})
    assert status == 200, body
    return body


def iceberg(c, name="LAKE.RAW.ORDERS"):
    return next(t for t in c.admin("GET", "/iceberg")[1]["tables"] if t["table"] == name)


def dynamic(c, name):
    return next(t for t in c.admin("GET", "/dynamic_tables")[1]["dynamic_tables"] if t["name"] == name)


def task(c, name):
    return next(t for t in c.admin("GET", "/tasks")[1]["tasks"] if t["name"] == name)


def wait_for(predicate, timeout=5.0):
    end = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > end:
            return value
        time.sleep(0.02)


# ---------------------------------------------------------------- Iceberg tables

def test_iceberg_data_is_visible_only_after_refresh(c):
    entry = register_orders(c)
    assert entry == {"table": "LAKE.RAW.ORDERS", "catalog": "object_store", "external_volume": None,
                     "current_metadata_file": None, "columns": ORDERS_COLUMNS, "snapshots": [], "refresh_count": 0,
                     "last_refreshed": None}
    snapshot(c, V1, rows=[[1, "NEW", 10, "2026-11-20 08:00:00"], [2, "NEW", 20, "2026-11-20 09:00:00"]])
    assert rows(c, 'SELECT COUNT(*) FROM "LAKE"."RAW"."ORDERS"') == [["0"]]  # written by Glue, not refreshed

    body = ok(c.submit(f'ALTER ICEBERG TABLE "LAKE"."RAW"."ORDERS" REFRESH \'{V1}\''))
    assert data_of(body) == OK and body["resultSetMetaData"]["rowType"][0]["name"] == "status"
    assert rows(c, "SELECT ORDER_ID, STATUS, AMOUNT FROM LAKE.RAW.ORDERS ORDER BY 1") == \
        [["1", "NEW", "10.00"], ["2", "NEW", "20.00"]]

    # A snapshot is the table's full contents as of its metadata file; SQL is evaluated when registered.
    snapshot(c, V2, sql="SELECT ORDER_ID, 'PAID', AMOUNT, '2026-11-21 10:00:00'::TIMESTAMP_NTZ FROM LAKE.RAW.ORDERS "
                        "WHERE ORDER_ID = 1 UNION ALL SELECT 2, 'NEW', 20, '2026-11-20 09:00:00' "
                        "UNION ALL SELECT 3, 'NEW', 30, '2026-11-21 11:00:00'")
    assert rows(c, "SELECT COUNT(*) FROM LAKE.RAW.ORDERS") == [["2"]]
    assert ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V2}'"))
    expected = [["1", "PAID"], ["2", "NEW"], ["3", "NEW"]]
    assert rows(c, "SELECT ORDER_ID, STATUS FROM LAKE.RAW.ORDERS ORDER BY 1") == expected
    # Refreshing to the metadata file that is already current changes nothing and succeeds.
    assert data_of(ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V2}'"))) == OK
    assert rows(c, "SELECT ORDER_ID, STATUS FROM LAKE.RAW.ORDERS ORDER BY 1") == expected
    # Partial names resolve against the session's database and schema.
    assert ok(c.submit(f"ALTER ICEBERG TABLE RAW.ORDERS REFRESH '{V2}'", database="LAKE", schema=None))
    assert ok(c.submit(f"ALTER ICEBERG TABLE orders REFRESH '{V2}'", database="LAKE", schema="RAW"))
    entry = iceberg(c)
    assert entry["current_metadata_file"] == V2 and entry["snapshots"] == [V1, V2]
    assert entry["refresh_count"] == 5 and entry["last_refreshed"] > time.time() - 60


def test_iceberg_refresh_errors(c):
    register_orders(c)
    snapshot(c, V1, rows=[])
    message = fails(c.submit("ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH 'orders/metadata/00009-x.metadata.json'"),
                    "091315", "22000")
    assert message == "Failed to refresh Iceberg table: metadata file 'orders/metadata/00009-x.metadata.json' not found."
    for path in ("/" + V1, "s3://lake/warehouse/" + V1):
        message = fails(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{path}'"), "091316", "22023")
        assert path in message and "relative" in message
    fails(c.submit("ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH"), "091318")

    message = fails(c.submit('ALTER ICEBERG TABLE "LAKE"."RAW"."NOPE" REFRESH'), "002003", "02000")
    assert message == "SQL compilation error:\nTable 'LAKE.RAW.NOPE' does not exist or not authorized."
    assert data_of(ok(c.submit("ALTER ICEBERG TABLE IF EXISTS LAKE.RAW.NOPE REFRESH 'x.json'"))) == OK
    c.sql("CREATE TABLE DB.PUBLIC.PLAIN (A INT)")
    message = fails(c.submit("ALTER ICEBERG TABLE PLAIN REFRESH 'x.json'"), "002203")
    assert "Object found is of type 'TABLE', not specified type 'ICEBERG_TABLE'" in message
    message = fails(c.submit("ALTER ICEBERG TABLE RAW.ORDERS REFRESH 'x.json'", database=None, schema=None), "090105")
    assert "does not have a current database" in message
    assert iceberg(c)["refresh_count"] == 0


def test_iceberg_glue_catalog_refreshes_without_path(c):
    register_orders(c, catalog="glue")
    assert data_of(ok(c.submit('ALTER ICEBERG TABLE "LAKE"."RAW"."ORDERS" REFRESH'))) == OK  # nothing written yet
    assert rows(c, "SELECT COUNT(*) FROM LAKE.RAW.ORDERS") == [["0"]]
    snapshot(c, "orders/metadata/00001-a.metadata.json", rows=[[1, "NEW", 1, None]])
    snapshot(c, "orders/metadata/00002-b.metadata.json", rows=[[1, "PAID", 1, None], [2, "NEW", 2, None]])
    assert rows(c, "SELECT COUNT(*) FROM LAKE.RAW.ORDERS") == [["0"]]
    ok(c.submit('ALTER ICEBERG TABLE "LAKE"."RAW"."ORDERS" REFRESH'))
    assert rows(c, "SELECT ORDER_ID, STATUS FROM LAKE.RAW.ORDERS ORDER BY 1") == [["1", "PAID"], ["2", "NEW"]]
    assert iceberg(c)["current_metadata_file"] == "orders/metadata/00002-b.metadata.json"
    message = fails(c.submit("ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH 'orders/metadata/00002-b.metadata.json'"),
                    "091317", "22023")
    assert "catalog integration" in message


def test_iceberg_admin_validation(c):
    status, body = c.admin("POST", "/iceberg/tables", {"table": "ORDERS", "columns": ORDERS_COLUMNS})
    assert status == 400 and "three-part" in body["error"]
    status, _ = c.admin("POST", "/iceberg/tables", {"table": "LAKE.RAW.T", "catalog": "hive", "columns": ORDERS_COLUMNS})
    assert status == 400
    status, _ = c.admin("POST", "/iceberg/snapshots", {"table": "LAKE.RAW.NOPE", "metadata_file": V1, "rows": []})
    assert status == 404
    register_orders(c)
    for bad in ({"metadata_file": V1, "rows": [[1, "x"]]}, {"metadata_file": "/" + V1, "rows": []},
                {"metadata_file": V1}, {"metadata_file": V1, "rows": [], "sql": "SELECT 1"},
                {"metadata_file": V1, "rows": [["not a number", "x", 1, None]]},
                {"metadata_file": V1, "sql": "SELECT * FROM NOPE"}):
        status, body = c.admin("POST", "/iceberg/snapshots", {"table": "LAKE.RAW.ORDERS", **bad})
        assert status == 400, (bad, body)
    assert iceberg(c)["snapshots"] == []
    # Registering again replaces the table: empty, no snapshots.
    snapshot(c, V1, rows=[[1, "NEW", 1, None]])
    ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V1}'"))
    register_orders(c)
    assert iceberg(c)["snapshots"] == [] and iceberg(c)["refresh_count"] == 0
    assert rows(c, "SELECT COUNT(*) FROM LAKE.RAW.ORDERS") == [["0"]]
    # Dropping the database forgets its Iceberg tables.
    c.sql("DROP DATABASE LAKE")
    assert c.admin("GET", "/iceberg")[1] == {"tables": []}


MERGE = ('MERGE INTO "ANALYTICS"."CORE"."ORDERS" AS t USING (SELECT "ORDER_ID", "STATUS", "UPDATED_AT" '
         'FROM "LAKE"."RAW"."ORDERS" QUALIFY ROW_NUMBER() OVER (PARTITION BY "ORDER_ID" ORDER BY "UPDATED_AT" DESC) = 1) '
         'AS s ON t."ORDER_ID" = s."ORDER_ID" WHEN MATCHED AND (t."UPDATED_AT" IS NULL OR s."UPDATED_AT" > '
         't."UPDATED_AT") THEN UPDATE SET "STATUS" = s."STATUS", "UPDATED_AT" = s."UPDATED_AT" WHEN NOT MATCHED THEN '
         'INSERT ("ORDER_ID", "STATUS", "UPDATED_AT") VALUES (s."ORDER_ID", s."STATUS", s."UPDATED_AT")')


def test_iceberg_tables_are_read_only_but_readable(c):
    register_orders(c)
    snapshot(c, V1, rows=[[1, "NEW", 10, "2026-11-20 08:00:00"], [1, "PAID", 10, "2026-11-20 09:00:00"],
                          [2, "NEW", 20, "2026-11-20 09:30:00"]])
    ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V1}'"))
    for statement in ('INSERT INTO "LAKE"."RAW"."ORDERS" (ORDER_ID) VALUES (9)', "UPDATE LAKE.RAW.ORDERS SET STATUS = 'X'",
                      "DELETE FROM LAKE.RAW.ORDERS", "TRUNCATE TABLE LAKE.RAW.ORDERS",
                      "MERGE INTO LAKE.RAW.ORDERS t USING (SELECT 1 AS ID) s ON t.ORDER_ID = s.ID "
                      "WHEN MATCHED THEN DELETE"):
        message = fails(c.submit(statement), "091319", "0A000")
        assert "read-only" in message and "LAKE.RAW.ORDERS" in message
    fails(c.submit("DELETE FROM ORDERS", database="LAKE", schema="RAW"), "091319")
    fails(c.submit("DROP TABLE LAKE.RAW.ORDERS"), "002203")
    assert rows(c, "SELECT COUNT(*) FROM LAKE.RAW.ORDERS") == [["3"]]

    # The run-merge Lambda's statement, with the Iceberg table as source.
    c.sql("CREATE DATABASE ANALYTICS; CREATE SCHEMA ANALYTICS.CORE; "
          "CREATE TABLE ANALYTICS.CORE.ORDERS (ORDER_ID NUMBER, STATUS VARCHAR, UPDATED_AT TIMESTAMP_NTZ); "
          "INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 'NEW', '2026-11-20 08:00:00')")
    body = ok(c.submit(MERGE))
    assert [col["name"] for col in body["resultSetMetaData"]["rowType"]] == \
        ["number of rows inserted", "number of rows updated"]
    assert data_of(body) == [["1", "1"]]
    assert body["stats"] == {"numRowsInserted": 1, "numRowsUpdated": 1, "numRowsDeleted": 0,
                             "numDuplicateRowsUpdated": 0}
    assert data_of(ok(c.submit(MERGE))) == [["0", "0"]]  # nothing newer: nothing changes
    # A source that does not select the version column cannot compare it (as in Snowflake).
    broken = MERGE.replace('SELECT "ORDER_ID", "STATUS", "UPDATED_AT" FROM', 'SELECT "ORDER_ID", "STATUS" FROM')
    assert fails(c.submit(broken), "000904", "42000").endswith("invalid identifier 'S.UPDATED_AT'")
    assert rows(c, "SELECT t.ORDER_ID, t.STATUS, COUNT(*) FROM ANALYTICS.CORE.ORDERS t JOIN LAKE.RAW.ORDERS r "
                   "ON r.ORDER_ID = t.ORDER_ID GROUP BY 1, 2 ORDER BY 1") == [["1", "PAID", "2"], ["2", "NEW", "1"]]
    # Admin fixture SQL may still write into it.
    c.sql("INSERT INTO LAKE.RAW.ORDERS (ORDER_ID) VALUES (9)")


# ---------------------------------------------------------------- dynamic tables

def setup_sales(c):
    c.sql("CREATE TABLE DB.PUBLIC.SALES (DAY DATE, AMOUNT NUMBER(10,2)); "
          "INSERT INTO DB.PUBLIC.SALES VALUES ('2026-11-20', 10), ('2026-11-20', 5), ('2026-11-21', 7)")


def test_dynamic_table_create_refresh_and_state(c):
    setup_sales(c)
    c.sql("CREATE WAREHOUSE TRANSFORM_WH INITIALLY_SUSPENDED = TRUE AUTO_RESUME = FALSE")
    body = ok(c.submit("CREATE OR REPLACE DYNAMIC TABLE DAILY_REVENUE WAREHOUSE = TRANSFORM_WH REFRESH_MODE = FULL "
                       "TARGET_LAG = '1 hour' AS SELECT DAY, SUM(AMOUNT) AS REVENUE FROM SALES GROUP BY DAY"))
    assert data_of(body) == [["Dynamic table DAILY_REVENUE successfully created."]]
    days = [str((datetime.date(2026, 11, d) - datetime.date(1970, 1, 1)).days) for d in (20, 21)]
    assert rows(c, "SELECT DAY, REVENUE FROM DAILY_REVENUE ORDER BY DAY") == [[days[0], "15.00"], [days[1], "7.00"]]
    dt = dynamic(c, "DB.PUBLIC.DAILY_REVENUE")
    assert (dt["state"], dt["refresh_count"], dt["rows"], dt["target_lag"]) == ("ACTIVE", 1, 2, "1 hour")
    [wh] = [w for w in c.admin("GET", "/warehouses")[1]["warehouses"] if w["name"] == "TRANSFORM_WH"]
    assert wh["state"] == "SUSPENDED" and wh["resume_count"] == 0  # refresh compute is not counted

    c.sql("INSERT INTO DB.PUBLIC.SALES VALUES ('2026-11-22', 3)")
    assert rows(c, "SELECT COUNT(*) FROM DAILY_REVENUE") == [["2"]]  # until refreshed
    assert data_of(ok(c.submit('ALTER DYNAMIC TABLE "DB"."PUBLIC"."DAILY_REVENUE" REFRESH'))) == OK
    assert rows(c, "SELECT COUNT(*) FROM DAILY_REVENUE") == [["3"]]
    dt = dynamic(c, "DB.PUBLIC.DAILY_REVENUE")
    assert dt["refresh_count"] == 2 and dt["rows"] == 3 and dt["last_refreshed"] > time.time() - 60

    ok(c.submit("ALTER DYNAMIC TABLE DB.PUBLIC.DAILY_REVENUE SUSPEND"))
    assert dynamic(c, "DB.PUBLIC.DAILY_REVENUE")["state"] == "SUSPENDED"
    c.sql("DELETE FROM DB.PUBLIC.SALES WHERE DAY = '2026-11-22'")
    ok(c.submit("ALTER DYNAMIC TABLE DAILY_REVENUE REFRESH"))  # manual refresh works while suspended
    assert rows(c, "SELECT COUNT(*) FROM DAILY_REVENUE") == [["2"]]
    ok(c.submit("ALTER DYNAMIC TABLE PUBLIC.DAILY_REVENUE RESUME"))
    assert dynamic(c, "DB.PUBLIC.DAILY_REVENUE")["state"] == "ACTIVE"

    message = fails(c.submit('ALTER DYNAMIC TABLE "DB"."PUBLIC"."NOPE" REFRESH'), "002003", "02000")
    assert message == "SQL compilation error:\nDynamic table 'DB.PUBLIC.NOPE' does not exist or not authorized."
    assert data_of(ok(c.submit("ALTER DYNAMIC TABLE IF EXISTS NOPE REFRESH"))) == OK
    fails(c.submit("ALTER DYNAMIC TABLE SALES REFRESH"), "002203")
    for statement in ("INSERT INTO DAILY_REVENUE VALUES ('2026-01-01', 1)", "DELETE FROM DB.PUBLIC.DAILY_REVENUE",
                      "UPDATE DAILY_REVENUE SET REVENUE = 0"):
        message = fails(c.submit(statement), "091320", "0A000")
        assert "DAILY_REVENUE" in message
    fails(c.submit("CREATE OR REPLACE TABLE DAILY_REVENUE (A INT)"), "002002")
    fails(c.submit("CREATE DYNAMIC TABLE DAILY_REVENUE TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT 1"), "002002")
    fails(c.submit("CREATE DYNAMIC TABLE X TARGET_LAG = '1 minute' WAREHOUSE = NO_WH AS SELECT 1"), "002003")
    fails(c.submit("CREATE DYNAMIC TABLE X TARGET_LAG = 'soon' WAREHOUSE = WH AS SELECT 1"), "002018")
    fails(c.submit("CREATE DYNAMIC TABLE X TARGET_LAG = '1 minute' AS SELECT 1"), "001003")
    assert data_of(ok(c.submit("DROP DYNAMIC TABLE DAILY_REVENUE"))) == [["DAILY_REVENUE successfully dropped."]]
    assert c.admin("GET", "/dynamic_tables")[1] == {"dynamic_tables": []}
    fails(c.submit("SELECT * FROM DAILY_REVENUE"), "002003")


def test_dynamic_table_on_schedule_and_upstream_refresh(c):
    setup_sales(c)
    ok(c.submit('CREATE DYNAMIC TABLE "DB"."PUBLIC"."DAILY" TARGET_LAG = DOWNSTREAM WAREHOUSE = WH '
                "AS SELECT DAY, SUM(AMOUNT) AS REVENUE FROM SALES GROUP BY DAY"))
    ok(c.submit("CREATE DYNAMIC TABLE TOTAL (TOTAL_REVENUE) WAREHOUSE = WH TARGET_LAG = '1 day' "
                "INITIALIZE = ON_SCHEDULE AS SELECT SUM(REVENUE) FROM DAILY"))
    message = fails(c.submit("SELECT * FROM TOTAL"), "091321")
    assert message.startswith("Dynamic Table 'DB.PUBLIC.TOTAL' is not initialized.")
    assert dynamic(c, "DB.PUBLIC.TOTAL")["refresh_count"] == 0
    c.sql("INSERT INTO DB.PUBLIC.SALES VALUES ('2026-11-23', 100)")
    ok(c.submit("ALTER DYNAMIC TABLE TOTAL REFRESH"))  # refreshes DAILY first
    body = ok(c.submit("SELECT TOTAL_REVENUE FROM TOTAL"))
    assert data_of(body) == [["122.00"]]
    assert dynamic(c, "DB.PUBLIC.DAILY")["refresh_count"] == 2 and dynamic(c, "DB.PUBLIC.TOTAL")["rows"] == 1
    ok(c.submit("ALTER DYNAMIC TABLE DAILY SUSPEND"))  # suspends downstream too
    assert dynamic(c, "DB.PUBLIC.TOTAL")["state"] == "SUSPENDED"
    ok(c.submit("ALTER DYNAMIC TABLE DAILY RESUME"))
    assert dynamic(c, "DB.PUBLIC.TOTAL")["state"] == "ACTIVE"


# ---------------------------------------------------------------- tasks

def test_execute_task_runs_asynchronously_and_is_recorded(c):
    c.sql("CREATE SCHEMA DB.MARTS; CREATE TABLE DB.MARTS.EXPORTS (N INT, DB VARCHAR, SCH VARCHAR, WH VARCHAR)")
    body = ok(c.submit('CREATE TASK "DB"."MARTS"."EXPORT_DAILY_REVENUE" WAREHOUSE = WH SCHEDULE = \'60 MINUTE\' '
                       "COMMENT = 'export' AS INSERT INTO EXPORTS SELECT 1, CURRENT_DATABASE(), CURRENT_SCHEMA(), "
                       "CURRENT_WAREHOUSE() FROM (SELECT SYSTEM$WAIT(800, 'MILLISECONDS'))"))
    assert data_of(body) == [["Task EXPORT_DAILY_REVENUE successfully created."]]
    t = task(c, "DB.MARTS.EXPORT_DAILY_REVENUE")
    assert (t["state"], t["runs"], t["schedule"], t["warehouse"]) == ("suspended", [], "60 MINUTE", "WH")

    started = time.time()
    body = ok(c.submit('EXECUTE TASK "DB"."MARTS"."EXPORT_DAILY_REVENUE"'))
    assert data_of(body) == OK and time.time() - started < 0.8  # answered before the run ends
    run = task(c, "DB.MARTS.EXPORT_DAILY_REVENUE")["runs"][0]
    assert run["state"] in ("SCHEDULED", "EXECUTING") and run["completed"] is None
    assert rows(c, "SELECT COUNT(*) FROM DB.MARTS.EXPORTS") == [["0"]]
    run = wait_for(lambda: next((r for r in task(c, "DB.MARTS.EXPORT_DAILY_REVENUE")["runs"]
                                 if r["state"] == "SUCCEEDED"), None))
    assert run and run["error"] is None and run["completed"] >= run["started"] + 0.8
    assert rows(c, "SELECT * FROM DB.MARTS.EXPORTS") == [["1", "DB", "MARTS", "WH"]]

    message = fails(c.submit('EXECUTE TASK "DB"."MARTS"."NOPE"'), "002003", "02000")
    assert message == "SQL compilation error:\nTask 'DB.MARTS.NOPE' does not exist or not authorized."
    fails(c.submit("EXECUTE TASK EXPORT_DAILY_REVENUE RETRY LAST", schema="MARTS"), "091323")
    ok(c.submit("ALTER TASK MARTS.EXPORT_DAILY_REVENUE RESUME"))
    assert task(c, "DB.MARTS.EXPORT_DAILY_REVENUE")["state"] == "started"
    ok(c.submit("ALTER TASK MARTS.EXPORT_DAILY_REVENUE SUSPEND"))
    assert task(c, "DB.MARTS.EXPORT_DAILY_REVENUE")["state"] == "suspended"
    fails(c.submit("ALTER TASK NOPE RESUME"), "002003")


def test_task_failure_retry_and_children(c):
    ok(c.submit("CREATE TASK ROOT AS INSERT INTO MISSING VALUES (1)"))  # serverless: no warehouse
    ok(c.submit("CREATE TASK CHILD AFTER ROOT AS INSERT INTO MISSING VALUES (2)"))
    ok(c.submit("ALTER TASK CHILD RESUME"))
    fails(c.submit("EXECUTE TASK CHILD"), "091322")
    ok(c.submit("EXECUTE TASK ROOT"))
    runs = wait_for(lambda: [r for r in task(c, "DB.PUBLIC.ROOT")["runs"] if r["completed"]])
    assert runs[0]["state"] == "FAILED" and runs[0]["error_code"] == "002003"
    assert "MISSING" in runs[0]["error"]
    time.sleep(0.1)
    assert task(c, "DB.PUBLIC.CHILD")["runs"] == []  # a failed predecessor stops the graph

    c.sql("CREATE TABLE DB.PUBLIC.MISSING (A INT)")
    ok(c.submit("EXECUTE TASK ROOT RETRY LAST"))
    assert wait_for(lambda: [r["state"] for r in task(c, "DB.PUBLIC.CHILD")["runs"]] == ["SUCCEEDED"])
    assert [r["state"] for r in task(c, "DB.PUBLIC.ROOT")["runs"]] == ["FAILED", "SUCCEEDED"]
    assert task(c, "DB.PUBLIC.ROOT")["runs"][1]["attempt"] == 2
    assert rows(c, "SELECT A FROM MISSING ORDER BY A") == [["1"], ["2"]]
    ok(c.submit("CREATE OR REPLACE TASK ROOT AS SELECT 1"))
    assert task(c, "DB.PUBLIC.ROOT")["runs"] == []
    ok(c.submit("DROP TASK CHILD"))
    assert [t["name"] for t in c.admin("GET", "/tasks")[1]["tasks"]] == ["DB.PUBLIC.ROOT"]


# ---------------------------------------------------------------- rules the three registries share (registry.py)

# (the words naming the kind, how messages name one, its type in messages, an ALTER verb)
REGISTRIES = [("ICEBERG TABLE", "Table", "ICEBERG_TABLE", "REFRESH"),
              ("DYNAMIC TABLE", "Dynamic table", "DYNAMIC_TABLE", "REFRESH"),
              ("TASK", "Task", "TASK", "RESUME")]


@pytest.mark.parametrize("words, noun, kind, verb", REGISTRIES)
def test_drop_and_alter_of_names_that_are_not_the_kind(c, words, noun, kind, verb):
    dropped = [["Drop statement executed successfully (NOPE already dropped)."]]
    assert data_of(ok(c.submit(f"DROP {words} IF EXISTS NOPE"))) == dropped
    assert data_of(ok(c.submit(f"ALTER {words} IF EXISTS DB.PUBLIC.NOPE {verb}"))) == OK
    for statement, name in ((f"DROP {words} NOPE", "NOPE"), (f"ALTER {words} PUBLIC.NOPE {verb}", "PUBLIC.NOPE")):
        assert fails(c.submit(statement), "002003", "02000") == \
            f"SQL compilation error:\n{noun} '{name}' does not exist or not authorized."  # the name as written
    fails(c.submit(f"DROP {words} DB.PUBLIC.NOPE EXTRA"), "001003")
    message = fails(c.submit(f"DROP {words} NOPE", database=None, schema=None), "090105")
    assert message.startswith(f"Cannot perform DROP {words}.")

    # A plain table's name: the wrong type for a table-like kind (IF EXISTS or not); tasks have their own names.
    c.sql("CREATE TABLE DB.PUBLIC.PLAIN (A INT)")
    for statement in (f"DROP {words} PLAIN", f"DROP {words} IF EXISTS PLAIN", f"ALTER {words} IF EXISTS PLAIN {verb}"):
        if kind == "TASK" and "IF EXISTS" in statement:
            assert ok(c.submit(statement))
        elif kind == "TASK":
            fails(c.submit(statement), "002003")
        else:
            assert fails(c.submit(statement), "002203", "42601") == \
                f"SQL compilation error:\nObject found is of type 'TABLE', not specified type '{kind}'."
    assert rows(c, "SELECT COUNT(*) FROM DB.PUBLIC.PLAIN") == [["0"]]


def test_iceberg_and_dynamic_tables_share_one_namespace(c):
    register_orders(c, table="DB.PUBLIC.ORDERS")
    ok(c.submit("CREATE DYNAMIC TABLE DAILY TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT 1 AS A"))
    wrong = "SQL compilation error:\nObject found is of type '{}', not specified type '{}'."
    assert fails(c.submit("DROP DYNAMIC TABLE IF EXISTS ORDERS"), "002203") == wrong.format("ICEBERG_TABLE",
                                                                                          "DYNAMIC_TABLE")
    assert fails(c.submit("DROP ICEBERG TABLE DAILY"), "002203") == wrong.format("DYNAMIC_TABLE", "ICEBERG_TABLE")
    assert fails(c.submit("ALTER ICEBERG TABLE DAILY REFRESH 'x.json'"), "002203") == \
        wrong.format("DYNAMIC_TABLE", "ICEBERG_TABLE")
    assert fails(c.submit("CREATE OR REPLACE DYNAMIC TABLE ORDERS TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT 1"),
                 "002002") == "SQL compilation error:\nObject 'ORDERS' already exists as ICEBERG_TABLE"
    assert data_of(ok(c.submit("DROP ICEBERG TABLE DB.PUBLIC.ORDERS"))) == [["ORDERS successfully dropped."]]
    fails(c.submit("SELECT * FROM DB.PUBLIC.ORDERS"), "002003")
    assert c.admin("GET", "/iceberg")[1] == {"tables": []}
    # Dropping the database forgets what was in it.
    register_orders(c)
    ok(c.submit("DROP DATABASE LAKE"))
    assert c.admin("GET", "/iceberg")[1] == {"tables": []}


@pytest.mark.parametrize("words, created, tail", [
    ("DYNAMIC TABLE", "Dynamic table", "TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT 1 AS A"),
    ("TASK", "Task", "WAREHOUSE = WH AS SELECT 1"),
])
def test_create_replace_if_not_exists_drop_and_forget(c, words, created, tail):
    listed = (lambda: [t["name"] for t in c.admin("GET", "/dynamic_tables")[1]["dynamic_tables"]]) \
        if words == "DYNAMIC TABLE" else (lambda: [t["name"] for t in c.admin("GET", "/tasks")[1]["tasks"]])
    assert data_of(ok(c.submit(f"CREATE {words} DB.PUBLIC.X {tail}"))) == [[f"{created} X successfully created."]]
    assert fails(c.submit(f"CREATE {words} x {tail}"), "002002", "42710") == \
        "SQL compilation error:\nObject 'X' already exists."
    assert data_of(ok(c.submit(f"CREATE {words} IF NOT EXISTS PUBLIC.X {tail}"))) == \
        [["X already exists, statement succeeded."]]
    assert data_of(ok(c.submit(f"CREATE OR REPLACE {words} X {tail}"))) == [[f"{created} X successfully created."]]
    assert listed() == ["DB.PUBLIC.X"]
    assert fails(c.submit(f"CREATE {words} DB.NOPE.X {tail}"), "002003") == \
        "SQL compilation error:\nSchema 'DB.NOPE' does not exist or not authorized."
    assert fails(c.submit(f"CREATE {words} NODB.PUBLIC.X {tail}"), "002003") == \
        "SQL compilation error:\nDatabase 'NODB' does not exist or not authorized."
    assert fails(c.submit(f"CREATE {words} Y {tail.replace('= WH', '= NO_WH')}"), "002003") == \
        "SQL compilation error:\nWarehouse 'NO_WH' does not exist or not authorized."
    assert data_of(ok(c.submit(f"DROP {words} X"))) == [["X successfully dropped."]]
    assert listed() == []
    # Dropping (or replacing) the schema forgets what was in it.
    ok(c.submit(f"CREATE SCHEMA DB.S2; CREATE {words} DB.S2.Z {tail}", parameters={"multi_statement_count": 2}))
    assert listed() == ["DB.S2.Z"]
    ok(c.submit("DROP SCHEMA DB.S2 CASCADE"))
    assert listed() == []


def test_dynamic_table_over_a_plain_table_name(c):
    c.sql("CREATE TABLE DB.PUBLIC.PLAIN (A INT)")
    tail = "TARGET_LAG = '1 minute' WAREHOUSE = WH AS SELECT 1 AS A"
    assert data_of(ok(c.submit(f"CREATE DYNAMIC TABLE IF NOT EXISTS PLAIN {tail}"))) == \
        [["PLAIN already exists, statement succeeded."]]
    assert fails(c.submit(f"CREATE DYNAMIC TABLE PLAIN {tail}"), "002002") == \
        "SQL compilation error:\nObject 'PLAIN' already exists."
    assert fails(c.submit(f"CREATE OR REPLACE DYNAMIC TABLE PLAIN {tail}"), "002002") == \
        "SQL compilation error:\nObject 'PLAIN' already exists as TABLE"
    assert c.admin("GET", "/dynamic_tables")[1] == {"dynamic_tables": []}


# ---------------------------------------------------------------- statements the Lambdas send

def test_warehouse_lambda_statements(c):
    c.sql("CREATE WAREHOUSE POSTETL_WH INITIALLY_SUSPENDED = TRUE")
    body = ok(c.submit("SHOW WAREHOUSES LIKE 'POSTETL_WH'"))
    names = [col["name"] for col in body["resultSetMetaData"]["rowType"]]
    [row] = [dict(zip(names, r)) for r in data_of(body)]
    assert (row["name"], row["state"], row["size"]) == ("POSTETL_WH", "SUSPENDED", "X-Small")
    ok(c.submit("ALTER WAREHOUSE \"POSTETL_WH\" SET WAREHOUSE_SIZE = 'SMALL'"))
    ok(c.submit('ALTER WAREHOUSE "POSTETL_WH" RESUME IF SUSPENDED'))
    [row] = [dict(zip(names, r)) for r in data_of(ok(c.submit("SHOW WAREHOUSES LIKE 'POSTETL_WH'")))]
    assert (row["state"], row["size"]) == ("STARTED", "Small")
    ok(c.submit('ALTER WAREHOUSE "POSTETL_WH" SUSPEND'))


def test_dq_check_lambda_statements(c):
    c.sql("CREATE DATABASE ANALYTICS; CREATE SCHEMA ANALYTICS.CORE; "
          "CREATE TABLE ANALYTICS.CORE.ORDERS (ORDER_ID NUMBER, STATUS VARCHAR, AMOUNT NUMBER(10,2), "
          "UPDATED_AT TIMESTAMP_NTZ); INSERT INTO ANALYTICS.CORE.ORDERS VALUES "
          "(1, 'NEW', 10, '2026-11-23 09:00:00.5'), (1, 'PAID', -1, NULL), (2, 'ODD', 3, '2026-11-22 09:00:00'), "
          "(3, NULL, 4, NULL)")
    assert rows(c, 'SELECT COUNT(*) FROM (SELECT "ORDER_ID" FROM "ANALYTICS"."CORE"."ORDERS" GROUP BY "ORDER_ID" '
                   "HAVING COUNT(*) > 1)") == [["1"]]
    assert rows(c, "SELECT COUNT(*) FROM (SELECT ORDER_ID FROM ANALYTICS.CORE.ORDERS WHERE AMOUNT < 0) "
                   "AS failing_rows") == [["1"]]
    body = ok(c.submit('SELECT MAX("UPDATED_AT") FROM "ANALYTICS"."CORE"."ORDERS"'))
    assert body["resultSetMetaData"]["rowType"][0]["type"] == "timestamp_ntz"
    assert data_of(body) == [["1795424400.500000000"]]
    text = lambda v: {"type": "TEXT", "value": v}  # noqa: E731
    assert rows(c, 'SELECT COUNT(*) FROM "ANALYTICS"."CORE"."ORDERS" WHERE "STATUS" IS NOT NULL AND "STATUS" NOT IN '
                   "(?, ?, ?)", bindings={"1": text("NEW"), "2": text("PAID"), "3": text("SHIPPED")}) == [["1"]]

    ok(c.submit('CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."AUDIT"'))
    ok(c.submit('CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."AUDIT"'))
    create = ('CREATE TABLE IF NOT EXISTS "ANALYTICS"."AUDIT"."DQ_RESULTS" (RUN_KEY VARCHAR, EXECUTION VARCHAR, '
              "PIPELINE VARCHAR, RULE VARCHAR, SEVERITY VARCHAR, OUTCOME VARCHAR, OBSERVED BIGINT, MESSAGE VARCHAR, "
              "CHECKED_AT TIMESTAMP)")
    ok(c.submit(create))
    ok(c.submit(create))
    bindings, values = {}, [["r1", "e1", "p", "unique", "error", "pass", {"type": "FIXED", "value": "0"}, "ok"],
                            ["r1", "e1", "p", "fresh", "warn", "warn", {"type": "FIXED", "value": None}, "no rows"]]
    for i, row in enumerate(values):
        for j, v in enumerate(row + ["2026-11-23 10:00:00.123"]):
            bindings[str(i * 9 + j + 1)] = v if isinstance(v, dict) else text(v)
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * 2)
    body = ok(c.submit('INSERT INTO "ANALYTICS"."AUDIT"."DQ_RESULTS" (RUN_KEY, EXECUTION, PIPELINE, RULE, SEVERITY, '
                       f"OUTCOME, OBSERVED, MESSAGE, CHECKED_AT) VALUES {marks}", bindings=bindings))
    assert body["stats"]["numRowsInserted"] == 2
    body = ok(c.submit("SELECT RULE, OBSERVED, CHECKED_AT FROM ANALYTICS.AUDIT.DQ_RESULTS ORDER BY RULE"))
    assert body["resultSetMetaData"]["rowType"][2]["type"] == "timestamp_ntz"
    assert data_of(body) == [["fresh", None, "1795428000.123000000"], ["unique", "0", "1795428000.123000000"]]


def test_multi_statement_ctas(c):
    c.sql("CREATE TABLE DB.PUBLIC.SRC AS SELECT range AS N FROM range(4)")
    body = ok(c.submit("CREATE OR REPLACE TABLE DB.PUBLIC.EVENS AS SELECT N FROM SRC WHERE N % 2 = 0;\n"
                       "CREATE OR REPLACE TABLE DB.PUBLIC.ODDS AS SELECT N FROM SRC WHERE N % 2 = 1;",
                       parameters={"MULTI_STATEMENT_COUNT": 0}))
    assert data_of(body) == [["Multiple statements executed successfully."]]
    children = [data_of(c.get(h)[1]) for h in body["statementHandles"]]
    assert children == [[["Table EVENS successfully created."]], [["Table ODDS successfully created."]]]
    assert rows(c, "SELECT COUNT(*) FROM ODDS") == [["2"]]
