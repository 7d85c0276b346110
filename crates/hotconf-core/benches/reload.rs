//! A whole reload (parse, merge, deserialize, validate, swap, notify) of 1 KB, 100 KB and 1 MB
//! JSON configs, against `serde_json::from_str` of the same document (the floor), figment's
//! extract, the `config` crate building the same document, and dynamic-config 0.10 loading it
//! and storing it in its cell. Prints ratios at the end.

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
    bench_reloader(&mut group, "hotconf_reload_two_layers", &bytes, 2);
    bench_reloader(&mut group, "hotconf_reload_five_layers", &bytes, 5);
    group.finish();
}

/// A reloader following the document alone, or among small layers that overlap it
/// ([`services::stacked`]). Every iteration applies a real change and waits until readers see
/// it.
fn bench_reloader(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    docs: &[Arc<[u8]>],
    layers: usize,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (provider, handle) = MemoryProvider::new("memory:bench");
    handle.set(Content::Document {
        format: Format::Json,
        bytes: docs[1].clone(),
    });
    let builder = services::stacked(layers, provider).validate(|c| match c.services.is_empty() {
        true => Err(hotconf_core::Error::validation("no services")),
        false => Ok(()),
    });
    let reloader = runtime.block_on(builder.start()).unwrap();
    let store = reloader.store();
    let mut changes = store.subscribe();
    let mut next = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            handle.set(Content::Document {
                format: Format::Json,
                bytes: docs[next].clone(),
            });
            next = 1 - next;
            runtime.block_on(changes.changed()).unwrap();
        })
    });
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
                "hotconf_reload_two_layers",
                "hotconf_reload_five_layers",
                "figment_extract",
                "config_rs_build",
                "dynamic_config_load_store",
            ],
        );
    }
}
