//! Optional layers and a start that never waits in silence, through the `hotconf` binary:
//! `watch --once`, `render --once` and `exec` with a local override file that may be missing.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// How long any step may take before the test fails (generous: the machine may be busy).
const DEADLINE: Duration = Duration::from_secs(30);

const BASE: &str = "name = \"base\"\nport = 1\n";

/// A running `hotconf`: its stderr lines as they come, its stdout once it exits.
struct Running {
    pid: u32,
    stderr: mpsc::Receiver<String>,
    exited: mpsc::Receiver<(ExitStatus, String)>,
}

impl Running {
    fn start(args: &[&str], dir: &Path) -> Running {
        let mut child: Child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let stderr = child.stderr.take().unwrap();
        let (line_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if line_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let (exit_tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = String::new();
            let _ = child.stdout.take().unwrap().read_to_string(&mut stdout);
            let status = child.wait().unwrap();
            let _ = exit_tx.send((status, stdout));
        });
        Running {
            pid,
            stderr: lines,
            exited,
        }
    }

    /// Waits for a stderr line that `wanted` accepts; returns it.
    fn stderr_line(&self, wanted: impl Fn(&str) -> bool) -> String {
        let mut seen = Vec::new();
        loop {
            match self.stderr.recv_timeout(DEADLINE) {
                Ok(line) if wanted(&line) => return line,
                Ok(line) => seen.push(line),
                Err(e) => panic!(
                    "no such line on stderr ({e}); it said:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to exit: its status and stdout.
    fn exit(&self) -> (ExitStatus, String) {
        self.exited
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("hotconf did not exit in time: {e}"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn base_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), BASE).unwrap();
    dir
}

fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn watch_once_with_an_optional_missing_file_prints_the_config_at_once() {
    let dir = base_dir();
    // A timeout far longer than the test's deadline: the config comes at once, not at the end
    // of a wait.
    let run = Running::start(
        &[
            "watch",
            "--once",
            "--timeout",
            "10m",
            "base.toml",
            "local.toml?optional=true",
        ],
        dir.path(),
    );
    let (status, stdout) = run.exit();
    assert!(status.success(), "{status}: {stdout}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["config"], json!({"name": "base", "port": 1}));
    let revisions = line["revisions"].as_object().unwrap();
    assert_eq!(
        revisions.len(),
        1,
        "the absent layer has no revision: {line}"
    );
}

#[test]
fn watch_once_with_a_required_missing_file_says_on_stderr_that_it_waits_for_it() {
    let dir = base_dir();
    let run = Running::start(
        &[
            "watch",
            "--once",
            "--timeout",
            "10m",
            "base.toml",
            "local.toml",
        ],
        dir.path(),
    );
    let said = run.stderr_line(|line| line.starts_with("hotconf: waiting for"));
    assert!(
        said.contains("local.toml") && said.contains("not_found"),
        "names the file and why: {said}"
    );
    assert!(
        !said.contains("base.toml"),
        "only what it waits for: {said}"
    );

    save(&dir.path().join("local.toml"), "name = \"local\"\n");
    let (status, stdout) = run.exit();
    assert!(status.success(), "{status}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["config"], json!({"name": "local", "port": 1}));
}

#[test]
fn watch_once_that_times_out_names_every_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = Running::start(
        &["watch", "--once", "--timeout", "300ms", "a.toml", "b.toml"],
        dir.path(),
    );
    let said = run.stderr_line(|line| line.contains("no config could be loaded"));
    assert!(said.contains("a.toml") && said.contains("b.toml"), "{said}");
    assert_eq!(run.exit().0.code(), Some(1));
}

#[test]
fn render_once_says_what_it_waits_for_in_its_events() {
    let dir = base_dir();
    let run = Running::start(
        &[
            "render",
            "--once",
            "--timeout",
            "10m",
            "--out",
            "out.json",
            "base.toml",
            "local.toml",
        ],
        dir.path(),
    );
    let said = run.stderr_line(|line| line.contains(r#""event":"waiting""#));
    let event: Value = serde_json::from_str(&said).unwrap();
    let sources = event["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{event}");
    assert!(sources[0]["source"]
        .as_str()
        .unwrap()
        .ends_with("local.toml"));
    assert!(sources[0]["error"].as_str().unwrap().contains("not_found"));

    save(&dir.path().join("local.toml"), "port = 2\n");
    assert!(run.exit().0.success());
    let out: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(out, json!({"name": "base", "port": 2}));
}

#[test]
fn exec_waits_out_loud_for_a_required_file_and_not_for_an_optional_one() {
    let dir = base_dir();
    let events = dir.path().join("events.jsonl");
    let events_arg = events.to_string_lossy().into_owned();
    let program = ["--", "sh", "-c", "echo \"name=$APP_NAME\""];
    let exec = |sources: &[&str]| {
        let mut args = vec!["exec", "--env-prefix", "APP_", "--events", &events_arg];
        args.extend_from_slice(sources);
        args.extend_from_slice(&program);
        Running::start(&args, dir.path())
    };

    // Optional and missing: the program starts at once with the base config.
    let run = exec(&["base.toml", "local.toml?optional=true"]);
    let (status, stdout) = run.exit();
    assert!(status.success(), "{status}");
    assert!(stdout.contains("name=base"), "{stdout}");

    // Required and missing: with its events in a file, hotconf says on stderr what it waits
    // for, and starts the program once the file appears.
    let run = exec(&["base.toml", "local.toml"]);
    let said = run.stderr_line(|line| line.starts_with("hotconf: waiting for"));
    assert!(said.contains("local.toml"), "{said}");
    save(&dir.path().join("local.toml"), "name = \"local\"\n");
    let (status, stdout) = run.exit();
    assert!(status.success(), "{status}");
    assert!(stdout.contains("name=local"), "{stdout}");
    let logged = std::fs::read_to_string(&events).unwrap();
    assert!(logged.contains(r#""event":"waiting""#), "{logged}");
}

#[test]
fn explain_names_no_absent_layer_as_a_source() {
    let dir = base_dir();
    let run = Running::start(
        &["explain", "name", "base.toml", "local.toml?optional=true"],
        dir.path(),
    );
    let (status, stdout) = run.exit();
    assert!(status.success(), "{status}");
    let explained: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(explained["layer"], "file-0", "{explained}");
    assert_eq!(explained["layers"][1]["holds"], false, "{explained}");
}

#[test]
fn exec_that_times_out_names_every_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = Running::start(
        &[
            "exec",
            "--timeout",
            "300ms",
            "a.toml",
            "b.toml",
            "--",
            "sh",
            "-c",
            "echo started",
        ],
        dir.path(),
    );
    let said = run.stderr_line(|line| line.starts_with("hotconf: no config could be loaded"));
    assert!(said.contains("a.toml") && said.contains("b.toml"), "{said}");
    let (status, stdout) = run.exit();
    assert_eq!(status.code(), Some(1));
    assert!(stdout.is_empty(), "nothing started: {stdout}");
}
