//! What metrics add to the reload path: reload throughput with a `MemoryProvider` (a small JSON
//! document per change, each awaited through a store subscription) (a) without metrics and (b)
//! with the metrics registered and a thread encoding the registry every millisecond; and the
//! encode time of one scrape with 2 and 20 layers. Prints the per-reload difference and ratio.
//!
//! The reload path runs no metrics code (the collector only reads at scrape time), so (b) - (a)
//! is the CPU and lock time a 1 kHz scraper thread takes from the reloader. Two controls split
//! it: the metrics registered but never scraped, and a thread encoding an empty registry every
//! millisecond. A last pass measures all of them in alternation (and (a) twice), since on a
//! small shared machine the drift between two criterion runs is larger than 1 µs.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hotconf_core::{Format, MemoryHandle, MemoryProvider, Reloader};
use prometheus_client::registry::Registry;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by deserialization, which is part of the reload measured
struct Config {
    name: String,
    port: u16,
    tags: Vec<String>,
}

fn document(n: u64) -> String {
    format!(
        r#"{{"name": "svc", "port": {}, "tags": ["a", "b"]}}"#,
        1000 + n % 50_000
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    reloader: Reloader<Config>,
    handle: MemoryHandle,
    next: u64,
}

fn setup() -> Setup {
    let runtime = runtime();
    let (provider, handle) = MemoryProvider::new("memory:bench");
    handle.set_document(Format::Json, document(0));
    let reloader = runtime
        .block_on(Reloader::<Config>::builder().layer(provider).start())
        .unwrap();
    Setup {
        runtime,
        reloader,
        handle,
        next: 1,
    }
}

/// One reload: a new document, then wait until readers get its version.
fn reload(
    setup: &mut Setup,
    changes: &mut hotconf_core::Subscription<hotconf_core::Snapshot<Config>>,
) {
    let store = setup.reloader.store();
    let target = store.version() + 1;
    setup
        .handle
        .set_document(Format::Json, document(setup.next));
    setup.next += 1;
    setup.runtime.block_on(async {
        while store.version() < target {
            changes.changed().await.unwrap();
        }
    });
}

/// Criterion's mean estimate for `group/name`, in nanoseconds, from target/criterion.
fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        // Criterion writes into the workspace's target directory; benches run in the crate's.
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

/// Reload throughput of `setup`, with `scrape` (if any) called every millisecond by another
/// thread while criterion measures; returns how many scrapes ran.
fn measure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut setup: Setup,
    scrape: Option<Box<dyn FnMut() + Send>>,
) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = scrape.map(|mut scrape| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut scrapes = 0;
            while !stop.load(Ordering::Relaxed) {
                scrape();
                scrapes += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            scrapes
        })
    });
    let mut changes = setup.reloader.store().subscribe();
    group.bench_function(name, |b| b.iter(|| reload(&mut setup, &mut changes)));
    stop.store(true, Ordering::Relaxed);
    thread.map_or(0, |t| t.join().unwrap())
}

/// A scrape: the registry encoded in the OpenMetrics text format.
fn scrape_of(registry: Registry) -> Box<dyn FnMut() + Send> {
    let mut text = String::new();
    Box::new(move || {
        text.clear();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        black_box(&text);
    })
}

fn reload_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_reload_cost");
    // (a) no registry at all.
    measure(&mut group, "no_registry", setup(), None);
    // (b) the metrics registered, and a thread encoding the registry every millisecond.
    let measured = setup();
    let mut registry = Registry::default();
    hotconf_metrics::register(&measured.reloader, &mut registry);
    let scrapes = measure(
        &mut group,
        "metrics_and_scraper_1ms",
        measured,
        Some(scrape_of(registry)),
    );
    SCRAPES.store(scrapes, Ordering::Relaxed);
    // Controls that split (b) - (a): the metrics registered but never scraped (what the
    // reload path itself pays), and a thread encoding an empty registry every millisecond (the
    // CPU a 1 kHz scraper thread takes from the reloader on a small machine, metrics or not).
    let registered = setup();
    let mut registry = Registry::default();
    hotconf_metrics::register(&registered.reloader, &mut registry);
    measure(&mut group, "metrics_no_scraper", registered, None);
    measure(
        &mut group,
        "empty_registry_scraper_1ms",
        setup(),
        Some(scrape_of(Registry::default())),
    );
    group.finish();
}

/// The four configurations of `reload_cost` (and (a) once more, set up last: a control of the
/// order) measured again in alternation: `ROUNDS` rounds of
/// `PER_ROUND` reloads each, so that the load of the rest of the machine drifts over all of them
/// alike. Returns each one's median per-reload time in nanoseconds.
fn interleaved() -> [(&'static str, f64); 5] {
    const ROUNDS: usize = 30;
    const PER_ROUND: u32 = 2_000;
    let names = [
        "no_registry",
        "metrics_and_scraper_1ms",
        "metrics_no_scraper",
        "empty_registry_scraper_1ms",
        "no_registry_again",
    ];
    let mut setups: Vec<(Setup, Option<Registry>)> = Vec::new();
    for name in names {
        let setup = setup();
        let registry = match name {
            "no_registry" | "no_registry_again" => None,
            "empty_registry_scraper_1ms" => Some(Registry::default()),
            _ => {
                let mut registry = Registry::default();
                hotconf_metrics::register(&setup.reloader, &mut registry);
                Some(registry)
            }
        };
        setups.push((setup, registry));
    }
    let registries: Vec<Option<Arc<Registry>>> = setups
        .iter_mut()
        .map(|(_, registry)| registry.take().map(Arc::new))
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..ROUNDS {
        for (i, (setup, _)) in setups.iter_mut().enumerate() {
            let scraped = names[i].contains("scraper");
            let stop = Arc::new(AtomicBool::new(false));
            let thread = registries[i].clone().filter(|_| scraped).map(|registry| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut text = String::new();
                    while !stop.load(Ordering::Relaxed) {
                        text.clear();
                        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
                        black_box(&text);
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            });
            let mut changes = setup.reloader.store().subscribe();
            let started = Instant::now();
            for _ in 0..PER_ROUND {
                reload(setup, &mut changes);
            }
            times[i].push(started.elapsed().as_nanos() as f64 / f64::from(PER_ROUND));
            stop.store(true, Ordering::Relaxed);
            if let Some(thread) = thread {
                thread.join().unwrap();
            }
        }
    }
    let mut medians = [("", 0.0); 5];
    for (i, mut t) in times.into_iter().enumerate() {
        t.sort_by(f64::total_cmp);
        medians[i] = (names[i], t[t.len() / 2]);
    }
    medians
}

static SCRAPES: AtomicU64 = AtomicU64::new(0);

fn scrape_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_scrape");
    for layers in [2usize, 20] {
        let runtime = runtime();
        let mut builder = Reloader::<serde_json::Value>::builder();
        let mut handles = Vec::new();
        for i in 0..layers {
            let (provider, handle) = MemoryProvider::new(format!("memory:layer{i}"));
            handle.set_document(Format::Json, format!(r#"{{"k{i}": {i}}}"#));
            builder = builder.named_layer(format!("layer-{i}"), provider);
            handles.push(handle);
        }
        let reloader = runtime.block_on(builder.start()).unwrap();
        // An error of two kinds on every layer, so that the error series exist too; each one
        // awaited (a later state would replace an error not yet taken).
        let mut stats = reloader.stats();
        for (i, handle) in handles.iter().enumerate() {
            let seen = *stats.borrow();
            handle.fail(hotconf_core::ErrorKind::Unavailable, "down", true);
            runtime
                .block_on(stats.wait_for(|s| s.source_errors > seen.source_errors))
                .unwrap();
            handle.set_document(Format::Json, format!("{{not json {i}"));
            runtime
                .block_on(stats.wait_for(|s| s.rejected > seen.rejected))
                .unwrap();
        }
        let mut registry = Registry::default();
        hotconf_metrics::register(&reloader, &mut registry);
        let mut text = String::with_capacity(64 * 1024);
        group.bench_function(format!("encode_{layers}_layers"), |b| {
            b.iter(|| {
                text.clear();
                prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
                black_box(text.len())
            })
        });
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        println!(
            "{layers} layers: {series} series, {} bytes per scrape",
            text.len()
        );
        drop(reloader);
    }
    group.finish();
}

/// What the core does on each reload so that metrics and the status can be read at scrape
/// time, replicated with the same calls: two `Instant::now`, two histogram records inside the
/// counters' lock, the status board's lock for the accepted and changed sources with a
/// `SystemTime::now`, and the reload span with its three recorded fields (no subscriber, as in
/// an application without tracing). Returns ns per reload.
fn bookkeeping_ns() -> f64 {
    use hotconf_core::Stats;
    use std::sync::Mutex;
    let stats = Mutex::new(Stats::default());
    let board = Mutex::new(vec![(0u64, None::<std::time::SystemTime>); 2]);
    let rounds = 1_000_000u32;
    let started = Instant::now();
    for i in 0..rounds {
        let span = tracing::info_span!(
            "reload",
            layers = "memory-0",
            version = tracing::field::Empty,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let begun = Instant::now();
        let took = black_box(begun).elapsed();
        {
            let mut board = board.lock().unwrap();
            board[0].0 = 0;
            board[0].1 = Some(std::time::SystemTime::now());
        }
        span.record("version", u64::from(i));
        span.record("outcome", "applied");
        span.record("duration_us", took.as_micros() as u64);
        let mut stats = stats.lock().unwrap();
        stats.reload_duration.record(took);
        stats.propagation.record(took + Duration::from_nanos(1));
    }
    black_box(&stats);
    started.elapsed().as_nanos() as f64 / f64::from(rounds)
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let started = Instant::now();
    reload_cost(&mut c);
    scrape_cost(&mut c);
    c.final_summary();

    let group = "metrics_reload_cost";
    let mean = |name: &str| mean_ns(group, name).unwrap_or(f64::NAN);
    let plain = mean("no_registry");
    let with = mean("metrics_and_scraper_1ms");
    let registered = mean("metrics_no_scraper");
    let control = mean("empty_registry_scraper_1ms");
    println!();
    println!("per reload, (a) no registry:                        {plain:>9.0} ns");
    println!("per reload, (b) metrics + scraper every 1 ms:       {with:>9.0} ns");
    println!(
        "  (b) - (a): {:.0} ns, ratio {:.3} ({} scrapes during (b))",
        with - plain,
        with / plain,
        SCRAPES.load(Ordering::Relaxed)
    );
    println!("per reload, metrics registered, no scraper:         {registered:>9.0} ns");
    println!(
        "  - (a): {:.0} ns, ratio {:.3} (what the reload path pays)",
        registered - plain,
        registered / plain
    );
    println!("per reload, empty registry scraped every 1 ms:      {control:>9.0} ns");
    println!(
        "  (b) - this: {:.0} ns, ratio {:.3} (metrics vs a scraper of nothing)",
        with - control,
        with / control
    );
    let bookkeeping = bookkeeping_ns();
    println!(
        "core bookkeeping per reload (histograms, status board, span): {bookkeeping:.0} ns, {:.1}% of (a)",
        100.0 * bookkeeping / plain
    );
    let medians = interleaved();
    println!();
    println!("interleaved (30 rounds x 2000 reloads, median of the rounds):");
    for (name, ns) in medians {
        println!("  {name:<28} {ns:>9.0} ns per reload");
    }
    let (a, b, registered, control) = (medians[0].1, medians[1].1, medians[2].1, medians[3].1);
    println!("  (b) - (a): {:.0} ns, ratio {:.3}", b - a, b / a);
    println!(
        "  registered, no scraper - (a): {:.0} ns, ratio {:.3}",
        registered - a,
        registered / a
    );
    println!(
        "  (b) - empty registry scraped: {:.0} ns, ratio {:.3}",
        b - control,
        b / control
    );
    for layers in [2, 20] {
        if let Some(ns) = mean_ns("metrics_scrape", &format!("encode_{layers}_layers")) {
            println!("one scrape, {layers:>2} layers:                    {ns:>10.0} ns");
        }
    }
    println!("(run took {:?})", started.elapsed());
}
