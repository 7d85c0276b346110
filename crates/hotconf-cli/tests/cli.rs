//! The `hotconf` binary end to end: spawn it, change files the ways operators and the kubelet
//! do, and read its JSON lines.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(20);

struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(args: &[&str], dir: &Path) -> Watch {
        Watch::start_with_env(args, dir, &[])
    }

    /// `hotconf watch ARGS` in `dir`, with `env` added to its environment.
    fn start_with_env(args: &[&str], dir: &Path, env: &[(&str, &OsStr)]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .arg("watch")
            .args(args)
            .current_dir(dir)
            .env("HOTCONF_CLI_TEST_PORT", "7000")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines }
    }

    fn next(&self) -> Value {
        self.lines
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no line from hotconf in time: {e}"))
    }

    /// The next `applied` line: errors while a source reconnects may come first, nothing else.
    fn next_applied(&self) -> Value {
        loop {
            let line = self.next();
            if line["event"] == "applied" {
                return line;
            }
            assert_eq!(line["event"], "source_error", "{line}");
        }
    }

    fn stop(mut self) -> i32 {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        self.child
            .wait()
            .unwrap()
            .code()
            .expect("exited by itself after SIGTERM")
    }
}

/// A test that fails before `stop` leaves no `hotconf` process behind.
impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn watch_prints_one_line_per_change_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.toml");
    std::fs::write(&app, "name = \"v1\"\n[db]\nport = 1\n").unwrap();
    let watch = Watch::start(&["./app.toml", "env:HOTCONF_CLI_TEST_"], dir.path());

    let first = watch.next();
    assert_eq!(
        (first["event"].as_str(), first["version"].as_u64()),
        (Some("applied"), Some(1)),
        "{first}"
    );
    assert_eq!(
        first["config"],
        serde_json::json!({"name": "v1", "db": {"port": 1}, "port": 7000})
    );
    assert!(first["revisions"]["file:./app.toml"].is_string(), "{first}");

    save(&app, "name = \"v2\"\n[db]\nport = 2\n");
    let second = watch.next();
    assert_eq!(
        (second["event"].as_str(), second["version"].as_u64()),
        (Some("applied"), Some(2)),
        "{second}"
    );
    assert_eq!(second["config"]["name"], "v2");

    // The same content saved again is no change (no line of its own); a broken file is rejected.
    save(&app, "name = \"v2\"\n[db]\nport = 2\n");
    save(&app, "name = [");
    let rejected = watch.next();
    assert_eq!(rejected["event"], "rejected", "{rejected}");
    assert_eq!(rejected["source"], "file:./app.toml");
    assert!(
        rejected["error"].as_str().unwrap().contains("invalid TOML"),
        "{rejected}"
    );

    save(&app, "name = \"v3\"\n[db]\nport = 3\n");
    let third = watch.next();
    assert_eq!(
        (third["version"].as_u64(), &third["config"]["name"]),
        (Some(3), &Value::from("v3")),
        "{third}"
    );

    std::fs::remove_file(&app).unwrap();
    let error = watch.next();
    assert_eq!(
        (error["event"].as_str(), error["transient"].as_bool()),
        (Some("source_error"), Some(true)),
        "{error}"
    );

    assert_eq!(watch.stop(), 0);
}

#[test]
fn a_configmap_swap_is_one_applied_line() {
    let dir = tempfile::tempdir().unwrap();
    let cm = dir.path().join("cm");
    std::fs::create_dir(&cm).unwrap();
    let publish = |generation: u32, port: &str| {
        let ts = format!("..2026_11_25_00_00_0{generation}.000000000");
        std::fs::create_dir(cm.join(&ts)).unwrap();
        std::fs::write(cm.join(&ts).join("db.port"), port).unwrap();
        if std::fs::symlink_metadata(cm.join("db.port")).is_err() {
            std::os::unix::fs::symlink("..data/db.port", cm.join("db.port")).unwrap();
        }
        let old = std::fs::read_link(cm.join("..data")).ok();
        std::os::unix::fs::symlink(&ts, cm.join("..data_tmp")).unwrap();
        std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
        if let Some(old) = old {
            std::fs::remove_dir_all(cm.join(old)).unwrap();
        }
    };
    publish(1, "5432");
    let watch = Watch::start(&["file:./cm/?typed=true"], dir.path());
    assert_eq!(
        watch.next()["config"],
        serde_json::json!({"db": {"port": 5432}})
    );
    publish(2, "6543");
    let swapped = watch.next();
    assert_eq!(
        (
            swapped["version"].as_u64(),
            &swapped["config"]["db"]["port"]
        ),
        (Some(2), &Value::from(6543))
    );
    publish(3, "7654");
    assert_eq!(watch.next()["version"], 3, "exactly one line per swap");
    assert_eq!(watch.stop(), 0);
}

#[test]
fn once_schema_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.json"), r#"{"db": {"port": 70000}}"#).unwrap();
    std::fs::write(
        dir.path().join("schema.json"),
        r#"{"properties": {"db": {"properties": {"port": {"maximum": 65535}}}}}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .arg("watch")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let ok = run(&["--once", "app.json"]);
    assert_eq!(ok.status.code(), Some(0));
    let line: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(line["config"]["db"]["port"], 70000);

    let rejected = run(&[
        "--once",
        "--timeout",
        "300ms",
        "--schema",
        "schema.json",
        "app.json",
    ]);
    assert_eq!(rejected.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains("db.port") && stderr.contains("no config could be loaded"),
        "{stderr}"
    );
    // What failed and how, from the schema; never the value (G12).
    assert!(
        stderr.contains("greater than the maximum of 65535 (keyword `maximum`"),
        "{stderr}"
    );
    assert!(!stderr.contains("70000"), "{stderr}");

    for bad in [
        &["--once", "ftp://x/y"][..],
        &["--once", "--schema", "missing.json", "app.json"],
        &["--bogus"],
    ] {
        assert_eq!(run(bad).status.code(), Some(2), "{bad:?}");
    }
    let help = run(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes:"));
}

/// A FIFO given as a document is refused at once (it would block a reader until a writer
/// appears), and `--once` exits instead of hanging on a runtime worker stuck in `open`.
#[test]
fn once_on_a_fifo_fails_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("mkfifo")
        .arg(dir.path().join("fifo.json"))
        .status()
        .unwrap();
    assert!(status.success());
    let child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["watch", "--once", "--timeout", "2s", "./fifo.json"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(Duration::from_secs(10)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("`hotconf watch --once --timeout 2s ./fifo.json` still runs after 10 s");
    };
    let output = output.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fifo.json") && stderr.contains("FIFO"),
        "{stderr}"
    );
}

#[test]
fn watch_follows_etcdctl_put_and_del_and_rides_out_a_restart() {
    let mut etcd = hotconf_testkit::etcd::EtcdCluster::single();
    etcd.ctl(&["put", "app/db/port", "5432"]);
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("etcd://{}/app/?typed=true", etcd.endpoint(0));
    let watch = Watch::start(&[&uri], dir.path());
    let first = watch.next();
    assert_eq!(
        first["config"],
        serde_json::json!({"db": {"port": 5432}}),
        "{first}"
    );

    etcd.ctl(&["put", "app/db/host", "db-1"]);
    let second = watch.next();
    assert_eq!(
        (second["version"].as_u64(), &second["config"]["db"]["host"]),
        (Some(2), &Value::from("db-1"))
    );
    etcd.ctl(&["del", "app/db/port"]);
    let third = watch.next();
    assert_eq!(
        third["config"],
        serde_json::json!({"db": {"host": "db-1"}}),
        "{third}"
    );

    etcd.stop(0);
    let down = watch.next();
    assert_eq!(down["event"], "source_error", "{down}");
    etcd.restart(0);
    etcd.ctl(&["put", "app/db/port", "6543"]);
    let applied = watch.next_applied();
    assert_eq!(
        (
            applied["version"].as_u64(),
            &applied["config"]["db"]["port"]
        ),
        (Some(4), &Value::from(6543))
    );
    assert_eq!(watch.stop(), 0);
}

#[test]
fn watch_follows_nacos_publish_and_delete_and_rides_out_a_restart() {
    let mut nacos = hotconf_testkit::nacos::RNacos::start();
    nacos.publish("app.yaml", "db:\n  port: 5432\n");
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("nacos://{}/app.yaml?group=DEFAULT_GROUP", nacos.server());
    let watch = Watch::start(&[&uri], dir.path());
    let first = watch.next();
    assert_eq!(
        first["config"],
        serde_json::json!({"db": {"port": 5432}}),
        "{first}"
    );

    nacos.publish("app.yaml", "db:\n  port: 5432\n  host: db-1\n");
    let second = watch.next();
    assert_eq!(
        (second["version"].as_u64(), &second["config"]["db"]["host"]),
        (Some(2), &Value::from("db-1"))
    );
    nacos.delete("app.yaml");
    let third = watch.next();
    assert_eq!(third["config"], serde_json::json!({}), "{third}");

    nacos.stop();
    let down = watch.next();
    assert_eq!(down["event"], "source_error", "{down}");
    nacos.restart();
    nacos.publish("app.yaml", "db:\n  port: 6543\n");
    let applied = watch.next_applied();
    assert_eq!(
        (
            applied["version"].as_u64(),
            &applied["config"]["db"]["port"]
        ),
        (Some(4), &Value::from(6543))
    );
    assert_eq!(watch.stop(), 0);
}

fn curl(method: &str, url: &str, data: Option<&str>) {
    let mut command = Command::new("curl");
    command.args(["-sSf", "-X", method, url]);
    if let Some(data) = data {
        command.args(["--data-binary", data]);
    }
    let output = command.output().expect("curl on PATH");
    assert!(output.status.success(), "curl {method} {url}: {output:?}");
}

#[test]
fn watch_follows_curl_writes_to_consul_and_survives_an_index_reset() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let consul = runtime.block_on(hotconf_testkit::consul::ConsulEmulator::start());
    consul.put("app/db/port", "5432");
    consul.put("application/db/port", "not ours");
    let kv = format!("{}/v1/kv", consul.url());
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("consul://{}/app/?typed=true", consul.address());
    let watch = Watch::start(&[&uri], dir.path());
    let first = watch.next();
    assert_eq!(
        (first["version"].as_u64(), &first["config"]),
        (Some(1), &serde_json::json!({"db": {"port": 5432}})),
        "{first}"
    );

    curl("PUT", &format!("{kv}/app/db/host"), Some("db-1"));
    let second = watch.next();
    assert_eq!(
        (second["version"].as_u64(), &second["config"]["db"]["host"]),
        (Some(2), &Value::from("db-1"))
    );
    let snapshot = consul.snapshot();
    curl("DELETE", &format!("{kv}/app/db/port"), None);
    let third = watch.next();
    assert_eq!(
        (third["version"].as_u64(), &third["config"]),
        (Some(3), &serde_json::json!({"db": {"host": "db-1"}})),
        "{third}"
    );

    // A snapshot restore while the watch is parked: the index goes back. The restored state is
    // one change...
    runtime.block_on(consul.wait_for(|c| c.parked == 1));
    consul.restore(&snapshot);
    let restored = watch.next();
    assert_eq!(
        (restored["version"].as_u64(), &restored["config"]),
        (
            Some(4),
            &serde_json::json!({"db": {"host": "db-1", "port": 5432}})
        ),
        "{restored}"
    );
    // ...and writes after it are neither missed nor repeated.
    curl("PUT", &format!("{kv}/app/db/port"), Some("6543"));
    let fifth = watch.next();
    assert_eq!(
        (fifth["version"].as_u64(), &fifth["config"]["db"]["port"]),
        (Some(5), &Value::from(6543)),
        "{fifth}"
    );
    curl("PUT", &format!("{kv}/app/db/port"), Some("6543")); // the same value: no line
    curl("PUT", &format!("{kv}/app/db/port"), Some("7654"));
    let sixth = watch.next();
    assert_eq!(
        (sixth["version"].as_u64(), &sixth["config"]["db"]["port"]),
        (Some(6), &Value::from(7654)),
        "{sixth}"
    );
    assert_eq!(watch.stop(), 0);
    drop(consul);
}

#[test]
fn watch_follows_apollo_namespaces_as_layers_over_one_long_poll() {
    const SECRET: &str = "apollo-cli-S3CRET";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let apollo = runtime.block_on(hotconf_testkit::apollo::ApolloEmulator::start());
    apollo.set_secret("app", Some(SECRET));
    apollo.publish(
        "app",
        "default",
        "application",
        [("db.port", "5432"), ("db.host", "h1")],
    );
    apollo.publish_content("app", "default", "overrides.yaml", "db:\n  port: 6000\n");
    let base = format!("apollo://{}/app", apollo.address());
    let lower = format!("{base}/application?secret={SECRET}");
    let upper = format!("{base}/overrides.yaml?secret={SECRET}");
    let dir = tempfile::tempdir().unwrap();
    let watch = Watch::start(&[&lower, &upper], dir.path());
    let first = watch.next();
    assert_eq!(
        (first["version"].as_u64(), &first["config"]),
        (
            Some(1),
            &serde_json::json!({"db": {"host": "h1", "port": 6000}})
        ),
        "{first}"
    );

    apollo.publish(
        "app",
        "default",
        "application",
        [("db.port", "5432"), ("db.host", "h2")],
    );
    let second = watch.next_applied();
    assert_eq!(second["config"]["db"]["host"], "h2", "{second}");

    // The upper namespace deleted: its layer is empty, the lower value shows through.
    apollo.delete("app", "default", "overrides.yaml");
    let third = watch.next_applied();
    assert_eq!(
        third["config"],
        serde_json::json!({"db": {"host": "h2", "port": "5432"}}),
        "{third}"
    );

    // Both namespaces ride one long poll.
    let polls = apollo.polls();
    assert!(
        polls.iter().any(|p| p.notifications.len() == 2),
        "one request carries both namespaces: {polls:?}"
    );
    for line in [&first, &second, &third] {
        assert!(!line.to_string().contains(SECRET), "{line}");
    }
    assert_eq!(watch.stop(), 0);
    drop(apollo);
}

/// Every Apollo scenario of issue 14 through `hotconf watch`: a namespace created after start,
/// a gray release for the client's label and its rollback, a lost notification recovered by
/// the periodic check, a namespace deleted; a wrong secret refused and the right one accepted;
/// a meta server whose first listed config service is dead.
#[test]
fn watch_follows_apollo_through_every_scenario() {
    use hotconf_testkit::apollo::{ApolloEmulator, GrayRule};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let apollo = runtime.block_on(ApolloEmulator::start());
    apollo.publish(
        "svc",
        "default",
        "application",
        [("mode", "main"), ("port", "1")],
    );
    let base = format!("apollo://{}/svc", apollo.address());
    let dir = tempfile::tempdir().unwrap();
    let lower = format!("{base}/application?label=canary&check=300ms");
    let upper = format!("{base}/later.json?label=canary&check=300ms");
    let watch = Watch::start(&[&lower, &upper], dir.path());
    let first = watch.next_applied();
    assert_eq!(
        first["config"],
        serde_json::json!({"mode": "main", "port": "1"}),
        "{first}"
    );

    // Created after start: its layer appears.
    apollo.publish_content("svc", "default", "later.json", r#"{"port": 2}"#);
    assert_eq!(watch.next_applied()["config"]["port"], 2);

    // A gray release for label `canary` (ours), then rolled back on the server.
    let rule = GrayRule {
        ips: vec![],
        labels: vec!["canary".into()],
    };
    apollo.publish_gray(
        "svc",
        "default",
        "application",
        rule,
        [("mode", "gray"), ("port", "1")],
    );
    assert_eq!(watch.next_applied()["config"]["mode"], "gray");
    apollo.rollback_gray("svc", "default", "application");
    assert_eq!(watch.next_applied()["config"]["mode"], "main");

    // A release whose notification is lost: the periodic check finds it.
    apollo.publish_silently(
        "svc",
        "default",
        "application",
        [("mode", "silent"), ("port", "1")],
    );
    assert_eq!(watch.next_applied()["config"]["mode"], "silent");

    // Deleted: the upper layer is empty again.
    apollo.delete("svc", "default", "later.json");
    assert_eq!(watch.next_applied()["config"]["port"], "1");
    assert_eq!(watch.stop(), 0);

    // Access keys: a wrong secret is refused (and never printed), the right one is accepted.
    apollo.set_secret("svc", Some("right-S3CRET"));
    let once = |uri: &str| {
        Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args([
                "watch",
                "--once",
                "--timeout",
                "2s",
                "--output",
                "json",
                uri,
            ])
            .output()
            .unwrap()
    };
    let refused = once(&format!("{base}/application?secret=wrong-S3CRET"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("wrong-S3CRET") && stderr.contains("secret"),
        "{stderr}"
    );
    let accepted = once(&format!("{base}/application?secret=right-S3CRET"));
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(!String::from_utf8_lossy(&accepted.stdout).contains("right-S3CRET"));
    apollo.set_secret("svc", None);

    // A meta server listing a dead config service first.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    apollo.set_config_services(Some(vec![dead, apollo.address()]));
    let meta = once(&format!(
        "apollo://{}/svc/application?meta=true",
        apollo.address()
    ));
    assert_eq!(
        meta.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&meta.stderr)
    );
    let line: Value = serde_json::from_slice(&meta.stdout).unwrap();
    assert_eq!(line["config"]["mode"], "silent");
    drop(apollo);
}

/// G10 on the command line: a token or password given in a source URI appears on neither
/// stdout (the event lines) nor stderr, whether the URI is refused or its server is down.
#[test]
fn credentials_in_source_uris_never_reach_stdout_or_stderr() {
    const SECRET: &str = "S3CRET-hunter2";
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sources = [
        format!("consul://127.0.0.1:{closed}/app/?token={SECRET}"),
        format!("nacos://nacos:{SECRET}@127.0.0.1:{closed}/app.json"),
        format!("etcd://root:{SECRET}@127.0.0.1:{closed}/app/"),
        // Refused by the parser: user info up to the last `@`, a bad escape after a token.
        format!("etcd://root:pa@{SECRET}@127.0.0.1:99999/app/"),
        format!("consul://127.0.0.1:{closed}/app/?token={SECRET}&x=%zz"),
        format!("apollo://127.0.0.1:{closed}/app/application?secret={SECRET}"),
    ];
    for source in &sources {
        let output = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args([
                "watch",
                "--once",
                "--timeout",
                "1s",
                "--output",
                "json",
                source,
            ])
            .output()
            .unwrap();
        assert_ne!(output.status.code(), Some(0), "{source}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.is_empty(), "{source}: an error is printed");
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{source}:\n{stdout}\n{stderr}"
        );
    }
}

/// Every spelling of a secret that once leaked (issue 24) stays out of `hotconf watch`'s
/// lines, its pretty diff, and the sidecar's events (G12).
#[test]
fn no_spelling_of_a_secret_reaches_watch_output_or_sidecar_events() {
    use hotconf_testkit::leaks;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.json"), leaks::config().to_string()).unwrap();
    std::fs::write(dir.path().join("t.j2"), "{{ config.compass }}").unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        stdout + &stderr
    };
    let json = run(&["watch", "--once", "app.json"]);
    leaks::assert_no_leak("hotconf watch", &json);
    let line: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(line["config"]["compass"], "north");
    assert_eq!(line["config"]["env"][1]["value"], "info");
    let pretty = run(&["watch", "--once", "--output", "pretty", "app.json"]);
    leaks::assert_no_leak("hotconf watch --output pretty", &pretty);
    assert!(pretty.contains("north"), "{pretty}");

    let rendered = run(&[
        "render",
        "--once",
        "--template",
        "t.j2:out.txt",
        "--out",
        "merged.json",
        "--events",
        "events.jsonl",
        "app.json",
    ]);
    leaks::assert_no_leak("hotconf render", &rendered);
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(events.contains("applied"), "{events}");
    leaks::assert_no_leak("the sidecar's events", &events);
    // The outputs are the service's own copy: they hold the values.
    let merged = std::fs::read_to_string(dir.path().join("merged.json")).unwrap();
    assert!(merged.contains(leaks::MARKER));
}

/// `hotconf watch https://…?ca=FILE`: a document on a TLS server whose CA only that file names,
/// followed through a change; the basic-auth password never printed.
#[test]
fn watch_follows_an_https_url_with_its_own_ca() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pki = hotconf_testkit::pki::TestPki::new();
    let server = runtime.block_on(hotconf_testkit::http::ConfigServer::start_tls(
        pki.server_config(),
    ));
    server.put("/app.json", r#"{"port": 1}"#, Some("application/json"));
    let url = server
        .url("/app.json")
        .replacen("https://", "https://app:hunter2-url@", 1);
    let source = format!("{url}?interval=100ms&ca={}", pki.ca.display());
    let dir = tempfile::tempdir().unwrap();
    let watch = Watch::start(&[source.as_str()], dir.path());
    let first = watch.next_applied();
    assert_eq!(first["config"]["port"], 1);
    server.put("/app.json", r#"{"port": 2}"#, Some("application/json"));
    let second = watch.next_applied();
    assert_eq!(second["config"]["port"], 2);
    assert!(!format!("{first}{second}").contains("hunter2"), "{second}");
    assert_eq!(watch.stop(), 0);
    assert_eq!(
        server.last_authorization().as_deref(),
        Some("Basic YXBwOmh1bnRlcjItdXJs")
    );
}

/// `hotconf watch`'s JSON lines are a contract: an applied version, a rejection and the next
/// version, byte for byte as in `tests/golden/watch.jsonl` (`HOTCONF_BLESS=1` rewrites it).
#[test]
fn watch_json_lines_are_unchanged_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.json");
    save(
        &app,
        r#"{"db": {"host": "h", "port": 5432, "password": "hunter2"}, "name": "app"}"#,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["watch", "--output", "json", "app.json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || lines.recv_timeout(TIMEOUT).expect("a line in time");
    let mut text = next() + "\n";
    save(&app, r#"{"db": {"port": "#);
    text += &(next() + "\n");
    save(
        &app,
        r#"{"db": {"host": "h2", "port": 5433, "password": "hunter2"}}"#,
    );
    text += &(next() + "\n");
    let _ = child.kill();
    let _ = child.wait();
    hotconf_testkit::golden::assert_golden(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/watch.jsonl"),
        &text,
    );
}

/// `?secret=true` on a URI makes a secret layer: `hotconf watch` prints its values as `***`,
/// whatever their keys are called, and the other layers' values as they are.
#[test]
fn a_secret_layer_by_uri_is_redacted_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.json"), r#"{"db": {"port": 5432}}"#).unwrap();
    std::fs::write(
        dir.path().join("creds.json"),
        r#"{"db": {"host": "db-7.internal"}}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["watch", "--once", "app.json", "file:creds.json?secret=true"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("db-7"), "{text}");
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        line["config"]["db"],
        serde_json::json!({"host": "***", "port": 5432})
    );
}

/// `hotconf watch k8s://…`: a ConfigMap and a Secret followed from the API server (the test
/// kit's emulator) as layers; a change of the ConfigMap is applied; the Secret's values, a
/// secret layer's, are printed as `***` whatever their keys are called.
#[test]
fn watch_follows_a_config_map_and_a_secret_from_the_api_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = runtime.block_on(hotconf_testkit::kubernetes::KubeEmulator::start());
    api.put_config_map("prod", "app", [("db.port", "5432"), ("name", "svc")]);
    api.put_secret("prod", "creds", [("db.host", "db-7.internal")]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    let uri = |kind: &str, name: &str| {
        format!(
            "k8s://prod/{kind}/{name}?kubeconfig={}",
            kubeconfig.display()
        )
    };
    let (app, creds) = (uri("configmap", "app"), uri("secret", "creds"));
    let watch = Watch::start(&[&app, &creds], dir.path());
    let first = watch.next();
    assert_eq!(
        first["config"],
        serde_json::json!({"db": {"host": "***", "port": 5432}, "name": "svc"})
    );
    api.put_config_map("prod", "app", [("db.port", "6000"), ("name", "svc")]);
    let second = watch.next();
    assert_eq!(second["config"]["db"]["port"], 6000);
    assert!(!second.to_string().contains("db-7"), "{second}");
    assert_eq!(watch.stop(), 0);
}

/// `hotconf watch vault://…` against a real OpenBao dev server: the token from `VAULT_TOKEN`,
/// every value of the layer redacted, a rotation printed as a change.
#[test]
fn watch_follows_a_vault_secret_with_the_token_from_the_environment() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bao = runtime.block_on(hotconf_testkit::openbao::OpenBao::start());
    runtime.block_on(bao.put(
        "app",
        serde_json::json!({"db": {"password": "hunter2", "port": 5432}}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("vault://{}/secret/app?interval=100ms", bao.address());
    let watch = Watch::start_with_env(
        &[&uri],
        dir.path(),
        &[("VAULT_TOKEN", OsStr::new(bao.root_token()))],
    );
    let first = watch.next();
    assert_eq!(
        first["config"],
        serde_json::json!({"db": {"password": "***", "port": "***"}})
    );
    runtime.block_on(bao.put(
        "app",
        serde_json::json!({"db": {"password": "hunter3", "port": 6000}}),
    ));
    let second = watch.next();
    assert_eq!(
        (&second["event"], &second["version"]),
        (&serde_json::json!("applied"), &serde_json::json!(2))
    );
    let text = format!("{first}{second}");
    assert!(
        !text.contains("hunter") && !text.contains(bao.root_token()),
        "{text}"
    );
    assert_eq!(watch.stop(), 0);
}

/// `hotconf watch --once FILE.age?identity=KEY`: an age-encrypted file (made by Debian's `age`)
/// decrypted with the key the URI names is a secret layer: its values are printed as `***`,
/// whatever their keys are called, and the other layers' as they are; `&secret=false` shows
/// them. A wrong key exits non-zero naming the file, and no output quotes a value.
#[test]
fn watch_once_decrypts_an_age_file_as_a_secret_layer() {
    use hotconf_testkit::age::{AgeKey, Armor};
    let dir = tempfile::tempdir().unwrap();
    let key = AgeKey::generate(dir.path().join("key.txt"));
    let other = AgeKey::generate(dir.path().join("other.txt"));
    std::fs::write(dir.path().join("app.json"), r#"{"db": {"port": 5432}}"#).unwrap();
    key.encrypt(
        b"db:\n  host: db-7.internal\n  password: hunter2\n",
        &dir.path().join("creds.yaml.age"),
        Armor::Armored,
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args(["watch", "--once", "--timeout", "2s"])
            .args(args)
            .current_dir(dir.path())
            .env_remove("AGE_IDENTITY_FILE")
            .env_remove("SOPS_AGE_KEY_FILE")
            .output()
            .unwrap()
    };
    let assert_quotes_no_value = |output: &std::process::Output| {
        for text in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(
                !text.contains("db-7") && !text.contains("hunter2"),
                "{text}"
            );
        }
    };

    let output = run(&["app.json", "creds.yaml.age?identity=key.txt"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_quotes_no_value(&output);
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        line["config"]["db"],
        serde_json::json!({"host": "***", "password": "***", "port": 5432})
    );

    let output = run(&[
        "app.json",
        "file:creds.yaml.age?identity=key.txt&secret=false",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["config"]["db"]["host"], "db-7.internal", "the opt-out");

    let output = run(&["app.json", "creds.yaml.age?identity=other.txt"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_quotes_no_value(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("creds.yaml.age") && stderr.contains("other recipients"),
        "{stderr}"
    );
    assert!(!stderr.contains(&other.secret_line()[16..]), "{stderr}");
}

/// `hotconf watch FILE.age` with the identity from `AGE_IDENTITY_FILE`, as in a pod's
/// environment: each new ciphertext is a change; a corrupted file is a `source_error` line
/// naming the file while the last good config keeps serving, and the next good one applies.
#[test]
fn watch_follows_an_age_file_with_the_identity_from_the_environment() {
    use hotconf_testkit::age::{AgeKey, Armor};
    let dir = tempfile::tempdir().unwrap();
    let key = AgeKey::generate(dir.path().join("key.txt"));
    let path = dir.path().join("app.toml.age");
    key.encrypt(
        b"name = \"v1\"\ntoken = \"hunter1\"\n",
        &path,
        Armor::Binary,
    );
    let watch = Watch::start_with_env(
        &["app.toml.age"],
        dir.path(),
        &[
            ("AGE_IDENTITY_FILE", key.path.as_os_str()),
            ("SOPS_AGE_KEY_FILE", OsStr::new("")),
        ],
    );
    let first = watch.next();
    assert_eq!(first["event"], "applied", "{first}");
    assert_eq!(
        first["config"],
        serde_json::json!({"name": "***", "token": "***"})
    );

    let mut corrupted = std::fs::read(&path).unwrap();
    let last = corrupted.len() - 2;
    corrupted[last] ^= 0x20;
    std::fs::write(dir.path().join("corrupted"), &corrupted).unwrap();
    std::fs::rename(dir.path().join("corrupted"), &path).unwrap();
    let error = watch.next();
    assert_eq!(
        (error["event"].as_str(), error["transient"].as_bool()),
        (Some("source_error"), Some(true)),
        "{error}"
    );
    let said = error["error"].as_str().unwrap();
    assert!(
        said.contains("app.toml.age") && said.contains("corrupted or truncated"),
        "{error}"
    );

    key.encrypt(
        b"name = \"v2\"\ntoken = \"hunter2\"\n",
        &path,
        Armor::Armored,
    );
    let second = watch.next_applied();
    assert_eq!(second["version"], 2, "{second}");
    assert!(!second.to_string().contains("hunter"), "{second}");
    assert_eq!(watch.stop(), 0);
}
