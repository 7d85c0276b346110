//! The program `hotconf exec` runs: started in its own process group with the config in its
//! environment, stopped with SIGTERM then SIGKILL, and reaped by hotconf itself together with
//! every orphan the kernel hands to hotconf.
//!
//! Reaping. As PID 1 of a container, hotconf inherits every process orphaned in it, and their
//! zombies are its to collect. One loop does all the reaping, `waitpid(-1, WNOHANG)` at each
//! SIGCHLD, and keeps the status of the one pid that is the program: the program is started
//! with `std::process::Command` and never waited for through it (nor through
//! `tokio::process`, whose own `waitpid(pid)` or pidfd would race the blanket `waitpid(-1)`
//! for the program's status: whichever reaps first takes it, the other gets ECHILD). In `exec`
//! mode nothing else starts processes, so no other waiter exists. While the program's status
//! is not collected its pid cannot be reused, so signalling it is always safe.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::signal::unix::{signal as listen, SignalKind};

/// A running child.
#[derive(Debug)]
pub(crate) struct Child {
    pid: Pid,
    started: Instant,
    /// Set once the child is reaped: it is never waited for again nor signalled alone.
    status: Option<ExitStatus>,
    child_exits: tokio::signal::unix::Signal,
}

impl Child {
    /// Starts `command` (program and arguments) with `env` added to hotconf's own environment,
    /// in a process group of its own: hotconf decides what reaches it. The program is started
    /// through [`super::launch`], which makes the kernel kill it if hotconf dies.
    pub(crate) fn spawn(command: &[String], env: &[(String, String)]) -> io::Result<Child> {
        if command.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command"));
        }
        // Listening before the start: an exit cannot come before hotconf listens for it.
        let child_exits = listen(SignalKind::child())?;
        let process = std::process::Command::new(own_executable()?)
            .args(super::launch::arguments(command))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let pid = i32::try_from(process.id())
            .map(Pid::from_raw)
            .map_err(|_| io::Error::other("the child has no process id"))?;
        Ok(Child {
            pid,
            started: Instant::now(),
            status: None,
            child_exits,
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// How long it has run.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits for it to exit, reaping every other child of hotconf that exits meanwhile.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            self.reap()?;
            if let Some(status) = self.status {
                return Ok(status);
            }
            self.child_exits.recv().await;
        }
    }

    /// Collects every exited child without blocking, keeping the status of this one.
    fn reap(&mut self) -> io::Result<()> {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return Ok(()),
                // No child left: this one was collected here, or (never in `exec`) elsewhere.
                Err(Errno::ECHILD) if self.status.is_some() => return Ok(()),
                Err(Errno::ECHILD) => {
                    return Err(io::Error::other("the child was reaped elsewhere"))
                }
                Err(Errno::EINTR) => continue,
                Err(error) => return Err(error.into()),
                Ok(WaitStatus::Exited(pid, code)) if pid == self.pid => {
                    ExitStatus::from_raw((code & 0xff) << 8)
                }
                Ok(WaitStatus::Signaled(pid, signal, core)) if pid == self.pid => {
                    ExitStatus::from_raw(signal as i32 | if core { 0x80 } else { 0 })
                }
                // An orphan's end (hotconf is PID 1), collected and forgotten.
                Ok(_) => continue,
            };
            self.status = Some(status);
        }
    }

    /// Sends `signal` to the child only (a reload: its own children are its business).
    pub(crate) fn signal(&self, signal: Signal) -> nix::Result<()> {
        match self.status {
            // Its pid may be another process's by now.
            Some(_) => Err(Errno::ESRCH),
            None => signal::kill(self.pid, signal),
        }
    }

    /// Sends `signal` to the child's whole process group.
    pub(crate) fn signal_group(&self, signal: Signal) -> nix::Result<()> {
        signal::killpg(self.pid, signal)
    }

    /// Sends `signal` to the child's whole process group, then waits up to `grace` for the
    /// child to exit; past it, SIGKILL to the group. A signal to a child that already exited
    /// (not yet reaped) reaches nobody and is harmless.
    pub(crate) async fn stop(&mut self, signal: Signal, grace: Duration) -> io::Result<ExitStatus> {
        let _ = self.signal_group(signal);
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(status) => status,
            Err(_) => {
                let _ = self.signal_group(Signal::SIGKILL);
                self.wait().await
            }
        }
    }
}

/// hotconf's own binary, to start `__launch` with: `/proc/self/exe` where it exists, which still
/// runs the binary hotconf was started from after an upgrade replaced or deleted the file (where
/// `current_exe()` names a path that no longer holds it).
fn own_executable() -> io::Result<std::path::PathBuf> {
    let proc = std::path::PathBuf::from("/proc/self/exe");
    if proc.exists() {
        Ok(proc)
    } else {
        std::env::current_exe()
    }
}

/// A child left running when hotconf gives up on it (an error path) is killed, as
/// `kill_on_drop` did; it is reaped with the next child, or by init once hotconf exits.
impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = signal::kill(self.pid, Signal::SIGKILL);
        }
    }
}
