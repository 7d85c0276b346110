//! `hotconf exec`: run a program with the config in its environment and files, and restart or
//! signal it when the config changes.

use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::exit::{self, Exit};
use crate::sidecar::child::Child;
use crate::sidecar::child_env;
use crate::sidecar::command::parse_signal;
use crate::sidecar::event::{Command, Ended, SidecarEvent};
use crate::sidecar::log::EventLog;
use crate::sidecar::signals::Signals;
use crate::sidecar::{Sidecar, SidecarArgs};

#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    sidecar: SidecarArgs,
    /// What a change does to the program: `restart` (SIGTERM, --kill-timeout, SIGKILL, start
    /// again) or `signal:SIGHUP` (any signal).
    #[arg(long, value_name = "ACTION", default_value = "restart", value_parser = parse_on_change)]
    on_change: OnChange,
    /// Put the config in the program's environment under this prefix (not empty): `db.host`
    /// is `{PREFIX}DB__HOST`, list items go by index. Names such as PATH, LD_* or BASH_ENV are
    /// never set from the config (an `env_denied` event names them).
    #[arg(long, value_name = "PREFIX", value_parser = child_env::parse_prefix)]
    env_prefix: Option<String>,
    /// How long the program has to exit after SIGTERM (or a forwarded signal) before SIGKILL.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::parse_duration)]
    kill_timeout: Duration,
    /// Exit 1 when no valid config arrives within this long (default: wait for ever).
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration)]
    timeout: Option<Duration>,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum OnChange {
    Restart,
    Signal(Signal),
}

fn parse_on_change(text: &str) -> Result<OnChange, String> {
    match text.strip_prefix("signal:") {
        _ if text == "restart" => Ok(OnChange::Restart),
        Some(signal) => parse_signal(signal).map(OnChange::Signal),
        None => Err(format!(
            "expected restart or signal:SIGNAL, got {}",
            crate::output::quoted(text)
        )),
    }
}

/// Starts the program and logs a `command` event; the exit code to return if it cannot start.
/// The program itself is executed by hotconf's `__launch` step: a program that is missing or
/// not executable starts and exits 127 or 126 (a `command` exit event); an error here is
/// hotconf failing to start that step.
fn start(
    args: &ExecArgs,
    env: &[(String, String)],
    version: u64,
    log: &mut EventLog,
) -> Result<Child, ExitCode> {
    match Child::spawn(&args.command, env) {
        Ok(child) => {
            log.emit(Command::Start {
                error: None,
                pid: Some(child.pid()),
                version,
            });
            Ok(child)
        }
        Err(error) => {
            log.emit(Command::Start {
                error: Some(error.to_string()),
                pid: None,
                version,
            });
            eprintln!(
                "hotconf: cannot start {} (hotconf's own launch step failed): {error}",
                args.command[0]
            );
            Err(match error.kind() {
                std::io::ErrorKind::NotFound => Exit::CommandNotFound,
                std::io::ErrorKind::PermissionDenied => Exit::CannotExecute,
                _ => Exit::Failed,
            }
            .into())
        }
    }
}

/// How the program ended (`exit`), or was stopped to start again for `restarting` (`restart`).
fn end(child: &Child, status: &std::io::Result<ExitStatus>, restarting: Option<u64>) -> Command {
    Command::ended(
        child.pid(),
        child.uptime(),
        Ended::waited(status),
        restarting,
    )
}

/// The child's environment from `env`, rendered for `version`, without the names the config
/// may not set; an `env_denied` event names those (never their values).
fn child_env(env: &[(String, String)], version: u64, log: &mut EventLog) -> Vec<(String, String)> {
    let (allowed, denied) = child_env::allowed(env);
    if !denied.is_empty() {
        log.emit(SidecarEvent::EnvDenied {
            names: denied,
            version,
        });
    }
    allowed
}

/// Logs how the program ended and gives its status as an exit code.
fn ended(child: &Child, status: std::io::Result<ExitStatus>, log: &mut EventLog) -> ExitCode {
    log.emit(end(child, &status, None));
    ExitCode::from(status.map_or(Exit::Failed as u8, exit::child))
}

/// A signal to hotconf: SIGINT and SIGTERM stop the program, and hotconf ends with its status.
/// The others are passed on and hotconf keeps running: SIGHUP (a reload request) to the
/// program alone, SIGUSR1, SIGUSR2, SIGWINCH and SIGQUIT to its process group.
async fn forward(
    signal: Signal,
    child: &mut Child,
    grace: Duration,
    log: &mut EventLog,
) -> Option<ExitCode> {
    if pass_on(signal, child) {
        return None;
    }
    let status = child.stop(signal, grace).await;
    Some(ended(child, status, log))
}

/// Passes a signal other than SIGINT and SIGTERM on to the program (see [`forward`]); false
/// for those two.
fn pass_on(signal: Signal, child: &Child) -> bool {
    let _ = match signal {
        Signal::SIGINT | Signal::SIGTERM => return false,
        Signal::SIGHUP => child.signal(signal),
        _ => child.signal_group(signal),
    };
    true
}

pub(crate) async fn exec(args: ExecArgs) -> ExitCode {
    let (mut sidecar, builder) = match Sidecar::new(&args.sidecar, None, args.env_prefix.clone()) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let mut signals = match Signals::forwarded() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("hotconf: cannot listen for signals: {error}");
            return Exit::Usage.into();
        }
    };
    // Nothing starts before the first valid config is written; past --timeout, the start fails
    // naming every source that kept it from a config.
    sidecar.follow(builder, args.timeout);
    let first = {
        let first = sidecar.next_change();
        tokio::pin!(first);
        loop {
            tokio::select! {
                change = &mut first => break change,
                // No program yet: only a stop signal means anything.
                signal = signals.recv() => if matches!(signal, Signal::SIGINT | Signal::SIGTERM) {
                    return Exit::Success.into();
                },
            }
        }
    };
    let first = match first {
        Ok(change) if change.complete => change,
        Ok(_) => {
            eprintln!("hotconf: the first config's outputs could not be written");
            return Exit::Failed.into();
        }
        Err(error) => {
            eprintln!("hotconf: {error}");
            return Exit::Failed.into();
        }
    };
    // Without env or templates, every applied change is one the program must see.
    let follows_everything = args.env_prefix.is_none() && args.sidecar.templates.is_empty();
    let mut env = child_env(&first.rendered.env, first.version, sidecar.log());
    let mut child = match start(&args, &env, first.version, sidecar.log()) {
        Ok(child) => child,
        Err(code) => return code,
    };
    loop {
        tokio::select! {
            change = sidecar.next_change() => {
                let change = match change {
                    Ok(change) => change,
                    Err(error) => {
                        eprintln!("hotconf: {error}");
                        forward(Signal::SIGTERM, &mut child, args.kill_timeout, sidecar.log()).await;
                        return Exit::Failed.into();
                    }
                };
                let new_env = child_env(&change.rendered.env, change.version, sidecar.log());
                if !(follows_everything || new_env != env || !change.changed.is_empty()) {
                    continue;
                }
                // A stop signal during the splay is not kept waiting; the others pass.
                let stop = {
                    let splay = sidecar.splay();
                    tokio::pin!(splay);
                    loop {
                        tokio::select! {
                            () = &mut splay => break None,
                            signal = signals.recv(), if args.sidecar.splay.is_some() => {
                                if !pass_on(signal, &child) {
                                    break Some(signal);
                                }
                            }
                        }
                    }
                };
                if let Some(signal) = stop {
                    let status = child.stop(signal, args.kill_timeout).await;
                    return ended(&child, status, sidecar.log());
                }
                match args.on_change {
                    OnChange::Restart => {
                        let status = child.stop(Signal::SIGTERM, args.kill_timeout).await;
                        sidecar.log().emit(end(&child, &status, Some(change.version)));
                        env = new_env;
                        child = match start(&args, &env, change.version, sidecar.log()) {
                            Ok(child) => child,
                            Err(code) => return code,
                        };
                    }
                    OnChange::Signal(signal) => {
                        let sent = child.signal(signal);
                        sidecar.log().emit(Command::Signal {
                            duration_ms: None,
                            error: sent.err().map(|error| error.to_string()),
                            pid: Some(child.pid()),
                            signal: signal.as_str(),
                            version: change.version,
                        });
                    }
                }
            }
            status = child.wait() => return ended(&child, status, sidecar.log()),
            signal = signals.recv() => {
                if let Some(code) = forward(signal, &mut child, args.kill_timeout, sidecar.log()).await {
                    return code;
                }
            }
        }
    }
}
