//! The metrics of a real reloader (two `MemoryProvider` layers): their values after an apply, a
//! rejection and a source error; `promtool check metrics` on the exposition; no config value in
//! it; a bounded number of series; label values that need escaping. Every wait is on the
//! reloader's counters or events, with a timeout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hotconf_core::{
    ErrorKind, Event, Format, Health, MemoryHandle, MemoryProvider, Reloader, Stats, Subscription,
};
use hotconf_testkit::prometheus::promtool_check_metrics;
use hotconf_testkit::{wait_for_event, TIMEOUT};
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by deserialization, which is what is exercised
struct Cfg {
    name: String,
    port: u16,
    password: String,
}

/// A lower layer `base` with every key and an upper layer `app` under the test's control.
struct Two {
    base: MemoryHandle,
    app: MemoryHandle,
    reloader: Reloader<Cfg>,
    registry: Registry,
    last_good: PathBuf,
}

impl Drop for Two {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.last_good);
    }
}

fn last_good_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "hotconf-metrics-test-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

async fn start(base_name: &str, app_name: &str) -> Two {
    let (base_p, base) = MemoryProvider::new("memory:base");
    let (app_p, app) = MemoryProvider::new("memory:app");
    base.set_document(
        Format::Toml,
        "name = \"base\"\nport = 5432\npassword = \"hunter2-in-metrics\"\n",
    );
    app.set_document(Format::Json, json!({"name": "v1"}).to_string());
    let last_good = last_good_path();
    let reloader = Reloader::<Cfg>::builder()
        .named_layer(base_name, base_p)
        .named_layer(app_name, app_p)
        .last_good_file(&last_good)
        .start()
        .await
        .unwrap();
    let mut registry = Registry::default();
    hotconf_metrics::register(&reloader, &mut registry);
    Two {
        base,
        app,
        reloader,
        registry,
        last_good,
    }
}

fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// The samples: each series (name and labels, as written) to its value.
fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {line:?}")),
            };
            (series.to_owned(), value)
        })
        .collect()
}

/// `promtool check metrics` (parse and lint) on the collector's output. promtool reads the
/// Prometheus text format (0.0.4): encoded in it, the exposition must pass with no complaint.
/// In the OpenMetrics text (`text::encode`, what the admin endpoint serves), a counter's HELP and
/// TYPE name its family without `_total` (OpenMetrics' rule), which promtool reports as
/// `<family>_total no help text`; it must report nothing else.
fn promtool_check(registry: &Registry) {
    let mut classic = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut classic, registry).unwrap();
    promtool_check_metrics(&classic).unwrap_or_else(|e| panic!("{e}\n{classic}"));

    let open = encode(registry);
    if let Err(complaints) = promtool_check_metrics(&open) {
        for line in complaints.lines().skip(1).filter(|l| !l.is_empty()) {
            let family = line
                .strip_suffix("_total no help text")
                .filter(|family| open.contains(&format!("# TYPE {family} counter\n")));
            assert!(family.is_some(), "promtool: {line}\n{open}");
        }
    }
}

async fn wait_stats(
    stats: &mut Subscription<Stats>,
    predicate: impl FnMut(&Stats) -> bool,
) -> Stats {
    *tokio::time::timeout(TIMEOUT, stats.wait_for(predicate))
        .await
        .expect("the reloader's counters did not get there in time")
        .expect("the reloader stopped")
}

fn unix(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn assert_lines(exposition: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            exposition.lines().any(|l| l == *line),
            "missing line {line:?} in:\n{exposition}"
        );
    }
}

/// Start, an applied change, a rejected change and a source error: every metric has the value
/// the reloader's counters and status give.
#[tokio::test]
async fn the_exposition_has_the_reloaders_values() {
    let two = start("base", "app").await;
    let mut events = two.reloader.events();
    let mut stats = two.reloader.stats();

    two.app
        .set_document(Format::Json, json!({"name": "v2"}).to_string());
    wait_for_event(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    two.app
        .set_document(Format::Json, json!({"port": "not a port"}).to_string());
    wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    two.app.fail(ErrorKind::Unavailable, "down", true);
    let measured = wait_stats(&mut stats, |s| {
        s.source_errors >= 1 && s.rejected >= 1 && s.snapshots_written >= 2
    })
    .await;

    let exposition = encode(&two.registry);
    let status = two.reloader.status();
    assert_eq!(measured.applied, 2, "start and v2: {measured:?}");
    assert_eq!(measured.rejected, 1, "{measured:?}");
    assert_lines(
        &exposition,
        &[
            "# TYPE hotconf_reloads counter",
            "hotconf_reloads_total{outcome=\"applied\"} 2",
            "hotconf_reloads_total{outcome=\"rejected\"} 1",
            &format!(
                "hotconf_reloads_total{{outcome=\"unchanged\"}} {}",
                measured.unchanged
            ),
            "hotconf_reloads_total{outcome=\"stale\"} 0",
            "# TYPE hotconf_source_errors counter",
            "hotconf_source_errors_total{layer=\"app\",kind=\"unavailable\"} 1",
            "hotconf_last_good_file_writes_total 2",
            "hotconf_last_good_file_failures_total 0",
            "# TYPE hotconf_config_version gauge",
            "hotconf_config_version 2",
            "hotconf_config_consecutive_rejections 1",
            "hotconf_config_pinned 0",
            "hotconf_config_pending_restart_keys 0",
            &format!(
                "hotconf_config_info{{origin=\"sources\",hash=\"{:016x}\"}} 1",
                status.content_hash
            ),
            &format!(
                "hotconf_instance_info{{instance_id=\"{}\",rollout=\"\",member=\"false\"}} 1",
                status.instance_id
            ),
            "hotconf_source_up{layer=\"base\"} 1",
            "hotconf_source_up{layer=\"app\"} 0",
            "hotconf_source_health{layer=\"base\",health=\"waiting\"} 0",
            "hotconf_source_health{layer=\"base\",health=\"up\"} 1",
            "hotconf_source_health{layer=\"base\",health=\"erroring\"} 0",
            "hotconf_source_health{layer=\"base\",health=\"stopped\"} 0",
            "hotconf_source_health{layer=\"app\",health=\"waiting\"} 0",
            "hotconf_source_health{layer=\"app\",health=\"up\"} 0",
            "hotconf_source_health{layer=\"app\",health=\"erroring\"} 1",
            "hotconf_source_health{layer=\"app\",health=\"stopped\"} 0",
            "hotconf_source_health{layer=\"app\",health=\"absent\"} 0",
            "hotconf_source_consecutive_failures{layer=\"base\"} 0",
            &format!(
                "hotconf_source_consecutive_failures{{layer=\"app\"}} {}",
                status.sources[1].consecutive_failures
            ),
            "# TYPE hotconf_reload_duration_seconds histogram",
            "# TYPE hotconf_propagation_seconds histogram",
        ],
    );
    assert_eq!(status.sources[1].health, Health::Erroring);
    assert!(status.sources[1].consecutive_failures >= 1);
    // Every error kind the status counts, and no other.
    let errors: Vec<_> = samples(&exposition)
        .into_iter()
        .filter(|(series, _)| series.starts_with("hotconf_source_errors_total{"))
        .collect();
    let expected: usize = status.sources.iter().map(|s| s.errors.len()).sum();
    assert_eq!(errors.len(), expected, "{errors:?}");
    for source in &status.sources {
        for (kind, count) in &source.errors {
            assert_lines(
                &exposition,
                &[&format!(
                    "hotconf_source_errors_total{{layer=\"{}\",kind=\"{kind}\"}} {count}",
                    source.layer
                )],
            );
        }
    }

    let values = samples(&exposition);
    let applied_at = values["hotconf_config_last_applied_timestamp_seconds"];
    assert!(
        (applied_at - unix(status.applied_at)).abs() < 1e-3,
        "{applied_at}"
    );
    for source in &status.sources {
        let series = format!(
            "hotconf_source_last_change_timestamp_seconds{{layer=\"{}\"}}",
            source.layer
        );
        let expected = unix(source.last_change.unwrap());
        assert!((values[&series] - expected).abs() < 1e-3, "{series}");
    }

    // Histograms: _count is every reload that built a candidate (applied or rejected), the
    // buckets are cumulative and end with +Inf = _count.
    let reloads = (measured.applied + measured.rejected) as f64;
    assert_eq!(values["hotconf_reload_duration_seconds_count"], reloads);
    assert!(values["hotconf_reload_duration_seconds_sum"] > 0.0);
    for name in [
        "hotconf_reload_duration_seconds",
        "hotconf_propagation_seconds",
    ] {
        let count = values[&format!("{name}_count")];
        let buckets: Vec<f64> = values
            .iter()
            .filter(|(series, _)| series.starts_with(&format!("{name}_bucket{{")))
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(buckets.len(), hotconf_core::Histogram::BOUNDS.len() + 1);
        let inf = values[&format!("{name}_bucket{{le=\"+Inf\"}}")];
        assert_eq!(inf, count, "{name}");
        let mut cumulative: Vec<(f64, f64)> = values
            .iter()
            .filter_map(|(series, v)| {
                let le = series.strip_prefix(&format!("{name}_bucket{{le=\""))?;
                let le = le.strip_suffix("\"}")?;
                Some((
                    if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    },
                    *v,
                ))
            })
            .collect();
        cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            cumulative.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name}: {cumulative:?}"
        );
    }
    let propagated = values["hotconf_propagation_seconds_count"];
    assert!(
        propagated >= 1.0 && propagated <= measured.applied as f64,
        "{propagated}"
    );
    assert_eq!(
        propagated, measured.propagation.count as f64,
        "the propagation histogram is the reloader's"
    );

    promtool_check(&two.registry);
}

/// An optional layer whose source is absent shows as `absent`, neither up nor erroring, and
/// as `up` once its source appears.
#[tokio::test]
async fn an_absent_optional_layer_is_shown_absent() {
    let (base_p, base) = MemoryProvider::new("memory:base");
    base.set_document(
        Format::Toml,
        "name = \"base\"\nport = 5432\npassword = \"p\"\n",
    );
    let (local_p, local) = MemoryProvider::new("memory:local");
    local.fail(ErrorKind::NotFound, "no such file", true);
    let reloader = Reloader::<Cfg>::builder()
        .named_layer("base", base_p)
        .named_layer("local", local_p)
        .optional()
        .start()
        .await
        .unwrap();
    let mut registry = Registry::default();
    hotconf_metrics::register(&reloader, &mut registry);
    assert_lines(
        &encode(&registry),
        &[
            "hotconf_source_up{layer=\"local\"} 0",
            "hotconf_source_health{layer=\"local\",health=\"absent\"} 1",
            "hotconf_source_health{layer=\"local\",health=\"erroring\"} 0",
            "hotconf_source_health{layer=\"local\",health=\"waiting\"} 0",
            "hotconf_source_consecutive_failures{layer=\"local\"} 0",
            "hotconf_source_errors_total{layer=\"local\",kind=\"not_found\"} 1",
        ],
    );
    promtool_check(&registry);
    let mut events = reloader.events();
    local.set_document(Format::Json, json!({"name": "local"}).to_string());
    wait_for_event(&mut events, |e| matches!(e, Event::Applied { .. })).await;
    assert_lines(
        &encode(&registry),
        &[
            "hotconf_source_up{layer=\"local\"} 1",
            "hotconf_source_health{layer=\"local\",health=\"absent\"} 0",
        ],
    );
}

/// promtool accepts the exposition (see `promtool_check`) of a fresh reloader, of
/// one that rolled back and is pinned, and of one whose source stopped.
#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let two = start("base", "app").await;
    promtool_check(&two.registry);

    let mut events = two.reloader.events();
    two.app
        .set_document(Format::Json, json!({"name": "v2"}).to_string());
    wait_for_event(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    two.reloader.rollback(1).await.unwrap();
    two.app.fail(ErrorKind::Config, "denied", false);
    let mut stats = two.reloader.stats();
    wait_stats(&mut stats, |s| s.source_errors >= 1).await;
    let exposition = encode(&two.registry);
    assert_lines(
        &exposition,
        &[
            "hotconf_config_pinned 1",
            &format!(
                "hotconf_config_info{{origin=\"rollback\",hash=\"{:016x}\"}} 1",
                two.reloader.status().content_hash
            ),
            "hotconf_config_version 3",
            "hotconf_source_health{layer=\"app\",health=\"stopped\"} 1",
            "hotconf_source_errors_total{layer=\"app\",kind=\"config\"} 1",
        ],
    );
    promtool_check(&two.registry);
}

/// No config value reaches the exposition: not a password in the applied config, not a
/// rejected candidate's wrong-typed value, not an error message.
#[tokio::test]
async fn no_config_value_appears() {
    let two = start("base", "app").await;
    let mut events = two.reloader.events();
    two.app.set_document(
        Format::Json,
        json!({"port": "hunter3-rejected-secret"}).to_string(),
    );
    wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    two.app
        .fail(ErrorKind::Unavailable, "hunter4-in-an-error", true);
    let mut stats = two.reloader.stats();
    wait_stats(&mut stats, |s| s.source_errors >= 1).await;
    let exposition = encode(&two.registry);
    assert!(exposition.contains("hotconf_reloads_total{outcome=\"rejected\"} 1"));
    for secret in ["hunter2", "hunter3", "hunter4", "memory:"] {
        assert!(
            !exposition.contains(secret),
            "{secret} in the exposition:\n{exposition}"
        );
    }
}

/// `_sum`, `_count` and one bucket per bound plus +Inf.
const HISTOGRAM_SERIES: usize = 2 + hotconf_core::Histogram::BOUNDS.len() + 1;

/// One change or error of `layer`: applied, rejected (wrong type), unparsable, unavailable.
fn step(layer: &MemoryHandle, i: u64) {
    match i % 4 {
        0 => set(layer, json!({"name": format!("n{i}")})),
        1 => set(layer, json!({"port": format!("p{i}")})),
        2 => {
            layer.set_document(Format::Json, format!("{{not json {i}"));
        }
        _ => layer.fail(ErrorKind::Unavailable, format!("down {i}"), true),
    }
}

fn set(layer: &MemoryHandle, value: serde_json::Value) {
    layer.set_document(Format::Json, value.to_string());
}

/// Waits until the reloader handled one more change or error than in `seen`.
async fn wait_handled(stats: &mut Subscription<Stats>, seen: Stats) {
    let total = |s: &Stats| s.applied + s.rejected + s.unchanged + s.source_errors;
    wait_stats(stats, |s| total(s) > total(&seen)).await;
}

/// The series of two layers: a fixed set per layer (plus one per error kind it had) and a
/// fixed set for the config; 100 more changes and errors add none.
#[tokio::test]
async fn the_number_of_series_is_bounded() {
    let two = start("base", "app").await;
    let mut stats = two.reloader.stats();
    let series = |registry: &Registry| samples(&encode(registry)).len();

    // One round of everything that can happen to each layer.
    for (layer, i) in [(&two.app, 0), (&two.base, 0)]
        .into_iter()
        .flat_map(|(layer, _)| (0..4).map(move |i| (layer, i)))
    {
        let seen = *stats.borrow();
        step(layer, i);
        wait_handled(&mut stats, seen).await;
    }
    let warm = series(&two.registry);
    let per_layer = 1 + 5 + 1 + 1; // up, health × 5, last change, consecutive failures
    let kinds = 3; // parse, type (a wrong-typed value names its layer), unavailable
                   // reloads × 4, last-good file × 2, config gauges × 5, config info, instance info
    let config = 4 + 2 + 5 + 1 + 1 + 2 * HISTOGRAM_SERIES;
    assert_eq!(
        warm,
        2 * (per_layer + kinds) + config,
        "{}",
        encode(&two.registry)
    );

    let before = *stats.borrow();
    for i in 0..100u64 {
        let layer = if i % 2 == 0 { &two.app } else { &two.base };
        let seen = *stats.borrow();
        step(layer, i / 2 + 4);
        wait_handled(&mut stats, seen).await;
    }
    let after = *stats.borrow();
    let total = |s: &Stats| s.applied + s.rejected + s.unchanged + s.source_errors;
    assert!(total(&after) - total(&before) >= 100, "{after:?}");
    assert_eq!(series(&two.registry), warm, "{}", encode(&two.registry));
}

/// A layer name with a quote, a backslash and a newline is escaped: the exposition stays valid.
#[tokio::test]
async fn layer_names_are_escaped() {
    let two = start("base", "we\"ird\\layer\nname").await;
    two.app.fail(ErrorKind::Unavailable, "down", true);
    let mut stats = two.reloader.stats();
    wait_stats(&mut stats, |s| s.source_errors >= 1).await;
    let exposition = encode(&two.registry);
    assert_lines(
        &exposition,
        &[
            r#"hotconf_source_up{layer="we\"ird\\layer\nname"} 0"#,
            r#"hotconf_source_errors_total{layer="we\"ird\\layer\nname",kind="unavailable"} 1"#,
        ],
    );
    promtool_check(&two.registry);
}
