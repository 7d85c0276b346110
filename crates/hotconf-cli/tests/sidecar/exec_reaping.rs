//! `hotconf exec` as PID 1 (a container's entrypoint): it reaps the orphans the kernel hands
//! it, and the program's own exit status still reaches hotconf's exit code.

use std::process::Command;

use serde_json::json;

use crate::harness::{Config, Sidecar};
use crate::processes::{children, kill, poll_until};

#[test]
fn as_pid_1_hotconf_reaps_orphans_and_keeps_the_programs_status() {
    let config = Config::start();
    let dir = tempfile::tempdir().unwrap();
    let uri = config.uri();
    config.put(&json!({"n": 1}));
    // Each `sh -c 'true &'` exits at once: its `true` becomes an orphan, a child of PID 1.
    let child = r#"exec 2>/dev/null
        trap 'exit 7' TERM
        for i in 1 2 3 4 5 6 7 8; do sh -c 'true &'; done
        echo orphans
        while :; do sleep 1 & wait $!; done"#;
    // A new PID namespace whose PID 1 is hotconf; --kill-child: a failed test leaves nothing.
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
        .arg(env!("CARGO_BIN_EXE_hotconf"))
        .args(["exec", &uri, "--", "sh", "-c", child]);
    let sidecar = Sidecar::start_command(command, dir.path());
    let (started, _) = sidecar.until("command");
    assert_eq!(started["action"], "start", "{started}");
    assert_eq!(sidecar.line(), "orphans");
    // hotconf, seen from here: unshare's only child.
    let hotconf = match children(i64::from(sidecar.pid())).as_slice() {
        [(pid, _)] => *pid,
        other => panic!("unshare's children: {other:?}"),
    };
    // The orphans are hotconf's children until they are reaped: only the program remains.
    poll_until("hotconf reaps its orphans", || children(hotconf).len() == 1);
    kill(hotconf, "TERM");
    let (exit, _) = sidecar.until("command");
    assert_eq!(
        (&exit["action"], &exit["exit_code"]),
        (&json!("exit"), &json!(7)),
        "{exit}"
    );
    assert_eq!(sidecar.exit_code(), 7);
}
