//! Opens a run report in a real browser: Debian's headless Chromium, driven by playwright-core
//! (tests/sfn/check-report.mjs), and reports what is on screen. The screenshot is kept under
//! `target/report-screenshots/` (a CI artifact).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the browser showed: the JSON check-report.mjs prints.
pub struct Shown {
    pub page: Value,
    pub screenshot: PathBuf,
}

impl Shown {
    /// The timeline row of `step` (a state name, a Map item's name, or `warehouse`).
    pub fn row(&self, step: &str) -> Option<&Value> {
        self.page["rows"]
            .as_array()?
            .iter()
            .find(|r| r["step"] == step)
    }

    /// Whether `step` has at least one bar a person can see (laid out, not hidden, not empty).
    pub fn has_visible_bar(&self, step: &str) -> bool {
        self.row(step).is_some_and(|r| {
            r["bars"].as_array().is_some_and(|bars| {
                bars.iter().any(|b| {
                    b["visible"] == true
                        && b["width"].as_f64().is_some_and(|w| w >= 1.0)
                        && b["height"].as_f64().is_some_and(|h| h >= 1.0)
                })
            })
        })
    }

    /// The colours of `step`'s bars as the browser computed them (`rgb(...)`).
    pub fn fills(&self, step: &str) -> Vec<String> {
        self.row(step)
            .and_then(|r| r["bars"].as_array())
            .map(|bars| {
                bars.iter()
                    .filter_map(|b| b["fill"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The failed-bar colour of the report (#c62828), as a browser computes it.
pub const FAILED_FILL: &str = "rgb(198, 40, 40)";

/// Opens `html` in headless Chromium and says what it shows; `name` names the screenshot.
pub fn open_report(html: &Path, name: &str) -> Shown {
    let dir = crate::repo_root().join("tests/sfn");
    let node = dir.join("node_modules/.bin/node");
    assert!(
        node.exists(),
        "{} is missing: run `bash tests/setup.sh --browser`",
        node.display()
    );
    let shots = crate::repo_root().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).expect("the screenshot folder");
    let screenshot = shots.join(format!("{name}.png"));
    let mut child = std::process::Command::new(node)
        .current_dir(&dir)
        .arg("check-report.mjs")
        .arg(html)
        .arg(&screenshot)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run node");
    // Bounded: a browser that hangs fails the test instead of holding it.
    let started = Instant::now();
    while child.try_wait().expect("wait for node").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the browser check did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("node's output");
    assert!(
        out.status.success(),
        "check-report.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    Shown { page, screenshot }
}
