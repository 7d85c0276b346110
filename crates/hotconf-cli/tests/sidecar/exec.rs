//! `hotconf exec`: a real child started after the first valid config, restarted or signalled
//! on changes, left alone by rejected ones, sent SIGTERM when hotconf gets it, and whose exit
//! code hotconf returns.

use serde_json::json;

use crate::harness::{alive, write, Config, Sidecar};

#[test]
fn restarts_on_change_never_before_a_valid_config_and_forwards_sigterm() {
    let config = Config::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "host={{ config.db.host }}\n");
    let uri = config.uri();
    let child = r#"exec 2>/dev/null; trap 'echo term; exit 7' TERM; echo "start $APP_DB__HOST $(cat app.conf)"; while :; do sleep 1 & wait $!; done"#;
    let sidecar = Sidecar::start(
        "exec",
        &[
            &uri,
            "--env-prefix",
            "APP_",
            "--template",
            "app.tpl:app.conf",
            "--kill-timeout",
            "10s",
            "--",
            "sh",
            "-c",
            child,
        ],
        dir.path(),
    );
    // A first config the template cannot render: rejected, and nothing starts.
    config.put(&json!({"db": {}}));
    let (rejected, _) = sidecar.until("rejected");
    assert!(
        rejected["error"]
            .as_str()
            .unwrap()
            .contains("template app.tpl line 1"),
        "{rejected}"
    );
    config.put(&json!({"db": {"host": "h1"}}));
    sidecar.after_change("rendered");
    let started = sidecar.after_change("command");
    assert_eq!(
        (&started["action"], &started["version"]),
        (&json!("start"), &json!(1))
    );
    assert_eq!(sidecar.line(), "start h1 host=h1");
    let first_pid = started["pid"].as_i64().unwrap();

    // A change: SIGTERM to the child (its trap exits 7), then a new child with the new config.
    config.put(&json!({"db": {"host": "h2"}}));
    sidecar.after_change("rendered");
    let restart = sidecar.after_change("command");
    assert_eq!(
        (
            &restart["action"],
            &restart["exit_code"],
            restart["pid"].as_i64()
        ),
        (&json!("restart"), &json!(7), Some(first_pid)),
        "{restart}"
    );
    let started = sidecar.after_change("command");
    assert_eq!(started["action"], "start");
    let second_pid = started["pid"].as_i64().unwrap();
    assert_eq!(sidecar.line(), "term");
    assert_eq!(sidecar.line(), "start h2 host=h2");
    assert!(second_pid != first_pid && !alive(first_pid));

    // A rejected change leaves the child running as it was.
    config.put(&json!({"db": {"port": 1}}));
    let (_, before) = sidecar.until("rejected");
    assert!(before.is_empty(), "{before:?}");
    assert!(alive(second_pid));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app.conf")).unwrap(),
        "host=h2\n"
    );

    // SIGTERM to hotconf reaches the child; hotconf exits with the child's code.
    sidecar.signal("TERM");
    let exit = sidecar.after_change("command");
    assert_eq!(
        (&exit["action"], &exit["exit_code"]),
        (&json!("exit"), &json!(7)),
        "{exit}"
    );
    assert_eq!(
        sidecar.line(),
        "term",
        "the old child printed nothing since"
    );
    assert_eq!(sidecar.exit_code(), 7);
    assert!(!alive(second_pid));
}

#[test]
fn signals_on_change_and_exits_with_the_childs_own_code() {
    let config = Config::start();
    config.put(&json!({"n": 1}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "n={{ config.n }}\n");
    let uri = config.uri();
    let child = r#"exec 2>/dev/null; trap 'echo hup $(cat app.conf)' HUP; trap 'exit 3' USR1; echo start $APP_N; while :; do sleep 1 & wait $!; done"#;
    let sidecar = Sidecar::start(
        "exec",
        &[
            &uri,
            "--on-change",
            "signal:SIGHUP",
            "--env-prefix",
            "APP_",
            "--template",
            "app.tpl:app.conf",
            "--",
            "sh",
            "-c",
            child,
        ],
        dir.path(),
    );
    let started = sidecar.after_change("command");
    let pid = started["pid"].as_i64().unwrap();
    assert_eq!(sidecar.line(), "start 1");
    for n in 2..=4 {
        config.put(&json!({"n": n}));
        let signalled = sidecar.after_change("command");
        assert_eq!(
            (
                &signalled["action"],
                &signalled["signal"],
                signalled["pid"].as_i64()
            ),
            (&json!("signal"), &json!("SIGHUP"), Some(pid)),
            "{signalled}"
        );
        assert_eq!(
            sidecar.line(),
            format!("hup n={n}"),
            "the same child, the new file"
        );
    }
    // The child exits by itself: hotconf exits with its code.
    let status = std::process::Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = sidecar.after_change("command");
    assert_eq!(
        (&exit["action"], &exit["exit_code"]),
        (&json!("exit"), &json!(3))
    );
    assert_eq!(sidecar.exit_code(), 3);
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_kill_timeout() {
    let config = Config::start();
    config.put(&json!({"n": 1}));
    let dir = tempfile::tempdir().unwrap();
    let uri = config.uri();
    let child =
        r#"exec 2>/dev/null; trap '' TERM; echo start $APP_N; while :; do sleep 1 & wait $!; done"#;
    let sidecar = Sidecar::start(
        "exec",
        &[
            &uri,
            "--env-prefix",
            "APP_",
            "--kill-timeout",
            "300ms",
            "--",
            "sh",
            "-c",
            child,
        ],
        dir.path(),
    );
    assert_eq!(sidecar.after_change("command")["action"], "start");
    assert_eq!(sidecar.line(), "start 1");
    config.put(&json!({"n": 2}));
    let restart = sidecar.after_change("command");
    assert_eq!(
        (&restart["action"], &restart["signal"]),
        (&json!("restart"), &json!("SIGKILL")),
        "{restart}"
    );
    assert_eq!(sidecar.after_change("command")["action"], "start");
    assert_eq!(sidecar.line(), "start 2");
    // SIGINT is forwarded too; this child ignores only SIGTERM.
    sidecar.signal("INT");
    let exit = sidecar.after_change("command");
    assert_eq!(
        (&exit["action"], &exit["signal"]),
        (&json!("exit"), &json!("SIGINT")),
        "{exit}"
    );
    assert_eq!(sidecar.exit_code(), 130);
}

#[test]
fn without_a_valid_config_within_the_timeout_nothing_starts_and_exit_is_1() {
    let config = Config::start();
    config.put(&json!({"db": {}}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "host={{ config.db.host }}\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["exec", &config.uri(), "--template", "app.tpl:app.conf"])
        .args(["--timeout", "300ms", "--", "sh", "-c", "echo started"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("template app.tpl line 1"), "{stderr}");
    assert!(!dir.path().join("app.conf").exists());
}
