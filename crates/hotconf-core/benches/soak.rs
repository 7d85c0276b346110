//! Soak: many reloads through one `Reloader` (a `MemoryProvider` over a TOML defaults layer
//! drives applies, changes a validator rejects, and identical states), while reader threads load
//! the `Store`. Samples resident memory, open file descriptors and threads at the start, every
//! 10 000 reloads and at the end, prints them with the ratio end/start, and exits non-zero when,
//! after the warm-up (the first sample after the start), memory grows more than 1.5x or
//! descriptors or threads grow at all, or when a reload's outcome is not the expected one.
//!
//! `HOTCONF_SOAK_RELOADS` sets the number of reloads (default 100 000; e.g. 20 000 for a quick
//! check). Run with `cargo bench -p hotconf-core --bench soak` (release profile).

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotconf_core::{Error, Format, MemoryHandle, MemoryProvider, Reloader, Stats};
use serde::Deserialize;

/// The config every reload deserializes.
#[derive(Debug, Deserialize)]
struct Config {
    name: String,
    port: u16,
    generation: u64,
    tags: Vec<String>,
}

/// One reading of the process's resources.
#[derive(Debug, Clone, Copy)]
struct Sample {
    reloads: u64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
}

impl Sample {
    fn take(reloads: u64) -> Sample {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        Sample {
            reloads,
            rss_kib: field("VmRSS:"),
            fds,
            threads: field("Threads:"),
        }
    }
}

/// What the `i`-th reload sets, and which counter it moves: 7 in 10 apply a new generation,
/// 2 are rejected by the validator (port 0), 1 sets again the last applied document.
fn step(i: u64) -> (String, fn(&Stats) -> u64) {
    let document = |generation: u64, port: u16| {
        let tags: Vec<String> = (0..generation % 8).map(|t| format!("tag-{t}")).collect();
        serde_json::json!({"generation": generation, "port": port, "tags": tags}).to_string()
    };
    match i % 10 {
        0..=6 => (document(i, 8000 + (i % 1000) as u16), |s| s.applied),
        7 | 8 => (document(i, 0), |s| s.rejected),
        _ => (document(i - 3, 8000 + ((i - 3) % 1000) as u16), |s| {
            s.unchanged
        }),
    }
}

/// Sets each state and waits until the reloader counted it where expected.
async fn drive(
    upper: &MemoryHandle,
    stats: &mut hotconf_core::Subscription<Stats>,
    from: u64,
    to: u64,
) -> Result<(), String> {
    for i in from..to {
        let (document, counter) = step(i);
        let before = counter(&stats.borrow());
        upper.set_document(Format::Json, document);
        let waited = tokio::time::timeout(
            Duration::from_secs(10),
            stats.wait_for(|s| counter(s) > before),
        )
        .await;
        match waited {
            Ok(Ok(_)) => {}
            _ => return Err(format!("reload {i} did not have its expected outcome")),
        }
    }
    Ok(())
}

fn check(samples: &[Sample]) -> Vec<String> {
    let (Some(warm), Some(end)) = (samples.get(1), samples.last()) else {
        return vec!["not enough samples".into()];
    };
    let mut failures = Vec::new();
    if end.rss_kib as f64 > warm.rss_kib as f64 * 1.5 {
        failures.push(format!(
            "memory grew from {} KiB after warm-up to {} KiB (> 1.5x)",
            warm.rss_kib, end.rss_kib
        ));
    }
    for s in &samples[1..] {
        if s.fds > warm.fds || s.threads > warm.threads {
            failures.push(format!(
                "at {} reloads: {} fds, {} threads (after warm-up: {}, {})",
                s.reloads, s.fds, s.threads, warm.fds, warm.threads
            ));
        }
    }
    failures
}

fn print_table(samples: &[Sample]) {
    println!("\n| reloads | RSS (MiB) | open fds | threads |");
    println!("|---|---|---|---|");
    for s in samples {
        let mib = s.rss_kib as f64 / 1024.0;
        println!("| {} | {mib:.1} | {} | {} |", s.reloads, s.fds, s.threads);
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let ratio = |a: u64, b: u64| b as f64 / a.max(1) as f64;
    println!(
        "| **end/start** | **{:.2}x** | **{:.2}x** | **{:.2}x** |",
        ratio(first.rss_kib, last.rss_kib),
        ratio(first.fds, last.fds),
        ratio(first.threads, last.threads)
    );
}

fn main() -> ExitCode {
    let total: u64 = std::env::var("HOTCONF_SOAK_RELOADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let every = 10_000.min(total / 2).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(soak(total, every));
    match result {
        Ok(samples) => {
            print_table(&samples);
            let failures = check(&samples);
            for failure in &failures {
                eprintln!("soak FAILED: {failure}");
            }
            if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("soak FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn soak(total: u64, every: u64) -> Result<Vec<Sample>, String> {
    let (lower_p, lower) = MemoryProvider::new("memory:defaults");
    lower.set_document(
        Format::Toml,
        "name = \"soak\"\nport = 1\ngeneration = 0\ntags = []\n",
    );
    let (upper_p, upper) = MemoryProvider::new("memory:changes");
    upper.set_document(Format::Json, step(0).0);
    let reloader = Reloader::<Config>::builder()
        .layer(lower_p)
        .layer(upper_p)
        .validate(|c: &Config| match c.port {
            0 => Err(Error::validation("port 0")),
            _ => Ok(()),
        })
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let mut stats = reloader.stats();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (store, stop, reads) = (reloader.store(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut cached = store.cached();
                let (mut n, mut last) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let version = if r == 0 {
                        let snapshot = cached.load();
                        black_box((&snapshot.name, snapshot.port, &snapshot.tags));
                        snapshot.version()
                    } else {
                        let snapshot = store.load();
                        black_box((&snapshot.name, snapshot.generation, &snapshot.tags));
                        snapshot.version()
                    };
                    assert!(version >= last, "versions went back");
                    last = version;
                    n += 1;
                }
                reads.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();

    let started = Instant::now();
    let mut samples = vec![Sample::take(0)];
    let mut done = 1;
    while done < total {
        let next = (done / every + 1) * every;
        let next = next.min(total);
        drive(&upper, &mut stats, done, next).await?;
        done = next;
        samples.push(Sample::take(done));
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().map_err(|_| "a reader panicked".to_owned())?;
    }
    let s = *stats.borrow();
    let expect = |range: std::ops::RangeInclusive<u64>| {
        (0..total).filter(|i| range.contains(&(i % 10))).count() as u64
    };
    let want = (expect(0..=6), expect(7..=8), expect(9..=9));
    if (s.applied, s.rejected, s.unchanged) != want {
        return Err(format!(
            "counted (applied, rejected, unchanged) = {:?}, expected {want:?}",
            (s.applied, s.rejected, s.unchanged)
        ));
    }
    println!(
        "soak: {total} reloads in {:.2} s ({:.1} µs each): {} applied, {} rejected, {} unchanged; \
         {} reads by 3 readers",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / total as f64,
        s.applied,
        s.rejected,
        s.unchanged,
        reads.load(Ordering::Relaxed)
    );
    Ok(samples)
}
