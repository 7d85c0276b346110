//! `hotconf rollout status` and `hotconf rollout abort`: a rollout seen, or ended, from
//! anywhere.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hotconf::rollout::{RolloutRecord, RolloutState, RolloutStore};
use serde_json::json;

use super::prometheus::Prometheus;
use super::{emit, fail, open, AbortArgs, FleetArgs, StatusArgs};
use crate::exit::Exit;

/// The store of `source`, Prometheus when given, and what the store holds.
async fn read(
    source: &str,
    fleet: &FleetArgs,
) -> Result<(Box<dyn RolloutStore>, Option<Prometheus>, RolloutState), ExitCode> {
    let (store, prometheus) = open(source, fleet)?;
    match store.read().await {
        Ok(state) => Ok((store, prometheus, state)),
        Err(error) => Err(fail(
            Exit::Unanswered,
            &format!("{}: {error}", store.name()),
        )),
    }
}

/// The record at the store, parsed.
fn parse_record(store: &dyn RolloutStore, bytes: &[u8]) -> Result<RolloutRecord, ExitCode> {
    let key = hotconf::rollout::record_key(store.key());
    RolloutRecord::parse(&key, bytes).map_err(|e| fail(Exit::Failed, &e.to_string()))
}

pub(crate) async fn status(args: StatusArgs) -> ExitCode {
    let (store, prometheus, state) = match read(&args.source, &args.fleet).await {
        Ok(read) => read,
        Err(code) => return code,
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

pub(crate) async fn abort(args: AbortArgs) -> ExitCode {
    let (store, prometheus, state) = match read(&args.source, &args.fleet).await {
        Ok(read) => read,
        Err(code) => return code,
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
