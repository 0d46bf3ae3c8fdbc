//! A local server process that announces `LISTENING <url>` on stdout once ready, keeps its stdin
//! open while the test runs (it exits when stdin closes, so it never outlives the test process),
//! and is killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use url::Url;

pub struct ServerProcess {
    child: Child,
    pub url: Url,
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
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("read {what}'s LISTENING line: {e}"));
        let Some(url) = line.trim().strip_prefix("LISTENING ") else {
            let _ = child.kill();
            panic!("{what} did not start (set {log_var}=1 to see its log): {line:?}");
        };
        let url = Url::parse(url).unwrap_or_else(|e| panic!("{what} announced {url:?}: {e}"));
        Self { child, url }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
