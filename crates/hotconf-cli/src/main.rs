//! `hotconf`: follow layered configuration sources from a shell.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hotconf::{Redaction, Reloader, ReloaderBuilder};
use serde_json::Value;

mod admin;
mod check;
mod exec;
mod exit;
mod explain;
mod output;
mod render;
mod rollout;
mod schema;
mod sidecar;
mod small_file;
mod waiting;
mod watch;

use exit::{Exit, CHECK_EXIT_HELP, EXIT_HELP, ROLLOUT_EXIT_HELP, SIDECAR_EXIT_HELP};

/// Follow layered configuration sources and print every applied, rejected or failed change.
#[derive(Debug, Parser)]
#[command(name = "hotconf", version, after_help = EXIT_HELP)]
struct Cli {
    /// This process's instance id in rollouts (sources with ?rollout=true decide membership
    /// with it; /config/version and hotconf_instance_info show it). Default: $POD_NAME, else
    /// the host name.
    #[arg(long = "instance", value_name = "ID", global = true)]
    instance: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow SOURCEs, merged in argument order (later over earlier), and print one JSON object
    /// per line: {"event":"applied",...,"config":{...}}, {"event":"rejected",...},
    /// {"event":"source_error",...}.
    #[command(after_help = format!("Sources:\n  ./app.toml, file:./app.toml     a document (toml, yaml, json, properties)\n  file:/etc/app/                  a key-per-file directory (a ConfigMap mount)\n  file:/etc/app/?mode=documents   the documents in a directory, merged by name\n  env:APP_                        APP_DB__PORT=5 -> db.port\n  etcd://user:pw@h:2379,h:22379/app/        an etcd prefix (?typed=true: scalar values)\n  etcd://h:2379/app/config.yaml   one etcd key holding a document (?mode=key&format=yaml)\n  consul://h:8500/app/?token=…    a Consul KV prefix (?mode=key&format=json for one key)\n  nacos://user:pw@h:8848/app.yaml?group=G&namespace=N   a Nacos dataId\n  apollo://h:8080/APP_ID/application?cluster=C&secret=…  an Apollo namespace (&meta=true: h is a meta server)\n  ./local.toml?optional=true      any source, optional: left out while missing (or unreachable at\n                                  the start), applied when it appears\n\nWhile no config is in, what it waits for is said on stderr (`hotconf: waiting for …`).\n\n{EXIT_HELP}"))]
    Watch(watch::WatchArgs),
    /// Load SOURCEs once and explain where KEY's value comes from: the layer in force, the
    /// lower layers it overrides, and each layer's value (redacted ones shown as ***).
    Explain(explain::ExplainArgs),
    /// Before publishing a layer's new document, ask running services (--against their admin
    /// URLs) whether they would accept it, with their own merge, types and validators, or
    /// check it offline against a JSON Schema (--schema). Nothing is applied. One JSON object
    /// per target on stdout: {"target":…,"accepted":true,"changes":{…}} or
    /// {"target":…,"accepted":false,"error":…,"key":…}; a summary on stderr on a terminal.
    #[command(after_help = format!("Examples:\n  hotconf check --layer overrides --file new.yaml --token-file token \\\n      --against https://svc-1/admin https://svc-2/admin && etcdctl put /app/overrides < new.yaml\n  hotconf check --schema schema.json --file new.yaml\n\n{CHECK_EXIT_HELP}"))]
    Check(check::CheckArgs),
    /// Sidecar: keep files rendered from SOURCEs (Jinja templates with --template, the merged
    /// config with --out), written atomically, and run --exec or send --signal after each change.
    /// A template or schema error rejects the change: the files keep their last good content.
    /// Events (JSON lines) go to stderr or --events.
    #[command(after_help = SIDECAR_EXIT_HELP)]
    Render(render::RenderArgs),
    /// Sidecar: run CMD with the config in its environment (--env-prefix) and files
    /// (--template), started only once a first valid config is in; restart or signal it on
    /// every change; forward INT, TERM, HUP, USR1, USR2, WINCH and QUIT; reap orphans as
    /// PID 1; exit with its status.
    #[command(after_help = SIDECAR_EXIT_HELP)]
    Exec(exec::ExecArgs),
    /// Percentage rollouts of an etcd or Consul key to the instances that follow it with
    /// ?rollout=true, watched through Prometheus: start, status, abort (docs/rollout.md).
    #[command(subcommand, after_help = ROLLOUT_EXIT_HELP)]
    Rollout(rollout::RolloutCommand),
    /// Internal: how `hotconf exec` starts its program (sidecar/launch.rs).
    #[command(name = sidecar::launch::SUBCOMMAND, hide = true)]
    Launch(sidecar::launch::LaunchArgs),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    hotconf::provider::parse_duration(text).map_err(|e| e.message().to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(id) = &cli.instance {
        // Before any source is parsed: providers read the default id when built.
        hotconf::set_instance_id(id.as_str());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hotconf: cannot start: {error}");
            return Exit::Failed.into();
        }
    };
    let code = match cli.command {
        Command::Watch(args) => runtime.block_on(watch::watch(args)),
        Command::Explain(args) => runtime.block_on(explain::explain(args)),
        Command::Check(args) => runtime.block_on(check::check(args)),
        Command::Render(args) => runtime.block_on(render::render(args)),
        Command::Exec(args) => runtime.block_on(exec::exec(args)),
        Command::Rollout(command) => runtime.block_on(rollout::rollout(command)),
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

/// Reports bad arguments: [`Exit::Usage`].
fn usage_error(error: &hotconf::Error) -> ExitCode {
    eprintln!("hotconf: {error}");
    Exit::Usage.into()
}
