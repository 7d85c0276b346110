//! The program `hotconf exec` runs: started in its own process group with the config in its
//! environment, stopped with SIGTERM then SIGKILL.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// A running child.
#[derive(Debug)]
pub(crate) struct Child {
    process: tokio::process::Child,
    pid: Pid,
    started: Instant,
}

impl Child {
    /// Starts `command` (program and arguments) with `env` added to hotconf's own environment,
    /// in a process group of its own: hotconf decides what reaches it.
    pub(crate) fn spawn(command: &[String], env: &[(String, String)]) -> io::Result<Child> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command"))?;
        let process = tokio::process::Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let pid = process
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
            .ok_or_else(|| io::Error::other("the child has no process id"))?;
        Ok(Child {
            process,
            pid,
            started: Instant::now(),
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

    /// Waits for it to exit.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.process.wait().await
    }

    /// Sends `signal` to the child only (a reload: its own children are its business).
    pub(crate) fn signal(&self, signal: Signal) -> nix::Result<()> {
        signal::kill(self.pid, signal)
    }

    /// Sends `signal` to the child's whole process group, then waits up to `grace` for the
    /// child to exit; past it, SIGKILL to the group. A signal to a child that already exited
    /// (not yet reaped) reaches nobody and is harmless.
    pub(crate) async fn stop(&mut self, signal: Signal, grace: Duration) -> io::Result<ExitStatus> {
        let _ = signal::killpg(self.pid, signal);
        match tokio::time::timeout(grace, self.process.wait()).await {
            Ok(status) => status,
            Err(_) => {
                let _ = signal::killpg(self.pid, Signal::SIGKILL);
                self.process.wait().await
            }
        }
    }
}
