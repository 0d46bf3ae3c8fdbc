//! A Lambda Runtime API (2018-06-01) for one fresh function process: it hands the process one
//! event and times it from spawn to its first `next` (init) and to its posted result, then reads
//! the process's peak RSS (VmHWM, what Lambda reports as "Max Memory Used") once it asks for the
//! next event, and kills it. Blocking std I/O, one thread per connection: nothing here competes
//! with the function for the runtime it is being timed on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One cold start, timed from the moment before the process is spawned.
pub struct ColdStart {
    /// Spawn to the first `GET /next`: the init phase.
    pub init: Duration,
    /// Spawn to the result posted back: cold start to first statement result.
    pub first_result: Duration,
    pub peak_rss_kb: u64,
    pub response: String,
}

enum Seen {
    Next(Instant),
    Result(Instant, String),
    Failed(String),
    Idle,
}

const PREFIX: &str = "/2018-06-01/runtime";
const REQUEST_ID: &str = "b6a8d6c4-1f0e-4d0c-9a51-000000000001";

/// Spawns `command` as a Lambda function process with `event` waiting for it.
pub fn cold_start(
    mut command: Command,
    event: &str,
    timeout: Duration,
) -> Result<ColdStart, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (tx, rx) = mpsc::channel();
    let event = event.to_string();
    let acceptor = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let (tx, event) = (tx.clone(), event.clone());
            // A connection with no request at all is the wake-up call below.
            let mut peek = [0u8; 1];
            if stream.peek(&mut peek).map(|n| n == 0).unwrap_or(true) {
                break;
            }
            std::thread::spawn(move || serve(stream, &event, &tx));
        }
    });
    command
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id();
    let deadline = started + timeout;
    let mut init = None;
    let mut outcome = Err("timed out".to_string());
    let mut peak_rss_kb = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Seen::Next(at)) => init = Some(at - started),
            Ok(Seen::Result(at, body)) => outcome = Ok((at - started, body)),
            Ok(Seen::Failed(body)) => {
                outcome = Err(format!("function error: {body}"));
                break;
            }
            Ok(Seen::Idle) => {
                peak_rss_kb = vm_hwm_kb(pid);
                break;
            }
            Err(_) => {
                if let Ok(Some(status)) = child.try_wait() {
                    outcome = Err(format!("exited with {status} before answering"));
                }
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // Wake the accept loop with an empty connection so its thread ends.
    drop(TcpStream::connect(("127.0.0.1", port)));
    let _ = acceptor.join();
    let (first_result, response) = outcome?;
    Ok(ColdStart {
        init: init.ok_or("no request for an event")?,
        first_result,
        peak_rss_kb,
        response,
    })
}

fn serve(stream: TcpStream, event: &str, tx: &mpsc::Sender<Seen>) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().expect("clone a socket"));
    let mut writer = stream;
    let mut handed_out = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let body = String::from_utf8_lossy(&body).into_owned();
        if method == "GET" && path == format!("{PREFIX}/invocation/next") {
            if handed_out {
                // Back for more: the first invocation is over. Hold the request open until the
                // process is killed, so it is still there when its peak RSS is read.
                let _ = tx.send(Seen::Idle);
                let _ = reader.read_line(&mut String::new());
                return;
            }
            handed_out = true;
            let _ = tx.send(Seen::Next(at));
            let deadline_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 60_000;
            let headers = format!(
                "Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\nLambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Type: application/json\r\n"
            );
            answer(&mut writer, "200 OK", &headers, event);
        } else if method == "POST" && path == format!("{PREFIX}/invocation/{REQUEST_ID}/response") {
            let _ = tx.send(Seen::Result(at, body));
            answer(&mut writer, "202 Accepted", "", "{}");
        } else if method == "POST" && path.ends_with("/error") {
            let _ = tx.send(Seen::Failed(body));
            answer(&mut writer, "202 Accepted", "", "{}");
        } else {
            answer(&mut writer, "404 Not Found", "", "{}");
        }
    }
}

fn answer(writer: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let _ = write!(
        writer,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = writer.flush();
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
