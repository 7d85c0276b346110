//! `hotconf check` end to end: two `hotconf watch --admin` services, each holding its merged
//! config to its own JSON Schema, asked at once whether they would accept a layer's new
//! document; unreachable services and refused tokens; the offline `--schema` check.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(30);
const TOKEN: &str = "check-cli-token";
const SECRET: &str = "hunter2-check-cli";

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

/// A `hotconf watch --admin 127.0.0.1:0 --schema schema.json ./app.json` service, in a
/// directory of its own, serving its admin API once its first config is applied.
struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(dir: &Path, name: &str, max_port: u16) -> Service {
        let home = dir.join(name);
        std::fs::create_dir(&home).unwrap();
        let app = json!({"port": 8080, "db": {"host": "db", "password": SECRET}});
        std::fs::write(home.join("app.json"), app.to_string()).unwrap();
        std::fs::write(home.join("schema.json"), schema(max_port).to_string()).unwrap();
        std::fs::write(home.join("token"), format!("{TOKEN}\n")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args([
                "watch",
                "--admin",
                "127.0.0.1:0",
                "--admin-token-file",
                "token",
            ])
            .args(["--schema", "schema.json", "./app.json"])
            .current_dir(&home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let line = stderr.recv_timeout(TIMEOUT).expect("the admin line");
        let addr = line
            .strip_prefix("hotconf: admin on http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("not the admin line: {line}"))
            .to_owned();
        let applied = stdout.recv_timeout(TIMEOUT).expect("the first config");
        assert!(applied.contains("\"applied\""), "{applied}");
        Service {
            child,
            url: format!("http://{addr}"),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The schema of the services' config: a port of at most `max_port`.
fn schema(max_port: u16) -> Value {
    json!({
        "type": "object",
        "properties": {
            "port": {"type": "integer", "minimum": 1, "maximum": max_port},
            "db": {"type": "object", "properties": {"host": {"type": "string"}}}
        }
    })
}

/// What `hotconf check ARGS` (run in `dir`) printed: its exit code, its stdout lines as JSON,
/// its stderr.
struct Checked {
    code: Option<i32>,
    lines: Vec<Value>,
    stderr: String,
}

fn check(dir: &Path, args: &[&str]) -> Checked {
    let output = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET) && !stderr.contains(TOKEN),
        "{stdout}{stderr}"
    );
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Checked {
        code: output.status.code(),
        lines,
        stderr,
    }
}

fn proposal(dir: &Path, name: &str, port: u16) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("port: {port}\ndb:\n  host: db2\n  password: {SECRET}-new\n"),
    )
    .unwrap();
    path
}

fn token_file(dir: &Path, token: &str) -> String {
    let path = dir.join(format!("token-{token}"));
    std::fs::write(&path, token).unwrap();
    path.display().to_string()
}

#[test]
fn check_asks_every_service_and_exits_0_only_when_all_accept() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        Service::start(dir.path(), "a", 9000),
        Service::start(dir.path(), "b", 10000),
    );
    let token = token_file(dir.path(), TOKEN);
    proposal(dir.path(), "ok.yaml", 8500);
    let args = |file: &'static str| {
        let mut args = vec!["--layer", "file-0", "--file", file, "--token-file", &token];
        args.extend(["--against", &a.url, &b.url]);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |file| {
        let owned = args(file);
        check(
            dir.path(),
            &owned.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };

    let checked = run("ok.yaml");
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    assert_eq!(checked.lines.len(), 2);
    for (line, url) in checked.lines.iter().zip([&a.url, &b.url]) {
        assert_eq!(line["target"], url.as_str());
        assert_eq!(line["accepted"], true, "{line}");
        assert_eq!(line["layer"], "file-0");
        assert_eq!(
            line["changes"]["changed"],
            json!(["db.host", "db.password", "port"])
        );
    }
    // Not a terminal: no summary.
    assert!(checked.stderr.is_empty(), "{}", checked.stderr);

    proposal(dir.path(), "high.yaml", 9500);
    let checked = run("high.yaml");
    assert_eq!(checked.code, Some(1), "{}", checked.stderr);
    let (first, second) = (&checked.lines[0], &checked.lines[1]);
    assert_eq!(
        (&first["accepted"], &first["key"], &first["kind"]),
        (&json!(false), &json!("port"), &json!("validation")),
        "{first}"
    );
    assert_eq!(first["source"], "file:./app.json", "{first}");
    assert_eq!(second["accepted"], true, "{second}");

    // Nothing was applied: the services still serve their first config.
    let config = http_get(&format!("{}/config", a.url));
    assert_eq!(config["version"], 1, "{config}");
    assert_eq!(config["config"]["port"], 8080, "{config}");
}

#[test]
fn an_unreachable_service_or_a_refused_token_is_unanswered_and_a_rejection_wins() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), "svc", 9000);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (good, wrong) = (
        token_file(dir.path(), TOKEN),
        token_file(dir.path(), "wrong"),
    );
    proposal(dir.path(), "ok.yaml", 8500);
    proposal(dir.path(), "high.yaml", 9500);

    // The layer by its source's name this time.
    let checked = check(
        dir.path(),
        &[
            "--layer",
            "file:./app.json",
            "--file",
            "ok.yaml",
            "--token-file",
            &good,
        ]
        .into_iter()
        .chain(["--against", &service.url, &closed])
        .collect::<Vec<_>>(),
    );
    assert_eq!(checked.code, Some(4), "{}", checked.stderr);
    assert_eq!(checked.lines[0]["accepted"], true);
    let down = &checked.lines[1];
    assert_eq!(
        (&down["accepted"], &down["unanswered"]),
        (&json!(false), &json!(true)),
        "{down}"
    );
    assert!(
        down["error"].as_str().unwrap().contains("cannot reach"),
        "{down}"
    );

    let checked = check(
        dir.path(),
        &[
            "--layer",
            "file-0",
            "--file",
            "high.yaml",
            "--token-file",
            &good,
        ]
        .into_iter()
        .chain(["--against", &service.url, &closed])
        .collect::<Vec<_>>(),
    );
    assert_eq!(
        checked.code,
        Some(1),
        "a rejection wins: {}",
        checked.stderr
    );

    let checked = check(
        dir.path(),
        &[
            "--layer",
            "file-0",
            "--file",
            "ok.yaml",
            "--token-file",
            &wrong,
        ]
        .into_iter()
        .chain(["--against", &service.url])
        .collect::<Vec<_>>(),
    );
    assert_eq!(checked.code, Some(4), "{}", checked.stderr);
    assert_eq!(checked.lines[0]["status"], 401, "{}", checked.lines[0]);

    let checked = check(
        dir.path(),
        &[
            "--layer",
            "nope",
            "--file",
            "ok.yaml",
            "--token-file",
            &good,
        ]
        .into_iter()
        .chain(["--against", &service.url])
        .collect::<Vec<_>>(),
    );
    assert_eq!(checked.code, Some(4), "{}", checked.stderr);
    let error = checked.lines[0]["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 400") && error.contains("file-0"),
        "{error}"
    );
}

#[test]
fn the_offline_check_holds_the_document_to_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.json"), schema(9000).to_string()).unwrap();
    proposal(dir.path(), "ok.yaml", 8500);
    proposal(dir.path(), "high.yaml", 9500);

    let checked = check(
        dir.path(),
        &["--schema", "schema.json", "--file", "ok.yaml"],
    );
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    assert_eq!(
        checked.lines,
        [json!({"accepted": true, "target": "schema.json"})]
    );

    let checked = check(
        dir.path(),
        &["--schema", "schema.json", "--file", "high.yaml"],
    );
    assert_eq!(checked.code, Some(1), "{}", checked.stderr);
    let line = &checked.lines[0];
    assert_eq!(
        (&line["accepted"], &line["key"]),
        (&json!(false), &json!("port"))
    );
    assert!(!line["error"].as_str().unwrap().contains("9500"), "{line}");

    // Bad arguments: exit 2.
    std::fs::write(dir.path().join("new.conf"), "port: 1").unwrap();
    for args in [
        &["--file", "ok.yaml"][..],
        &["--schema", "schema.json", "--file", "new.conf"],
        &["--schema", "missing.json", "--file", "ok.yaml"],
        &["--layer", "a", "--file", "ok.yaml", "--against", "ftp://h/"],
    ] {
        assert_eq!(check(dir.path(), args).code, Some(2), "{args:?}");
    }
}

#[test]
fn watch_serves_its_schema_for_the_offline_check() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), "svc", 9000);
    let served = http_get(&format!("{}/config/schema", service.url));
    assert_eq!(served, schema(9000));
}

/// The JSON body of a GET of `url`.
fn http_get(url: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let answer = reqwest::get(url).await.unwrap();
        assert!(answer.status().is_success(), "{url}: {}", answer.status());
        serde_json::from_str(&answer.text().await.unwrap()).unwrap()
    })
}
