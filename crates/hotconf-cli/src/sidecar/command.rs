//! What `hotconf render` does after a change is written: run `--exec`, or send `--signal` to a
//! process named by `--pid` or `--pidfile`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use super::event::{millis, Command, Ended};
use super::log::EventLog;

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
    name.parse().map_err(|_| {
        format!(
            "unknown signal {} (e.g. SIGHUP, SIGUSR1)",
            crate::output::quoted(text)
        )
    })
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
    let (ok, event) = match action {
        Action::Exec { command, timeout } => {
            let (ended, timed_out) = exec(command, *timeout, version, changed).await;
            let ok = ended.success();
            (
                ok,
                Command::exec(ended, timed_out, started.elapsed(), version),
            )
        }
        Action::Signal { signal, target } => {
            let sent = send(*signal, target);
            let event = Command::Signal {
                duration_ms: Some(millis(started.elapsed())),
                error: sent.as_ref().err().cloned(),
                pid: sent.as_ref().ok().copied(),
                signal: signal.as_str(),
                version,
            };
            (sent.is_ok(), event)
        }
    };
    log.emit(event);
    ok
}

/// Runs `sh -c command`: how it ended, and whether it was killed for running past `timeout`.
async fn exec(command: &str, timeout: Duration, version: u64, changed: &[String]) -> (Ended, bool) {
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
        Err(error) => return (Ended::Error(format!("cannot start sh: {error}")), false),
    };
    let pid = child.id().map(|id| id as i32);
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => (Ended::of(status), false),
        Ok(Err(error)) => (Ended::Error(error.to_string()), false),
        Err(_) => {
            if let Some(pid) = pid {
                let _ = signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.wait().await;
            (Ended::Signal(Signal::SIGKILL.as_str().to_owned()), true)
        }
    }
}

/// Sends `signal` to the target: the pid signalled, or why not.
fn send(signal: Signal, target: &Target) -> Result<i32, String> {
    let pid = match target {
        Target::Pid(pid) => Ok(*pid),
        Target::Pidfile(path) => read_pidfile(path),
    };
    pid.and_then(|pid| {
        signal::kill(Pid::from_raw(pid), signal)
            .map(|()| pid)
            .map_err(|e| format!("cannot signal process {pid}: {e}"))
    })
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
        Err(_) => Err(format!(
            "expected a process id, got {}",
            crate::output::quoted(text)
        )),
    }
}

/// A pidfile: a regular file of at most 64 bytes holding a process id that [`parse_pid`] takes.
fn read_pidfile(path: &Path) -> Result<i32, String> {
    let fail = |what: &str| format!("pidfile {}: {what}", path.display());
    let text = crate::small_file::read(path, 64).map_err(|what| fail(&what))?;
    parse_pid(&text).map_err(|_| fail("does not hold a process id above 1"))
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
