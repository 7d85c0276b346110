//! What metrics add to the reload path: reload throughput with a `MemoryProvider` (a small JSON
//! document per change, each awaited through a store subscription) (a) without metrics and (b)
//! with the metrics registered and a thread encoding the registry every millisecond; and the
//! encode time of one scrape with 2 and 20 layers. Prints the per-reload difference and ratio.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// A thread that encodes `registry` every millisecond until `stop`; returns how many scrapes.
fn scraper(registry: Arc<Mutex<Registry>>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut scrapes = 0;
        let mut text = String::new();
        while !stop.load(Ordering::Relaxed) {
            text.clear();
            prometheus_client::encoding::text::encode(&mut text, &registry.lock().unwrap())
                .unwrap();
            black_box(&text);
            scrapes += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        scrapes
    })
}

/// Criterion's mean estimate for `group/name`, in nanoseconds, from target/criterion.
fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn reload_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_reload_cost");

    let mut plain = setup();
    let mut changes = plain.reloader.store().subscribe();
    group.bench_function("no_registry", |b| {
        b.iter(|| reload(&mut plain, &mut changes))
    });
    drop(changes);
    drop(plain);

    let mut measured = setup();
    let mut registry = Registry::default();
    hotconf_metrics::register(&measured.reloader, &mut registry);
    let registry = Arc::new(Mutex::new(registry));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = scraper(registry, stop.clone());
    let mut changes = measured.reloader.store().subscribe();
    group.bench_function("metrics_and_scraper_1ms", |b| {
        b.iter(|| reload(&mut measured, &mut changes))
    });
    stop.store(true, Ordering::Relaxed);
    let scrapes = thread.join().unwrap();
    SCRAPES.store(scrapes, Ordering::Relaxed);
    group.finish();
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
        // Some errors of two kinds on every layer, so that the error series exist too.
        let mut stats = reloader.stats();
        for (i, handle) in handles.iter().enumerate() {
            handle.fail(hotconf_core::ErrorKind::Unavailable, "down", true);
            handle.set_document(Format::Json, format!("{{not json {i}"));
        }
        let errors = 2 * layers as u64;
        runtime
            .block_on(stats.wait_for(|s| s.source_errors + s.rejected >= errors))
            .unwrap();
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

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let started = Instant::now();
    reload_cost(&mut c);
    scrape_cost(&mut c);
    c.final_summary();

    let group = "metrics_reload_cost";
    if let (Some(plain), Some(with)) = (
        mean_ns(group, "no_registry"),
        mean_ns(group, "metrics_and_scraper_1ms"),
    ) {
        println!();
        println!("per reload, no registry:                   {plain:>10.0} ns");
        println!("per reload, metrics + scraper every 1 ms:  {with:>10.0} ns");
        println!(
            "difference:                                {:>10.0} ns",
            with - plain
        );
        println!(
            "ratio:                                     {:>10.3}",
            with / plain
        );
        println!(
            "scrapes during the measured run:           {:>10}",
            SCRAPES.load(Ordering::Relaxed)
        );
    }
    for layers in [2, 20] {
        if let Some(ns) = mean_ns("metrics_scrape", &format!("encode_{layers}_layers")) {
            println!("one scrape, {layers:>2} layers:                    {ns:>10.0} ns");
        }
    }
    println!("(run took {:?})", started.elapsed());
}
