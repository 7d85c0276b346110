//! How `hotconf exec` starts its program so that the kernel kills it when hotconf dies, even
//! by SIGKILL: hotconf starts itself again as `hotconf __launch --parent PID -- CMD ARGS…`,
//! which sets its own parent-death signal (`PR_SET_PDEATHSIG`, SIGKILL), checks that hotconf
//! is still its parent, and replaces itself with CMD (`execvp`). The program keeps the pid,
//! the process group, the environment and the death signal.
//!
//! Why a second process: the death signal is set by the process that is to receive it, after
//! the fork and before the exec. `Command::pre_exec` would do it in hotconf's own fork, but
//! it is `unsafe` (only async-signal-safe calls may run between fork and exec of a
//! multi-threaded process) and hotconf forbids unsafe code. A freshly started process may call
//! anything before its exec; the price is one more exec of hotconf per start.

use std::ffi::CString;
use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{execvp, getppid};
use tokio::signal::unix::{signal, SignalKind};

use crate::exit::Exit;

/// The hidden subcommand's name.
pub(crate) const SUBCOMMAND: &str = "__launch";

/// `hotconf __launch`: internal, for `hotconf exec` only.
#[derive(Debug, clap::Args)]
pub(crate) struct LaunchArgs {
    /// hotconf's pid: if hotconf died before the death signal was set, nothing starts.
    #[arg(long)]
    parent: i32,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// The arguments that make hotconf launch `command` as its child.
pub(crate) fn arguments(command: &[String]) -> Vec<String> {
    let head = [
        SUBCOMMAND,
        "--parent",
        &std::process::id().to_string(),
        "--",
    ]
    .map(String::from);
    head.into_iter().chain(command.iter().cloned()).collect()
}

/// Sets the death signal and becomes the program; returns only when that fails, with the
/// shell's exit codes ([`Exit::CommandNotFound`], [`Exit::CannotExecute`]).
pub(crate) async fn launch(args: LaunchArgs) -> ExitCode {
    // Rust's runtime starts every program with SIGPIPE ignored, and an ignored signal stays
    // ignored across exec; a caught one goes back to its default. Catching it here gives the
    // program the default SIGPIPE that `std::process::Command` would have given it.
    let _pipe = signal(SignalKind::pipe());
    if let Err(error) = prctl::set_pdeathsig(Signal::SIGKILL) {
        eprintln!("hotconf: cannot set the parent-death signal: {error}");
        return Exit::Failed.into();
    }
    if getppid().as_raw() != args.parent {
        // hotconf is gone already: its death signal came before it was asked for.
        return Exit::Failed.into();
    }
    let program = &args.command[0];
    let argv: Result<Vec<CString>, _> = args.command.iter().cloned().map(CString::new).collect();
    let error = match argv {
        Ok(argv) => execvp(&argv[0], &argv).map_or_else(|error| error, |never| match never {}),
        Err(_) => Errno::EINVAL,
    };
    eprintln!(
        "hotconf: cannot start {program}: {}",
        std::io::Error::from(error)
    );
    match error {
        Errno::ENOENT => Exit::CommandNotFound,
        Errno::EACCES | Errno::EPERM => Exit::CannotExecute,
        _ => Exit::Failed,
    }
    .into()
}
