//! What `hotconf render` does after a change is written: run `--exec`, or send `--signal` to a
//! process named by `--pid` or `--pidfile`.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use super::events::{millis, EventLog};

/// The action after each written change.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// `sh -c CMD`, killed with its process group after the timeout.
    Exec { command: String, timeout: Duration },
    /// A signal to a process.
    Signal { signal: Signal, target: Target },
}

/// The process `--signal` goes to.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `--pid N`.
    Pid(i32),
    /// `--pidfile F`, read at every signal (the process may have restarted).
    Pidfile(PathBuf),
}

/// `SIGHUP`, `HUP` or `hup`.
pub(crate) fn parse_signal(text: &str) -> Result<Signal, String> {
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse()
        .map_err(|_| format!("unknown signal {text:?} (e.g. SIGHUP, SIGUSR1)"))
}

/// Runs `action` for `version`, whose written outputs are `changed`, and logs a `command` event.
/// Returns whether it succeeded.
pub(crate) async fn run(
    action: &Action,
    version: u64,
    changed: &[String],
    log: &mut EventLog,
) -> bool {
    let started = Instant::now();
    let (ok, mut fields) = match action {
        Action::Exec { command, timeout } => exec(command, *timeout, version, changed).await,
        Action::Signal { signal, target } => send(*signal, target),
    };
    fields["version"] = json!(version);
    fields["duration_ms"] = json!(millis(started.elapsed()));
    log.emit("command", fields);
    ok
}

async fn exec(command: &str, timeout: Duration, version: u64, changed: &[String]) -> (bool, Value) {
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("HOTCONF_VERSION", version.to_string())
        .env("HOTCONF_CHANGED", changed.join(":"))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            return (
                false,
                json!({"action": "exec", "error": format!("cannot start sh: {error}")}),
            )
        }
    };
    let pid = child.id().map(|id| id as i32);
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => (status.success(), status_fields("exec", status)),
        Ok(Err(error)) => (false, json!({"action": "exec", "error": error.to_string()})),
        Err(_) => {
            if let Some(pid) = pid {
                let _ = signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.wait().await;
            (
                false,
                json!({"action": "exec", "timed_out": true, "signal": "SIGKILL"}),
            )
        }
    }
}

fn send(signal: Signal, target: &Target) -> (bool, Value) {
    let pid = match target {
        Target::Pid(pid) => Ok(*pid),
        Target::Pidfile(path) => read_pidfile(path),
    };
    let result = pid.and_then(|pid| {
        signal::kill(Pid::from_raw(pid), signal)
            .map(|()| pid)
            .map_err(|e| format!("cannot signal process {pid}: {e}"))
    });
    match result {
        Ok(pid) => (
            true,
            json!({"action": "signal", "signal": signal.as_str(), "pid": pid}),
        ),
        Err(error) => (
            false,
            json!({"action": "signal", "signal": signal.as_str(), "error": error}),
        ),
    }
}

/// `--pid N`: a single process other than init. `kill(2)` reads 0 as hotconf's own process
/// group, -1 as every process hotconf may signal and -N as process group N, and pid 1 is the
/// container's or the system's init: none of them is the one program `--signal` is meant for.
pub(crate) fn parse_pid(text: &str) -> Result<i32, String> {
    match text.trim().parse::<i32>() {
        Ok(pid) if pid > 1 => Ok(pid),
        Ok(pid) => Err(format!(
            "{pid} is not a single program's process id: --pid must be above 1 (0 is hotconf's \
             own process group, -1 every process it may signal, 1 init)"
        )),
        Err(_) => Err(format!("expected a process id, got {text:?}")),
    }
}

/// A pidfile: a regular file of at most 64 bytes holding a process id that [`parse_pid`] takes.
fn read_pidfile(path: &Path) -> Result<i32, String> {
    let fail = |what: &str| format!("pidfile {}: {what}", path.display());
    let text = crate::small_file::read(path, 64).map_err(|what| fail(&what))?;
    parse_pid(&text).map_err(|_| fail("does not hold a process id above 1"))
}

/// `exit_code` (or `signal`) of a finished process, under `action`.
pub(crate) fn status_fields(action: &str, status: ExitStatus) -> Value {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => json!({"action": action, "exit_code": code}),
        (None, Some(signal)) => json!({"action": action, "signal": signal_name(signal)}),
        (None, None) => json!({"action": action}),
    }
}

fn signal_name(number: i32) -> String {
    Signal::try_from(number)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| number.to_string())
}

/// The exit code a shell gives for `status`: the code, or 128 + the signal.
pub(crate) fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_with_or_without_sig() {
        assert_eq!(parse_signal("SIGHUP"), Ok(Signal::SIGHUP));
        assert_eq!(parse_signal("usr1"), Ok(Signal::SIGUSR1));
        assert!(parse_signal("SIGNOPE").is_err());
    }

    #[test]
    fn pidfiles_are_bounded_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pid");
        std::fs::write(&path, "123\n").unwrap();
        assert_eq!(read_pidfile(&path), Ok(123));
        for refused in ["0", "1", "-1", "-123", "x"] {
            std::fs::write(&path, refused).unwrap();
            assert!(read_pidfile(&path).is_err(), "{refused}");
        }
        std::fs::write(&path, "9".repeat(100)).unwrap();
        assert!(read_pidfile(&path).is_err());
        assert!(read_pidfile(dir.path()).is_err());
    }
}
