//! `hotconf render`: atomic outputs, rejections that touch nothing, the command per change,
//! signals, `--once`.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::document;
use crate::harness::{write, Config, Sidecar};

/// The events of a finished run, one JSON object per line.
fn event_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

#[test]
fn a_reader_never_sees_a_torn_empty_or_invalid_file() {
    const CHANGES: u64 = 1000;
    let config = Config::start();
    config.put(&document(0));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.tpl",
        "{\"n\": {{ config.n }}, \"pad\": {{ config.pad | tojson }}, \"check\": {{ config.n }}}\n",
    );
    let uri = config.uri();
    let sidecar = Sidecar::start(
        "render",
        &[&uri, "--template", "app.tpl:out/app.json"],
        dir.path(),
    );
    let first = sidecar.after_change("rendered");
    assert_eq!(first["changed"], json!(["out/app.json"]), "{first}");

    let reader = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reader_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOTCONF_READER_FILE", dir.path().join("out/app.json"))
        .env("HOTCONF_READER_LAST", CHANGES.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for n in 1..=CHANGES {
        config.put(&document(n));
        let rendered = sidecar.after_change("rendered");
        assert_eq!(
            (rendered["version"].as_u64(), &rendered["changed"]),
            (Some(n + 1), &json!(["out/app.json"])),
            "{rendered}"
        );
    }
    let read = reader.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&read.stdout);
    assert!(read.status.success(), "{stdout}");
    let report = stdout
        .lines()
        .find_map(|l| l.split_once("READER OK").map(|(_, report)| report))
        .unwrap_or_else(|| panic!("no report from the reader: {stdout}"));
    println!("reader: {report}");
    let distinct: usize = report.rsplit('=').next().unwrap().parse().unwrap();
    assert!(distinct > 1, "the reader saw the file change: {report}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp file left: {leftovers:?}");
}

#[test]
fn a_rejected_change_leaves_the_outputs_and_the_command_alone() {
    let config = Config::start();
    config.put(&json!({"db": {"host": "h1", "port": 1}}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "# app\nhost={{ config.db.host }}\n");
    write(
        dir.path(),
        "schema.json",
        r#"{"properties": {"db": {"properties": {"port": {"maximum": 65535}}}}}"#,
    );
    let uri = config.uri();
    let sidecar = Sidecar::start(
        "render",
        &[
            &uri,
            "--template",
            "app.tpl:app.conf",
            "--out",
            "app.env",
            "--schema",
            "schema.json",
            "--mode",
            "0600",
            "--exec",
            "echo ran $HOTCONF_VERSION $HOTCONF_CHANGED",
        ],
        dir.path(),
    );
    let rendered = sidecar.after_change("rendered");
    assert_eq!(rendered["changed"], json!(["app.conf", "app.env"]));
    assert_eq!(sidecar.after_change("command")["exit_code"], 0);
    assert_eq!(sidecar.line(), "ran 1 app.conf:app.env");
    let files = ["app.conf", "app.env"].map(|f| dir.path().join(f));
    let before = files.clone().map(|f| {
        let meta = std::fs::metadata(&f).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        (std::fs::read(&f).unwrap(), meta.ino(), meta.mtime_nsec())
    });
    assert_eq!(before[0].0, b"# app\nhost=h1\n");
    assert_eq!(before[1].0, b"DB__HOST='h1'\nDB__PORT='1'\n");

    // A key the template needs is gone: rejected, naming the template and the line.
    config.put(&json!({"db": {"port": 2}}));
    let (rejected, before_it) = sidecar.until("rejected");
    assert!(before_it.is_empty(), "{before_it:?}");
    let error = rejected["error"].as_str().unwrap();
    assert!(error.contains("template app.tpl line 2"), "{rejected}");
    // The schema refuses the port: rejected, naming the key.
    config.put(&json!({"db": {"host": "h9", "port": 70000}}));
    let (rejected, _) = sidecar.until("rejected");
    assert!(
        rejected["error"].as_str().unwrap().contains("db.port"),
        "{rejected}"
    );
    assert!(!rejected.to_string().contains("70000"), "{rejected}");

    // Nothing was written: same inode, same bytes, same mtime; the command did not run.
    let unchanged = files.clone().map(|f| {
        let meta = std::fs::metadata(&f).unwrap();
        (std::fs::read(&f).unwrap(), meta.ino(), meta.mtime_nsec())
    });
    assert_eq!(unchanged, before);
    assert!(sidecar.pending_lines().is_empty());

    config.put(&json!({"db": {"host": "h2", "port": 2}}));
    let rendered = sidecar.after_change("rendered");
    assert_eq!(rendered["version"], 2, "rejections took no version");
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"# app\nhost=h2\n");
    assert_eq!(sidecar.after_change("command")["exit_code"], 0);
    assert_eq!(sidecar.line(), "ran 2 app.conf:app.env");
    assert!(sidecar.pending_lines().is_empty());
    sidecar.signal("TERM");
    assert_eq!(sidecar.exit_code(), 0);
}

#[test]
fn exec_runs_exactly_once_per_applied_change_that_changes_an_output() {
    let config = Config::start();
    config.put(&json!({"n": 0, "unused": 0}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "n={{ config.n }}\n");
    let uri = config.uri();
    // Version 2 hangs past the timeout; the others exit with their version.
    let script = "echo ran $HOTCONF_VERSION; [ $HOTCONF_VERSION = 2 ] && exec sleep 30; exit $HOTCONF_VERSION";
    let sidecar = Sidecar::start(
        "render",
        &[
            &uri,
            "--template",
            "app.tpl:app.conf",
            "--exec",
            script,
            "--exec-timeout",
            "300ms",
        ],
        dir.path(),
    );
    let mut ran = Vec::new();
    for n in 1..=25u64 {
        if n > 1 {
            config.put(&json!({"n": n, "unused": 0}));
        }
        sidecar.after_change("rendered");
        let command = sidecar.after_change("command");
        assert_eq!(command["version"], n, "{command}");
        if n == 2 {
            assert_eq!(command["timed_out"], true, "{command}");
            assert_eq!(command["signal"], "SIGKILL", "{command}");
        } else {
            assert_eq!(
                command["exit_code"], n,
                "a failing command does not stop the watch"
            );
        }
        ran.push(sidecar.line());
    }
    // A change no output shows: rendered, nothing written, no command.
    config.put(&json!({"n": 25, "unused": 1}));
    let rendered = sidecar.after_change("rendered");
    assert_eq!(
        (&rendered["changed"], &rendered["unchanged"]),
        (&json!([]), &json!(["app.conf"]))
    );
    config.put(&json!({"n": 26, "unused": 1}));
    let rendered = sidecar.after_change("rendered");
    assert_eq!(rendered["version"], 27);
    assert_eq!(sidecar.after_change("command")["version"], 27);
    ran.push(sidecar.line());
    let want: Vec<String> = (1..=25).chain([27]).map(|v| format!("ran {v}")).collect();
    assert_eq!(ran, want);
    assert!(sidecar.pending_lines().is_empty(), "no command ran twice");
    assert!(sidecar.pending().is_empty());
}

#[test]
fn signal_goes_to_the_process_in_the_pidfile_after_each_change() {
    let config = Config::start();
    config.put(&json!({"n": 1}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "n={{ config.n }}\n");
    let mut target = Command::new("sh")
        .args([
            "-c",
            "echo $$ > app.pid; trap 'echo hup $(cat app.conf)' HUP; echo ready; while :; do sleep 1 & wait $!; done",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let target_lines = {
        use std::io::BufRead;
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = target.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let next_line = || target_lines.recv_timeout(crate::harness::TIMEOUT).unwrap();
    assert_eq!(next_line(), "ready");
    let uri = config.uri();
    let sidecar = Sidecar::start(
        "render",
        &[
            &uri,
            "--template",
            "app.tpl:app.conf",
            "--signal",
            "SIGHUP",
            "--pidfile",
            "app.pid",
        ],
        dir.path(),
    );
    for n in 1..=3u64 {
        if n > 1 {
            config.put(&json!({"n": n}));
        }
        let command = sidecar.after_change("command");
        assert_eq!(
            (
                &command["action"],
                &command["signal"],
                command["pid"].as_u64()
            ),
            (
                &json!("signal"),
                &json!("SIGHUP"),
                Some(u64::from(target.id()))
            ),
            "{command}"
        );
        assert_eq!(next_line(), format!("hup n={n}"));
    }
    let _ = target.kill();
    let _ = target.wait();
}

#[test]
fn once_renders_runs_and_exits_or_fails_within_the_timeout() {
    let config = Config::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "host={{ config.db.host }}\n");
    let uri = config.uri();
    let once = |timeout: &str| {
        Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args([
                "render",
                &uri,
                "--template",
                "app.tpl:out/app.conf",
                "--once",
            ])
            .args(["--timeout", timeout, "--exec", "echo once $HOTCONF_VERSION"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // No key yet: no valid config within the timeout.
    let none = once("300ms");
    assert_eq!(none.status.code(), Some(1), "{none:?}");
    assert!(!dir.path().join("out").exists());
    // A config the template cannot render: no valid config either, and the error says where.
    config.put(&json!({"db": {}}));
    let bad = once("300ms");
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("template app.tpl line 1"), "{stderr}");
    assert!(!dir.path().join("out").exists());

    config.put(&json!({"db": {"host": "h1"}}));
    let good = once("10s");
    assert_eq!(good.status.code(), Some(0), "{good:?}");
    assert_eq!(String::from_utf8_lossy(&good.stdout), "once 1\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/app.conf")).unwrap(),
        "host=h1\n"
    );
    let events = event_lines(&String::from_utf8_lossy(&good.stderr));
    assert_eq!(
        names(&events),
        ["applied", "rendered", "command"],
        "{events:?}"
    );
}

#[test]
fn wait_folds_a_burst_into_one_write_and_one_command() {
    let config = Config::start();
    config.put(&json!({"n": 0}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "n={{ config.n }}\n");
    let uri = config.uri();
    let sidecar = Sidecar::start(
        "render",
        &[
            &uri,
            "--template",
            "app.tpl:app.conf",
            "--wait",
            "3s:60s",
            "--splay",
            "50ms",
            "--exec",
            "echo ran $HOTCONF_VERSION",
        ],
        dir.path(),
    );
    assert_eq!(sidecar.after_change("command")["version"], 1);
    assert_eq!(sidecar.line(), "ran 1");
    // Five changes, each applied well within the quiet time: one write of the last, one command.
    for n in 1..=5 {
        config.put(&json!({"n": n}));
        let (applied, before) = sidecar.until("applied");
        assert_eq!(applied["version"], n + 1);
        assert!(before.is_empty(), "nothing written mid-burst: {before:?}");
    }
    let (rendered, before) = sidecar.until("rendered");
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(rendered["version"], 6);
    assert_eq!(sidecar.after_change("command")["version"], 6);
    assert_eq!(sidecar.line(), "ran 6");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app.conf")).unwrap(),
        "n=5\n"
    );
    assert!(sidecar.pending().is_empty() && sidecar.pending_lines().is_empty());
}

#[test]
fn events_go_to_the_events_file_when_asked() {
    let config = Config::start();
    config.put(&json!({"n": 1}));
    let dir = tempfile::tempdir().unwrap();
    let mut target = Command::new("sh")
        .args([
            "-c",
            "trap 'exit 0' HUP; while :; do sleep 1 & wait $!; done",
        ])
        .spawn()
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["render", &config.uri(), "--out", "app.yaml", "--once"])
        .args(["--events", "events.jsonl", "--signal", "SIGHUP", "--pid"])
        .arg(target.id().to_string())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    assert_eq!(target.wait().unwrap().code(), Some(0), "the signal arrived");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app.yaml")).unwrap(),
        "n: 1\n"
    );
    let events = event_lines(&std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap());
    assert_eq!(
        names(&events),
        ["applied", "rendered", "command"],
        "{events:?}"
    );
    assert_eq!(events[2]["action"], "signal");
}

/// A log collector that stops reading (stderr a full pipe) does not stop the outputs from
/// following the config: the events that do not fit are dropped and counted, and the count is
/// told once the log moves again.
#[test]
fn a_stalled_event_log_does_not_stop_the_outputs() {
    // Three events per change (applied, rendered, command): far more than the pipe's 64 KiB
    // and the sidecar's queue of 1 024 lines hold.
    const CHANGES: u64 = 800;
    let config = Config::start();
    config.put(&json!({"n": 0}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "{{ config.n }}\n");
    let uri = config.uri();
    let mut sidecar = Sidecar::start_unread(
        "render",
        &[&uri, "--template", "app.tpl:n.txt", "--exec", "cat n.txt"],
        dir.path(),
    );
    // The command's output (stdout, read) shows each change rendered while nobody reads the
    // events.
    for n in 0..=CHANGES {
        if n > 0 {
            config.put(&json!({"n": n}));
        }
        assert_eq!(sidecar.line(), n.to_string());
    }
    sidecar.read_events();
    let (dropped, _) = sidecar.until("events_dropped");
    assert!(dropped["count"].as_u64().unwrap() > 0, "{dropped}");
    // The log is whole again after it: the next change's events arrive in order.
    config.put(&json!({"n": CHANGES + 1}));
    loop {
        let applied = sidecar.until("applied").0;
        if applied["version"] == CHANGES + 2 {
            break;
        }
    }
    sidecar.after_change("rendered");
    let command = sidecar.after_change("command");
    assert_eq!(command["version"], CHANGES + 2, "{command}");
    assert_eq!(sidecar.line(), (CHANGES + 1).to_string());
}
