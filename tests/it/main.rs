//! Tests of the guarantees in docs/concepts.md, one module per guarantee (`g<N>_…`), plus bad
//! input, merge semantics, the environment layer, the fast path and restart-required keys.
//! Every wait is on an event or a store change, with a timeout; nothing sleeps and hopes.

mod bad_input;
mod change_facts;
mod env_layer;
mod explain;
mod fast_path;
mod g10_credentials;
mod g11_contained;
mod g12_values_stay_inside;
mod g1_atomic_reads;
mod g2_invalid_rejected;
mod g3_revision_order;
mod g4_convergence;
mod g5_delete_falls_back;
mod g6_coalescing;
mod g7_subscriber_isolation;
mod g8_rollback;
mod g9_startup;
mod layer_identity;
mod merge_semantics;
mod optional_layers;
mod restart_required;
mod secret_layers;
mod status;
mod waiting;

use hotconf::{Event, Format, MemoryHandle, MemoryProvider, Reloader, ReloaderBuilder};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

pub(crate) use hotconf_testkit::{wait_for_event, wait_until};

/// The config most tests read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Cfg {
    pub(crate) name: String,
    pub(crate) db: Db,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Db {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// A lower layer with defaults and an upper layer under the test's control.
pub(crate) struct Two {
    pub(crate) lower: MemoryHandle,
    pub(crate) upper: MemoryHandle,
    pub(crate) builder: ReloaderBuilder<Cfg>,
    pub(crate) events: broadcast::Receiver<Event>,
}

pub(crate) fn two_layers() -> Two {
    let (lower_p, lower) = MemoryProvider::new("memory:lower");
    let (upper_p, upper) = MemoryProvider::new("memory:upper");
    lower.set_document(
        Format::Toml,
        "name = \"base\"\n[db]\nhost = \"localhost\"\nport = 5432\n",
    );
    upper.set_document(Format::Json, json!({"name": "v1"}).to_string());
    let builder = Reloader::<Cfg>::builder().layer(lower_p).layer(upper_p);
    let events = builder.events();
    Two {
        lower,
        upper,
        builder,
        events,
    }
}

pub(crate) fn set_json(handle: &MemoryHandle, value: serde_json::Value) -> u64 {
    handle.set_document(Format::Json, value.to_string())
}

pub(crate) fn drain(events: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

pub(crate) fn count_applied(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Applied { .. }))
        .count()
}

/// Waits for the next rejection and returns (source, key, error).
pub async fn next_rejection(
    events: &mut broadcast::Receiver<Event>,
) -> (Option<String>, Option<String>, String) {
    match wait_for_event(events, |e| matches!(e, Event::Rejected { .. })).await {
        Event::Rejected {
            source, key, error, ..
        } => (source, key, error),
        _ => unreachable!(),
    }
}

/// Waits until the reloader's counters satisfy `predicate`, failing after the suite timeout.
pub(crate) async fn wait_stats(
    stats: &mut hotconf::Subscription<hotconf::Stats>,
    predicate: impl FnMut(&hotconf::Stats) -> bool,
) {
    let waited = tokio::time::timeout(hotconf_testkit::TIMEOUT, stats.wait_for(predicate)).await;
    waited
        .expect("the reloader's counters did not get there in time")
        .expect("the reloader stopped");
}
