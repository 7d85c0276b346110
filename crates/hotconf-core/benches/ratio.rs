//! Prints ratios between benchmarks measured in this run, from criterion's saved estimates.

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
