//! Headless Chromium driven through chromedriver (WebDriver), for the admin page's tests.
//!
//! [`Browser::launch`] starts `chromedriver --port=0` (it picks a free loopback port and prints
//! it), opens a session in headless Chromium, and stops both when closed or dropped. A missing
//! binary fails the test with the command that installs it: these tests never skip.

#![allow(dead_code)] // each test binary uses a part

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long one wait for the page may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(15);
/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(50);

const INSTALL: &str = "apt-get install chromium chromium-driver";

/// The arguments Chromium runs with (as root, in a container, headless, at a laptop's size).
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
];

/// A headless Chromium session and the chromedriver that runs it.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

/// The path of `name`: the variable `env` if set, else the first match on `PATH`.
fn binary(name: &str, env: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (nor named by {env}): the admin page's browser tests \
                 need headless Chromium; install it with `{INSTALL}` (scripts/test.sh does)"
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

impl Browser {
    /// Starts chromedriver and a Chromium session.
    pub async fn launch() -> Browser {
        let chromium = binary("chromium", "HOTCONF_CHROMIUM");
        let chromedriver = binary("chromedriver", "HOTCONF_CHROMEDRIVER");
        let mut driver = Command::new(&chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error} (install: `{INSTALL}`)",
                    chromedriver.display()
                )
            });
        let stdout = driver.stdout.take().expect("piped");
        let port = tokio::time::timeout(DEADLINE, async {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await.expect("chromedriver's output") {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let port: u16 = rest.trim_end_matches('.').trim().parse().expect("a port");
                    // Keep draining its output so that chromedriver never blocks on a full pipe.
                    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                    return port;
                }
            }
            panic!("chromedriver exited before it listened");
        })
        .await
        .expect("chromedriver did not start listening within the deadline");

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": CHROMIUM_ARGS }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "chromedriver could not start {}: {error} (install: `{INSTALL}`)",
                    chromium.display()
                )
            });
        Browser { client, driver }
    }

    /// Ends the session (Chromium exits) and stops chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill().await;
    }

    /// The visible text of the first element matching `css`, once `done` holds for it.
    pub async fn wait_text(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let done = &done;
        let found = poll(DEADLINE, || async move {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.ok(),
                Err(_) => None,
            };
            let ok = text.as_deref().is_some_and(done);
            (ok.then(|| text.clone().unwrap_or_default()), text)
        })
        .await;
        found.unwrap_or_else(|seen| {
            panic!("`{css}` did not reach the expected text in {DEADLINE:?}; last seen: {seen:?}")
        })
    }

    /// Waits until an element matches `css` and is displayed (`true`), or none is displayed.
    pub async fn wait_displayed(&self, css: &str, displayed: bool) {
        let found = poll(DEADLINE, || async move {
            let now = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            };
            ((now == displayed).then_some(()), now)
        })
        .await;
        if found.is_err() {
            let state = if displayed { "displayed" } else { "hidden" };
            panic!("`{css}` did not become {state} in {DEADLINE:?}");
        }
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .len()
    }

    /// Clicks the element matching `css` (waiting for it to appear).
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no `{css}` to click: {error}"));
        element
            .click()
            .await
            .unwrap_or_else(|error| panic!("cannot click `{css}`: {error}"));
    }

    /// Replaces the value of the input matching `css` with `text`, as typed.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .expect("the input");
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }
}

/// Polls `check` until it gives `Some`, or fails after `deadline` with the last state seen.
pub async fn poll<T, S, F, Fut>(deadline: Duration, mut check: F) -> Result<T, S>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Option<T>, S)>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let (done, seen) = check().await;
        if let Some(done) = done {
            return Ok(done);
        }
        if tokio::time::Instant::now() >= end {
            return Err(seen);
        }
        tokio::time::sleep(POLL).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked did not close the session: stop Chromium's processes (the
        // descendants of our chromedriver, by process id), then chromedriver.
        if let Some(pid) = self.driver.id() {
            let descendants = descendants(pid);
            if !descendants.is_empty() {
                let _ = std::process::Command::new("kill")
                    .arg("-KILL")
                    .args(descendants.iter().map(u32::to_string))
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = self.driver.start_kill();
    }
}

/// The processes below `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The fields after the command name (which may hold spaces) start after its `)`.
            let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
                continue;
            };
            if let Some(ppid) = rest
                .split_whitespace()
                .nth(1)
                .and_then(|f| f.parse::<u32>().ok())
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}
