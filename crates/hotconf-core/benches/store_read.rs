//! Reads of the current config: `Store::load` against `RwLock<Arc<T>>`, `Mutex<Arc<T>>`,
//! `Store::get` (an Arc clone), hotswap-config 0.2 and dynamic-config 0.10, on one thread and with two readers while
//! a writer swaps 1000 times per second. Prints ratios at the end.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use criterion::Criterion;
use hotconf_core::{MemoryProvider, Reloader, Store};
use serde::Deserialize;

#[path = "ratio.rs"]
mod ratio;

#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)] // read through `pool` only; the other fields give the config a realistic shape
struct Config {
    port: u16,
    host: String,
    pool: u32,
}

fn config(i: u32) -> Config {
    Config {
        port: 8080,
        host: "db.internal".into(),
        pool: i,
    }
}

/// One way to read and replace a config.
trait Cell: Send + Sync + 'static {
    fn read(&self) -> u32;
    fn write(&self, i: u32);
}

struct ArcSwapCell(arc_swap::ArcSwap<Config>);
impl Cell for ArcSwapCell {
    fn read(&self) -> u32 {
        self.0.load().pool
    }
    fn write(&self, i: u32) {
        self.0.store(Arc::new(config(i)));
    }
}

struct RwCell(RwLock<Arc<Config>>);
impl Cell for RwCell {
    fn read(&self) -> u32 {
        self.0.read().unwrap().pool
    }
    fn write(&self, i: u32) {
        *self.0.write().unwrap() = Arc::new(config(i));
    }
}

struct MutexCell(Mutex<Arc<Config>>);
impl Cell for MutexCell {
    fn read(&self) -> u32 {
        self.0.lock().unwrap().pool
    }
    fn write(&self, i: u32) {
        *self.0.lock().unwrap() = Arc::new(config(i));
    }
}

struct HotswapCell(
    hotswap_config::prelude::HotswapConfig<Config>,
    tokio::runtime::Runtime,
);
impl Cell for HotswapCell {
    fn read(&self) -> u32 {
        self.0.get().pool
    }
    fn write(&self, i: u32) {
        self.1.block_on(self.0.update(config(i))).unwrap();
    }
}

/// dynamic-config 0.10: `ConfigCell::load` (an `Arc` clone from arc-swap's `load_full`).
struct DynamicConfigCell(dynamic_config::ConfigCell<Config>);
impl Cell for DynamicConfigCell {
    fn read(&self) -> u32 {
        self.0.load().map_or(0, |c| c.pool)
    }
    fn write(&self, i: u32) {
        self.0.store(config(i));
    }
}

/// How a hotconf reader reads.
#[derive(Clone, Copy)]
enum Read {
    Load,
    GetArc,
}

/// hotconf's store, written through the whole reload pipeline (a memory source).
struct HotconfCell {
    store: Store<Config>,
    handle: hotconf_core::MemoryHandle,
    _reloader: Reloader<Config>,
    _runtime: tokio::runtime::Runtime,
    read: Read,
}
impl HotconfCell {
    fn new(read: Read) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (provider, handle) = MemoryProvider::new("memory:bench");
        handle.set_tree(serde_json::json!({"port": 8080, "host": "db.internal", "pool": 0}));
        let reloader = runtime
            .block_on(Reloader::<Config>::builder().layer(provider).start())
            .unwrap();
        HotconfCell {
            store: reloader.store(),
            handle,
            _reloader: reloader,
            _runtime: runtime,
            read,
        }
    }
}
impl Cell for HotconfCell {
    fn read(&self) -> u32 {
        match self.read {
            Read::Load => self.store.load().pool,
            Read::GetArc => self.store.get().pool,
        }
    }
    fn write(&self, i: u32) {
        self.handle
            .set_tree(serde_json::json!({"port": 8080, "host": "db.internal", "pool": i}));
    }
}

/// Runs `bench` on every cell; each reader gets its own `CachedReader` where hotconf's is used.
macro_rules! each_cell {
    ($bench:ident, $group:expr) => {{
        let hotswap_runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        $bench($group, "hotconf_store_load", Arc::new(HotconfCell::new(Read::Load)), |c| c.read());
        $bench($group, "hotconf_store_get_arc", Arc::new(HotconfCell::new(Read::GetArc)), |c| c.read());
        let cached = Arc::new(HotconfCell::new(Read::Load));
        let store = cached.store.clone();
        $bench($group, "hotconf_cached_reader", cached, move |_| {
            thread_local!(static READER: std::cell::RefCell<Option<hotconf_core::CachedReader<Config>>> = const { std::cell::RefCell::new(None) });
            READER.with(|r| r.borrow_mut().get_or_insert_with(|| store.cached()).load().pool)
        });
        $bench($group, "raw_arc_swap_load", Arc::new(ArcSwapCell(arc_swap::ArcSwap::from_pointee(config(0)))), |c| c.read());
        $bench($group, "rwlock_arc", Arc::new(RwCell(RwLock::new(Arc::new(config(0))))), |c| c.read());
        $bench($group, "mutex_arc", Arc::new(MutexCell(Mutex::new(Arc::new(config(0))))), |c| c.read());
        let hotswap = HotswapCell(hotswap_config::prelude::HotswapConfig::new(config(0)), hotswap_runtime);
        $bench($group, "hotswap_config_get", Arc::new(hotswap), |c| c.read());
        let dynamic = dynamic_config::ConfigCell::new();
        dynamic.store(config(0));
        $bench($group, "dynamic_config_load", Arc::new(DynamicConfigCell(dynamic)), |c| c.read());
    }};
}

const NAMES: [&str; 8] = [
    "hotconf_store_load",
    "hotconf_store_get_arc",
    "hotconf_cached_reader",
    "raw_arc_swap_load",
    "rwlock_arc",
    "mutex_arc",
    "hotswap_config_get",
    "dynamic_config_load",
];

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn alone<C: Cell, R: Fn(&C) -> u32 + Send + Sync + 'static>(
    group: &mut Group<'_>,
    name: &str,
    cell: Arc<C>,
    read: R,
) {
    group.bench_function(name, |b| b.iter(|| black_box(read(&cell))));
}

fn contended<C: Cell, R: Fn(&C) -> u32 + Send + Sync + 'static>(
    group: &mut Group<'_>,
    name: &str,
    cell: Arc<C>,
    read: R,
) {
    let read = Arc::new(read);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (cell, stop, read) = (cell.clone(), stop.clone(), read.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(read(&cell));
            }
        })
    };
    let writer = {
        let (cell, stop) = (cell.clone(), stop.clone());
        thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                cell.write(i);
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    group.bench_function(name, |b| b.iter(|| black_box(read(&cell))));
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    writer.join().unwrap();
}

fn main() {
    // dynamic-config prints a line per store by default.
    dynamic_config::set_log_level(dynamic_config::LogLevel::Off);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut group = c.benchmark_group("read_1_thread");
    each_cell!(alone, &mut group);
    group.finish();
    let mut group = c.benchmark_group("read_2_readers_writer_1000_per_s");
    each_cell!(contended, &mut group);
    group.finish();
    c.final_summary();
    ratio::print_ratios("read_1_thread", "rwlock_arc", &NAMES);
    ratio::print_ratios("read_2_readers_writer_1000_per_s", "rwlock_arc", &NAMES);
}
