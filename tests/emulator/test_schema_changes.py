"""Tests of what schema-drift detection sends through the SQL API: DESCRIBE TABLE in Snowflake's
shape, ALTER TABLE's column actions with Snowflake's rules and errors, and Iceberg snapshots whose
columns differ, picked up by REFRESH (fixtures: conftest.py; client and checks: emulator_client.py).

Run: cd tests/emulator && ../../.venv/bin/python -m pytest -q test_schema_changes.py
"""

from emulator_client import data_of, fails, ok, rows

OK = [["Statement executed successfully."]]
DESCRIBE = ["name", "type", "kind", "null?", "default", "primary key", "unique key", "check", "expression", "comment",
            "policy name", "privacy domain", "write default"]
ORDERS_COLUMNS = [["ORDER_ID", "INTEGER"], ["STATUS", "VARCHAR"], ["AMOUNT", "NUMBER(10,2)"],
                  ["UPDATED_AT", "TIMESTAMP_NTZ"]]
V1 = "orders/metadata/00001-aaa.metadata.json"
V2 = "orders/metadata/00002-bbb.metadata.json"
V3 = "orders/metadata/00003-ccc.metadata.json"


def column(name, type_, null="Y", default=None, primary="N", comment=None):
    """A DESCRIBE TABLE row as the SQL API sends it (every value text or null)."""
    return [name, type_, "COLUMN", null, default, primary, "N", None, None, comment, None, None, None]


def types(c, table):
    return [r[:2] for r in rows(c, f"DESC TABLE {table}")]


def register_orders(c, catalog="object_store"):
    status, body = c.admin("POST", "/iceberg/tables", {"table": "LAKE.RAW.ORDERS", "catalog": catalog,
                                                       "columns": ORDERS_COLUMNS})
    assert status == 200, body
    return body


def snapshot(c, path, **data):
    status, body = c.admin("POST", "/iceberg/snapshots", {"table": "LAKE.RAW.ORDERS", "metadata_file": path, **data})
    assert status == 200, body
    return body


def iceberg(c):
    return c.admin("GET", "/iceberg")[1]["tables"][0]


# ---------------------------------------------------------------- DESCRIBE TABLE

def test_describe_table_answers_in_snowflakes_shape(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (A BIGINT, B VARCHAR, C DECIMAL(10,2), D TIMESTAMP)")
    body = ok(c.submit("DESC TABLE t"))
    meta = body["resultSetMetaData"]["rowType"]
    assert [m["name"] for m in meta] == DESCRIBE
    assert {m["type"] for m in meta} == {"text"}
    assert data_of(body) == [column("A", "NUMBER(38,0)"), column("B", "VARCHAR(16777216)"),
                             column("C", "NUMBER(10,2)"), column("D", "TIMESTAMP_NTZ(9)")]
    # DESCRIBE = DESC; qualified names; TYPE = COLUMNS is the default; metadata only, no warehouse.
    for statement in ("DESCRIBE TABLE DB.PUBLIC.T", "DESC TABLE PUBLIC.T TYPE = COLUMNS",
                      'DESC TABLE "DB"."PUBLIC"."T"'):
        assert data_of(ok(c.submit(statement, warehouse=None))) == data_of(body)
    # DESCRIBE TABLE and DESCRIBE VIEW are interchangeable (Snowflake, DESCRIBE TABLE usage notes).
    c.sql("CREATE VIEW DB.PUBLIC.V AS SELECT C, A FROM DB.PUBLIC.T")
    assert types(c, "V") == [["C", "NUMBER(10,2)"], ["A", "NUMBER(38,0)"]]
    assert [r[:2] for r in rows(c, "DESC VIEW T")] == types(c, "T")


def test_describe_shows_declared_types_as_snowflake_spells_them(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (I INT PRIMARY KEY, N NUMBER, S SMALLINT, V VARCHAR(20) NOT NULL DEFAULT 'x', "
          "CH CHAR, ST STRING, TX TEXT, F FLOAT, DP DOUBLE PRECISION, R REAL, BO BOOLEAN, DA DATE, TI TIME, "
          "T3 TIME(3), NTZ TIMESTAMP_NTZ, NTZ6 TIMESTAMP_NTZ(6), DT DATETIME, LTZ TIMESTAMP_LTZ, TZ TIMESTAMP_TZ, "
          "BI BINARY, VB VARBINARY(16), VA VARIANT, OB OBJECT, AR ARRAY, \"lower\" NUMBER(5,1))")
    c.sql("COMMENT ON COLUMN DB.PUBLIC.T.N IS 'a number'")
    assert rows(c, "DESC TABLE T") == [
        column("I", "NUMBER(38,0)", null="N", primary="Y"), column("N", "NUMBER(38,0)", comment="a number"),
        column("S", "NUMBER(38,0)"), column("V", "VARCHAR(20)", null="N", default="'x'"), column("CH", "VARCHAR(1)"),
        column("ST", "VARCHAR(16777216)"), column("TX", "VARCHAR(16777216)"), column("F", "FLOAT"),
        column("DP", "FLOAT"), column("R", "FLOAT"), column("BO", "BOOLEAN"), column("DA", "DATE"),
        column("TI", "TIME(9)"), column("T3", "TIME(3)"), column("NTZ", "TIMESTAMP_NTZ(9)"),
        column("NTZ6", "TIMESTAMP_NTZ(6)"), column("DT", "TIMESTAMP_NTZ(9)"), column("LTZ", "TIMESTAMP_LTZ(9)"),
        column("TZ", "TIMESTAMP_TZ(9)"), column("BI", "BINARY(8388608)"), column("VB", "BINARY(16)"),
        column("VA", "VARIANT"), column("OB", "OBJECT"), column("AR", "ARRAY"), column("lower", "NUMBER(5,1)")]
    # A table made from a query has only DuckDB's types to go by: declared lengths are not carried over.
    c.sql("CREATE TABLE DB.PUBLIC.COPY AS SELECT V, LTZ, OB, I FROM DB.PUBLIC.T")
    assert types(c, "COPY") == [["V", "VARCHAR(16777216)"], ["LTZ", "TIMESTAMP_TZ(9)"], ["OB", "VARIANT"],
                                ["I", "NUMBER(38,0)"]]
    # Replacing a table replaces its declarations; renaming keeps them.
    c.sql("CREATE OR REPLACE TABLE DB.PUBLIC.T (V VARCHAR(30), X TEXT); ALTER TABLE DB.PUBLIC.T RENAME TO T2; "
          "ALTER TABLE DB.PUBLIC.T2 RENAME COLUMN V TO W")
    assert types(c, "T2") == [["W", "VARCHAR(30)"], ["X", "VARCHAR(16777216)"]]
    c.sql("DROP TABLE DB.PUBLIC.T2; CREATE TABLE DB.PUBLIC.T2 AS SELECT 'abc' AS W")
    assert types(c, "T2") == [["W", "VARCHAR(16777216)"]]
    # IF NOT EXISTS declares a table it makes, and leaves one it finds as it is.
    c.sql("CREATE TABLE IF NOT EXISTS DB.PUBLIC.T3 (W VARCHAR(20)); CREATE TABLE IF NOT EXISTS DB.PUBLIC.T3 (W TEXT); "
          "CREATE TABLE IF NOT EXISTS DB.PUBLIC.T2 (W VARCHAR(5))")
    assert types(c, "T3") == [["W", "VARCHAR(20)"]] and types(c, "T2") == [["W", "VARCHAR(16777216)"]]


def test_describe_errors(c):
    c.sql("CREATE TABLE DB.PUBLIC.PLAIN (A INT)")
    message = fails(c.submit("DESC TABLE NOPE"), "002003", "42S02")
    assert message == "SQL compilation error:\nTable 'NOPE' does not exist or not authorized."
    # Quoted names are case-sensitive: "plain" is not PLAIN.
    assert "does not exist" in fails(c.submit('DESCRIBE TABLE "plain"'), "002003")
    message = fails(c.submit("DESC VIEW DB.PUBLIC.NOPE"), "002003")
    assert message == "SQL compilation error:\nView 'DB.PUBLIC.NOPE' does not exist or not authorized."
    message = fails(c.submit("DESC ICEBERG TABLE PLAIN"), "002203")
    assert message == "SQL compilation error:\nObject found is of type 'TABLE', not specified type 'ICEBERG_TABLE'."
    fails(c.submit("DESC DYNAMIC TABLE PLAIN"), "002203")
    assert "does not have a current database" in fails(c.submit("DESC TABLE PLAIN", database=None, schema=None),
                                                       "090105")
    fails(c.submit("DESC TABLE PLAIN TYPE = STAGE"), "000002")
    fails(c.submit("DESC TABLE PLAIN extra"), "001003")


def test_describe_iceberg_and_dynamic_tables(c):
    register_orders(c)
    expected = [column("ORDER_ID", "NUMBER(38,0)"), column("STATUS", "VARCHAR(16777216)"),
                column("AMOUNT", "NUMBER(10,2)"), column("UPDATED_AT", "TIMESTAMP_NTZ(9)")]
    assert rows(c, "DESC TABLE LAKE.RAW.ORDERS") == expected
    # DESCRIBE ICEBERG TABLE adds `source iceberg type` after `type` (2024_02 bundle, BCR-1554).
    body = ok(c.submit("DESCRIBE ICEBERG TABLE LAKE.RAW.ORDERS"))
    assert [m["name"] for m in body["resultSetMetaData"]["rowType"]] == \
        DESCRIBE[:2] + ["source iceberg type"] + DESCRIBE[2:]
    assert [r[:3] for r in data_of(body)] == [["ORDER_ID", "NUMBER(38,0)", "decimal(38,0)"],
                                              ["STATUS", "VARCHAR(16777216)", "string"],
                                              ["AMOUNT", "NUMBER(10,2)", "decimal(10,2)"],
                                              ["UPDATED_AT", "TIMESTAMP_NTZ(9)", "timestamp"]]
    message = fails(c.submit("DESC ICEBERG TABLE LAKE.RAW.NOPE"), "002003")
    assert message == "SQL compilation error:\nTable 'LAKE.RAW.NOPE' does not exist or not authorized."

    c.sql("CREATE TABLE DB.PUBLIC.SALES (DAY DATE, AMOUNT NUMBER(10,2))")
    ok(c.submit("CREATE DYNAMIC TABLE DAILY TARGET_LAG = '1 hour' WAREHOUSE = WH AS "
                "SELECT DAY, SUM(AMOUNT) AS TOTAL, COUNT(*) AS N FROM SALES GROUP BY DAY"))
    assert types(c, "DAILY") == [["DAY", "DATE"], ["TOTAL", "NUMBER(38,2)"], ["N", "NUMBER(38,0)"]]
    assert [r[:2] for r in rows(c, "DESC DYNAMIC TABLE DAILY")] == types(c, "DAILY")
    fails(c.submit("DESC DYNAMIC TABLE SALES"), "002203")


# ---------------------------------------------------------------- ALTER TABLE .. ADD / DROP COLUMN

def test_add_columns(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (A INT, B VARCHAR(10)); INSERT INTO DB.PUBLIC.T VALUES (1, 'x')")
    assert data_of(ok(c.submit('ALTER TABLE "DB"."PUBLIC"."T" ADD COLUMN IF NOT EXISTS "C" NUMBER(12,2)',
                               warehouse=None))) == OK
    assert data_of(ok(c.submit("ALTER TABLE T ADD D VARCHAR(5), E TIMESTAMP_LTZ COMMENT 'when'"))) == OK
    # IF NOT EXISTS covers the one column it precedes: an existing one is left as it is.
    assert data_of(ok(c.submit("ALTER TABLE T ADD COLUMN IF NOT EXISTS C VARCHAR, IF NOT EXISTS F BOOLEAN"))) == OK
    assert rows(c, "DESC TABLE T") == [column("A", "NUMBER(38,0)"), column("B", "VARCHAR(10)"),
                                       column("C", "NUMBER(12,2)"), column("D", "VARCHAR(5)"),
                                       column("E", "TIMESTAMP_LTZ(9)", comment="when"), column("F", "BOOLEAN")]
    assert rows(c, "SELECT A, B, C, F FROM T") == [["1", "x", None, None]]

    # Without IF NOT EXISTS an existing column fails the whole statement (Snowflake 001430).
    message = fails(c.submit("ALTER TABLE T ADD COLUMN G INT, A INT"), "001430", "42601")
    assert message == "SQL compilation error:\ncolumn 'A' already exists"
    fails(c.submit("ALTER TABLE T ADD COLUMN G INT, IF NOT EXISTS A INT, G INT"), "001430")
    assert [r[0] for r in rows(c, "DESC TABLE T")] == ["A", "B", "C", "D", "E", "F"]
    # DDL commits the open transaction first (Snowflake, Transactions: DDL).
    ok(c.submit("BEGIN; INSERT INTO T (A) VALUES (2); ALTER TABLE T DROP COLUMN F",
                parameters={"MULTI_STATEMENT_COUNT": 0}))
    assert rows(c, "SELECT A FROM T ORDER BY A") == [["1"], ["2"]]


def test_drop_columns(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (A INT, B VARCHAR, C DATE); INSERT INTO DB.PUBLIC.T VALUES (1, 'x', NULL)")
    assert data_of(ok(c.submit("ALTER TABLE T DROP COLUMN C"))) == OK
    assert data_of(ok(c.submit('ALTER TABLE T DROP COLUMN IF EXISTS "NOPE", IF EXISTS C'))) == OK
    assert [r[0] for r in rows(c, "DESC TABLE T")] == ["A", "B"]
    # A missing column without IF EXISTS, or dropping every column, fails the whole statement.
    message = fails(c.submit("ALTER TABLE T DROP COLUMN B, NOPE"), "000904", "42000")
    assert message.startswith("SQL compilation error: error line 1 at position ")
    assert message.endswith("\ninvalid identifier 'NOPE'")
    message = fails(c.submit("ALTER TABLE T DROP A, B"), "001432", "42601")
    assert message == "SQL compilation error:\ncannot drop all the columns of a table"
    assert rows(c, "SELECT * FROM T") == [["1", "x"]]
    assert data_of(ok(c.submit("ALTER TABLE T DROP B"))) == OK
    assert rows(c, "SELECT * FROM T") == [["1"]]


# ---------------------------------------------------------------- ALTER COLUMN .. SET DATA TYPE

def test_allowed_type_changes(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (N NUMBER(10,2), V VARCHAR(10), I INT, F FLOAT, B BINARY(4)); "
          "INSERT INTO DB.PUBLIC.T VALUES (12345678.91, 'abc', 7, 1.5, NULL)")
    for statement in ('ALTER TABLE T ALTER COLUMN "N" SET DATA TYPE NUMBER(12,2)',   # more precision, same scale
                      "ALTER TABLE T MODIFY COLUMN V SET DATA TYPE VARCHAR(100)",   # a longer VARCHAR
                      "ALTER TABLE T ALTER V TYPE STRING",                          # the longest
                      "ALTER TABLE T MODIFY I NUMBER(38,0)",                        # a synonym
                      "ALTER TABLE T ALTER COLUMN F SET DATA TYPE DOUBLE",          # a synonym
                      "ALTER TABLE T ALTER B SET DATA TYPE BINARY(8)",
                      "ALTER TABLE T ALTER (COLUMN N TYPE NUMBER(14,2), I TYPE NUMBER(10,0))"):
        assert data_of(ok(c.submit(statement, warehouse=None))) == OK, statement
    assert types(c, "T") == [["N", "NUMBER(14,2)"], ["V", "VARCHAR(16777216)"], ["I", "NUMBER(10,0)"],
                             ["F", "FLOAT"], ["B", "BINARY(8)"]]
    assert rows(c, "SELECT N, V, I, F FROM T") == [["12345678.91", "abc", "7", "1.5"]]
    # Less precision is allowed while every value still fits (Snowflake, ALTER TABLE .. ALTER COLUMN).
    assert data_of(ok(c.submit("ALTER TABLE T ALTER N SET DATA TYPE NUMBER(10,2)"))) == OK
    message = fails(c.submit("ALTER TABLE T ALTER N SET DATA TYPE NUMBER(9,2)"), "091324", "22003")
    assert message == ("SQL compilation error: cannot change column N from type NUMBER(10,2) to NUMBER(9,2) because "
                       "the new precision is not sufficient to hold all values currently in the column.")
    assert types(c, "T")[0] == ["N", "NUMBER(10,2)"]


def test_refused_type_changes(c):
    c.sql("CREATE TABLE DB.PUBLIC.T (N NUMBER(10,2), V VARCHAR(10), I INT, D DATE)")
    refusals = [
        ("ALTER TABLE T ALTER COLUMN N SET DATA TYPE NUMBER(10,3)", "040052",
         "SQL compilation error: cannot change column N from type NUMBER(10,2) to NUMBER(10,3) because changing the "
         "scale of a number is not supported."),
        ("ALTER TABLE T ALTER I SET DATA TYPE NUMBER(11,2)", "040052",
         "SQL compilation error: cannot change column I from type NUMBER(38,0) to NUMBER(11,2) because changing the "
         "scale of a number is not supported."),
        ("ALTER TABLE T MODIFY COLUMN V SET DATA TYPE VARCHAR(5)", "040050",
         "SQL compilation error: cannot change column V from type VARCHAR(10) to VARCHAR(5) because reducing the "
         "byte-length of a varchar is not supported."),
        ("ALTER TABLE T ALTER COLUMN I SET DATA TYPE VARCHAR", "002108",
         "SQL compilation error: cannot change column I from type NUMBER(38,0) to VARCHAR(16777216)"),
        ("ALTER TABLE T ALTER N TYPE FLOAT", "002108",
         "SQL compilation error: cannot change column N from type NUMBER(10,2) to FLOAT"),
        ("ALTER TABLE T ALTER D TYPE TIMESTAMP_NTZ", "002108",
         "SQL compilation error: cannot change column D from type DATE to TIMESTAMP_NTZ(9)"),
    ]
    for statement, code, message in refusals:
        assert fails(c.submit(statement), code, "22000") == message, statement
    # One refused change fails the statement before any of it runs.
    fails(c.submit("ALTER TABLE T ALTER (N TYPE NUMBER(20,2), V TYPE VARCHAR(1))"), "040050")
    assert "invalid identifier 'NOPE'" in fails(c.submit("ALTER TABLE T ALTER NOPE TYPE INT"), "000904")
    assert types(c, "T") == [["N", "NUMBER(10,2)"], ["V", "VARCHAR(10)"], ["I", "NUMBER(38,0)"], ["D", "DATE"]]


def test_column_changes_of_other_objects(c):
    message = fails(c.submit("ALTER TABLE NOPE ADD COLUMN A INT"), "002003", "42S02")
    assert message == "SQL compilation error:\nTable 'NOPE' does not exist or not authorized."
    for statement in ("ALTER TABLE IF EXISTS NOPE ADD COLUMN A INT", "ALTER TABLE IF EXISTS NOPE DROP COLUMN A"):
        assert data_of(ok(c.submit(statement))) == OK
    c.sql("CREATE TABLE DB.PUBLIC.T (A INT); CREATE VIEW DB.PUBLIC.V AS SELECT A FROM DB.PUBLIC.T")
    assert "of type 'VIEW', not specified type 'TABLE'" in fails(c.submit("ALTER TABLE V ADD COLUMN B INT"), "002203")
    # An Iceberg table with an external catalog is read-only: its columns come from the catalog.
    register_orders(c)
    for statement in ("ALTER TABLE LAKE.RAW.ORDERS ADD COLUMN IF NOT EXISTS CHANNEL VARCHAR",
                      'ALTER TABLE "LAKE"."RAW"."ORDERS" DROP COLUMN IF EXISTS "STATUS"',
                      "ALTER TABLE LAKE.RAW.ORDERS ALTER COLUMN AMOUNT SET DATA TYPE NUMBER(12,2)"):
        message = fails(c.submit(statement), "002203")
        assert message == "SQL compilation error:\nObject found is of type 'ICEBERG_TABLE', not specified type 'TABLE'."
    assert [r[0] for r in rows(c, "DESC TABLE LAKE.RAW.ORDERS")] == [name for name, _ in ORDERS_COLUMNS]
    # Other ALTER TABLE actions still reach DuckDB.
    ok(c.submit("ALTER TABLE T ALTER COLUMN A SET NOT NULL"))
    assert rows(c, "DESC TABLE T") == [column("A", "NUMBER(38,0)", null="N")]


def test_the_drift_lambdas_statements(c):
    """DESC TABLE, then the ALTERs schema drift issues, quoted as the pipeline writes them."""
    c.sql("CREATE DATABASE ANALYTICS; CREATE SCHEMA ANALYTICS.CORE; CREATE TABLE ANALYTICS.CORE.ORDERS "
          "(ORDER_ID NUMBER(19,0), STATUS VARCHAR, AMOUNT NUMBER(10,2), LEGACY VARCHAR); "
          "INSERT INTO ANALYTICS.CORE.ORDERS VALUES (1, 'NEW', 10.5, 'x')")
    target = '"ANALYTICS"."CORE"."ORDERS"'
    for statement in (f'ALTER TABLE {target} ADD COLUMN IF NOT EXISTS "CHANNEL" VARCHAR',
                      f'ALTER TABLE {target} DROP COLUMN IF EXISTS "LEGACY"',
                      f'ALTER TABLE {target} ALTER COLUMN "AMOUNT" SET DATA TYPE NUMBER(12,2)'):
        assert data_of(ok(c.submit(statement, warehouse=None))) == OK
        assert data_of(ok(c.submit(statement, warehouse=None))) == OK  # again: a no-op, still fine
    assert types(c, target) == [
        ["ORDER_ID", "NUMBER(19,0)"], ["STATUS", "VARCHAR(16777216)"], ["AMOUNT", "NUMBER(12,2)"],
        ["CHANNEL", "VARCHAR(16777216)"]]
    assert rows(c, f"SELECT * FROM {target}") == [["1", "NEW", "10.50", None]]


# ---------------------------------------------------------------- Iceberg schema evolution

def test_refresh_takes_the_snapshots_columns(c):
    register_orders(c)
    snapshot(c, V1, rows=[[1, "NEW", 10, "2026-11-20 08:00:00"]])
    ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V1}'"))
    # The Glue job added CHANNEL, dropped STATUS and widened AMOUNT.
    evolved = [["ORDER_ID", "BIGINT"], ["AMOUNT", "DECIMAL(12,2)"], ["UPDATED_AT", "TIMESTAMP_NTZ"],
               ["CHANNEL", "VARCHAR"]]
    entry = snapshot(c, V2, columns=evolved, rows=[[1, 1234567890.5, "2026-11-21 08:00:00", "web"],
                                                   [2, 7, "2026-11-21 09:00:00", None]])
    assert entry["columns"] == ORDERS_COLUMNS  # the visible table's, until REFRESH
    assert [r[0] for r in rows(c, "DESC TABLE LAKE.RAW.ORDERS")] == ["ORDER_ID", "STATUS", "AMOUNT", "UPDATED_AT"]

    ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V2}'"))
    assert types(c, "LAKE.RAW.ORDERS") == [["ORDER_ID", "NUMBER(38,0)"], ["AMOUNT", "NUMBER(12,2)"],
                                           ["UPDATED_AT", "TIMESTAMP_NTZ(9)"], ["CHANNEL", "VARCHAR(16777216)"]]
    assert rows(c, "SELECT ORDER_ID, AMOUNT, CHANNEL FROM LAKE.RAW.ORDERS ORDER BY 1") == \
        [["1", "1234567890.50", "web"], ["2", "7.00", None]]
    assert iceberg(c)["columns"] == evolved
    fails(c.submit("SELECT STATUS FROM LAKE.RAW.ORDERS"), "000904")

    # A snapshot without columns has the table's columns as they are now.
    status, body = c.admin("POST", "/iceberg/snapshots", {"table": "LAKE.RAW.ORDERS", "metadata_file": V3,
                                                          "rows": [[3, "NEW", 1, None, "x"]]})
    assert status == 400 and "4 values" in body["error"]
    snapshot(c, V3, sql="SELECT ORDER_ID, AMOUNT, UPDATED_AT, 'store' FROM LAKE.RAW.ORDERS")
    ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V3}'"))
    assert rows(c, "SELECT CHANNEL FROM LAKE.RAW.ORDERS") == [["store"], ["store"]]
    # An object_store table may go back to an older metadata file, and so to its columns.
    ok(c.submit(f"ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH '{V1}'"))
    assert rows(c, "SELECT ORDER_ID, STATUS, AMOUNT FROM LAKE.RAW.ORDERS") == [["1", "NEW", "10.00"]]
    assert iceberg(c)["columns"] == ORDERS_COLUMNS
    assert [r[:2] for r in rows(c, "DESC ICEBERG TABLE LAKE.RAW.ORDERS")][2] == ["AMOUNT", "NUMBER(10,2)"]
    fails(c.submit("INSERT INTO LAKE.RAW.ORDERS (ORDER_ID) VALUES (9)"), "091319")  # still read-only


def test_glue_table_schema_evolution_and_validation(c):
    register_orders(c, catalog="glue")
    for bad in ([], [["A"]], [["A", "NOT A TYPE!"]], [["A", "INT"], ["a", "INT"]], "A INT"):
        status, body = c.admin("POST", "/iceberg/snapshots", {"table": "LAKE.RAW.ORDERS", "metadata_file": V1,
                                                              "columns": bad, "rows": []})
        assert status == 400, (bad, body)
    status, body = c.admin("POST", "/iceberg/snapshots", {"table": "LAKE.RAW.ORDERS", "metadata_file": V1,
                                                          "columns": [["A", "INT"]], "rows": [[1, 2]]})
    assert status == 400 and "1 values" in body["error"]
    assert iceberg(c)["snapshots"] == []

    snapshot(c, V1, columns=[["ORDER_ID", "INTEGER"], ["NOTE", "VARCHAR(20)"]], rows=[[1, "hello"]])
    ok(c.submit("ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH"))
    assert types(c, "LAKE.RAW.ORDERS") == [["ORDER_ID", "NUMBER(38,0)"], ["NOTE", "VARCHAR(20)"]]
    assert rows(c, "SELECT * FROM LAKE.RAW.ORDERS") == [["1", "hello"]]
    # The same columns again: only the rows change.
    snapshot(c, V2, columns=[["ORDER_ID", "NUMBER(38,0)"], ["NOTE", "VARCHAR(20)"]], rows=[[2, "bye"]])
    ok(c.submit("ALTER ICEBERG TABLE LAKE.RAW.ORDERS REFRESH"))
    assert rows(c, "SELECT * FROM LAKE.RAW.ORDERS") == [["2", "bye"]]
    assert iceberg(c)["refresh_count"] == 2
    # Dropping it forgets it; a table made under the name later shows its own columns.
    ok(c.submit("DROP ICEBERG TABLE LAKE.RAW.ORDERS"))
    c.sql("CREATE TABLE LAKE.RAW.ORDERS AS SELECT 'x' AS NOTE")
    assert types(c, "LAKE.RAW.ORDERS") == [["NOTE", "VARCHAR(16777216)"]]
