//! Cold start to first statement result, side by side with seed 000's Python handler.
//!
//! Each sample is a fresh process under a Lambda Runtime API (benches/lambdas/runtime_api.rs)
//! given one event, timed from spawn to its posted result:
//! - `rust/secretsmanager`: the release `warehouse` Lambda (action resume, one `SHOW WAREHOUSES`),
//!   its secret read from local Secrets Manager (moto), its statement over HTTPS to the Snowflake
//!   emulator serving a certificate made at bench time (trusted through SSL_CERT_FILE, which holds
//!   the system's CA bundle plus the bench's CA, so the full root store is loaded as on Lambda);
//! - `rust/extension`: the same, the secret from the Parameters and Secrets extension stand-in;
//! - `python/seed000`: seed 000's handler (tests/seed_bench/handler.py: boto3, the Snowflake Python
//!   connector with key-pair login, one SELECT) under a minimal Python runtime loop, against moto
//!   and fakesnow serving the same kind of certificate.
//!
//! The kinds run interleaved, in a rotating order, after two unrecorded warm-up rounds.
//! Run with `bash tests/bench.sh`, or after `cargo build --release -p warehouse` and
//! `bash tests/bench.sh --venv-only`: `cargo bench -p postetl-tests --bench lambdas`.
//! BENCH_ROUNDS sets the number of recorded rounds (default 20).

#[path = "lambdas/runtime_api.rs"]
mod runtime_api;

use pipeline::steps::Run;
use postetl_tests::{LocalAws, SecretsExtension, TestKey, repo_root};
use reqwest::Certificate;
use runtime_api::{ColdStart, cold_start};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use url::Url;

const ACCOUNT: &str = "xy12345.us-east-2.aws";
const SECRET_ID: &str = "postetl/snowflake";
const KINDS: [&str; 3] = ["rust/secretsmanager", "rust/extension", "python/seed000"];

#[tokio::main]
async fn main() {
    let root = repo_root();
    // BENCH_WAREHOUSE overrides the binary (e.g. to compare builds); the figures are for release.
    let binary = std::env::var_os("BENCH_WAREHOUSE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/warehouse"));
    let seed_python = root.join(".venv-seed-bench/bin/python");
    for (path, how) in [
        (&binary, "cargo build --release -p warehouse"),
        (&seed_python, "bash tests/bench.sh"),
    ] {
        assert!(
            path.exists(),
            "{} is missing: run `{how}` first",
            path.display()
        );
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);

    let tls = TlsFiles::make();
    let emulator = Server::start(
        "the Snowflake emulator (TLS)",
        Command::new(postetl_tests::python())
            .arg(root.join("tests/seed_bench/emulator_tls.py"))
            .args(tls.server_args()),
    );
    let fakesnow = Server::start(
        "fakesnow (TLS)",
        Command::new(&seed_python)
            .arg(root.join("tests/seed_bench/fakesnow_tls.py"))
            .args(tls.server_args()),
    );
    let aws = LocalAws::start();
    let key = TestKey::generate();
    let admin = reqwest::Client::builder()
        .tls_certs_only([Certificate::from_pem(&std::fs::read(&tls.ca).unwrap()).unwrap()])
        .build()
        .unwrap();
    let emulator_admin = |path: &str, body: Value| {
        let request = admin.post(emulator.url.join(path).unwrap()).json(&body);
        async move {
            let response = request.send().await.expect("emulator admin call");
            assert!(
                response.status().is_success(),
                "{}",
                response.text().await.unwrap_or_default()
            );
        }
    };
    emulator_admin(
        "_emulator/users",
        json!({"account": "XY12345", "user": "SVC_POSTETL", "public_keys": [key.public_pem]}),
    )
    .await;
    // Running and at the configured size: the resume step needs exactly one statement.
    emulator_admin(
        "_emulator/sql",
        json!({"statement": "CREATE DATABASE IF NOT EXISTS ANALYTICS; CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC; \
               CREATE WAREHOUSE IF NOT EXISTS POSTETL_WH WITH WAREHOUSE_SIZE = 'SMALL' INITIALLY_SUSPENDED = FALSE"}),
    )
    .await;
    let secret = key.secret_json(ACCOUNT, "svc_postetl", None);
    aws_sdk_secretsmanager::Client::new(&aws.sdk_config().await)
        .create_secret()
        .name(SECRET_ID)
        .secret_string(secret.expose())
        .send()
        .await
        .expect("store the Snowflake secret");
    let extension = SecretsExtension::start(SECRET_ID, secret.expose());

    let moto = aws.url().as_str().trim_end_matches('/').to_string();
    let lambda_env = |extra: &[(&str, String)]| {
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TZ".into(), ":UTC".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_SESSION_TOKEN".into(), "bench-session".into()),
            ("AWS_ENDPOINT_URL".into(), moto.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), "bench".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    };
    let bundle = tls.bundle.display().to_string();
    let config = root
        .join("statemachine/pipelines.toml")
        .display()
        .to_string();
    let rust_env = |with_extension: bool| {
        let mut extra = vec![
            ("POSTETL_CONFIG", config.clone()),
            ("POSTETL_SECRET_ID", SECRET_ID.to_string()),
            ("SNOWFLAKE_BASE_URL", emulator.url.to_string()),
            ("SSL_CERT_FILE", bundle.clone()),
        ];
        if with_extension {
            extra.push((
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                extension.port.to_string(),
            ));
        }
        lambda_env(&extra)
    };
    let python_env = lambda_env(&[
        ("SECRET_ID", SECRET_ID.to_string()),
        (
            "SNOWFLAKE_HOST",
            fakesnow.url.host_str().unwrap().to_string(),
        ),
        ("SNOWFLAKE_PORT", fakesnow.url.port().unwrap().to_string()),
        ("SNOWFLAKE_PROTOCOL", "https".to_string()),
        ("REQUESTS_CA_BUNDLE", bundle.clone()),
    ]);
    let (env_sm, env_ext) = (rust_env(false), rust_env(true));

    let run_one = |kind: &str, n: usize| -> ColdStart {
        let (mut command, env, event) = match kind {
            "python/seed000" => {
                let mut c = Command::new(&seed_python);
                c.arg(root.join("tests/seed_bench/runtime.py"));
                (c, &python_env, json!({}))
            }
            _ => {
                // A new run each time: the emulator answers a repeated request id from its cache.
                let run = Run {
                    pipeline: "orders".into(),
                    run_key: format!("cold-{n}-{}", kind.replace('/', "-")),
                    execution: format!(
                        "arn:aws:states:us-east-1:123456789012:execution:post-etl:cold-{n}"
                    ),
                    dry_run: false,
                    tables: None,
                };
                let env = if kind == "rust/extension" {
                    &env_ext
                } else {
                    &env_sm
                };
                (
                    Command::new(&binary),
                    env,
                    json!({"run": run, "action": "resume"}),
                )
            }
        };
        command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        let sample = cold_start(command, &event.to_string(), Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let answer: Value = serde_json::from_str(&sample.response).unwrap_or(Value::Null);
        let ok = match kind {
            "python/seed000" => answer["statusCode"] == 200,
            _ => answer["warehouse"] == "POSTETL_WH",
        };
        assert!(ok, "{kind} answered {}", sample.response);
        sample
    };

    for n in 0..2 {
        for kind in KINDS {
            run_one(kind, 1000 + n);
        }
    }
    let mut samples: Vec<Vec<ColdStart>> = KINDS.iter().map(|_| Vec::new()).collect();
    for n in 0..rounds {
        for i in 0..KINDS.len() {
            let k = (n + i) % KINDS.len();
            samples[k].push(run_one(KINDS[k], n));
        }
    }
    let extension_reads = extension.reads();
    assert!(
        extension_reads >= rounds,
        "the extension runs read the extension ({extension_reads})"
    );
    report(&samples, rounds, &binary);
}

fn report(samples: &[Vec<ColdStart>], rounds: usize, binary: &Path) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("cold start to first statement result: fresh process, {rounds} interleaved rounds");
    println!(
        "{:<21} {:>24} {:>24} {:>10}",
        "", "init ms (min/med/max)", "first result ms (min/med/max)", "peak RSS"
    );
    for (kind, runs) in KINDS.iter().zip(samples) {
        let init = stats(runs.iter().map(|s| ms(s.init)).collect());
        let first = stats(runs.iter().map(|s| ms(s.first_result)).collect());
        let rss = stats(runs.iter().map(|s| s.peak_rss_kb as f64 / 1024.0).collect());
        println!(
            "{kind:<21} {:>7.1} {:>7.1} {:>8.1} {:>7.1} {:>7.1} {:>8.1} {:>7.1} MB",
            init[0], init[1], init[2], first[0], first[1], first[2], rss[1]
        );
    }
    let python = &samples[2];
    for (i, kind) in KINDS[..2].iter().enumerate() {
        // Each round's Python run over the same round's Rust run: pairs share the machine's state.
        let ratios = stats(
            python
                .iter()
                .zip(&samples[i])
                .map(|(p, r)| ms(p.first_result) / ms(r.first_result))
                .collect(),
        );
        println!(
            "python/seed000 / {kind:<19} {:>6.1}x median of per-round ratios (min {:.1}x, max {:.1}x)",
            ratios[1], ratios[0], ratios[2]
        );
    }
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    println!(
        "warehouse binary: {:.2} MiB (release, stripped)",
        size as f64 / (1024.0 * 1024.0)
    );
}

/// min, median, max.
fn stats(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    [v[0], median, v[n - 1]]
}

/// A CA and a server certificate for 127.0.0.1/localhost, made with openssl in a fresh directory,
/// and a CA bundle: the system's roots plus this CA.
struct TlsFiles {
    dir: PathBuf,
    ca: PathBuf,
    bundle: PathBuf,
}

impl TlsFiles {
    fn make() -> Self {
        let dir = std::env::temp_dir().join(format!("postetl-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        for args in [
            "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=postetl-bench-ca \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign",
            "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile server.ext",
        ] {
            let out = Command::new("openssl")
                .args(args.split_whitespace())
                .current_dir(&dir)
                .output()
                .expect("openssl is installed (tests/setup.sh)");
            assert!(
                out.status.success(),
                "openssl {args}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let ca = dir.join("ca.pem");
        let mut bundle_text = [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
        bundle_text.push_str(&std::fs::read_to_string(&ca).unwrap());
        let bundle = dir.join("bundle.pem");
        std::fs::write(&bundle, bundle_text).unwrap();
        Self { dir, ca, bundle }
    }

    fn server_args(&self) -> [String; 4] {
        [
            "--cert".into(),
            self.dir.join("server.pem").display().to_string(),
            "--key".into(),
            self.dir.join("server.key").display().to_string(),
        ]
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server process that prints `LISTENING <url>` when ready and exits when its stdin closes.
struct Server {
    child: Child,
    url: Url,
}

impl Server {
    fn start(what: &str, command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(url) = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|u| Url::parse(u).ok())
        else {
            let _ = child.kill();
            panic!("{what} did not start: {line:?}");
        };
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
