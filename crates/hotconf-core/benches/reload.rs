//! A whole reload (parse, merge, deserialize, validate, swap, notify) of 1 KB, 100 KB and 1 MB
//! JSON configs, against `serde_json::from_str` of the same document (the floor), figment's
//! extract, the `config` crate building the same document, and dynamic-config 0.10 loading it
//! and storing it in its cell. Prints ratios at the end; then measures the 1 KB reload again
//! with the floor and every peer in alternation, round by round (see [`small`]), and hotconf's
//! reloads at 100 KB and 1 MB in alternation with the floor (see [`interleaved`]).
//!
//! hotconf's reload runs on two runtimes: a multi-thread one with one worker (`hotconf_reload`:
//! the change wakes the worker, the worker wakes the bench thread, so it includes two thread
//! wake-ups, the latency a service sees) and a current-thread one (`hotconf_reload_same_thread`:
//! the reload task runs on the bench's thread while it waits, so it is the CPU work a peer's
//! synchronous load pays, plus the validator, the swap and the notification).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use figment::providers::{Format as _, Json};
use hotconf_core::provider::Content;
use hotconf_core::{Format, MemoryProvider};

#[path = "ratio.rs"]
mod ratio;
#[path = "services.rs"]
mod services;

use services::{document, Config};

fn bench_size(c: &mut Criterion, label: &str, bytes: usize) {
    let docs: Vec<String> = (0..2).map(|v| document(bytes, v)).collect();
    let group_name = format!("reload_{label}");
    let mut group = c.benchmark_group(&group_name);
    if bytes > 50_000 {
        // Milliseconds per iteration: flat sampling keeps a run to ~20 iterations per function.
        group
            .sample_size(20)
            .sampling_mode(criterion::SamplingMode::Flat);
    }
    group.bench_function("serde_json_from_str", |b| {
        b.iter(|| black_box(serde_json::from_str::<Config>(&docs[0]).unwrap()))
    });
    group.bench_function("figment_extract", |b| {
        b.iter(|| {
            black_box(
                figment::Figment::from(Json::string(&docs[0]))
                    .extract::<Config>()
                    .unwrap(),
            )
        })
    });
    group.bench_function("config_rs_build", |b| {
        b.iter(|| {
            let built = config::Config::builder()
                .add_source(config::File::from_str(&docs[0], config::FileFormat::Json))
                .build()
                .unwrap();
            black_box(built.try_deserialize::<Config>().unwrap())
        })
    });

    let dynamic = dynamic_config::ConfigCell::new();
    group.bench_function("dynamic_config_load_store", |b| {
        b.iter(|| {
            let sources = [dynamic_config::Source::inline(
                &docs[0],
                dynamic_config::Format::Json,
            )];
            let spec = dynamic_config::LoadSpec::new("bench", &sources).with_whole_document(true);
            dynamic.store(dynamic_config::load::<Config>(&spec).unwrap());
            black_box(dynamic.load())
        })
    });

    let bytes: Vec<Arc<[u8]>> = docs.iter().map(|d| Arc::from(d.as_bytes())).collect();
    bench_reloader(&mut group, "hotconf_reload", &bytes, 1);
    let mut same_thread = Following::start(&bytes, 1, false);
    group.bench_function("hotconf_reload_same_thread", |b| {
        b.iter(|| same_thread.reload())
    });
    bench_reloader(&mut group, "hotconf_reload_two_layers", &bytes, 2);
    bench_reloader(&mut group, "hotconf_reload_five_layers", &bytes, 5);
    group.finish();
}

/// A reloader following the document alone, or among small layers that overlap it
/// ([`services::stacked`]), and the handle that changes the document.
struct Following {
    runtime: tokio::runtime::Runtime,
    reloader: hotconf_core::Reloader<Config>,
    handle: hotconf_core::MemoryHandle,
    changes: hotconf_core::Subscription<hotconf_core::Snapshot<Config>>,
    docs: Vec<Arc<[u8]>>,
    next: usize,
}

impl Following {
    /// On a multi-thread runtime with one worker (the reload task runs on the worker: two
    /// thread wake-ups per reload), or on a current-thread runtime (the reload task runs on the
    /// bench's thread inside `block_on`: no wake-up of another thread).
    fn start(docs: &[Arc<[u8]>], layers: usize, multi_thread: bool) -> Following {
        let runtime = ratio::runtime(multi_thread);
        let (provider, handle) = MemoryProvider::new("memory:bench");
        handle.set(Content::Document {
            format: Format::Json,
            bytes: docs[1].clone(),
        });
        let builder =
            services::stacked(layers, provider).validate(|c| match c.services.is_empty() {
                true => Err(hotconf_core::Error::validation("no services")),
                false => Ok(()),
            });
        let reloader = runtime.block_on(builder.start()).unwrap();
        let changes = reloader.store().subscribe();
        Following {
            runtime,
            reloader,
            handle,
            changes,
            docs: docs.to_vec(),
            next: 0,
        }
    }

    /// Applies a real change (the other variant of the document) and waits until readers see
    /// it.
    fn reload(&mut self) {
        self.handle.set(Content::Document {
            format: Format::Json,
            bytes: self.docs[self.next].clone(),
        });
        self.next = 1 - self.next;
        self.runtime.block_on(self.changes.changed()).unwrap();
    }

    /// The merged document readers see now, as JSON.
    fn merged_json(&self) -> String {
        self.reloader.store().load().merged().to_string()
    }
}

fn bench_reloader(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    docs: &[Arc<[u8]>],
    layers: usize,
) {
    let mut following = Following::start(docs, layers, true);
    group.bench_function(name, |b| b.iter(|| following.reload()));
}

/// Layer counts of the interleaved pass.
const LAYERS: [usize; 3] = [1, 2, 5];

/// The floor and hotconf's reloads at 1, 2 and 5 layers measured again in alternation, round
/// by round, so that the machine's drift (its speed changed 2x within an hour on the 2-core
/// machine these figures come from) falls on the floor and the reloads alike.
///
/// The floor is `serde_json::from_str` of the merged document the five-layer reloader serves
/// (the largest of the three, alternating between its two variants as the reloads do). A round
/// runs `per_round` iterations of each, in an order rotated every round; the ratio of a round
/// is its reload time over its floor time. Prints each one's median time and the median and
/// 10th–90th percentiles of the per-round ratios.
fn interleaved(label: &str, bytes: usize, per_round: usize) {
    let docs: Vec<Arc<[u8]>> = (0..2)
        .map(|v| Arc::from(document(bytes, v).as_bytes()))
        .collect();
    let mut reloaders: Vec<Following> = LAYERS
        .iter()
        .map(|&layers| Following::start(&docs, layers, true))
        .collect();
    let five = reloaders.last_mut().unwrap();
    let mut merged = vec![five.merged_json()];
    five.reload();
    merged.push(five.merged_json());
    let mut floor_next = 0;
    let rounds = rounds();
    // times[0] is the floor, times[1 + i] the reloader with LAYERS[i] layers; ns per iteration.
    let times = ratio::interleaved(rounds, per_round, 1 + LAYERS.len(), |which| match which {
        0 => {
            black_box(serde_json::from_str::<Config>(&merged[floor_next]).unwrap());
            floor_next = 1 - floor_next;
        }
        i => reloaders[i - 1].reload(),
    });
    println!(
        "\nreload_{label} interleaved: {rounds} rounds of {per_round} iterations each, \
         ratio to the floor per round"
    );
    let floor = median(&times[0]);
    println!("  {:<28} {:>10.3} ms", "serde_json_from_str", floor / 1e6);
    for (i, layers) in LAYERS.iter().enumerate() {
        let (ratio, p10, p90) = ratio::round_ratios(&times[1 + i], &times[0]);
        println!(
            "  {:<28} {:>10.3} ms  median {:.2}x  (p10 {:.2}x, p90 {:.2}x)",
            format!("hotconf_reload_{layers}_layers"),
            median(&times[1 + i]) / 1e6,
            ratio,
            p10,
            p90,
        );
    }
}

/// The contestants of [`small`], in the order of its table.
const SMALL: [&str; 6] = [
    "serde_json_from_str (floor)",
    "figment_extract",
    "config_rs_build",
    "dynamic_config_load_store",
    "hotconf, same thread",
    "hotconf, cross-thread",
];

/// Issue 29 item 4: the floor, every peer and hotconf's two reloads at `bytes`, measured in
/// alternation, round by round (`per_round` iterations each, the order rotated every round), so
/// that every ratio comes from the same rounds. Each contestant alternates between the
/// document's two variants, as the reloads do. hotconf "same thread" runs its reload task on a
/// current-thread runtime on the bench's thread (the CPU work, comparable to a peer's
/// synchronous load); "cross-thread" on a one-worker multi-thread runtime (the latency a reader
/// on another thread sees, two thread wake-ups included).
fn small(bytes: usize, per_round: usize) {
    let texts: Vec<String> = (0..2).map(|v| document(bytes, v)).collect();
    let docs: Vec<Arc<[u8]>> = texts.iter().map(|d| Arc::from(d.as_bytes())).collect();
    let mut same_thread = Following::start(&docs, 1, false);
    let mut cross_thread = Following::start(&docs, 1, true);
    let dynamic = dynamic_config::ConfigCell::new();
    let mut next = [0; SMALL.len()];
    let rounds = rounds();
    let times = ratio::interleaved(rounds, per_round, SMALL.len(), |which| {
        let text = &texts[next[which]];
        next[which] = 1 - next[which];
        match which {
            0 => {
                black_box(serde_json::from_str::<Config>(text).unwrap());
            }
            1 => {
                let figment = figment::Figment::from(Json::string(text));
                black_box(figment.extract::<Config>().unwrap());
            }
            2 => {
                let built = config::Config::builder()
                    .add_source(config::File::from_str(text, config::FileFormat::Json))
                    .build()
                    .unwrap();
                black_box(built.try_deserialize::<Config>().unwrap());
            }
            3 => {
                let sources = [dynamic_config::Source::inline(
                    text,
                    dynamic_config::Format::Json,
                )];
                let spec =
                    dynamic_config::LoadSpec::new("bench", &sources).with_whole_document(true);
                dynamic.store(dynamic_config::load::<Config>(&spec).unwrap());
                black_box(dynamic.load());
            }
            4 => same_thread.reload(),
            _ => cross_thread.reload(),
        }
    });
    println!(
        "\nreload_{}kb, every peer interleaved: {rounds} rounds of {per_round} iterations each, \
         ratio to the floor per round",
        bytes / 1_000
    );
    println!(
        "  {:<30} {:>9}  {:>7}  {:>15}",
        "", "median", "ratio", "(p10–p90)"
    );
    for (i, name) in SMALL.iter().enumerate() {
        let (ratio, p10, p90) = ratio::round_ratios(&times[i], &times[0]);
        println!(
            "  {name:<30} {:>6.2} µs  {ratio:>6.2}x  ({p10:.2}x–{p90:.2}x)",
            median(&times[i]) / 1e3,
        );
    }
}

/// Rounds of the interleaved pass: `HOTCONF_BENCH_ROUNDS` (at least 10), 100 by default.
fn rounds() -> usize {
    std::env::var("HOTCONF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(100)
        .max(10)
}

fn median(values: &[f64]) -> f64 {
    ratio::percentile(values, 0.5)
}

fn main() {
    // dynamic-config prints a line per store by default.
    dynamic_config::set_log_level(dynamic_config::LogLevel::Off);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let sizes = [("1kb", 1_000), ("100kb", 100_000), ("1mb", 1_000_000)];
    for (label, bytes) in sizes {
        bench_size(&mut c, label, bytes);
    }
    c.final_summary();
    for (label, _) in sizes {
        ratio::print_ratios(
            &format!("reload_{label}"),
            "serde_json_from_str",
            &[
                "serde_json_from_str",
                "hotconf_reload",
                "hotconf_reload_same_thread",
                "hotconf_reload_two_layers",
                "hotconf_reload_five_layers",
                "figment_extract",
                "config_rs_build",
                "dynamic_config_load_store",
            ],
        );
    }
    // Issue 29 item 4: 1 KB against every peer, all measured in alternation.
    small(1_000, 100);
    // Item 1's figure: 100 KB and 1 MB, measured in alternation with their floor.
    interleaved("100kb", 100_000, 8);
    interleaved("1mb", 1_000_000, 2);
}
