//! Processes as /proc shows them: whether one still runs, which are another's children.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::TIMEOUT;

/// A process's state letter (`R`, `S`, `Z`, …) and parent, from /proc/PID/stat; None once it
/// is gone.
fn stat(pid: i64) -> Option<(char, i64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE PPID …": the command name may hold spaces and parentheses.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Whether `pid` runs: it exists and is not a zombie.
pub fn running(pid: i64) -> bool {
    matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// The children of `parent`, each with its state letter.
pub fn children(parent: i64) -> Vec<(i64, char)> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        if let Some((state, ppid)) = stat(pid) {
            if ppid == parent {
                children.push((pid, state));
            }
        }
    }
    children
}

/// Polls `done` until it holds; fails the test with `what` after [`TIMEOUT`]. For states that
/// no event announces (a process gone, a zombie collected).
pub fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (`KILL`, `TERM`, …) to `pid`.
pub fn kill(pid: i64, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Kills the process group `pgid` (a program `hotconf exec` started, and its children) when
/// dropped: a test that fails leaves no process behind.
pub struct KillGroupOnDrop(pub i64);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(std::process::Stdio::null())
            .status();
    }
}
