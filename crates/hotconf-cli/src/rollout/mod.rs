//! `hotconf rollout start|status|abort SOURCE`: percentage rollouts of an etcd or Consul key,
//! watched through Prometheus (docs/rollout.md).
//!
//! Progress goes to stdout as one JSON object per line (`{"event":"step",…}`), and a readable
//! line per event to stderr. Exit codes: 0 promoted (start) or done (status, abort); 1 the
//! rollout was refused or rolled back; 2 bad arguments; 4 the store or Prometheus could not be
//! asked before anything was written.

mod fleet;
mod prometheus;
mod start;

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use hotconf::rollout::{RolloutRecord, RolloutStore};
use serde_json::{json, Value};

use crate::exit::Exit;
use prometheus::Prometheus;
use start::{Controller, Plan};

/// The largest candidate read (the record holds it; Consul's own limit is 512 KiB).
const MAX_CANDIDATE_BYTES: u64 = 4 << 20;

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
        RolloutCommand::Start(args) => start(*args).await,
        RolloutCommand::Status(args) => status(args).await,
        RolloutCommand::Abort(args) => abort(args).await,
    }
}

fn fail(exit: Exit, message: &str) -> ExitCode {
    eprintln!("hotconf: {}", crate::output::escape_controls(message));
    exit.into()
}

fn open(
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

/// The record at the store, parsed.
fn parse_record(store: &dyn RolloutStore, bytes: &[u8]) -> Result<RolloutRecord, ExitCode> {
    let key = hotconf::rollout::record_key(store.key());
    RolloutRecord::parse(&key, bytes).map_err(|e| fail(Exit::Failed, &e.to_string()))
}

async fn start(args: StartArgs) -> ExitCode {
    let (store, prometheus) = match open(&args.source, &args.fleet) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let Some(prometheus) = prometheus else {
        return fail(
            Exit::Usage,
            "rollout start needs --prometheus: the fleet is watched through it",
        );
    };
    if let Some(why) = bad_steps(&args.steps) {
        return fail(Exit::Usage, &format!("--steps: {why}"));
    }
    let format = store.format();
    if let Some(given) = hotconf::Format::from_path(&args.file.to_string_lossy()) {
        if given != format {
            return fail(
                Exit::Usage,
                &format!("{} is {given}, but the key holds {format}: a promotion writes the candidate into the key", args.file.display()),
            );
        }
    }
    let candidate = match crate::small_file::read(&args.file, MAX_CANDIDATE_BYTES) {
        Ok(text) => text,
        Err(what) => {
            return fail(
                Exit::Usage,
                &format!("the document {} {what}", args.file.display()),
            )
        }
    };
    if let Err(error) =
        hotconf::provider::parse_document(format, candidate.as_bytes(), &hotconf::Limits::default())
    {
        return fail(
            Exit::Usage,
            &format!(
                "the document {} does not parse: {error}",
                args.file.display()
            ),
        );
    }
    if !args.check_first.is_empty() {
        if let Some(code) = check_first(&args, format, &candidate).await {
            return code;
        }
    }
    let state = match store.read().await {
        Ok(state) => state,
        Err(error) => return fail(Exit::Unanswered, &format!("{}: {error}", store.name())),
    };
    if let Some(bytes) = &state.record.value {
        let shown = match RolloutRecord::parse("", bytes) {
            Ok(r) => format!(
                "rollout {} at {} % by {} since {}",
                r.id,
                r.percent,
                r.controller.as_deref().unwrap_or("?"),
                r.started
            ),
            Err(_) => "a record that does not parse".into(),
        };
        return fail(
            Exit::Failed,
            &format!(
                "refused: {} has {shown} (`hotconf rollout abort` ends it)",
                store.name()
            ),
        );
    }
    if state.key.value.as_deref() == Some(candidate.as_bytes()) {
        return fail(Exit::Failed, "refused: the key already holds this document");
    }
    let baseline = match prometheus.fleet().await {
        Ok(fleet) if fleet.is_empty() => return fail(
            Exit::Failed,
            "refused: Prometheus shows no hotconf instance (hotconf_instance_info) for --selector",
        ),
        Ok(fleet) => fleet,
        Err(error) => return fail(Exit::Unanswered, &error.to_string()),
    };
    let id = args.id.clone().unwrap_or_else(start::new_id);
    let mut record = RolloutRecord::new(id.clone(), candidate.clone(), args.steps[0]);
    record.format = Some(format.to_string());
    record.started = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    record.controller = Some(format!(
        "hotconf rollout start (pid {})",
        std::process::id()
    ));
    record.base = Some(state.key.version);
    let Ok(bytes) = serde_json::to_vec(&record) else {
        return fail(Exit::Failed, "the record cannot be written as JSON");
    };
    let record_version = match store.write_record(state.key.version, 0, &bytes).await {
        Ok(Some(version)) => version,
        Ok(None) => {
            return fail(
                Exit::Failed,
                "refused: another rollout started, or the key changed, since it was read",
            )
        }
        Err(error) => return fail(Exit::Unanswered, &format!("{}: {error}", store.name())),
    };
    let started = Instant::now();
    emit(
        "started",
        json!({"rollout": id, "key": store.name(), "instances": baseline.len(), "steps": args.steps, "key_version": state.key.version}),
        &format!(
            "rollout {id} of {} started: {} instances, steps {:?} %",
            store.name(),
            baseline.len(),
            args.steps
        ),
    );
    let (interrupt_tx, interrupt) = tokio::sync::watch::channel(false);
    let mut signals = match crate::sidecar::signals::Signals::stop() {
        Ok(signals) => signals,
        Err(error) => return fail(Exit::Failed, &format!("cannot listen for signals: {error}")),
    };
    tokio::spawn(async move {
        signals.recv().await;
        let _ = interrupt_tx.send(true);
    });
    let mut controller = Controller {
        store: store.as_ref(),
        prometheus: &prometheus,
        plan: Plan {
            id,
            candidate,
            steps: args.steps.clone(),
            bake: args.bake,
            step_timeout: args.step_timeout,
            poll: args.poll,
            health: args.health.clone(),
            deadline: started + args.timeout,
        },
        record,
        key_version: state.key.version,
        record_version,
        baseline,
        key_hashes: Default::default(),
        started,
        interrupt: Some(interrupt),
    };
    let ended = match controller.run().await {
        Ok(()) => controller.promote().await,
        Err(stop) => Err(stop),
    };
    match ended {
        Ok(()) => Exit::Success.into(),
        Err(stop) => {
            let detected = Instant::now();
            eprintln!(
                "hotconf: taking the rollout back: {}",
                crate::output::escape_controls(&stop.to_string())
            );
            controller.take_back(&stop, detected).await;
            Exit::Failed.into()
        }
    }
}

/// Why `steps` is not a rising list of percentages ending at 100.
fn bad_steps(steps: &[f64]) -> Option<String> {
    if steps.last() != Some(&100.0) {
        return Some("the last step must be 100".into());
    }
    if steps.iter().any(|p| !(*p > 0.0 && *p <= 100.0)) {
        return Some("each step is a percentage above 0 and at most 100".into());
    }
    if steps.windows(2).any(|w| w[0] >= w[1]) {
        return Some("the steps must rise".into());
    }
    None
}

/// Runs `hotconf check --against` on the --check-first services; an exit code when the
/// rollout must not start.
async fn check_first(
    args: &StartArgs,
    format: hotconf::Format,
    candidate: &str,
) -> Option<ExitCode> {
    let layer = args.layer.as_deref().unwrap_or_default();
    let token = match args.token_file.as_deref().map(crate::admin::read_token) {
        Some(Err(error)) => return Some(crate::usage_error(&error)),
        Some(Ok(token)) => Some(token),
        None => None,
    };
    let asker = match crate::check::remote::Asker::new(
        layer,
        format,
        candidate.to_owned(),
        token,
        args.fleet.request_timeout,
    ) {
        Ok(asker) => asker,
        Err(error) => return Some(crate::usage_error(&error)),
    };
    let lines = match asker.ask_all(&args.check_first).await {
        Ok(lines) => lines,
        Err(error) => return Some(crate::usage_error(&error)),
    };
    let code = crate::check::print(&lines);
    let all_accept = lines
        .iter()
        .all(|l| l.outcome == crate::check::Outcome::Accepted);
    if all_accept {
        None
    } else {
        eprintln!("hotconf: refused: not every --check-first service accepts the document");
        Some(code)
    }
}

async fn status(args: StatusArgs) -> ExitCode {
    let (store, prometheus) = match open(&args.source, &args.fleet) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let state = match store.read().await {
        Ok(state) => state,
        Err(error) => return fail(Exit::Unanswered, &format!("{}: {error}", store.name())),
    };
    let record = match &state.record.value {
        Some(bytes) => match parse_record(store.as_ref(), bytes) {
            Ok(record) => Some(record),
            Err(code) => return code,
        },
        None => None,
    };
    let shown = record.as_ref().map(|r| {
        json!({"id": r.id, "percent": r.percent, "started": r.started, "controller": r.controller, "base": r.base})
    });
    emit(
        "status",
        json!({"key": store.name(), "key_version": state.key.version, "rollout": shown}),
        &match &record {
            Some(r) => format!(
                "{}: rollout {} at {} % since {}",
                store.name(),
                r.id,
                r.percent,
                r.started
            ),
            None => format!("{}: no rollout", store.name()),
        },
    );
    let Some(prometheus) = prometheus else {
        return Exit::Success.into();
    };
    let fleet = match prometheus.fleet().await {
        Ok(fleet) => fleet,
        Err(error) => return fail(Exit::Unanswered, &error.to_string()),
    };
    for (id, instance) in &fleet {
        let should = record
            .as_ref()
            .is_some_and(|r| hotconf::rollout::is_member(id, &r.id, r.percent));
        emit(
            "instance",
            json!({
                "instance_id": id, "target": instance.target, "version": instance.version,
                "hash": instance.hash, "rollout": instance.rollout, "member": instance.member,
                "should_be_member": should,
            }),
            &format!(
                "  {id}  v{}  {}  {}",
                instance.version,
                instance.hash,
                match (instance.member, should) {
                    (true, true) => "on the candidate",
                    (false, false) => "on the key's value",
                    (true, false) => "on the candidate, NOT a member",
                    (false, true) => "a member NOT on the candidate",
                }
            ),
        );
    }
    Exit::Success.into()
}

async fn abort(args: AbortArgs) -> ExitCode {
    let (store, prometheus) = match open(&args.source, &args.fleet) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let state = match store.read().await {
        Ok(state) => state,
        Err(error) => return fail(Exit::Unanswered, &format!("{}: {error}", store.name())),
    };
    let Some(bytes) = &state.record.value else {
        emit(
            "aborted",
            json!({"key": store.name(), "rollout": null}),
            &format!("{}: no rollout to abort", store.name()),
        );
        return Exit::Success.into();
    };
    // A record that does not parse is deleted too: it is what keeps the fleet stuck.
    let id = RolloutRecord::parse("", bytes).map(|r| r.id).ok();
    match store.delete_record(state.record.version).await {
        Ok(true) => {}
        Ok(false) => {
            return fail(
                Exit::Failed,
                "the record changed while it was being deleted: try again",
            )
        }
        Err(error) => return fail(Exit::Unanswered, &format!("{}: {error}", store.name())),
    }
    let mut back_ms = None;
    if let Some(prometheus) = &prometheus {
        back_ms = wait_back(prometheus, id.as_deref(), args.wait).await;
    }
    let observed = back_ms.is_some();
    emit(
        "aborted",
        json!({"key": store.name(), "rollout": id, "back_ms": back_ms, "observed": observed}),
        &format!(
            "{}: rollout {} aborted{}",
            store.name(),
            id.as_deref().unwrap_or("(unparsable record)"),
            match (back_ms, &prometheus) {
                (Some(ms), _) =>
                    format!("; no instance shows it after {:.1} s", ms as f64 / 1000.0),
                (None, Some(_)) => format!("; some instances still show it after {:?}", args.wait),
                (None, None) => String::new(),
            }
        ),
    );
    Exit::Success.into()
}

/// Waits until no instance shows rollout `id` (any rollout when unknown): the milliseconds it
/// took, or `None` past `within`.
async fn wait_back(prometheus: &Prometheus, id: Option<&str>, within: Duration) -> Option<u64> {
    let since = Instant::now();
    while since.elapsed() < within {
        if let Ok(fleet) = prometheus.fleet().await {
            let showing = fleet.values().any(|i| match id {
                Some(id) => i.rollout == id,
                None => !i.rollout.is_empty(),
            });
            if !showing {
                return Some(u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}
