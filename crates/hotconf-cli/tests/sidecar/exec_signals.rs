//! `hotconf exec` and the signals it gets: SIGUSR1, SIGUSR2, SIGWINCH and SIGQUIT reach the
//! program's process group and hotconf keeps running; a SIGKILL of hotconf takes the program
//! with it.

use std::collections::BTreeSet;

use serde_json::json;

use crate::harness::{Config, Sidecar};
use crate::processes::{kill, poll_until, running, KillGroupOnDrop};

/// The next `count` stdout lines, in any order.
fn lines(sidecar: &Sidecar, count: usize) -> BTreeSet<String> {
    (0..count).map(|_| sidecar.line()).collect()
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

#[test]
fn usr1_usr2_winch_and_quit_reach_the_programs_group_and_hotconf_keeps_running() {
    let config = Config::start();
    let dir = tempfile::tempdir().unwrap();
    let uri = config.uri();
    config.put(&json!({"n": 1}));
    // The program and a process it started (same group) each say which signal they got.
    let child = r#"exec 2>/dev/null
        trap 'exit 7' TERM
        for s in USR1 USR2 WINCH QUIT; do trap "echo $s" $s; done
        (trap 'echo grandchild USR1' USR1; trap 'echo grandchild USR2' USR2; echo grandchild ready
         while :; do sleep 1 & wait $!; done) &
        echo ready
        while :; do sleep 1 & wait $!; done"#;
    let sidecar = Sidecar::start("exec", &[&uri, "--", "sh", "-c", child], dir.path());
    let (started, _) = sidecar.until("command");
    let _program = KillGroupOnDrop(started["pid"].as_i64().unwrap());
    assert_eq!(lines(&sidecar, 2), set(&["ready", "grandchild ready"]));
    for signal in ["USR1", "USR2"] {
        sidecar.signal(signal);
        let grandchild = format!("grandchild {signal}");
        assert_eq!(lines(&sidecar, 2), set(&[signal, &grandchild]));
    }
    // A background process of `sh` ignores SIGQUIT; SIGWINCH's default is to ignore it.
    for signal in ["WINCH", "QUIT"] {
        sidecar.signal(signal);
        assert_eq!(sidecar.line(), signal);
    }
    // Still hotconf's: SIGTERM stops the program (its trap exits 7), hotconf exits with it.
    sidecar.signal("TERM");
    let (exit, _) = sidecar.until("command");
    assert_eq!(
        (&exit["action"], &exit["exit_code"]),
        (&json!("exit"), &json!(7)),
        "{exit}"
    );
    assert_eq!(sidecar.exit_code(), 7);
}

#[test]
fn a_sigkill_of_hotconf_kills_the_program() {
    let config = Config::start();
    let dir = tempfile::tempdir().unwrap();
    let uri = config.uri();
    config.put(&json!({"n": 1}));
    let child = "exec 2>/dev/null; echo ready; while :; do sleep 1 & wait $!; done";
    let sidecar = Sidecar::start("exec", &[&uri, "--", "sh", "-c", child], dir.path());
    let (started, _) = sidecar.until("command");
    let pid = started["pid"].as_i64().unwrap();
    let _program = KillGroupOnDrop(pid);
    assert_eq!(sidecar.line(), "ready");
    kill(i64::from(sidecar.pid()), "KILL");
    poll_until("the program ends after hotconf's SIGKILL", || !running(pid));
}
