//! `hotconf watch --admin` end to end: a real Prometheus (Debian's `prometheus`) scrapes the
//! admin endpoint while a file source changes; `promtool` accepts the exposition; the admin
//! API and page answer; no secret reaches stdout, stderr, the API or the metrics; and
//! `hotconf explain` names the layer of a key.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hotconf_testkit::prometheus::{promtool_check_metrics, Prometheus};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(30);
const SECRET: &str = "hunter2-cli-admin";

/// A `hotconf watch --admin 127.0.0.1:0` child, its stdout lines and its stderr lines.
struct Watch {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .arg("watch")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Watch {
            child,
            stdout,
            stderr,
        }
    }

    fn applied(&self, version: u64) -> Value {
        loop {
            let line = self.stdout.recv_timeout(TIMEOUT).expect("a line in time");
            assert!(!line.contains(SECRET), "{line}");
            let event: Value = serde_json::from_str(&line).unwrap();
            if event["event"] == "applied" && event["version"] == version {
                return event;
            }
        }
    }

    /// The next stdout line that starts with `prefix` (the pretty output's lines).
    fn line_starting(&self, prefix: &str) -> String {
        loop {
            let line = self.stdout.recv_timeout(TIMEOUT).expect("a line in time");
            assert!(!line.contains(SECRET), "{line}");
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    fn admin_addr(&self) -> SocketAddr {
        let line = self
            .stderr
            .recv_timeout(TIMEOUT)
            .expect("the admin line on stderr");
        let addr = line
            .strip_prefix("hotconf: admin on http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("not the admin line: {line}"));
        addr.parse().unwrap()
    }

    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        assert_eq!(self.child.wait().unwrap().code(), Some(0));
        std::iter::from_fn(|| self.stderr.recv_timeout(Duration::from_secs(5)).ok()).collect()
    }
}

/// A test that fails before `stop` leaves no `hotconf` process behind.
impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a GET of `url`.
async fn text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config(port: u16) -> String {
    format!(r#"{{"db": {{"host": "db.internal", "port": {port}, "password": "{SECRET}"}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_admin_endpoint_and_sees_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.json");
    std::fs::write(&app, config(5432)).unwrap();
    std::fs::write(dir.path().join("token"), "cli-admin-token\n").unwrap();
    let watch = Watch::start(
        dir.path(),
        &[
            "--admin",
            "127.0.0.1:0",
            "--admin-token-file",
            "token",
            "./app.json",
        ],
    );
    let first = watch.applied(1);
    assert_eq!(first["config"]["db"]["password"], "***");
    let addr = watch.admin_addr();
    let base = format!("http://{addr}");

    let prometheus = Prometheus::start(&[addr]).await;
    prometheus
        .wait_for(
            "hotconf_config_version",
            |r| r.first().is_some_and(|s| s.1 == 1.0),
            TIMEOUT,
        )
        .await;
    save(&app, &config(6543));
    watch.applied(2);
    prometheus
        .wait_for(
            "hotconf_config_version",
            |r| r.first().is_some_and(|s| s.1 == 2.0),
            TIMEOUT,
        )
        .await;
    let applied = prometheus
        .wait_for(
            r#"hotconf_reloads_total{outcome="applied"}"#,
            |r| r.first().is_some_and(|s| s.1 >= 2.0),
            TIMEOUT,
        )
        .await;
    assert_eq!(applied[0].0.get("job").map(String::as_str), Some("hotconf"));
    let up = prometheus
        .query(r#"hotconf_source_up{layer="file-0"}"#)
        .await;
    assert_eq!(up.first().map(|s| s.1), Some(1.0), "{up:?}");

    let http = reqwest::Client::new();
    let exposition = text(&http, &format!("{base}/metrics")).await;
    promtool_check_metrics(&exposition).expect("promtool accepts the exposition");
    assert!(!exposition.contains(SECRET));
    assert!(
        !exposition.contains("app.json"),
        "no URI in labels:\n{exposition}"
    );

    let mut seen = String::new();
    for path in [
        "/config/version",
        "/config",
        "/config/history",
        "/config/diff?from=1&to=2",
        "/config/explain?key=db.password",
        "/readyz",
        "/",
    ] {
        let answer = http.get(format!("{base}{path}")).send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        seen += &answer.text().await.unwrap();
    }
    assert!(!seen.contains(SECRET), "{seen}");
    assert!(seen.contains(r#""db.port""#), "{seen}");

    // Writes need the token from the file.
    let rollback = format!("{base}/config/rollback/1");
    let refused = http.post(&rollback).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let pinned = http
        .post(&rollback)
        .bearer_auth("cli-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.status(), 200);
    watch.applied(3);
    prometheus
        .wait_for(
            "hotconf_config_pinned",
            |r| r.first().is_some_and(|s| s.1 == 1.0),
            TIMEOUT,
        )
        .await;

    drop(prometheus);
    let stderr = watch.stop();
    assert!(
        stderr
            .iter()
            .all(|l| !l.contains(SECRET) && !l.contains("cli-admin-token")),
        "{stderr:?}"
    );
}

/// The pretty output says why a version was applied when the sources did not make it, in
/// words (`version 3 (rollback of v1)`), never in Rust's `Debug` form (`Rollback { of: 1 }`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_reads_as_words_in_the_pretty_output() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.json");
    std::fs::write(&app, config(5432)).unwrap();
    std::fs::write(dir.path().join("token"), "cli-admin-token\n").unwrap();
    let watch = Watch::start(
        dir.path(),
        &[
            "--output",
            "pretty",
            "--admin",
            "127.0.0.1:0",
            "--admin-token-file",
            "token",
            "./app.json",
        ],
    );
    let base = format!("http://{}", watch.admin_addr());
    let first = watch.line_starting("version 1");
    assert!(first.starts_with("version 1 file:"), "{first}");
    save(&app, &config(6543));
    watch.line_starting("version 2");

    let pinned = reqwest::Client::new()
        .post(format!("{base}/config/rollback/1"))
        .bearer_auth("cli-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.status(), 200);
    let line = watch.line_starting("version 3");
    assert!(
        line.starts_with("version 3 (rollback of v1) file:"),
        "{line}"
    );
    assert!(!line.contains("Rollback") && !line.contains('{'), "{line}");
    watch.stop();
}

#[test]
fn explain_names_the_layer_and_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.json"), config(5432)).unwrap();
    std::fs::write(dir.path().join("over.toml"), "[db]\nport = 7000\n").unwrap();
    let explain = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args(["explain", key, "base.json", "over.toml"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let port = explain("db.port");
    assert_eq!(port.status.code(), Some(0));
    let port: Value = serde_json::from_slice(&port.stdout).unwrap();
    assert_eq!(port["layer"], "file-1");
    assert_eq!(port["value"], 7000);
    assert_eq!(port["overridden"], serde_json::json!(["file-0"]));

    let password = explain("db.password");
    let text =
        String::from_utf8(password.stdout).unwrap() + &String::from_utf8(password.stderr).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    let password: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (password["redacted"].as_bool(), &password["layer"]),
        (Some(true), &Value::from("file-0"))
    );

    assert_eq!(explain("db.nope").status.code(), Some(3));
    let bad = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args([
            "watch",
            "--admin",
            "127.0.0.1:0",
            "--admin-token-file",
            "missing",
            "base.json",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_answers_alive_but_not_ready_until_the_first_config() {
    let dir = tempfile::tempdir().unwrap();
    let watch = Watch::start(dir.path(), &["--admin", "127.0.0.1:0", "./later.json"]);
    let base = format!("http://{}", watch.admin_addr());
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready
        .text()
        .await
        .unwrap()
        .contains("waiting for the first valid config"));
    assert_eq!(get("/config/version").await.unwrap().status(), 503);

    save(&dir.path().join("later.json"), &config(5432));
    watch.applied(1);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let version: Value =
        serde_json::from_str(&get("/config/version").await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(version["version"], 1);
    watch.stop();
}

/// `hotconf watch` whose stdout nobody reads (a stalled log collector): the reloader and the
/// admin endpoint go on following the config, and SIGTERM still ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stdout_stops_neither_the_reloads_nor_the_exit() {
    const CHANGES: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    // 20 KB per applied line: a few fill the pipe's 64 KiB.
    let big = |n: u64| format!(r#"{{"n": {n}, "pad": "{}"}}"#, "x".repeat(20_000));
    save(&dir.path().join("app.json"), &big(0));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["watch", "--admin", "127.0.0.1:0", "./app.json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped()) // kept open, never read
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdout = child.stdout.take().unwrap();
    let mut watch = Watch {
        stdout: mpsc::channel().1,
        stderr: lines(child.stderr.take().unwrap()),
        child,
    };
    let base = format!("http://{}", watch.admin_addr());
    let http = reqwest::Client::new();
    let version = || async {
        let answer = text(&http, &format!("{base}/config/version")).await;
        serde_json::from_str::<Value>(&answer).unwrap()["version"].as_u64()
    };
    // Nothing but the admin endpoint shows progress while stdout is stalled: polled, with a
    // deadline per change (version 1 is the first config, read after the admin line).
    for n in 0..=CHANGES {
        if n > 0 {
            save(&dir.path().join("app.json"), &big(n));
        }
        let deadline = std::time::Instant::now() + TIMEOUT;
        while version().await != Some(n + 1) {
            assert!(
                std::time::Instant::now() < deadline,
                "change {n} not applied in time: {:?}",
                version().await
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(watch.child.id().to_string())
        .status();
    // Polled: the process is the one thing the test cannot await without giving it away.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "hotconf did not exit after SIGTERM with its stdout stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status.code(), Some(0));
}

/// `--admin-allow-host` and `--admin-read-token-file`: a rebound host name answers 421, a
/// listed one is served, and reads need a token while the probes do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_refuses_rebound_hosts_and_guards_reads_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    save(&dir.path().join("app.json"), &config(5432));
    std::fs::write(dir.path().join("read-token"), "cli-read-token\n").unwrap();
    let watch = Watch::start(
        dir.path(),
        &[
            "--admin",
            "127.0.0.1:0",
            "--admin-read-token-file",
            "read-token",
            "--admin-allow-host",
            "admin.internal",
            "./app.json",
        ],
    );
    let addr = watch.admin_addr();
    watch.applied(1);
    let http = reqwest::Client::new();
    let get = |host: &str, token: Option<&str>| {
        let mut request = http
            .get(format!("http://{addr}/config"))
            .header("host", host);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let port = addr.port();
    let rebound = get(
        &format!("rebind.attacker.example:{port}"),
        Some("cli-read-token"),
    );
    assert_eq!(rebound.await.unwrap().status(), 421);
    assert_eq!(get(&addr.to_string(), None).await.unwrap().status(), 401);
    for host in [addr.to_string(), format!("admin.internal:{port}")] {
        let answer = get(&host, Some("cli-read-token")).await.unwrap();
        assert_eq!(answer.status(), 200, "{host}");
        let body = answer.text().await.unwrap();
        assert!(
            body.contains("db.internal") && !body.contains(SECRET),
            "{body}"
        );
    }
    let probe = http
        .get(format!("http://{addr}/healthz"))
        .header("host", "lb.example");
    assert_eq!(probe.send().await.unwrap().status(), 200);
    let stderr = watch.stop();
    assert!(
        stderr.iter().all(|l| !l.contains("cli-read-token")),
        "{stderr:?}"
    );
}

/// A Vault layer (a real OpenBao) behind `--admin`: neither its values nor the token reach the
/// admin API (config, history, diff, explain, the page), `/metrics`, stdout or stderr, through a
/// rotation and the server going away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_layer_shows_neither_its_values_nor_its_token_on_the_admin_api_or_metrics() {
    let mut bao = hotconf_testkit::openbao::OpenBao::start().await;
    bao.put(
        "app",
        serde_json::json!({"db": {"password": "hunter2-first"}}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), bao.root_token()).unwrap();
    let uri = format!(
        "vault://{}/secret/app?interval=100ms&token_file=token",
        bao.address()
    );
    let watch = Watch::start(dir.path(), &["--admin", "127.0.0.1:0", &uri]);
    let admin = watch.admin_addr();
    let mut seen = watch.applied(1).to_string();
    bao.put(
        "app",
        serde_json::json!({"db": {"password": "hunter2-second"}}),
    )
    .await;
    seen.push_str(&watch.applied(2).to_string());
    let http = reqwest::Client::new();
    for path in [
        "/",
        "/config",
        "/config/history",
        "/config/diff?from=1&to=2",
        "/config/explain?key=db.password",
        "/metrics",
    ] {
        let body = text(&http, &format!("http://{admin}{path}")).await;
        assert!(!body.is_empty(), "{path}");
        seen.push_str(&body);
    }
    bao.stop();
    loop {
        let line = watch.stdout.recv_timeout(TIMEOUT).expect("a line in time");
        seen.push_str(&line);
        if line.contains("source_error") {
            break;
        }
    }
    seen.extend(watch.stop());
    assert!(seen.contains("vault://"), "{seen}");
    for leak in ["hunter2", bao.root_token()] {
        assert!(!seen.contains(leak), "`{leak}` leaked: {seen}");
    }
}
