//! A local server process that announces `LISTENING <url>` on stdout once ready, keeps its stdin
//! open while the test runs (it exits when stdin closes, so it never outlives the test process),
//! and is asked to stop (stdin closed), then killed, when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use url::Url;

pub struct ServerProcess {
    child: Child,
    pub url: Url,
    /// Other `NAME <url>` lines printed before `LISTENING`, e.g. `LAMBDA http://...`.
    pub announced: Vec<(String, Url)>,
}

impl ServerProcess {
    /// `log_var`: when this environment variable is set, the server's stderr is shown.
    pub fn spawn(what: &str, mut command: Command, cwd: &Path, log_var: &str) -> Self {
        let mut child = command
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os(log_var).is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut announced = Vec::new();
        loop {
            let mut line = String::new();
            stdout
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("read {what}'s output: {e}"));
            let parsed = line
                .trim()
                .split_once(' ')
                .and_then(|(name, url)| Some((name.to_string(), Url::parse(url).ok()?)));
            match parsed {
                Some((name, url)) if name == "LISTENING" => {
                    return Self {
                        child,
                        url,
                        announced,
                    };
                }
                Some(other) => announced.push(other),
                None => {
                    let _ = child.kill();
                    panic!("{what} did not start (set {log_var}=1 to see its log): {line:?}");
                }
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing stdin asks the server to stop (it ends its own children first, so the local
        // Lambda processes exit without connection errors); killed after a bounded wait.
        drop(self.child.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
