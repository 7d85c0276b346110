//! A small change applied: how long from `MemoryHandle::set` of a 1 KB JSON config (one
//! layer) until a reader sees the new version. Issue 16's target is ≤ 15 µs.
//!
//! Rows, each the distribution (median, p99) over `HOTCONF_BENCH_ROUNDS` rounds (default 2000):
//! - `floor: serde_json::from_str`: the parse alone, on this thread.
//! - `floor: hand-off`: the least any reloader can do. A task on the same runtime, woken by a
//!   `watch` channel, parses the document, stores it in an `ArcSwap` and sends on a second
//!   `watch`; the bench thread polls the cell (one cross-thread wake-up plus the parse) or
//!   waits on the second channel (two wake-ups).
//! - `hotconf, polling reader`: the same change through a `Reloader` (validator, swap, history,
//!   events, stats); the bench thread polls `Store::version`.
//! - `hotconf, subscriber`: the bench thread waits on `Store::subscribe` instead.
//! - `… two busy readers`: the same with two more threads looping on `CachedReader::load`.
//!
//! Run: `cargo bench -p hotconf-core --bench change_latency`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hotconf_core::provider::Content;
use hotconf_core::{Format, MemoryHandle, MemoryProvider, Reloader, Store};
use tokio::runtime::Runtime;

#[path = "services.rs"]
mod services;

use services::{document, Config};

/// The runtime a service gets from `#[tokio::main]` on this 2-core machine.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// How long a round may wait for its change before the bench fails (a lost change).
const DEADLINE: Duration = Duration::from_secs(10);

/// Spins until `done` says so; the time from `start`.
fn spin_until(start: Instant, mut done: impl FnMut() -> bool) -> Duration {
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "the change was not seen in time"
        );
        std::hint::spin_loop();
    }
    start.elapsed()
}

/// Two threads looping on a cached reader until dropped: the "busy readers".
struct BusyReaders {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<u64>>,
}

impl BusyReaders {
    fn start(store: &Store<Config>) -> BusyReaders {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..2)
            .map(|_| {
                let (stop, mut reader) = (stop.clone(), store.cached());
                thread::spawn(move || {
                    let mut loads = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(reader.load().services.len());
                        loads += 1;
                    }
                    loads
                })
            })
            .collect();
        BusyReaders { stop, threads }
    }
}

impl Drop for BusyReaders {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// `set` then wait: the latency of each round, after a tenth as many warm-up rounds. Round `n`
/// sets document `n % 2`, counting on from the warm-up, so every round is a real change.
fn measure(rounds: usize, mut round: impl FnMut(usize) -> Duration) -> Vec<Duration> {
    let warm_up = rounds / 10;
    for n in 0..warm_up {
        round(n);
    }
    (warm_up..warm_up + rounds).map(&mut round).collect()
}

/// The parse alone (each round the mean of 100, as one is near the clock's resolution).
fn parse_floor(docs: &[Arc<[u8]>], rounds: usize) -> Vec<Duration> {
    measure(rounds, |i| {
        let start = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(serde_json::from_slice::<Config>(&docs[i % 2]).expect("valid"));
        }
        start.elapsed() / 100
    })
}

/// A task woken by a `watch` channel parses, stores and notifies; this thread polls the cell
/// or, with `subscriber`, waits for the notification.
fn hand_off_floor(docs: &[Arc<[u8]>], rounds: usize, subscriber: bool) -> Vec<Duration> {
    let runtime = runtime();
    let (sender, mut receiver) = tokio::sync::watch::channel(docs[1].clone());
    let (notify, mut notified) = tokio::sync::watch::channel(0usize);
    let first = serde_json::from_slice::<Config>(&docs[1]).expect("valid");
    let cell = Arc::new(ArcSwap::from_pointee((0usize, first)));
    let writer = cell.clone();
    runtime.spawn(async move {
        let mut version = 0;
        while receiver.changed().await.is_ok() {
            let bytes = receiver.borrow_and_update().clone();
            version += 1;
            let config = serde_json::from_slice::<Config>(&bytes).expect("valid");
            writer.store(Arc::new((version, config)));
            notify.send_replace(version);
        }
    });
    measure(rounds, |i| {
        let before = cell.load().0;
        let start = Instant::now();
        sender.send_replace(docs[i % 2].clone());
        if subscriber {
            let seen = runtime
                .block_on(async { tokio::time::timeout(DEADLINE, notified.changed()).await });
            seen.expect("seen within the deadline")
                .expect("the task runs");
            start.elapsed()
        } else {
            spin_until(start, || cell.load().0 != before)
        }
    })
}

/// A reloader following one memory layer, and its handle.
fn reloader(runtime: &Runtime, docs: &[Arc<[u8]>]) -> (Reloader<Config>, MemoryHandle) {
    let (provider, handle) = MemoryProvider::new("memory:bench");
    set(&handle, &docs[1]);
    let builder =
        Reloader::<Config>::builder()
            .layer(provider)
            .validate(|c| match c.services.is_empty() {
                true => Err(hotconf_core::Error::validation("no services")),
                false => Ok(()),
            });
    let reloader = runtime.block_on(builder.start()).expect("starts");
    (reloader, handle)
}

fn set(handle: &MemoryHandle, bytes: &Arc<[u8]>) {
    handle.set(Content::Document {
        format: Format::Json,
        bytes: bytes.clone(),
    });
}

/// Through a reloader; the bench thread polls the store's version.
fn hotconf_polling(docs: &[Arc<[u8]>], rounds: usize, busy: bool) -> Vec<Duration> {
    let runtime = runtime();
    let (reloader, handle) = reloader(&runtime, docs);
    let store = reloader.store();
    let _busy = busy.then(|| BusyReaders::start(&store));
    measure(rounds, |i| {
        let before = store.version();
        let start = Instant::now();
        set(&handle, &docs[i % 2]);
        spin_until(start, || store.version() != before)
    })
}

/// Through a reloader; the bench thread waits on a subscription.
fn hotconf_subscriber(docs: &[Arc<[u8]>], rounds: usize, busy: bool) -> Vec<Duration> {
    let runtime = runtime();
    let (reloader, handle) = reloader(&runtime, docs);
    let store = reloader.store();
    let _busy = busy.then(|| BusyReaders::start(&store));
    let mut changes = store.subscribe();
    measure(rounds, |i| {
        let start = Instant::now();
        set(&handle, &docs[i % 2]);
        let seen =
            runtime.block_on(async { tokio::time::timeout(DEADLINE, changes.changed()).await });
        seen.expect("seen within the deadline")
            .expect("the reloader runs");
        start.elapsed()
    })
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank]
}

fn main() {
    let rounds: usize = std::env::var("HOTCONF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let docs: Vec<Arc<[u8]>> = (0..2)
        .map(|v| Arc::from(document(1_000, v).into_bytes()))
        .collect();
    println!(
        "change_latency: 1 KB ({} bytes), one memory layer, {rounds} rounds",
        docs[0].len()
    );
    let mut floor = parse_floor(&docs, rounds);
    let floor = percentile(&mut floor, 0.5);
    let floor_busy = |subscriber| {
        let store = Store::new(serde_json::from_slice::<Config>(&docs[0]).expect("valid"));
        let _busy = BusyReaders::start(&store);
        hand_off_floor(&docs, rounds, subscriber)
    };
    let rows: [(&str, Vec<Duration>); 8] = [
        (
            "floor: hand-off, polling reader",
            hand_off_floor(&docs, rounds, false),
        ),
        (
            "hotconf, polling reader",
            hotconf_polling(&docs, rounds, false),
        ),
        (
            "floor: hand-off, subscriber",
            hand_off_floor(&docs, rounds, true),
        ),
        (
            "hotconf, subscriber",
            hotconf_subscriber(&docs, rounds, false),
        ),
        (
            "floor: hand-off, polling, two busy readers",
            floor_busy(false),
        ),
        (
            "hotconf, polling reader, two busy readers",
            hotconf_polling(&docs, rounds, true),
        ),
        (
            "floor: hand-off, subscriber, two busy readers",
            floor_busy(true),
        ),
        (
            "hotconf, subscriber, two busy readers",
            hotconf_subscriber(&docs, rounds, true),
        ),
    ];
    println!("  {:<46} {:>10} {:>10}", "", "median", "p99");
    println!(
        "  {:<46} {:>10.2?} {:>10}",
        "floor: serde_json::from_slice", floor, ""
    );
    for (name, mut samples) in rows {
        let median = percentile(&mut samples, 0.5);
        let p99 = percentile(&mut samples, 0.99);
        println!("  {name:<46} {median:>10.2?} {p99:>10.2?}");
    }
}
