//! `hotconf rollout start`: the checks before anything is written, the record's first write,
//! and the [`Controller`] run to its promotion or taken back.

use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use hotconf::rollout::RolloutRecord;
use serde_json::json;

use super::controller::{self, Controller, Plan};
use super::{emit, fail, open, StartArgs};
use crate::exit::Exit;

/// The largest candidate read (the record holds it; Consul's own limit is 512 KiB).
const MAX_CANDIDATE_BYTES: u64 = 4 << 20;

pub(crate) async fn start(args: StartArgs) -> ExitCode {
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
    let id = args.id.clone().unwrap_or_else(controller::new_id);
    let mut record = RolloutRecord::new(id.clone(), candidate.clone(), args.steps[0]);
    record.format = Some(format.to_string());
    record.started = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    record.controller = Some(format!(
        "hotconf rollout start (pid {})",
        std::process::id()
    ));
    record.base = Some(state.key.version);
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    // The followers' own check of the record (an empty or over-long --id, a candidate above
    // the record's limit): refused here rather than by every instance.
    let key = hotconf::rollout::record_key(store.key());
    if let Err(error) = RolloutRecord::parse(&key, &bytes) {
        return fail(Exit::Usage, &error.to_string());
    }
    // Listening before the record exists: a signal from now on takes the rollout back.
    let (interrupt_tx, interrupt) = tokio::sync::watch::channel(false);
    let mut signals = match crate::sidecar::signals::Signals::stop() {
        Ok(signals) => signals,
        Err(error) => return fail(Exit::Failed, &format!("cannot listen for signals: {error}")),
    };
    tokio::spawn(async move {
        signals.recv().await;
        let _ = interrupt_tx.send(true);
    });
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
