//! `hotconf rollout start|status|abort SOURCE`: percentage rollouts of an etcd or Consul key,
//! watched through Prometheus (docs/rollout.md).
//!
//! Progress goes to stdout as one JSON object per line (`{"event":"step",…}`), and a readable
//! line per event to stderr. Exit codes: 0 promoted (start) or done (status, abort); 1 the
//! rollout was refused or rolled back; 2 bad arguments; 4 the store or Prometheus could not be
//! asked before anything was written.

mod controller;
mod fleet;
mod inspect;
mod launch;
mod prometheus;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hotconf::rollout::RolloutStore;
use serde_json::Value;

use crate::exit::Exit;
use prometheus::Prometheus;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RolloutCommand {
    /// Roll a new document for SOURCE's key out to a growing share of the instances that
    /// follow it with ?rollout=true, step by step, watching them through Prometheus; promote
    /// it at 100 % (written into the key), or take it back when the fleet says no.
    Start(Box<StartArgs>),
    /// Show the rollout of SOURCE's key, and with --prometheus every instance: its id, config
    /// version and hash, and whether it is (and should be) on the candidate.
    Status(StatusArgs),
    /// End the rollout of SOURCE's key from anywhere (a controller that died, a change of
    /// mind): the record is deleted and every instance goes back to the key's value.
    Abort(AbortArgs),
}

/// Where the fleet is seen.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FleetArgs {
    /// The Prometheus server that scrapes the instances (http://prometheus:9090).
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// The label matchers that pick the instances following this key among everything
    /// Prometheus scrapes (`job="app"`); default: every process exporting hotconf_instance_info.
    #[arg(
        long,
        value_name = "MATCHERS",
        default_value = "",
        requires = "prometheus"
    )]
    selector: String,
    /// How long one Prometheus query or store request may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::parse_duration)]
    request_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StartArgs {
    /// The key: etcd://host:2379/KEY or consul://host:8500/KEY (as the instances follow it,
    /// with the same credentials and TLS parameters).
    source: String,
    /// The new document (in the key's format).
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// The percentages, rising, ending at 100.
    #[arg(
        long,
        value_name = "P,P,…",
        value_delimiter = ',',
        default_value = "10,50,100"
    )]
    steps: Vec<f64>,
    /// How long each step is watched once observed, before the next.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::parse_duration)]
    bake: Duration,
    /// A PromQL query that must return nothing while the rollout is healthy (repeatable); any
    /// series it returns rolls the change back.
    #[arg(long, value_name = "PROMQL")]
    health: Vec<String>,
    /// Before anything is written, ask these services' admin APIs whether they would accept
    /// the document as layer --layer (`hotconf check --against`); any refusal ends here.
    #[arg(long, value_name = "URL", num_args = 1.., requires = "layer")]
    check_first: Vec<String>,
    /// The layer name the services know the key's source by (for --check-first).
    #[arg(long, value_name = "NAME")]
    layer: Option<String>,
    /// The admin APIs' write token, in this file (for --check-first).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// How long a step may take to show in Prometheus (and the fleet to come back after an
    /// abort).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = crate::parse_duration)]
    step_timeout: Duration,
    /// The whole rollout's deadline: past it, the rollout is taken back.
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = crate::parse_duration)]
    timeout: Duration,
    /// The rollout's id (default: the start time and random bits); with each instance id it
    /// decides membership.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// How often Prometheus is asked.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::parse_duration)]
    poll: Duration,
    #[command(flatten)]
    fleet: FleetArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The key: etcd://host:2379/KEY or consul://host:8500/KEY.
    source: String,
    #[command(flatten)]
    fleet: FleetArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AbortArgs {
    /// The key: etcd://host:2379/KEY or consul://host:8500/KEY.
    source: String,
    /// With --prometheus: how long to wait until no instance shows the rollout.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = crate::parse_duration)]
    wait: Duration,
    #[command(flatten)]
    fleet: FleetArgs,
}

/// Why a rollout ends before its promotion.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The fleet said no: a rejection, a revert, a health query, a step not observed in time.
    Unhealthy(String),
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The rollout's --timeout passed.
    Deadline,
    /// Someone else wrote the key or the record: the rollout is not this controller's any more.
    Lost(String),
    /// The store or Prometheus failed.
    Failed(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Unhealthy(why) => write!(f, "unhealthy: {why}"),
            Stop::Interrupted => f.write_str("interrupted"),
            Stop::Deadline => f.write_str("the rollout's --timeout passed"),
            Stop::Lost(why) | Stop::Failed(why) => f.write_str(why),
        }
    }
}

/// Prints an event: a JSON line on stdout, `text` on stderr.
pub(crate) fn emit(event: &str, mut fields: Value, text: &str) {
    fields["event"] = event.into();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{fields}").and_then(|()| stdout.flush());
    eprintln!("hotconf: {}", crate::output::escape_controls(text));
}

/// Runs a `hotconf rollout` subcommand.
pub(crate) async fn rollout(command: RolloutCommand) -> ExitCode {
    match command {
        RolloutCommand::Start(args) => launch::start(*args).await,
        RolloutCommand::Status(args) => inspect::status(args).await,
        RolloutCommand::Abort(args) => inspect::abort(args).await,
    }
}

pub(crate) fn fail(exit: Exit, message: &str) -> ExitCode {
    eprintln!("hotconf: {}", crate::output::escape_controls(message));
    exit.into()
}

pub(crate) fn open(
    source: &str,
    fleet: &FleetArgs,
) -> Result<(Box<dyn RolloutStore>, Option<Prometheus>), ExitCode> {
    let store = hotconf::rollout_store_from_uri(source).map_err(|e| crate::usage_error(&e))?;
    let prometheus = (fleet.prometheus.as_deref())
        .map(|url| Prometheus::new(url, &fleet.selector, fleet.request_timeout))
        .transpose()
        .map_err(|e| crate::usage_error(&e))?;
    Ok((store, prometheus))
}
