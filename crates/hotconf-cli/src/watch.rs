//! `hotconf watch SOURCE...`: follow the sources and print every applied, rejected or failed
//! change, as JSON lines (the CLI's contract: `tests/golden/watch.jsonl`) or a readable diff.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hotconf::{Event, Reloader, Startup};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::admin::{self, AdminServer};
use crate::exit::Exit;
use crate::output::{Output, Printer};

#[derive(Debug, clap::Args)]
pub(crate) struct WatchArgs {
    /// The sources, lowest layer first.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// Print the first applied config and exit.
    #[arg(long)]
    once: bool,
    /// With --once: how long to wait for a first valid config (e.g. 500ms, 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    timeout: Duration,
    /// Reject every merged config that does not satisfy this JSON Schema (served at the admin
    /// API's /config/schema with --admin).
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// How to print: json lines, or a pretty coloured diff (default: pretty on a terminal).
    #[arg(long, value_enum)]
    output: Option<Output>,
    /// Also redact the keys matching this glob (`db.dsn`, `**.cert_*`); repeatable. Keys
    /// holding a secret word (password, secret, token, pass, pwd, auth, dsn, …) and values
    /// carrying a credential (a URL's user:password, Password=…, Bearer …) are always
    /// redacted: they print as ***. The rules: docs/concepts.md (G12).
    #[arg(long, value_name = "GLOB")]
    redact: Vec<String>,
    #[command(flatten)]
    admin: admin::AdminArgs,
}

/// Follows the sources until SIGINT or SIGTERM ([`Exit::Success`]); with `--once`, prints the first
/// applied config and exits. [`Exit::Failed`] when no config can be loaded, [`Exit::Usage`] for
/// bad arguments.
pub(crate) async fn watch(args: WatchArgs) -> ExitCode {
    let mut builder = match crate::builder(&args.sources, &args.redact) {
        Ok(builder) => builder,
        Err(code) => return code,
    };
    let mut schema = None;
    if let Some(path) = &args.schema {
        let loaded = crate::schema::load(path)
            .and_then(|loaded| Ok((crate::schema::validator_for(&loaded, path)?, loaded)));
        match loaded {
            Ok((validate, loaded)) => {
                builder = builder.validate(validate);
                schema = Some(loaded);
            }
            Err(error) => return crate::usage_error(&error),
        }
    }
    let output = args.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Pretty
    } else {
        Output::Json
    });
    let mut printer = Printer::new(output, std::io::stdout().is_terminal());

    if args.once {
        // Never wait in silence: what the start waits for, on stderr.
        let reporting = tokio::spawn(crate::waiting::report_events(builder.events()));
        let started = builder.startup(Startup::Wait(args.timeout)).start().await;
        reporting.abort();
        let reloader = match started {
            Ok(reloader) => reloader,
            Err(error) => {
                eprintln!("hotconf: no config could be loaded: {error}");
                return Exit::Failed.into();
            }
        };
        let snapshot = reloader.store().get();
        let _ = printer.print(&Event::applied(&snapshot), Some(&snapshot.redacted()));
        return Exit::Success.into();
    }

    let admin = match AdminServer::start(&args.admin, schema).await {
        Ok(admin) => admin,
        Err(error) => return crate::usage_error(&error),
    };
    let events = builder.events();
    let (reloader_tx, reloader_rx) = watch::channel(None);
    let printing = tokio::spawn(print_events(events, reloader_rx, printer));
    let started = tokio::spawn(builder.startup(Startup::Wait(Duration::MAX)).start());
    tokio::select! {
        started = started => match started {
            Ok(Ok(reloader)) => {
                let reloader = Arc::new(reloader);
                if let Some(admin) = &admin {
                    admin.serve(&reloader);
                }
                let _ = reloader_tx.send(Some(reloader));
            }
            Ok(Err(error)) => {
                eprintln!("hotconf: no config could be loaded: {error}");
                return Exit::Failed.into();
            }
            Err(error) => {
                eprintln!("hotconf: {error}");
                return Exit::Failed.into();
            }
        },
        () = stop_signal() => return Exit::Success.into(),
    }
    tokio::select! {
        () = stop_signal() => {}
        _ = printing => {}
    }
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    Exit::Success.into()
}

/// Prints events as they come; `applied` ones with their config, found by version.
async fn print_events(
    mut events: broadcast::Receiver<Event>,
    mut reloader: watch::Receiver<Option<Arc<Reloader<Value>>>>,
    mut printer: Printer,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                eprintln!("hotconf: printing fell behind; {missed} events were skipped");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let config = match &event {
            // For the person at the terminal, not the JSON lines: stdout's contract is unchanged.
            Event::Waiting { .. } => {
                crate::waiting::report(&event);
                continue;
            }
            Event::Applied { version, .. } => {
                let Ok(reloader) = reloader.wait_for(Option::is_some).await.map(|r| r.clone())
                else {
                    return;
                };
                let reloader = reloader.expect("waited for Some");
                config_of(&reloader, *version).await
            }
            _ => None,
        };
        // A stdout nobody reads blocks the write: off the runtime's workers, so that the
        // reloader and the admin endpoint go on (events missed meanwhile are counted above).
        let printed = tokio::task::block_in_place(|| printer.print(&event, config.as_ref()));
        if printed.is_err() {
            return; // stdout closed (a pipe's reader exited)
        }
    }
}

async fn config_of(reloader: &Reloader<Value>, version: u64) -> Option<Value> {
    let current = reloader.store().get();
    if current.version() == version {
        return Some(current.redacted());
    }
    let history = reloader.history().await.ok()?;
    history
        .iter()
        .find(|s| s.version() == version)
        .map(|s| s.redacted())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
