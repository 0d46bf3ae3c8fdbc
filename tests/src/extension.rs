//! A stand-in for the AWS Parameters and Secrets Lambda Extension: the same local HTTP interface
//! (`GET /secretsmanager/get?secretId=..` with `X-Aws-Parameters-Secrets-Token`), serving a secret
//! the test can replace, and counting reads so tests can prove the Lambda caches.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct SecretsExtension {
    pub port: u16,
    state: Arc<State>,
}

struct State {
    secret_id: String,
    value: Mutex<String>,
    reads: AtomicUsize,
    stop: AtomicBool,
}

impl SecretsExtension {
    pub fn start(secret_id: &str, value: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            secret_id: secret_id.to_string(),
            value: Mutex::new(value.to_string()),
            reads: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut has_token_header = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    has_token_header |= line
                        .to_ascii_lowercase()
                        .starts_with("x-aws-parameters-secrets-token:");
                }
                let wanted = format!(
                    "GET /secretsmanager/get?secretId={} ",
                    shared.secret_id.replace('/', "%2F")
                );
                let (status, body) = if !has_token_header {
                    (
                        "401 Unauthorized",
                        r#"{"message": "missing token"}"#.to_string(),
                    )
                } else if !request_line.starts_with(&wanted) {
                    (
                        "400 Bad Request",
                        r#"{"message": "unknown secret"}"#.to_string(),
                    )
                } else {
                    shared.reads.fetch_add(1, Ordering::SeqCst);
                    let value = shared.value.lock().unwrap().clone();
                    (
                        "200 OK",
                        serde_json::json!({"Name": shared.secret_id, "SecretString": value})
                            .to_string(),
                    )
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { port, state }
    }

    /// The secret source a Lambda's bootstrap builds with this extension on its port.
    pub fn source(&self, secret_id: &str) -> snowflake::SecretSource {
        snowflake::SecretSource::aws_with(
            secret_id,
            snowflake::AwsConfig::from_env(),
            Some(snowflake::Extension {
                port: self.port,
                session_token: snowflake::SecretString::new("test-session"),
            }),
        )
    }

    pub fn replace(&self, value: &str) {
        *self.state.value.lock().unwrap() = value.to_string();
    }

    pub fn reads(&self) -> usize {
        self.state.reads.load(Ordering::SeqCst)
    }
}

impl Drop for SecretsExtension {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread ends.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}
