//! Figures for the shared Snowflake crate: JWT signing and reuse, and the client's own overhead per
//! statement against the local emulator: client round trip minus a bare HTTP round trip with the
//! same token and body, the two alternating, as the median of the per-pair differences.
//! Run with `cargo bench -p postetl-tests --bench client`.

use postetl_tests::{Emulator, TestKey};
use snowflake::{
    AwsWorkloadIdentity, Client, ClientConfig, Connection, Credentials, JwtIssuer, PrivateKey,
    SecretSource, SecretString, Statement,
};
use std::time::{Duration, Instant, SystemTime};

fn per_op<F: FnMut()>(n: u32, mut f: F) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = TestKey::generate();

    let parse = per_op(50, || {
        PrivateKey::from_pem(&key.private_pem, None).unwrap();
    });
    println!(
        "key.parse           {:>10.3} ms per PKCS#8 key (50 runs)",
        parse.as_secs_f64() * 1e3
    );
    let encrypted = key.encrypted_pem("bench");
    let pass = snowflake::SecretString::new("bench");
    let parse_enc = per_op(10, || {
        PrivateKey::from_pem(&encrypted, Some(&pass)).unwrap();
    });
    println!(
        "key.parse.encrypted {:>10.3} ms per des3 PBES2 key (10 runs)",
        parse_enc.as_secs_f64() * 1e3
    );

    let issuer = JwtIssuer::new(
        "xy12345.us-east-2.aws",
        "svc_postetl",
        PrivateKey::from_pem(&key.private_pem, None).unwrap(),
        Duration::from_secs(3540),
    )
    .unwrap();
    let sign = per_op(500, || {
        issuer.issue(SystemTime::now()).unwrap();
    });
    println!(
        "jwt.issue           {:>10.3} ms per new token (500 runs)",
        sign.as_secs_f64() * 1e3
    );

    runtime.block_on(async {
        let emulator = Emulator::start();
        emulator.register_user("XY12345", "SVC_POSTETL", &[&key.public_pem]).await;
        emulator
            .sql("CREATE DATABASE IF NOT EXISTS ANALYTICS; CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC; CREATE WAREHOUSE IF NOT EXISTS POSTETL_WH")
            .await;
        let secret = key.secret_json("xy12345.us-east-2.aws", "svc_postetl", None);
        let config = ClientConfig { base_url: Some(emulator.url()), ..ClientConfig::default() };
        let client = Client::new(SecretSource::Inline(secret), config).unwrap();

        let start = Instant::now();
        let n = 20_000;
        for _ in 0..n {
            client.connection().await.unwrap();
        }
        println!("jwt.reuse           {:>10.3} µs per cached-token lookup ({n} runs)", start.elapsed().as_secs_f64() * 1e6 / n as f64);

        // A Lambda's budget is minutes: the client submits synchronously (one round trip).
        let budget = Duration::from_secs(600);
        let http = reqwest::Client::new();
        let token = issuer.issue(SystemTime::now()).unwrap();
        let url = emulator.url().join("api/v2/statements").unwrap();
        let body = serde_json::json!({"statement": "SELECT 1", "timeout": 0, "database": "ANALYTICS",
            "schema": "PUBLIC", "warehouse": "POSTETL_WH", "role": "POSTETL"});
        let bare_request = || async {
            let response = http
                .post(url.clone())
                .query(&[("requestId", uuid::Uuid::new_v4().to_string())])
                .bearer_auth(token.token.expose())
                // Without it the SQL API takes the token for OAuth (its spec's default).
                .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
                .header("User-Agent", "bench")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let _: serde_json::Value = response.json().await.unwrap();
        };
        // Paired: the client's request and the bare one alternate (which goes first alternates
        // too), so both see the same emulator and machine state; the overhead is the median of the
        // per-pair differences, which drifts in the emulator's speed cancel out of.
        let runs = 300;
        let (mut with_client, mut bare, mut differences) =
            (Vec::with_capacity(runs), Vec::with_capacity(runs), Vec::with_capacity(runs));
        for i in 0..runs + 20 {
            let mut pair = [Duration::ZERO; 2];
            for j in [i % 2, 1 - i % 2] {
                let t = Instant::now();
                if j == 0 {
                    client.query(&Statement::new("SELECT 1"), budget).await.unwrap();
                } else {
                    bare_request().await;
                }
                pair[j] = t.elapsed();
            }
            if i >= 20 {
                with_client.push(pair[0]);
                bare.push(pair[1]);
                differences.push(pair[0].as_secs_f64() - pair[1].as_secs_f64());
            }
        }
        // Under a short budget it submits asynchronously and polls (202, then GET).
        let mut asynchronous = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            client.query(&Statement::new("SELECT 1"), Duration::from_secs(20)).await.unwrap();
            asynchronous.push(t.elapsed());
        }
        let (c50, c99) = (percentile(&mut with_client, 0.5), percentile(&mut with_client, 0.99));
        let (b50, b99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
        differences.sort_by(|a, b| a.total_cmp(b));
        let quantile = |p: f64| differences[((differences.len() - 1) as f64 * p).round() as usize] * 1e3;
        println!("statement.client    {:>10.3} ms p50, {:.3} ms p99 ({runs} x SELECT 1 through Client::query)", c50.as_secs_f64() * 1e3, c99.as_secs_f64() * 1e3);
        let (a50, a99) = (percentile(&mut asynchronous, 0.5), percentile(&mut asynchronous, 0.99));
        println!("statement.async     {:>10.3} ms p50, {:.3} ms p99 (budget under 50 s: submit async, then poll)", a50.as_secs_f64() * 1e3, a99.as_secs_f64() * 1e3);
        println!("statement.bare      {:>10.3} ms p50, {:.3} ms p99 (same request with bare reqwest, alternating with the client's)", b50.as_secs_f64() * 1e3, b99.as_secs_f64() * 1e3);
        println!("statement.overhead  {:>10.3} ms median of {runs} paired differences (client minus bare; quartiles {:.3} / {:.3} ms)", quantile(0.5), quantile(0.25), quantile(0.75));

        // The same statement under the other credential kinds (the emulator's verification included).
        let pat = emulator.add_pat("XY12345", "SVC_POSTETL", "BENCH").await;
        let secret = SecretString::new(
            serde_json::json!({"account": "xy12345.us-east-2.aws", "user": "svc_postetl",
                "authenticator": "PROGRAMMATIC_ACCESS_TOKEN", "token": pat.expose(), "role": "POSTETL",
                "warehouse": "POSTETL_WH", "database": "ANALYTICS", "schema": "PUBLIC"})
            .to_string(),
        );
        let config = ClientConfig { base_url: Some(emulator.url()), ..ClientConfig::default() };
        let pat_client = Client::new(SecretSource::Inline(secret), config.clone()).unwrap();
        let role_arn = "arn:aws:iam::123456789012:role/postetl-bench";
        // Keyless logins present an STS GetWebIdentityToken JWT (the default form), which the
        // account must be able to verify: outbound federation on, its issuer trusted.
        let issuer = emulator.enable_outbound_federation("123456789012").await;
        emulator.trust_aws_role("XY12345", "SVC_POSTETL", role_arn, Some(&issuer))
        .await;
        let role = emulator.aws_role_credentials(role_arn).await;
        let connection = Connection {
            account: "xy12345.us-east-2.aws".into(),
            user: None,
            role: "POSTETL".into(),
            warehouse: "POSTETL_WH".into(),
            database: "ANALYTICS".into(),
            schema: "PUBLIC".into(),
        };
        // Its STS calls go to the emulated STS, as AWS_ENDPOINT_URL_STS does for a Lambda.
        let sdk = role.sdk_config("us-east-2").await.into_builder().endpoint_url(emulator.sts_url().as_str()).build();
        let identity = AwsWorkloadIdentity::with_config(sdk);
        let keyless = Client::new(Credentials::AwsWorkloadIdentity { connection, identity }, config).unwrap();
        let t = Instant::now();
        keyless.query(&Statement::new("SELECT 1"), budget).await.unwrap();
        println!("keyless.first       {:>10.3} ms (loads the SDK config, signs the attestation, one statement)", t.elapsed().as_secs_f64() * 1e3);
        for (name, client) in [("statement.pat", &pat_client), ("statement.keyless", &keyless)] {
            let mut samples = Vec::with_capacity(runs);
            for i in 0..runs + 20 {
                let t = Instant::now();
                client.query(&Statement::new("SELECT 1"), budget).await.unwrap();
                if i >= 20 {
                    samples.push(t.elapsed());
                }
            }
            let (p50, p99) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99));
            println!("{name:<19} {:>10.3} ms p50, {:.3} ms p99 ({runs} x SELECT 1)", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
        }
    });
}
