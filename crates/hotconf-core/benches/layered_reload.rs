//! A change to one layer among N (issue 29 item 1): a reloader follows N key-space layers of
//! 10 keys each (`s0007/k3 = 42`, typed, as from an etcd or Consul prefix per source: the shape
//! of `etcd_scale`), one value of the middle layer changes, and the bench waits on a
//! subscription until readers see it. Two reloaders: on a multi-thread runtime with one worker
//! (as the `reload` bench: the change wakes the worker, the worker wakes the bench), and on a
//! current-thread runtime (the reload runs on the bench's thread: the engine's own cost, no
//! wake-up of another thread).
//!
//! Both are measured in alternation with the floor, round by round, in an order rotated every
//! round: the floor is `serde_json::from_str` of the merged document into the same typed config
//! (the floor the single-layer reload bench uses), alternating between the document's two
//! variants as the reloads do. Prints, per N, each one's median time and the median and
//! 10th–90th percentiles of the per-round ratios.
//!
//! Run: `cargo bench -p hotconf-core --bench layered_reload` (`HOTCONF_BENCH_ROUNDS`, 100 by
//! default, 30 with `HOTCONF_BENCH_SHORT=1`; `HOTCONF_BENCH_LAYERS=1000`: one N only).

#[path = "ratio.rs"]
mod ratio;

use std::collections::BTreeMap;
use std::hint::black_box;

use hotconf_core::provider::Content;
use hotconf_core::{MemoryHandle, MemoryProvider, Reloader, Snapshot, Subscription};

/// The typed config: every layer's keys, by layer.
type Config = BTreeMap<String, BTreeMap<String, u64>>;

/// Keys per layer.
const KEYS: usize = 10;

/// Layer counts.
const LAYERS: [usize; 3] = [10, 100, 1_000];

/// Layer `layer`'s entries; `variant` changes its first value.
fn entries(layer: usize, variant: u64) -> Vec<(String, String)> {
    (0..KEYS)
        .map(|k| {
            let value = match k {
                0 => 1_000_000 + variant,
                _ => (layer * KEYS + k) as u64 * 7_919 % 1_000_003,
            };
            (format!("s{layer:04}/k{k}"), value.to_string())
        })
        .collect()
}

fn keys(entries: Vec<(String, String)>) -> Content {
    Content::Keys {
        separator: '/',
        entries,
        typed: true,
    }
}

/// A reloader over `n` layers, and the handle of the one that changes.
struct Following {
    runtime: tokio::runtime::Runtime,
    reloader: Reloader<Config>,
    handle: MemoryHandle,
    changes: Subscription<Snapshot<Config>>,
    /// The changed layer's two variants.
    contents: [Content; 2],
    next: usize,
}

impl Following {
    /// On a multi-thread runtime with one worker (as the `reload` bench), or on a
    /// current-thread runtime, where the reload runs on the bench's thread while it waits (no
    /// wake-up of another thread: the engine's own cost); with a restart-required key (one the
    /// changes do not touch) or none.
    fn start(n: usize, multi_thread: bool, restart_required: bool) -> Following {
        let runtime = ratio::runtime(multi_thread);
        let changed = n / 2;
        let mut builder = Reloader::<Config>::builder();
        if restart_required {
            builder = builder.restart_required("s0000.k1");
        }
        let mut handles = Vec::new();
        for layer in 0..n {
            let (provider, handle) = MemoryProvider::new(format!("memory:layer-{layer}"));
            handle.set(keys(entries(layer, 0)));
            builder = builder.layer(provider);
            handles.push(handle);
        }
        let reloader = runtime.block_on(builder.start()).unwrap();
        let changes = reloader.store().subscribe();
        Following {
            runtime,
            reloader,
            handle: handles.swap_remove(changed),
            changes,
            contents: [0, 1].map(|variant| keys(entries(changed, variant))),
            next: 1,
        }
    }

    /// Changes one value of the middle layer and waits until readers see it (on a
    /// subscription, as the `reload` bench does).
    fn reload(&mut self) {
        self.handle.set(self.contents[self.next].clone());
        self.next = 1 - self.next;
        self.runtime.block_on(self.changes.changed()).unwrap();
    }
}

/// The merged document of `n` layers with the middle one at `variant`, as JSON.
fn merged(n: usize, variant: u64) -> String {
    let mut config = Config::new();
    for layer in 0..n {
        let variant = if layer == n / 2 { variant } else { 0 };
        for (key, value) in entries(layer, variant) {
            let (layer, key) = key.split_once('/').unwrap();
            config
                .entry(layer.to_string())
                .or_default()
                .insert(key.to_string(), value.parse().unwrap());
        }
    }
    serde_json::to_string(&config).unwrap()
}

fn measure(n: usize, rounds: usize) {
    let mut following = [
        Following::start(n, true, false),
        Following::start(n, false, false),
        Following::start(n, true, true),
    ];
    let docs = [merged(n, 0), merged(n, 1)];
    // The reloaders serve what the floor parses.
    let want: serde_json::Value = serde_json::from_str(&docs[1]).unwrap();
    for following in &mut following {
        following.reload();
        assert_eq!(*following.reloader.store().load().merged(), want);
    }
    // About a millisecond or more per turn.
    let per_round = (4_000 / n).max(2);
    let mut floor_next = 0;
    // times[0]: the floor; times[1 + i]: the reload on following[i].
    let times = ratio::interleaved(rounds, per_round, 4, |which| match which {
        0 => {
            black_box(serde_json::from_str::<Config>(&docs[floor_next]).unwrap());
            floor_next = 1 - floor_next;
        }
        i => following[i - 1].reload(),
    });
    println!(
        "  N = {n:>5} ({:>6} keys)  floor (serde_json::from_str) {:>8.1} µs",
        n * KEYS,
        median(&times[0]) / 1e3,
    );
    let rows = [
        "multi-thread runtime",
        "current-thread runtime",
        "multi-thread, restart key",
    ];
    for (i, row) in rows.iter().enumerate() {
        let (ratio, p10, p90) = ratio::round_ratios(&times[1 + i], &times[0]);
        println!(
            "    reload, {row:<24} {:>8.1} µs  median {ratio:.2}x  (p10 {p10:.2}x, p90 {p90:.2}x)",
            median(&times[1 + i]) / 1e3,
        );
    }
}

/// Rounds: `HOTCONF_BENCH_ROUNDS` (at least 10), 100 by default, 30 with `HOTCONF_BENCH_SHORT`.
fn rounds() -> usize {
    let default = match std::env::var_os("HOTCONF_BENCH_SHORT") {
        Some(_) => 30,
        None => 100,
    };
    std::env::var("HOTCONF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(default)
        .max(10)
}

fn median(values: &[f64]) -> f64 {
    ratio::percentile(values, 0.5)
}

fn main() {
    let rounds = rounds();
    println!(
        "\nlayered_reload: a one-value change to one of N layers of {KEYS} keys, interleaved \
         with the floor (serde_json::from_str of the merged document), {rounds} rounds, ratio \
         per round"
    );
    // `HOTCONF_BENCH_LAYERS=100`: one layer count only (for a profile).
    let only = std::env::var("HOTCONF_BENCH_LAYERS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok());
    for n in LAYERS
        .into_iter()
        .filter(|n| only.is_none_or(|only| only == *n))
    {
        measure(n, rounds);
    }
}
