//! `hotconf render`: keep files rendered from the config, and tell the program that reads them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::exit::Exit;
use crate::sidecar::command::{self, Action, Target};
use crate::sidecar::format::{self, Format};
use crate::sidecar::signals::Signals;
use crate::sidecar::{Sidecar, SidecarArgs};

#[derive(Debug, clap::Args)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    sidecar: SidecarArgs,
    /// Also write the merged config itself to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The format of --out (default: from its extension).
    #[arg(long, value_enum, requires = "out")]
    format: Option<Format>,
    /// Run this shell command (`sh -c`) after a change's outputs are written, when any of them
    /// changed. It sees HOTCONF_VERSION and HOTCONF_CHANGED (the changed outputs, `:`-separated).
    #[arg(long, value_name = "CMD", conflicts_with = "signal")]
    exec: Option<String>,
    /// Kill the command (and its process group) when it runs longer than this.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::parse_duration)]
    exec_timeout: Duration,
    /// Instead of a command, send this signal (SIGHUP, SIGUSR1, …) to --pid or --pidfile.
    #[arg(long, value_name = "SIGNAL", value_parser = command::parse_signal)]
    signal: Option<nix::sys::signal::Signal>,
    /// The process --signal goes to: a process id above 1.
    #[arg(
        long,
        value_name = "PID",
        conflicts_with = "pidfile",
        requires = "signal",
        allow_negative_numbers = true,
        value_parser = command::parse_pid
    )]
    pid: Option<i32>,
    /// A file holding the process id --signal goes to, read at every signal.
    #[arg(long, value_name = "FILE", requires = "signal")]
    pidfile: Option<PathBuf>,
    /// Render the first valid config, run the command, and exit (an init container).
    #[arg(long)]
    once: bool,
    /// With --once: how long to wait for a first valid config.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::parse_duration)]
    timeout: Duration,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("hotconf: {message}");
    Exit::Usage.into()
}

pub(crate) async fn render(args: RenderArgs) -> ExitCode {
    let out = match args.out {
        Some(path) => match args.format.or_else(|| Format::from_path(&path)) {
            Some(format) => Some((path, format)),
            None => return crate::usage_error(&format::unknown_format(&path)),
        },
        None => None,
    };
    if args.sidecar.templates.is_empty() && out.is_none() {
        return usage("nothing to render: give --template TPL:OUT or --out FILE");
    }
    let action = match (args.exec, args.signal, args.pid, args.pidfile) {
        (Some(command), ..) => Some(Action::Exec {
            command,
            timeout: args.exec_timeout,
        }),
        (None, Some(signal), Some(pid), _) => Some(Action::Signal {
            signal,
            target: Target::Pid(pid),
        }),
        (None, Some(signal), None, Some(pidfile)) => Some(Action::Signal {
            signal,
            target: Target::Pidfile(pidfile),
        }),
        (None, Some(_), None, None) => return usage("--signal needs --pid or --pidfile"),
        (None, None, ..) => None,
    };
    let (mut sidecar, builder) = match Sidecar::new(&args.sidecar, out, None) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let mut stop = match Signals::stop() {
        Ok(stop) => stop,
        Err(error) => return usage(&format!("cannot listen for signals: {error}")),
    };

    if args.once {
        let change = tokio::select! {
            change = sidecar.first(builder, args.timeout) => change,
            _ = stop.recv() => return Exit::Failed.into(),
        };
        return match change {
            Err(error) => {
                eprintln!("hotconf: {error}");
                Exit::Failed.into()
            }
            Ok(change) if !change.complete => Exit::Failed.into(),
            Ok(change) => match &action {
                Some(action) => {
                    let ok =
                        command::run(action, change.version, &change.changed, sidecar.log()).await;
                    if ok { Exit::Success } else { Exit::Failed }.into()
                }
                None => Exit::Success.into(),
            },
        };
    }

    sidecar.follow(builder, None);
    loop {
        let change = tokio::select! {
            change = sidecar.next_change() => change,
            _ = stop.recv() => return Exit::Success.into(),
        };
        let change = match change {
            Ok(change) => change,
            Err(error) => {
                eprintln!("hotconf: {error}");
                return Exit::Failed.into();
            }
        };
        let Some(action) = action.as_ref().filter(|_| !change.changed.is_empty()) else {
            continue;
        };
        let act = async {
            sidecar.splay().await;
            command::run(action, change.version, &change.changed, sidecar.log()).await
        };
        tokio::select! {
            _ = act => {}
            _ = stop.recv() => return Exit::Success.into(),
        }
    }
}
