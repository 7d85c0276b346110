//! Prometheus metrics of a hotconf reloader, in the application's own
//! [`prometheus_client`] registry.
//!
//! [`register`] adds one collector to the registry. It keeps no counters of its own: at every
//! scrape it reads the reloader's [`Stats`](hotconf_core::Stats) and
//! [`Status`](hotconf_core::Status), which the reloader keeps anyway, so a reload pays nothing for
//! metrics. There is no global registry.
//!
//! Labels are only an instance id, a rollout id, the applied content's hash, layer names (chosen with
//! [`ReloaderBuilder::named_layer`](hotconf_core::ReloaderBuilder::named_layer), or the scheme and
//! position, as `file-0`), error kinds, outcomes, health states and origin kinds: never source
//! URIs or config values. The number of series is bounded by the number of layers.
//!
//! | Metric | Type | Labels |
//! |---|---|---|
//! | `hotconf_reloads_total` | counter | `outcome` = `applied`, `rejected`, `unchanged`, `stale` |
//! | `hotconf_source_errors_total` | counter | `layer`, `kind` (`unavailable`, `parse`, …) |
//! | `hotconf_last_good_file_writes_total` | counter | |
//! | `hotconf_last_good_file_failures_total` | counter | |
//! | `hotconf_config_version` | gauge | |
//! | `hotconf_config_last_applied_timestamp_seconds` | gauge | |
//! | `hotconf_config_consecutive_rejections` | gauge | |
//! | `hotconf_config_pinned` | gauge | |
//! | `hotconf_config_pending_restart_keys` | gauge | |
//! | `hotconf_config_info` | gauge (always 1) | `origin` = `sources`, `rollback`, `revert`, `disk`, `initial`; `hash` = the applied content's hash (16 hex digits, as in `/config/version`) |
//! | `hotconf_instance_info` | gauge (always 1, one series) | `instance_id`; `rollout` = the rollout record's id or empty; `member` = `true`, `false` |
//! | `hotconf_source_up` | gauge | `layer` |
//! | `hotconf_source_health` | gauge (1 for the current state) | `layer`, `health` = `waiting`, `up`, `erroring`, `stopped`, `absent` (an optional layer whose source is absent) |
//! | `hotconf_source_last_change_timestamp_seconds` | gauge (absent before the first state) | `layer` |
//! | `hotconf_source_consecutive_failures` | gauge | `layer` |
//! | `hotconf_reload_duration_seconds` | histogram | |
//! | `hotconf_propagation_seconds` | histogram | |
//!
//! The collector encodes into any of `prometheus_client`'s formats: the OpenMetrics text
//! ([`text::encode`](prometheus_client::encoding::text::encode), where a counter's `# HELP` and
//! `# TYPE` name its family without `_total`) or the Prometheus text format 0.0.4
//! ([`prometheus_text::encode`](prometheus_client::encoding::prometheus_text::encode), what
//! `promtool check metrics` reads and lints cleanly).
//!
//! ```
//! use hotconf_core::{Format, MemoryProvider, Reloader};
//! use prometheus_client::registry::Registry;
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     name: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> hotconf_core::Result<()> {
//! let (provider, source) = MemoryProvider::new("memory:app");
//! source.set_document(Format::Json, r#"{"name": "demo"}"#);
//! let reloader = Reloader::<Config>::builder()
//!     .named_layer("app", provider)
//!     .start()
//!     .await?;
//!
//! let mut registry = Registry::default();
//! hotconf_metrics::register(&reloader, &mut registry);
//!
//! let mut exposition = String::new();
//! prometheus_client::encoding::text::encode(&mut exposition, &registry).unwrap();
//! assert!(exposition.contains("hotconf_config_version 1\n"));
//! assert!(exposition.contains("hotconf_source_up{layer=\"app\"} 1\n"));
//! assert!(exposition.contains("hotconf_reloads_total{outcome=\"applied\"} 1\n"));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hotconf_core::{Health, Histogram, Origin, ReloaderHandle};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// Registers the metrics of the reloader behind `reloader` in `registry`: one collector that
/// reads the reloader's counters and status at every scrape (see the [crate] documentation for
/// the metrics). A [`Reloader`](hotconf_core::Reloader) derefs to its handle, so
/// `register(&reloader, &mut registry)` works too.
///
/// The collector holds a clone of the handle, which does not keep the reloader running: once
/// the reloader is dropped, the metrics keep their last values.
///
/// ```
/// # use hotconf_core::{Format, MemoryProvider, Reloader};
/// # use prometheus_client::registry::Registry;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> hotconf_core::Result<()> {
/// # let (provider, source) = MemoryProvider::new("memory:app");
/// # source.set_document(Format::Json, "{}");
/// let reloader = Reloader::<serde_json::Value>::builder().layer(provider).start().await?;
/// let mut registry = Registry::default();
/// hotconf_metrics::register(&reloader.handle(), &mut registry);
/// # Ok(())
/// # }
/// ```
pub fn register<T: Send + Sync + 'static>(reloader: &ReloaderHandle<T>, registry: &mut Registry) {
    registry.register_collector(Box::new(ReloaderCollector {
        handle: reloader.clone(),
    }));
}

/// The collector [`register`] adds.
struct ReloaderCollector<T> {
    handle: ReloaderHandle<T>,
}

impl<T> fmt::Debug for ReloaderCollector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloaderCollector").finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch (0 before it).
fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

fn origin_kind(origin: &Origin) -> &'static str {
    match origin {
        Origin::Sources => "sources",
        Origin::Rollback { .. } => "rollback",
        Origin::Revert { .. } => "revert",
        Origin::Disk => "disk",
        Origin::Initial => "initial",
        // `Origin` is non-exhaustive: a new kind shows as `other` until it is named here.
        _ => "other",
    }
}

const HEALTHS: [(Health, &str); 5] = [
    (Health::Waiting, "waiting"),
    (Health::Up, "up"),
    (Health::Erroring, "erroring"),
    (Health::Stopped, "stopped"),
    (Health::Absent, "absent"),
];

fn counter(metric: &mut MetricEncoder<'_>, value: u64) -> fmt::Result {
    metric.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

fn histogram(metric: &mut MetricEncoder<'_>, histogram: &Histogram) -> fmt::Result {
    // Per-bucket counts, as kept; the encoder makes them cumulative and the last one is +Inf.
    let mut buckets = [(0.0, 0); Histogram::BOUNDS.len() + 1];
    for (i, bucket) in buckets.iter_mut().enumerate() {
        let bound = Histogram::BOUNDS.get(i).copied().unwrap_or(f64::INFINITY);
        *bucket = (bound, histogram.counts[i]);
    }
    metric.encode_histogram::<NoLabelSet>(histogram.sum_seconds(), histogram.count, &buckets, None)
}

impl<T: Send + Sync + 'static> Collector for ReloaderCollector<T> {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let stats = *self.handle.stats().borrow();
        let status = self.handle.status();

        let mut reloads = encoder.encode_descriptor(
            "hotconf_reloads",
            "Reloads by outcome: applied (a new config version went to readers), rejected \
             (a candidate or source state failed to parse, deserialize or validate; the last \
             good config kept serving), unchanged (the merged sources equalled the applied \
             config), stale (a source state older than one already seen was ignored).",
            None,
            MetricType::Counter,
        )?;
        for (outcome, value) in [
            ("applied", stats.applied),
            ("rejected", stats.rejected),
            ("unchanged", stats.unchanged),
            ("stale", stats.stale),
        ] {
            counter(&mut reloads.encode_family(&[("outcome", outcome)])?, value)?;
        }

        let mut errors = encoder.encode_descriptor(
            "hotconf_source_errors",
            "Errors of a source since the start, by layer and kind (unavailable, parse, …): \
             the layer's last good state stays in use while it fails.",
            None,
            MetricType::Counter,
        )?;
        for source in &status.sources {
            for (kind, value) in &source.errors {
                let labels = [("layer", source.layer.as_str()), ("kind", *kind)];
                counter(&mut errors.encode_family(&labels)?, *value)?;
            }
        }

        counter(
            &mut encoder.encode_descriptor(
                "hotconf_last_good_file_writes",
                "Applied configs written to the last-good file (the startup fallback).",
                None,
                MetricType::Counter,
            )?,
            stats.snapshots_written,
        )?;
        counter(
            &mut encoder.encode_descriptor(
                "hotconf_last_good_file_failures",
                "Failed writes of the last-good file (each is logged with its cause).",
                None,
                MetricType::Counter,
            )?,
            stats.snapshot_failures,
        )?;

        gauge(
            &mut encoder,
            "hotconf_config_version",
            "The version of the config readers get (1 for the first one; each apply, rollback \
             or revert adds one).",
            status.version,
        )?;
        gauge(
            &mut encoder,
            "hotconf_config_last_applied_timestamp_seconds",
            "When the config readers get was applied, in seconds since the Unix epoch.",
            unix_seconds(status.applied_at),
        )?;
        gauge(
            &mut encoder,
            "hotconf_config_consecutive_rejections",
            "Candidates rejected in a row since the last apply (or unchanged build); above 0, \
             the sources hold a config that does not apply and the last good one serves.",
            status.consecutive_rejections,
        )?;
        gauge(
            &mut encoder,
            "hotconf_config_pinned",
            "1 while a rollback pins the config (source changes wait for an unpin), else 0.",
            u64::from(status.pinned),
        )?;
        gauge(
            &mut encoder,
            "hotconf_config_pending_restart_keys",
            "Restart-required keys whose new values wait for a restart of the process.",
            status.pending_restart.len() as u64,
        )?;

        encoder
            .encode_descriptor(
                "hotconf_config_info",
                "Always 1; the origin label says how the applied config came to be: sources, \
                 rollback, revert (a failed post-apply check), disk (the last-good file at \
                 startup) or initial.",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&[
                ("origin", origin_kind(&status.origin)),
                ("hash", format!("{:016x}", status.content_hash).as_str()),
            ])?
            .encode_gauge(&1u64)?;

        let (rollout, member) = match &status.rollout {
            Some(rollout) => (
                rollout.id.as_str(),
                if rollout.member { "true" } else { "false" },
            ),
            None => ("", "false"),
        };
        encoder
            .encode_descriptor(
                "hotconf_instance_info",
                "Always 1; names this process (instance_id, as in /config/version), the rollout \
                 its sources follow (rollout: the record's id, empty without one) and whether \
                 it is on the rollout's candidate (member).",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&[
                ("instance_id", status.instance_id.as_str()),
                ("rollout", rollout),
                ("member", member),
            ])?
            .encode_gauge(&1u64)?;

        let mut up = encoder.encode_descriptor(
            "hotconf_source_up",
            "1 when the source's last delivery was a good state, else 0 (waiting for its \
             first state, erroring, stopped, or an optional layer absent).",
            None,
            MetricType::Gauge,
        )?;
        for source in &status.sources {
            let value = u64::from(source.health == Health::Up);
            up.encode_family(&[("layer", source.layer.as_str())])?
                .encode_gauge(&value)?;
        }

        let mut health = encoder.encode_descriptor(
            "hotconf_source_health",
            "The source's health: 1 for its current state, 0 for the others (waiting: no \
             state yet; up: delivering; erroring: its last delivery failed, its last good \
             state stays; stopped: its provider stopped for good; absent: an optional layer \
             whose source is absent, left out of the config).",
            None,
            MetricType::Gauge,
        )?;
        for source in &status.sources {
            for (state, name) in HEALTHS {
                let labels = [("layer", source.layer.as_str()), ("health", name)];
                let value = u64::from(source.health == state);
                health.encode_family(&labels)?.encode_gauge(&value)?;
            }
        }

        let mut last_change = encoder.encode_descriptor(
            "hotconf_source_last_change_timestamp_seconds",
            "When the source last delivered a changed state, in seconds since the Unix epoch \
             (absent before its first state).",
            None,
            MetricType::Gauge,
        )?;
        for source in &status.sources {
            if let Some(time) = source.last_change {
                last_change
                    .encode_family(&[("layer", source.layer.as_str())])?
                    .encode_gauge(&unix_seconds(time))?;
            }
        }

        let mut failures = encoder.encode_descriptor(
            "hotconf_source_consecutive_failures",
            "Errors or unparsable states of the source in a row since its last good state.",
            None,
            MetricType::Gauge,
        )?;
        for source in &status.sources {
            failures
                .encode_family(&[("layer", source.layer.as_str())])?
                .encode_gauge(&source.consecutive_failures)?;
        }

        histogram(
            &mut encoder.encode_descriptor(
                "hotconf_reload_duration_seconds",
                "How long reloads from the sources took (merge, deserialization, validation, \
                 swap), applied or rejected ones.",
                None,
                MetricType::Histogram,
            )?,
            &stats.reload_duration,
        )?;
        histogram(
            &mut encoder.encode_descriptor(
                "hotconf_propagation_seconds",
                "From a provider delivering a state to readers getting the config made from it \
                 (applied reloads; in a coalesced batch, from the earliest delivery).",
                None,
                MetricType::Histogram,
            )?,
            &stats.propagation,
        )?;
        Ok(())
    }
}
