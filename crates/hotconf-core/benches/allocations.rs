//! Allocation budgets, counted by a counting global allocator (allocation-counter) on this
//! thread, with the reloader on a current-thread runtime so that its work is counted too:
//!
//! - `Store::load` and `CachedReader::load` allocate nothing, before and after a swap;
//! - a reload's allocations (count and bytes per KB of config) stay within the budgets below,
//!   recorded in docs/benchmarks.md: the run fails (exit code 1) when one is exceeded.
//!
//! Counts do not depend on the machine's speed, so the check is exact where timing is not.
//! Run: `cargo bench -p hotconf-core --bench allocations` (`cargo test --bench allocations` in
//! `scripts/test.sh`).

use std::hint::black_box;
use std::process::ExitCode;

use allocation_counter::{measure, AllocationInfo};
use hotconf_core::{Format, MemoryHandle, MemoryProvider, Reloader, Startup, Store};

#[path = "services.rs"]
mod services;

use services::{document, Config};

/// Budgets per KB of config for one reload (parse, merge, deserialize, validate, swap, notify).
/// Measured (release, 2026-11-30; 1 KB again 2026-12-07) and given about 25% headroom; see
/// docs/benchmarks.md.
const BUDGETS: [(&str, usize, usize, f64, f64); 7] = [
    // label, bytes, layers (`services::stacked`), allocations per KB, bytes allocated per KB
    ("1 KB", 1_000, 1, 59.0, 5_500.0),
    ("100 KB", 100_000, 1, 53.0, 4_150.0),
    ("1 MB", 1_000_000, 1, 53.0, 4_150.0),
    ("100 KB, 2 layers", 100_000, 2, 53.0, 4_150.0),
    ("1 MB, 2 layers", 1_000_000, 2, 53.0, 4_150.0),
    ("100 KB, 5 layers", 100_000, 5, 53.0, 4_150.0),
    ("1 MB, 5 layers", 1_000_000, 5, 53.0, 4_150.0),
];

struct Rig {
    runtime: tokio::runtime::Runtime,
    handle: MemoryHandle,
    store: Store<Config>,
    _reloader: Reloader<Config>,
}

impl Rig {
    fn start(first: String, layers: usize) -> Rig {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (provider, handle) = MemoryProvider::new("memory:alloc");
        handle.set_document(Format::Json, first.into_bytes());
        let builder = services::stacked(layers, provider).startup(Startup::FailFast);
        let reloader = runtime.block_on(builder.start()).unwrap();
        let store = reloader.store();
        Rig {
            runtime,
            handle,
            store,
            _reloader: reloader,
        }
    }

    /// Sets `text` and waits until its version is applied.
    fn reload(&self, text: String) {
        let next = self.store.version() + 1;
        let mut changes = self.store.subscribe();
        self.handle.set_document(Format::Json, text.into_bytes());
        self.runtime
            .block_on(changes.wait_for(|s| s.version() >= next))
            .unwrap();
    }
}

fn reads_allocate_nothing() -> Result<(), String> {
    let rig = Rig::start(document(1_000, 0), 1);
    let mut cached = rig.store.cached();
    let read = |cached: &mut hotconf_core::CachedReader<Config>| {
        measure(|| {
            for _ in 0..10_000 {
                black_box(rig.store.load().config().services.len());
                black_box(cached.load().config().services.len());
            }
        })
    };
    read(&mut cached); // the first loads set up arc-swap's thread-local state
    let before = read(&mut cached);
    rig.reload(document(1_000, 1));
    let first_after = read(&mut cached);
    let after = read(&mut cached);
    println!(
        "  Store::load + CachedReader::load, 10 000 each: {} allocations before a swap, {} \
         right after it, {} later",
        before.count_total, first_after.count_total, after.count_total
    );
    if before.count_total != 0 || first_after.count_total != 0 || after.count_total != 0 {
        return Err(format!(
            "reads allocated: {before:?} {first_after:?} {after:?}"
        ));
    }
    Ok(())
}

fn reload_budget(
    (label, bytes, layers, per_kb, bytes_per_kb): (&str, usize, usize, f64, f64),
) -> Result<(), String> {
    const ROUNDS: u32 = 10;
    let rig = Rig::start(document(bytes, 0), layers);
    rig.reload(document(bytes, 1)); // warm: first reload sets up buffers and tasks
    let (mut total, mut floor, mut tree) = Default::default();
    for round in 0..ROUNDS {
        let text = document(bytes, 2 + round);
        floor += measure(|| {
            black_box(serde_json::from_str::<Config>(&text).unwrap());
        });
        tree += measure(|| {
            black_box(serde_json::from_str::<serde_json::Value>(&text).unwrap());
        });
        total += measure(|| rig.reload(text));
    }
    let kb = bytes as f64 / 1000.0;
    let per = |info: AllocationInfo| {
        (
            info.count_total as f64 / f64::from(ROUNDS) / kb,
            info.bytes_total as f64 / f64::from(ROUNDS) / kb,
        )
    };
    let ((count, allocated), (floor_count, floor_bytes), (tree_count, tree_bytes)) =
        (per(total), per(floor), per(tree));
    println!(
        "  reload {label:>16}: {count:>6.1} allocations per KB (budget {per_kb:.0}; serde_json to the \
         struct {floor_count:.1}, to a Value {tree_count:.1}), {allocated:>5.0} bytes per KB \
         (budget {bytes_per_kb:.0}; struct {floor_bytes:.0}, Value {tree_bytes:.0})"
    );
    if count > per_kb || allocated > bytes_per_kb {
        return Err(format!("reload {label} exceeds its allocation budget"));
    }
    Ok(())
}

fn main() -> ExitCode {
    println!("allocations (counted on this thread; the reloader runs on it too):");
    let mut failures = Vec::new();
    if let Err(e) = reads_allocate_nothing() {
        failures.push(e);
    }
    for budget in BUDGETS {
        if let Err(e) = reload_budget(budget) {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}
