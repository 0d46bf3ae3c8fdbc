"""Seed 000's Lambda handler (shared/seeds/000: "Snowflake AWS Lambda Integration with Key Pair
Authentication + Secrets Manager"), as the article writes it: boto3 reads the secret, the
`cryptography` package loads the key, the Snowflake Python connector logs in with it and runs one
SELECT with the article's retry loop.

Differences, each needed to run it here, none making it slower:
- SECRET_ID comes from the environment (the article hard-codes "snowflake-keypair").
- fakesnow stands in for Snowflake: the connector gets its host, port and protocol from
  SNOWFLAKE_HOST/SNOWFLAKE_PORT/SNOWFLAKE_PROTOCOL (on Snowflake it derives the host from the
  account), and trusts the bench's test CA through SNOWFLAKE_CA_FILE (custom_root_store_path).
- Telemetry is off (no network beyond the fake).
"""
import json
import os
import random
import time

import boto3
import snowflake.connector
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import serialization

SECRET_ID = os.environ.get("SECRET_ID", "snowflake-keypair")


def get_secret():
    client = boto3.client("secretsmanager")
    response = client.get_secret_value(SecretId=SECRET_ID)
    return json.loads(response["SecretString"])


def execute_query_with_retry(conn, query, max_retries=3):
    retry_count = 0
    while retry_count < max_retries:
        try:
            cur = conn.cursor()
            cur.execute(query)
            result = cur.fetchone()
            cur.close()
            return result
        except snowflake.connector.Error as e:
            print(f"Query failed (attempt {retry_count+1}/{max_retries}): {e}")
            retry_count += 1
            sleep_time = min(2 ** retry_count, 30) + random.random()
            time.sleep(sleep_time)
    raise Exception("Query execution exceeded max retries.")


def _fake_endpoint():
    return dict(
        host=os.environ["SNOWFLAKE_HOST"],
        port=int(os.environ["SNOWFLAKE_PORT"]),
        protocol=os.environ.get("SNOWFLAKE_PROTOCOL", "https"),
        custom_root_store_path=os.environ.get("SNOWFLAKE_CA_FILE"),
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    )


def lambda_handler(event, context):
    secret = get_secret()

    private_key_obj = serialization.load_pem_private_key(
        secret["privateKey"].encode("utf-8"),
        password=None,
        backend=default_backend()
    )

    conn = None
    try:
        conn = snowflake.connector.connect(
            user=secret["user"],
            account=secret["account"],
            private_key=private_key_obj,
            role=secret.get("role"),
            warehouse=secret.get("warehouse"),
            database=secret.get("database"),
            schema=secret.get("schema"),
            **_fake_endpoint(),
        )

        result = execute_query_with_retry(conn, "SELECT CURRENT_VERSION()")
        return {
            "statusCode": 200,
            "body": str(result)
        }

    except Exception as e:
        print(f"Lambda execution error: {e}")
        return {
            "statusCode": 500,
            "body": str(e)
        }
    finally:
        if conn:
            conn.close()
