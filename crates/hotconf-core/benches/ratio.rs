//! Ratios between benchmarks measured in this run: from criterion's saved estimates, or timed
//! in alternation with a floor round by round ([`interleaved`]).

// Shared by several benches, each using part of it.
#![allow(dead_code)]

use std::path::PathBuf;

/// Criterion's output folder: `<target>/criterion`, found from this executable's path.
fn criterion_dir() -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let exe = std::env::current_exe().expect("the bench knows its path");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<bench>")
        .join("criterion")
}

/// The median of `group/function` in nanoseconds, if criterion saved one in this run.
pub fn median_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Prints one line per function of `group`: its median and its ratio to `baseline`.
pub fn print_ratios(group: &str, baseline: &str, functions: &[&str]) {
    let Some(base) = median_ns(group, baseline) else {
        println!("{group}: no estimate for the baseline {baseline} (filtered out?)");
        return;
    };
    println!("\n{group}: medians, and ratio to {baseline}");
    for function in functions {
        if let Some(ns) = median_ns(group, function) {
            println!("  {function:<28} {:>14}  {:>7.2}x", human(ns), ns / base);
        }
    }
}

fn human(ns: f64) -> String {
    match ns {
        n if n < 1e3 => format!("{n:.2} ns"),
        n if n < 1e6 => format!("{:.2} µs", n / 1e3),
        n => format!("{:.2} ms", n / 1e6),
    }
}

/// Times `contestants` functions in alternation, so that the machine's drift falls on all of
/// them alike: `rounds` rounds, each running every contestant `per_round` times, in an order
/// rotated every round; `run(i)` runs contestant `i` once. Nanoseconds per run, by contestant,
/// by round.
pub fn interleaved(
    rounds: usize,
    per_round: usize,
    contestants: usize,
    mut run: impl FnMut(usize),
) -> Vec<Vec<f64>> {
    let mut times = vec![Vec::with_capacity(rounds); contestants];
    for round in 0..rounds {
        for turn in 0..contestants {
            let which = (turn + round) % contestants;
            let started = std::time::Instant::now();
            for _ in 0..per_round {
                run(which);
            }
            times[which].push(started.elapsed().as_nanos() as f64 / per_round as f64);
        }
    }
    times
}

/// The median, 10th and 90th percentiles of the per-round ratios of `times` to `floor`.
pub fn round_ratios(times: &[f64], floor: &[f64]) -> (f64, f64, f64) {
    let ratios: Vec<f64> = times.iter().zip(floor).map(|(t, f)| t / f).collect();
    (
        percentile(&ratios, 0.5),
        percentile(&ratios, 0.1),
        percentile(&ratios, 0.9),
    )
}

/// The value at percentile `p` (0.0–1.0) of `values`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The runtime a measured reloader runs on: multi-thread with one worker (the reload task on
/// the worker: two thread wake-ups per reload), or current-thread (the reload task runs on the
/// bench's thread inside `block_on`: no wake-up of another thread, the engine's own cost).
pub fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    match multi_thread {
        true => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build(),
        false => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
    .expect("a runtime")
}
