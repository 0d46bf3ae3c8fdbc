//! The shared Snowflake crate against the SQL API emulator, over real HTTP on loopback: real JWTs
//! checked against registered public keys, real SQL on DuckDB, faults injected per test.

use postetl_tests::{Emulator, Fault, SecretsExtension, TestKey};
use serde_json::json;
use snowflake::{
    AuthPolicy, Binding, Client, ClientConfig, Error, OnDeadline, Outcome, PollPolicy, RetryPolicy,
    SecretSource, Statement, Wait, derive_request_id,
};
use std::sync::OnceLock;
use std::time::Duration;

const ACCOUNT: &str = "xy12345.us-east-2.aws";
const USER: &str = "svc_postetl";
const LONG: Duration = Duration::from_secs(30);

/// One key for the whole file: generating RSA keys is the slow part.
fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(TestKey::generate)
}

fn fast_config(emulator: &Emulator) -> ClientConfig {
    ClientConfig {
        base_url: Some(emulator.url()),
        retry: RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        poll: PollPolicy {
            first: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        ..ClientConfig::default()
    }
}

async fn emulator_with_user() -> Emulator {
    Emulator::with_service_user(&[&key().public_pem]).await
}

fn new_client(emulator: &Emulator) -> Client {
    let secret = key().secret_json(ACCOUNT, USER, None);
    Client::new(SecretSource::Inline(secret), fast_config(emulator)).unwrap()
}

async fn setup() -> (Emulator, Client) {
    let emulator = emulator_with_user().await;
    let client = new_client(&emulator);
    (emulator, client)
}

#[tokio::test]
async fn runs_sql_and_converts_every_type() {
    let (emulator, client) = setup().await;
    client
        .query(
            &Statement::new(
                "CREATE TABLE orders (id INTEGER, amount DECIMAL(10,2), note VARCHAR, paid BOOLEAN, \
                 day DATE, seen_at TIMESTAMP, ratio DOUBLE)",
            ),
            LONG,
        )
        .await
        .unwrap();
    let insert = Statement::new("INSERT INTO orders VALUES (?, ?, ?, ?, '2024-01-01', '2024-01-01 10:00:00.5', 0.25), (2, NULL, NULL, NULL, NULL, NULL, NULL)")
        .bind(Binding::fixed(1))
        .bind(Binding::text("12.50"))
        .bind(Binding::text("it's; -- fine"))
        .bind(Binding::boolean(true));
    let inserted = client.query(&insert, LONG).await.unwrap();
    assert_eq!(inserted.stats.num_rows_inserted, 2);

    let rows = client
        .query(&Statement::new("SELECT * FROM orders ORDER BY id"), LONG)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let kinds: Vec<&str> = rows.columns.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "fixed",
            "fixed",
            "text",
            "boolean",
            "date",
            "timestamp_ntz",
            "real"
        ]
    );
    let first = rows.row(0).unwrap();
    assert_eq!(first.get_i64("ID").unwrap(), Some(1));
    assert_eq!(first.get_str("amount").unwrap(), Some("12.50"));
    assert_eq!(first.get_str("note").unwrap(), Some("it's; -- fine"));
    assert_eq!(first.get_bool("paid").unwrap(), Some(true));
    assert_eq!(
        first.get_date("day").unwrap().unwrap().to_string(),
        "2024-01-01"
    );
    assert_eq!(
        first.get_timestamp("seen_at").unwrap().unwrap().to_string(),
        "2024-01-01 10:00:00.500"
    );
    assert_eq!(first.get_f64("ratio").unwrap(), Some(0.25));
    let second = rows.row(1).unwrap();
    assert_eq!(second.get_str("note").unwrap(), None);
    assert_eq!(second.get_date("day").unwrap(), None);

    // The statement ran as the secret's user, in its warehouse, and resumed it (auto-resume).
    let log = emulator.log().await;
    let last = log["executions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["user"], "SVC_POSTETL");
    assert_eq!(last["warehouse"], "POSTETL_WH");
    let warehouses = emulator.warehouses().await;
    assert_eq!(warehouses[0]["state"], "STARTED");
}

#[tokio::test]
async fn encrypted_key_with_its_passphrase_authenticates() {
    let emulator = emulator_with_user().await;
    let encrypted = key().encrypted_pem("correct horse");
    let secret = key().secret_json(ACCOUNT, USER, Some(("correct horse", &encrypted)));
    let client = Client::new(SecretSource::Inline(secret), fast_config(&emulator)).unwrap();
    let rows = client
        .query(&Statement::new("SELECT CURRENT_USER()"), LONG)
        .await
        .unwrap();
    assert_eq!(
        rows.row(0).unwrap().get_str(0).unwrap(),
        Some("SVC_POSTETL")
    );

    let wrong = key().secret_json(ACCOUNT, USER, Some(("battery staple", &encrypted)));
    let client = Client::new(SecretSource::Inline(wrong), fast_config(&emulator)).unwrap();
    let err = client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.WrongPassphrase");
    assert!(!format!("{err} {err:?}").contains("battery"));
}

#[tokio::test]
async fn a_key_snowflake_does_not_know_is_unauthorized() {
    let emulator = emulator_with_user().await;
    let other = TestKey::generate();
    let secret = other.secret_json(ACCOUNT, USER, None);
    let client = Client::new(SecretSource::Inline(secret), fast_config(&emulator)).unwrap();
    let err = client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unauthorized", "{err}");
    match err {
        Error::Unauthorized { code, .. } => assert_eq!(code, "390144"),
        other => panic!("{other}"),
    }
    // Renewed once (two requests), then gave up.
    let requests = emulator.log().await["requests"].as_array().unwrap().len();
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire_and_after_a_401() {
    let emulator = emulator_with_user().await;
    // Snowflake-side cap shorter than the client's lifetime: the client's cached token is refused,
    // it re-reads the secret once, signs a new token and the call succeeds.
    // Two seconds, not one: `iat` is whole seconds, so a one-second cap could refuse a token
    // signed a moment before a second boundary while its statement is still being polled.
    emulator
        .configure(json!({"max_token_age_seconds": 2}))
        .await;
    let client = new_client(&emulator);
    client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    client
        .query(&Statement::new("SELECT 2"), LONG)
        .await
        .unwrap();

    // With a short lifetime and renewal margin, the client renews on its own, with no 401.
    emulator
        .configure(json!({"max_token_age_seconds": 3600}))
        .await;
    let mut config = fast_config(&emulator);
    config.auth = AuthPolicy {
        token_lifetime: Duration::from_secs(2),
        renew_before: Duration::from_secs(1),
        ..AuthPolicy::default()
    };
    let client = Client::new(
        SecretSource::Inline(key().secret_json(ACCOUNT, USER, None)),
        config,
    )
    .unwrap();
    for _ in 0..3 {
        client
            .query(&Statement::new("SELECT 3"), LONG)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let log = emulator.log().await;
    let unauthorized = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 401)
        .count();
    assert_eq!(unauthorized, 1, "only the first client met a 401");
}

#[tokio::test]
async fn long_statements_are_polled_until_done() {
    let (emulator, client) = setup().await;
    emulator.configure(json!({"sync_wait_seconds": 0.1})).await;
    let rows = client
        .query(&Statement::new("SELECT SYSTEM$WAIT(1)"), LONG)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let polls = emulator.log().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "GET")
        .count();
    assert!(polls >= 1, "the answer came through polling");
}

#[tokio::test]
async fn every_partition_is_fetched() {
    let (emulator, client) = setup().await;
    emulator.configure(json!({"partition_rows": 2})).await;
    let rows = client
        .query(
            &Statement::new("SELECT range AS n FROM range(5) ORDER BY n"),
            LONG,
        )
        .await
        .unwrap();
    let values: Vec<i64> = rows
        .iter()
        .map(|r| r.get_i64(0).unwrap().unwrap())
        .collect();
    assert_eq!(values, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn sql_errors_carry_code_and_state_and_are_not_retried() {
    let (emulator, client) = setup().await;
    let err = client
        .query(&Statement::new("SELEC 1"), LONG)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.SqlError");
    assert!(!err.is_transient());
    match &err {
        Error::Sql {
            code,
            sql_state,
            handle,
            ..
        } => {
            assert_eq!((code.as_str(), sql_state.as_str()), ("001003", "42000"));
            assert!(handle.is_some());
        }
        other => panic!("{other}"),
    }
    let err = client
        .query(&Statement::new("SELECT * FROM no_such_table"), LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { code, .. } if code == "002003"),
        "{err}"
    );
    let posts = emulator.log().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 2, "one request per failing statement");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_with_the_same_request_id() {
    let (emulator, client) = setup().await;
    client
        .query(&Statement::new("CREATE TABLE t (v INTEGER)"), LONG)
        .await
        .unwrap();
    emulator
        .inject([
            Fault::status("submit", 429, 2),
            Fault::status("submit", 503, 1),
            Fault::status("submit", 500, 1),
            Fault::drop_connection("submit", 1),
        ])
        .await;
    let statement = Statement::new("INSERT INTO t VALUES (1)");
    client.query(&statement, LONG).await.unwrap();
    let log = emulator.log().await;
    let sends: Vec<_> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["requestId"] == statement.id().to_string())
        .collect();
    assert!(sends.len() >= 5, "{sends:?}");
    assert!(
        sends[1..]
            .iter()
            .all(|r| r["query"].as_str().unwrap().contains("retry=true"))
    );
    assert_eq!(emulator.executions_of("INSERT INTO t").await, 1);
    assert_eq!(
        emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.PUBLIC.t")
            .await[0][0],
        1
    );
}

#[tokio::test]
async fn the_retry_budget_ends_in_a_named_transient_error() {
    let emulator = emulator_with_user().await;
    let mut config = fast_config(&emulator);
    config.retry.max_attempts = 3;
    let client = Client::new(
        SecretSource::Inline(key().secret_json(ACCOUNT, USER, None)),
        config,
    )
    .unwrap();
    emulator.inject([Fault::status("any", 429, 10)]).await;
    let err = client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Throttled");
    assert!(err.is_transient());
    emulator.clear_faults().await;
    emulator.inject([Fault::status("any", 504, 10)]).await;
    let err = client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unavailable");
}

#[tokio::test]
async fn a_lost_answer_never_runs_the_statement_twice() {
    let (emulator, client) = setup().await;
    client
        .query(&Statement::new("CREATE TABLE t (v INTEGER)"), LONG)
        .await
        .unwrap();
    // The INSERT runs, but its answer is lost: once as a 500, once as a dropped connection.
    emulator.inject([Fault::status_after_execute(500)]).await;
    client
        .query(&Statement::new("INSERT INTO t VALUES (1)"), LONG)
        .await
        .unwrap();
    emulator.inject([Fault::drop_after_execute()]).await;
    client
        .query(&Statement::new("INSERT INTO t VALUES (2)"), LONG)
        .await
        .unwrap();
    assert_eq!(
        emulator
            .sql("SELECT v FROM ANALYTICS.PUBLIC.t ORDER BY v")
            .await,
        vec![vec![json!(1)], vec![json!(2)]]
    );

    // A retried Lambda re-sends a derived id: the first send already carries retry=true.
    let id = derive_request_id(&["arn:aws:states:exec:1", "run-merge", "T"]);
    for _ in 0..2 {
        let fresh_client = new_client(&emulator);
        fresh_client
            .query(
                &Statement::new("INSERT INTO t VALUES (3)").request_id(id),
                LONG,
            )
            .await
            .unwrap();
    }
    assert_eq!(emulator.executions_of("VALUES (3)").await, 1);
    assert_eq!(
        emulator
            .sql("SELECT COUNT(*) FROM ANALYTICS.PUBLIC.t WHERE v = 3")
            .await[0][0],
        1
    );
}

#[tokio::test]
async fn a_statement_past_the_deadline_is_cancelled_or_handed_back() {
    let (emulator, client) = setup().await;
    emulator.configure(json!({"sync_wait_seconds": 0.1})).await;

    let err = client
        .execute(
            &Statement::new("SELECT SYSTEM$WAIT(30)"),
            Wait::cancel_after(Duration::from_millis(400)),
        )
        .await
        .unwrap_err();
    let Error::Timeout {
        handle: Some(handle),
        ..
    } = &err
    else {
        panic!("{err}")
    };
    let log = emulator.log().await;
    let run = log["executions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| &e["statementHandle"] == handle)
        .unwrap()
        .clone();
    assert_eq!(run["status"], "canceled");

    let outcome = client
        .execute(
            &Statement::new("SELECT SYSTEM$WAIT(1)"),
            Wait::hand_back_after(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    let Outcome::Running { handle } = outcome else {
        panic!("expected a handle")
    };
    // Another invocation picks it up by handle.
    let later = new_client(&emulator);
    match later
        .resume(
            &handle,
            Wait {
                until: std::time::Instant::now() + LONG,
                on_deadline: OnDeadline::Cancel,
            },
        )
        .await
        .unwrap()
    {
        Outcome::Done(rows) => assert_eq!(rows.len(), 1),
        Outcome::Running { .. } => panic!("should have finished"),
    }
    assert!(
        later
            .resume("../../_emulator/reset", Wait::hand_back_after(LONG))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn snowflake_side_timeouts_are_named() {
    let (_emulator, client) = setup().await;
    let err = client
        .query(
            &Statement::new("SELECT SYSTEM$WAIT(10)").timeout(Duration::from_secs(1)),
            LONG,
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Timeout", "{err}");
}

#[tokio::test]
async fn multi_statement_requests_return_each_handle() {
    let (_emulator, client) = setup().await;
    let result = client
        .query(
            &Statement::multi("CREATE TABLE m (v INTEGER); INSERT INTO m VALUES (1), (2); SELECT SUM(v) AS s FROM m", 3),
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(result.statement_handles.len(), 3);
    let sum = client
        .fetch(&result.statement_handles[2], LONG)
        .await
        .unwrap();
    assert_eq!(sum.row(0).unwrap().get_i64("S").unwrap(), Some(3));

    let err = client
        .query(&Statement::new("SELECT 1; SELECT 2"), LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { code, .. } if code == "000008"),
        "{err}"
    );
}

#[tokio::test]
async fn query_tag_and_context_reach_snowflake() {
    let (emulator, client) = setup().await;
    client
        .query(
            &Statement::new("SELECT 1").query_tag("postetl:orders:exec-1:plan"),
            LONG,
        )
        .await
        .unwrap();
    let log = emulator.log().await;
    let run = log["executions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(run["query_tag"], "postetl:orders:exec-1:plan");
    assert_eq!(run["database"], "ANALYTICS");
    assert_eq!(run["role"], "POSTETL");
}

#[tokio::test]
async fn the_secret_is_read_once_and_reread_after_a_rotation() {
    let emulator = emulator_with_user().await;
    let old = key();
    let new = TestKey::generate();
    let extension = SecretsExtension::start(
        "postetl/snowflake",
        old.secret_json(ACCOUNT, USER, None).expose(),
    );
    let client = Client::new(
        extension.source("postetl/snowflake"),
        fast_config(&emulator),
    )
    .unwrap();
    for _ in 0..5 {
        client
            .query(&Statement::new("SELECT 1"), LONG)
            .await
            .unwrap();
    }
    assert_eq!(extension.reads(), 1, "cached after the first read");

    // Rotation: RSA_PUBLIC_KEY_2 gets the new key, the secret moves to it, the old key is removed.
    emulator
        .register_user(
            "XY12345",
            "SVC_POSTETL",
            &[&old.public_pem, &new.public_pem],
        )
        .await;
    extension.replace(new.secret_json(ACCOUNT, USER, None).expose());
    client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap();
    assert_eq!(
        extension.reads(),
        1,
        "the warm client still uses the old key, which still works"
    );
    emulator
        .register_user("XY12345", "SVC_POSTETL", &[&new.public_pem])
        .await;
    client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap();
    assert_eq!(
        extension.reads(),
        2,
        "a 401 made it read the secret again, once"
    );

    // The secret's key matches neither slot any more: after one re-read the error names the key's
    // fingerprint, to compare with RSA_PUBLIC_KEY_FP and RSA_PUBLIC_KEY_2_FP in DESC USER.
    let slots = emulator
        .set_keys("XY12345", "SVC_POSTETL", Some(&new.public_pem), None)
        .await;
    let new_fp = slots["rsa_public_key_fp"].as_str().unwrap().to_string();
    let third = TestKey::generate();
    emulator
        .set_keys("XY12345", "SVC_POSTETL", Some(&third.public_pem), None)
        .await;
    let err = client
        .query(&Statement::new("SELECT 1"), LONG)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Snowflake.Unauthorized");
    let text = err.to_string();
    assert!(
        text.contains(&new_fp) && text.contains("RSA_PUBLIC_KEY_2_FP"),
        "{text}"
    );
    assert_eq!(extension.reads(), 3);
}

#[tokio::test]
async fn a_derived_statement_that_failed_earlier_runs_again_and_one_that_succeeded_does_not() {
    let (emulator, client) = setup().await;
    emulator.sql("CREATE DATABASE IF NOT EXISTS DB").await;
    let id = snowflake::derive_request_id(&["run-1", "run-merge", "T"]);
    let insert = Statement::new("INSERT INTO DB.PUBLIC.T VALUES (1)").request_id(id);
    // The first attempt fails: the table is missing.
    let err = client.query(&insert, LONG).await.unwrap_err();
    assert_eq!(err.name(), "Snowflake.SqlError", "{err}");
    // Within the clock-skew allowance the failure counts as this call's own answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    emulator.sql("CREATE TABLE DB.PUBLIC.T (A INT)").await;
    // A replay: the earlier failure applied nothing, so the statement runs again, once.
    client.query(&insert, LONG).await.unwrap();
    client.query(&insert, LONG).await.unwrap();
    assert_eq!(
        emulator.sql("SELECT COUNT(*) FROM DB.PUBLIC.T").await[0][0],
        1
    );
    assert_eq!(emulator.executions_of("INSERT INTO DB.PUBLIC.T").await, 2);
}
