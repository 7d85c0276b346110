//! A real Nacos server for tests: r-nacos (`rnacos` on PATH; install it with `cargo install
//! rnacos --locked --version 0.8.8`, which scripts/test.sh does), on free loopback ports, with
//! the console disabled, a temporary data directory and working directory, and handles to stop
//! and restart it on the same data. [`LongPollFront::nacos_listener`](crate::front::LongPollFront::nacos_listener)
//! can stand in front of it and answer the long-poll listener at once.

use crate::ports::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Launches tried before a test gives up on r-nacos. Its start-up race comes in bursts on a
/// loaded machine (two cores busy compiling): each failed launch waits a little longer before
/// the next, so a burst passes.
const ATTEMPTS: usize = 10;
/// How long each start-up step (health, login, probe) may take.
const STEP: Duration = Duration::from_secs(15);

/// A running r-nacos; dropping it kills it.
pub struct RNacos {
    http_port: u16,
    grpc_port: u16,
    auth: Option<(String, String)>,
    data_dir: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Where this launch's part of the log begins.
    log_start: u64,
    /// The admin's access token, when auth is on.
    token: Option<String>,
}

impl RNacos {
    /// Starts r-nacos with open-API auth off (any login succeeds).
    pub fn start() -> RNacos {
        RNacos::launch(None)
    }

    /// Starts r-nacos with auth on and this admin user.
    pub fn with_auth(user: &str, password: &str) -> RNacos {
        RNacos::launch(Some((user.to_owned(), password.to_owned())))
    }

    fn launch(auth: Option<(String, String)>) -> RNacos {
        let found = Command::new("rnacos")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        assert!(found, "`rnacos` is not on PATH: install it with `cargo install rnacos --locked --version 0.8.8` (scripts/test.sh does)");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data_dir = dir.path().join("nacos_db");
        let mut nacos = RNacos {
            http_port: free_port(),
            grpc_port: free_port(),
            auth,
            data_dir,
            dir,
            child: None,
            log_start: 0,
            token: None,
        };
        nacos.spawn(true);
        nacos
    }

    /// Launches r-nacos until one instance works. r-nacos 0.8.8 has a start-up race: now and then
    /// one of its actors panics (`Option::unwrap()` on `None`) while the server still answers
    /// /health. Such a server accepts publishes it never stores and refuses logins ("Mailbox has
    /// closed"). So "ready" means a login (with auth on) and a publish that reads back, and a
    /// server that fails that is killed and launched again (on a fresh data dir at first start,
    /// on the same one at a restart).
    fn spawn(&mut self, fresh: bool) {
        let mut failures = Vec::new();
        for attempt in 0..ATTEMPTS {
            if fresh {
                let _ = std::fs::remove_dir_all(&self.data_dir);
                if attempt > 0 {
                    // The ports may have been the trouble (taken by another program meanwhile).
                    self.http_port = free_port();
                    self.grpc_port = free_port();
                }
            }
            self.log_start = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
            self.child = Some(self.command().spawn().expect("rnacos starts"));
            match self.wait_working() {
                Ok(()) => return,
                Err(why) => {
                    self.stop();
                    failures.push(why);
                    // Nothing to wait on: the race is in r-nacos's own start-up.
                    std::thread::sleep(Duration::from_millis(100 * (attempt as u64 + 1)));
                }
            }
        }
        panic!(
            "r-nacos did not start working in {ATTEMPTS} attempts: {failures:?}; its log: {}",
            self.log_path().display()
        );
    }

    fn command(&self) -> Command {
        let mut command = Command::new("rnacos");
        command
            .current_dir(self.dir.path()) // no stray .env is read from the repository
            .env("RNACOS_SDK_HOST", "127.0.0.1")
            .env("RNACOS_HTTP_PORT", self.http_port.to_string())
            .env("RNACOS_GRPC_PORT", self.grpc_port.to_string())
            .env("RNACOS_HTTP_CONSOLE_PORT", "0")
            .env("RNACOS_DATA_DIR", &self.data_dir)
            .env(
                "RUST_LOG",
                std::env::var("HOTCONF_RNACOS_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(self.log_file());
        match &self.auth {
            Some((user, password)) => command
                .env("RNACOS_ENABLE_OPEN_API_AUTH", "true")
                .env("RNACOS_INIT_ADMIN_USERNAME", user)
                .env("RNACOS_INIT_ADMIN_PASSWORD", password),
            None => command.env("RNACOS_ENABLE_OPEN_API_AUTH", "false"),
        };
        command
    }

    /// Waits for /health, then for a login (with auth on) and a probe publish that reads back.
    fn wait_working(&mut self) -> Result<(), String> {
        self.wait_ready()?;
        self.token = match self.auth.clone() {
            Some((user, password)) => Some(self.login(&user, &password)?),
            None => None,
        };
        let probe = self.probe_value().to_string();
        let key = [("dataId", "probe"), ("group", "HOTCONF_PROBE")];
        let deadline = Instant::now() + STEP;
        loop {
            let published = self.form("POST", &[&key[..], &[("content", &probe)]].concat());
            let read = self.form("GET", &key);
            if published.ends_with("true") && read.ends_with(&probe) {
                return Ok(());
            }
            if let Some(panic) = self.panic_in_log() {
                return Err(format!("r-nacos panicked: {panic}"));
            }
            if Instant::now() > deadline {
                return Err(format!("a probe publish did not read back: {read:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Publishes `content` as `data_id` in `DEFAULT_GROUP` of the public namespace, through the
    /// open API as an operator's tools do (logged in when auth is on).
    ///
    /// # Panics
    /// When the server does not answer `true`.
    pub fn publish(&self, data_id: &str, content: &str) {
        self.publish_in("", "DEFAULT_GROUP", data_id, content, "text");
    }

    /// Publishes like [`RNacos::publish`], with the config type (`json`, `yaml`, …) set.
    ///
    /// # Panics
    /// When the server does not answer `true`.
    pub fn publish_typed(&self, data_id: &str, content: &str, kind: &str) {
        self.publish_in("", "DEFAULT_GROUP", data_id, content, kind);
    }

    /// Publishes `content` as `data_id` of type `kind` in `group` of `namespace` (`""`: public).
    ///
    /// # Panics
    /// When the server does not answer `true`.
    pub fn publish_in(
        &self,
        namespace: &str,
        group: &str,
        data_id: &str,
        content: &str,
        kind: &str,
    ) {
        let params = [
            ("dataId", data_id),
            ("group", group),
            ("tenant", namespace),
            ("content", content),
            ("type", kind),
        ];
        let response = self.form("POST", &params);
        assert!(response.ends_with("true"), "publish {data_id}: {response}");
    }

    /// Deletes `data_id` from `DEFAULT_GROUP` of the public namespace.
    ///
    /// # Panics
    /// When the server does not answer `true`.
    pub fn delete(&self, data_id: &str) {
        self.delete_in("", "DEFAULT_GROUP", data_id);
    }

    /// Deletes `data_id` from `group` of `namespace`.
    ///
    /// # Panics
    /// When the server does not answer `true`.
    pub fn delete_in(&self, namespace: &str, group: &str, data_id: &str) {
        let params = [("dataId", data_id), ("group", group), ("tenant", namespace)];
        let response = self.form("DELETE", &params);
        assert!(response.ends_with("true"), "delete {data_id}: {response}");
    }

    /// A request to `/nacos/v1/cs/configs` with `params` (in the query, with the access token
    /// when there is one); returns the whole response.
    fn form(&self, method: &str, params: &[(&str, &str)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(params);
        if let Some(token) = &self.token {
            query.append_pair("accessToken", token);
        }
        self.request(&format!(
            "{method} /nacos/v1/cs/configs?{} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
            query.finish()
        ))
    }

    /// The first panic this launch wrote to its log.
    fn panic_in_log(&self) -> Option<String> {
        let log = std::fs::read(self.log_path()).ok()?;
        let log = String::from_utf8_lossy(log.get(self.log_start as usize..)?);
        log.lines()
            .find(|line| line.contains("panicked at"))
            .map(str::to_owned)
    }

    /// A value the probe config never held before on this data dir.
    fn probe_value(&self) -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    }

    /// r-nacos creates its admin user a moment after it answers /health: retries a login (at a
    /// pace its login rate limit allows); returns the access token.
    fn login(&self, user: &str, password: &str) -> Result<String, String> {
        let deadline = Instant::now() + STEP;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", user)
            .append_pair("password", password)
            .finish();
        loop {
            let response = self.request(&format!(
                "POST /nacos/v1/auth/login HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
            let token = response
                .split("\"accessToken\":\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next());
            if let Some(token) = token {
                return Ok(token.to_owned());
            }
            if let Some(panic) = self.panic_in_log() {
                return Err(format!("r-nacos panicked: {panic}"));
            }
            if Instant::now() > deadline {
                return Err(format!("cannot log in as {user}: {response:?}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends a raw HTTP/1.0 request to the HTTP port; returns the whole response ("" on failure).
    fn request(&self, request: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut response = String::new();
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_string(&mut response);
        }
        response
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STEP;
        loop {
            // Ready means *our* process answers: a server that died (a port taken by another
            // program) must not pass because someone else answers on that port.
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                return Err(format!(
                    "r-nacos exited at start (port {} or {} taken?)",
                    self.http_port, self.grpc_port
                ));
            }
            if self.health() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no /health answer on port {}", self.http_port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn health(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "GET /health HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.http_port
        );
        let mut response = String::new();
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let _ = stream.read_to_string(&mut response);
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
    }

    fn log_file(&self) -> Stdio {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_or_else(|_| Stdio::null(), Stdio::from)
    }

    /// The server's log (its stderr, across restarts; level from `HOTCONF_RNACOS_LOG`, default
    /// `warn`). It goes with the temporary directory unless `HOTCONF_RNACOS_LOG_DIR` names a
    /// directory to keep it in (as `<http port>.log`).
    pub fn log_path(&self) -> PathBuf {
        match std::env::var_os("HOTCONF_RNACOS_LOG_DIR") {
            Some(d) => PathBuf::from(d).join(format!("{}.log", self.http_port)),
            None => self.dir.path().join("rnacos.log"),
        }
    }

    /// `127.0.0.1:<http port>`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    /// The gRPC port the SDK connects to.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// The HTTP API base URL, `http://127.0.0.1:<port>/nacos`.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}/nacos", self.http_port)
    }

    /// Stops the server (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same data and ports.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(false);
    }
}

impl Drop for RNacos {
    fn drop(&mut self) {
        self.stop();
    }
}
