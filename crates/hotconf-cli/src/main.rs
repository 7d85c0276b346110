//! `hotconf`: follow layered configuration sources from a shell.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hotconf::{Event, Redaction, Reloader, ReloaderBuilder, Startup};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

mod admin;
mod exec;
mod output;
mod render;
mod schema;
mod sidecar;
mod small_file;

use output::{Output, Printer};

const EXIT_CODES: &str = "\
Exit codes:
  0  stopped by SIGINT or SIGTERM; or, with --once, the first config was printed
  1  no config could be loaded (with --once: none within --timeout)
  2  bad arguments: an unknown option, an invalid source URI, an unreadable or invalid schema
  3  (explain) the key is not in the config";

/// Follow layered configuration sources and print every applied, rejected or failed change.
#[derive(Debug, Parser)]
#[command(name = "hotconf", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow SOURCEs, merged in argument order (later over earlier), and print one JSON object
    /// per line: {"event":"applied",...,"config":{...}}, {"event":"rejected",...},
    /// {"event":"source_error",...}.
    #[command(after_help = format!("Sources:\n  ./app.toml, file:./app.toml     a document (toml, yaml, json, properties)\n  file:/etc/app/                  a key-per-file directory (a ConfigMap mount)\n  file:/etc/app/?mode=documents   the documents in a directory, merged by name\n  env:APP_                        APP_DB__PORT=5 -> db.port\n  etcd://user:pw@h:2379,h:22379/app/        an etcd prefix (?typed=true: scalar values)\n  etcd://h:2379/app/config.yaml   one etcd key holding a document (?mode=key&format=yaml)\n  consul://h:8500/app/?token=…    a Consul KV prefix (?mode=key&format=json for one key)\n  nacos://user:pw@h:8848/app.yaml?group=G&namespace=N   a Nacos dataId\n  apollo://h:8080/APP_ID/application?cluster=C&secret=…  an Apollo namespace (&meta=true: h is a meta server)\n\n{EXIT_CODES}"))]
    Watch(WatchArgs),
    /// Load SOURCEs once and explain where KEY's value comes from: the layer in force, the
    /// lower layers it overrides, and each layer's value (redacted ones shown as ***).
    Explain(ExplainArgs),
    /// Sidecar: keep files rendered from SOURCEs (Jinja templates with --template, the merged
    /// config with --out), written atomically, and run --exec or send --signal after each change.
    /// A template or schema error rejects the change: the files keep their last good content.
    /// Events (JSON lines) go to stderr or --events.
    #[command(after_help = SIDECAR_CODES)]
    Render(render::RenderArgs),
    /// Sidecar: run CMD with the config in its environment (--env-prefix) and files
    /// (--template), started only once a first valid config is in; restart or signal it on
    /// every change; forward INT, TERM, HUP, USR1, USR2, WINCH and QUIT; reap orphans as
    /// PID 1; exit with its status.
    #[command(after_help = SIDECAR_CODES)]
    Exec(exec::ExecArgs),
    /// Internal: how `hotconf exec` starts its program (sidecar/launch.rs).
    #[command(name = sidecar::launch::SUBCOMMAND, hide = true)]
    Launch(sidecar::launch::LaunchArgs),
}

const SIDECAR_CODES: &str = "\
Exit codes:
  render: 0 stopped by SIGINT or SIGTERM, or --once done; 1 no valid config (with --once: none
          within --timeout), or the --once command failed; 2 bad arguments
  exec:   the program's own exit code (128+N when a signal N ended it); 1 no valid config;
          2 bad arguments; 126/127 the program cannot be run / was not found";

#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// The key, as a dotted path (`db.servers[0].host`).
    key: String,
    /// The sources, lowest layer first.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// How long to wait for a first valid config (e.g. 500ms, 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Also redact the keys matching this glob (`db.dsn`, `**.cert_*`); repeatable. Keys
    /// containing password, passwd, secret, token, credential, private_key, api_key or
    /// access_key are always redacted.
    #[arg(long, value_name = "GLOB")]
    redact: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct WatchArgs {
    /// The sources, lowest layer first.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// Print the first applied config and exit.
    #[arg(long)]
    once: bool,
    /// With --once: how long to wait for a first valid config (e.g. 500ms, 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Reject every merged config that does not satisfy this JSON Schema.
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

fn parse_duration(text: &str) -> Result<Duration, String> {
    hotconf::provider::parse_duration(text).map_err(|e| e.message().to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hotconf: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    let code = match cli.command {
        Command::Watch(args) => runtime.block_on(watch(args)),
        Command::Explain(args) => runtime.block_on(explain(args)),
        Command::Render(args) => runtime.block_on(render::render(args)),
        Command::Exec(args) => runtime.block_on(exec::exec(args)),
        Command::Launch(args) => runtime.block_on(sidecar::launch::launch(args)),
    };
    // A task still blocked (a write to a stdout nobody reads) must not keep hotconf from
    // exiting.
    runtime.shutdown_timeout(SHUTDOWN_DEADLINE);
    code
}

/// How long exiting waits for tasks that are still running.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// A builder following `sources` in order, with the redaction policy plus `redact`.
fn builder(sources: &[String], redact: &[String]) -> Result<ReloaderBuilder<Value>, ExitCode> {
    let policy = redact
        .iter()
        .fold(Redaction::default(), |policy, glob| policy.key(glob));
    let mut builder = Reloader::<Value>::builder().history(256).redaction(policy);
    for source in sources {
        match hotconf::provider_from_uri(source) {
            Ok(provider) => builder = builder.layer(provider),
            Err(error) => return Err(usage_error(&error)),
        }
    }
    Ok(builder)
}

async fn explain(args: ExplainArgs) -> ExitCode {
    let builder = match builder(&args.sources, &args.redact) {
        Ok(builder) => builder,
        Err(code) => return code,
    };
    let reloader = match builder.startup(Startup::Wait(args.timeout)).start().await {
        Ok(reloader) => reloader,
        Err(error) => {
            eprintln!("hotconf: no config could be loaded: {error}");
            return ExitCode::from(1);
        }
    };
    let explanation = reloader.store().get().explain(&args.key);
    let stdout = std::io::stdout();
    let text = if stdout.is_terminal() {
        output::explanation(&explanation)
    } else {
        serde_json::to_string(&explanation).unwrap_or_default()
    };
    let _ = writeln!(stdout.lock(), "{text}");
    if explanation.found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

async fn watch(args: WatchArgs) -> ExitCode {
    let mut builder = match builder(&args.sources, &args.redact) {
        Ok(builder) => builder,
        Err(code) => return code,
    };
    if let Some(path) = &args.schema {
        match schema::validator(path) {
            Ok(validate) => builder = builder.validate(validate),
            Err(error) => return usage_error(&error),
        }
    }
    let output = args.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Pretty
    } else {
        Output::Json
    });
    let mut printer = Printer::new(output, std::io::stdout().is_terminal());

    if args.once {
        let reloader = match builder.startup(Startup::Wait(args.timeout)).start().await {
            Ok(reloader) => reloader,
            Err(error) => {
                eprintln!("hotconf: no config could be loaded: {error}");
                return ExitCode::from(1);
            }
        };
        let snapshot = reloader.store().get();
        let _ = printer.print(&Event::applied(&snapshot), Some(&snapshot.redacted()));
        return ExitCode::SUCCESS;
    }

    let admin = match admin::AdminServer::start(&args.admin).await {
        Ok(admin) => admin,
        Err(error) => return usage_error(&error),
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
                return ExitCode::from(1);
            }
            Err(error) => {
                eprintln!("hotconf: {error}");
                return ExitCode::from(1);
            }
        },
        () = stop_signal() => return ExitCode::SUCCESS,
    }
    tokio::select! {
        () = stop_signal() => {}
        _ = printing => {}
    }
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    ExitCode::SUCCESS
}

fn usage_error(error: &hotconf::Error) -> ExitCode {
    eprintln!("hotconf: {error}");
    ExitCode::from(2)
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
