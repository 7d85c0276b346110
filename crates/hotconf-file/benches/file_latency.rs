//! File change → applied: hotconf against the raw notify event (the floor), hotswap-config 0.2
//! (notify + arc-swap + validation) and dynamic-config 0.10 (notify + config-rs + arc-swap), all
//! in one run, on the same directory. Also measures
//! how long the events of one save keep arriving, which is what the debounce must cover.
//!
//! Run: `cargo bench -p hotconf-file --bench file_latency`

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hotconf_core::Reloader;
use hotconf_file::{FileProvider, DEFAULT_DEBOUNCE};
use hotconf_testkit::latency::report;
use notify::{RecursiveMode, Watcher};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)] // read by deserialization
struct Config {
    name: String,
    port: u16,
}

/// Rounds per measurement: `HOTCONF_BENCH_ROUNDS`, or 60.
static ROUNDS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| hotconf_testkit::latency::rounds(60));

fn doc(i: usize) -> String {
    format!("{{\"name\": \"round-{i}\", \"port\": {}}}", 1000 + i % 1000)
}

/// A save as editors do it: write a temporary file, rename it over the target.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The raw notify event for the rename onto the target.
fn raw_notify(dir: &Path, path: &Path, rounds: usize) -> Vec<Duration> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).unwrap();
    watcher.watch(dir, RecursiveMode::NonRecursive).unwrap();
    let target = path.to_path_buf();
    (0..rounds)
        .map(|i| {
            while rx.try_recv().is_ok() {}
            let start = Instant::now();
            save(path, &doc(i));
            loop {
                let event = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
                if event.paths.contains(&target)
                    && !matches!(event.kind, notify::EventKind::Access(_))
                {
                    return start.elapsed();
                }
            }
        })
        .collect()
}

fn hotconf(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    debounce: Duration,
    rounds: usize,
) -> Vec<Duration> {
    save(path, &doc(usize::MAX / 2));
    let provider = FileProvider::new(path).debounce(debounce);
    let reloader = runtime
        .block_on(Reloader::<Config>::builder().layer(provider).start())
        .unwrap();
    let mut changes = reloader.store().subscribe();
    (0..rounds)
        .map(|i| {
            changes.borrow_and_update();
            let start = Instant::now();
            save(path, &doc(i));
            runtime.block_on(changes.changed()).unwrap();
            start.elapsed()
        })
        .collect()
}

/// hotswap-config's reload latency, for saves made by `write`. `None` when it missed a save.
fn hotswap(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    debounce: Option<Duration>,
    rounds: usize,
    write: fn(&Path, &str),
) -> Option<Vec<Duration>> {
    std::fs::write(path, doc(usize::MAX / 2)).unwrap();
    let (tx, rx) = mpsc::channel();
    let config = runtime.block_on(async {
        let mut builder = hotswap_config::prelude::HotswapConfig::builder()
            .with_file(path)
            .with_file_watch(true);
        if let Some(debounce) = debounce {
            builder = builder.with_watch_debounce(debounce);
        }
        let config = builder.build::<Config>().await.unwrap();
        let handle = config
            .subscribe(move || tx.send(Instant::now()).unwrap())
            .await;
        std::mem::forget(handle); // keep the subscription for the whole run
        config
    });
    let samples = (0..rounds)
        .map(|i| {
            while rx.try_recv().is_ok() {}
            let start = Instant::now();
            write(path, &doc(i));
            let seen = rx.recv_timeout(Duration::from_secs(3)).ok()?;
            Some(seen - start)
        })
        .collect();
    drop(config);
    samples
}

/// dynamic-config's reload latency for rename saves, with its watch `debounce` and atomic-save
/// `grace` (the pause it adds before reading). `None` when it missed a save.
fn dynamic_config(
    path: &Path,
    debounce: Duration,
    grace: Duration,
    rounds: usize,
) -> Option<Vec<Duration>> {
    save(path, &doc(usize::MAX / 2));
    let config = dynamic_config::Dynamic::<Config>::new(
        dynamic_config::Builder::new("bench")
            .whole_document()
            .file(path.to_str().unwrap()),
    );
    config.init_and_current().unwrap();
    let (tx, rx) = mpsc::channel();
    config.on_reload(move |_, _| {
        let _ = tx.send(Instant::now());
    });
    let options = dynamic_config::WatchOptions::new(debounce).atomic_save_grace(grace);
    let _watch = config.watch(options).unwrap();
    (0..rounds)
        .map(|i| {
            while rx.try_recv().is_ok() {}
            let start = Instant::now();
            save(path, &doc(i));
            let seen = rx.recv_timeout(Duration::from_secs(3)).ok()?;
            Some(seen - start)
        })
        .collect()
}

fn write_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// How long the events of one save keep coming: the first to the last event within 200 ms.
fn event_spread(dir: &Path, rounds: usize, act: impl Fn(usize)) -> Vec<Duration> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).unwrap();
    watcher.watch(dir, RecursiveMode::NonRecursive).unwrap();
    (0..rounds)
        .map(|i| {
            while rx.try_recv().is_ok() {}
            act(i);
            let first = loop {
                let event = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
                if !matches!(event.kind, notify::EventKind::Access(_)) {
                    break Instant::now();
                }
            };
            let mut last = first;
            while let Ok(event) = rx.recv_timeout(Duration::from_millis(200)) {
                if !matches!(event.unwrap().kind, notify::EventKind::Access(_)) {
                    last = Instant::now();
                }
            }
            last - first
        })
        .collect()
}

fn kubelet_swap(dir: &Path, i: usize) {
    let old = std::fs::read_link(dir.join("..data")).ok();
    let ts = PathBuf::from(format!("..ts{i}"));
    std::fs::create_dir(dir.join(&ts)).unwrap();
    std::fs::write(dir.join(&ts).join("app.json"), doc(i)).unwrap();
    if std::fs::symlink_metadata(dir.join("app.json")).is_err() {
        std::os::unix::fs::symlink("..data/app.json", dir.join("app.json")).unwrap();
    }
    std::os::unix::fs::symlink(&ts, dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    if let Some(old) = old {
        std::fs::remove_dir_all(dir.join(old)).unwrap();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    save(&path, &doc(0));

    println!(
        "\nwrite + rename -> applied ({} rounds each; JSON config, loopback tmpfs-like disk)",
        *ROUNDS
    );
    let raw = report(
        "raw notify event (floor)",
        raw_notify(dir.path(), &path, *ROUNDS),
        None,
    );
    report(
        &format!(
            "hotconf, default debounce ({} ms)",
            DEFAULT_DEBOUNCE.as_millis()
        ),
        hotconf(&runtime, &path, DEFAULT_DEBOUNCE, *ROUNDS),
        Some(raw),
    );
    report(
        "hotconf, debounce 0",
        hotconf(&runtime, &path, Duration::ZERO, *ROUNDS),
        Some(raw),
    );
    type Run = (&'static str, Option<Duration>, usize, fn(&Path, &str));
    let hotswap_runs: [Run; 3] = [
        ("hotswap-config 0.2, rename saves", None, 3, save),
        (
            "hotswap-config 0.2, in-place writes, 500 ms",
            None,
            20,
            write_in_place,
        ),
        (
            "hotswap-config 0.2, in-place writes, 20 ms",
            Some(Duration::from_millis(20)),
            *ROUNDS,
            write_in_place,
        ),
    ];
    for (name, debounce, rounds, write) in hotswap_runs {
        // Its rename-save miss (3 s per round) and its 500 ms debounce are known: --short
        // keeps only the 20 ms row.
        if hotconf_testkit::latency::short() && debounce.is_none() {
            println!("  {name:<44} skipped by --short");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        match hotswap(
            &runtime,
            &dir.path().join("app.json"),
            debounce,
            rounds,
            write,
        ) {
            Some(samples) => {
                report(name, samples, Some(raw));
            }
            None => println!("  {name:<44} missed the change (no reload within 3 s)"),
        }
    }

    dynamic_config::set_log_level(dynamic_config::LogLevel::Off);
    let dynamic_runs = [
        ("dynamic-config 0.10, 20 ms debounce, 25 ms grace", 20, 25),
        ("dynamic-config 0.10, 20 ms debounce, no grace", 20, 0),
    ];
    for (name, debounce, grace) in dynamic_runs {
        let dir = tempfile::tempdir().unwrap();
        let (debounce, grace) = (
            Duration::from_millis(debounce),
            Duration::from_millis(grace),
        );
        match dynamic_config(&dir.path().join("app.json"), debounce, grace, *ROUNDS) {
            Some(samples) => {
                report(name, samples, Some(raw));
            }
            None => println!("  {name:<44} missed the change (no reload within 3 s)"),
        }
    }

    println!("\nhow long one save's events keep arriving (what the debounce must cover)");
    report(
        "write + rename",
        event_spread(dir.path(), *ROUNDS, |i| save(&path, &doc(i))),
        None,
    );
    let vim = |i: usize| {
        std::fs::write(dir.path().join("4913"), "").unwrap();
        std::fs::remove_file(dir.path().join("4913")).unwrap();
        std::fs::rename(&path, dir.path().join("app.json~")).unwrap();
        std::fs::write(&path, doc(i)).unwrap();
        std::fs::remove_file(dir.path().join("app.json~")).unwrap();
    };
    report(
        "vim (probe, backup rename, write, delete)",
        event_spread(dir.path(), *ROUNDS, vim),
        None,
    );
    let cm = tempfile::tempdir().unwrap();
    report(
        "kubelet AtomicWriter swap",
        event_spread(cm.path(), *ROUNDS, |i| kubelet_swap(cm.path(), i)),
        None,
    );
}
