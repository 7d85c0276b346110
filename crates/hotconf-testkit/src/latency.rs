//! Latency samples for the benchmarks: median, p99, and the ratio to a baseline from the same run.

use std::time::Duration;

/// Rounds per latency measurement: `HOTCONF_BENCH_ROUNDS` when set (`scripts/bench.sh
/// --short` sets it), else `default`. Never below 10, so a p99 stays meaningful.
pub fn rounds(default: usize) -> usize {
    std::env::var("HOTCONF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(default)
        .max(10)
}

/// Whether `scripts/bench.sh --short` runs this bench (`HOTCONF_BENCH_SHORT` set): benches then
/// skip their slowest rows, the ones whose outcome is known (a peer that misses a save, a
/// notification lost for a minute), and shorten their sustained phases.
pub fn short() -> bool {
    std::env::var_os("HOTCONF_BENCH_SHORT").is_some()
}

/// The value at percentile `p` (0.0–1.0) of `samples` (durations, ratios; sorted in place).
pub fn percentile<T: Copy + PartialOrd>(samples: &mut [T], p: f64) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    samples[((samples.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize]
}

/// Prints `name`, the median and p99 of `samples`, and the median's ratio to `baseline`'s
/// median when given; returns the median.
pub fn report(name: &str, mut samples: Vec<Duration>, baseline: Option<Duration>) -> Duration {
    let median = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    let ratio = baseline.map_or(String::new(), |b| {
        format!(
            "  {:>6.2}x the baseline",
            median.as_secs_f64() / b.as_secs_f64()
        )
    });
    println!(
        "  {name:<44} median {:>9.3} ms  p99 {:>9.3} ms{ratio}",
        ms(median),
        ms(p99)
    );
    median
}

/// Prints the median and the 10th–90th percentiles of `samples[i] / baselines[i]`: the
/// ratio taken round by round, each sample against the baseline measured in the same round, so
/// that the machine's drift from round to round (a loaded moment, a CPU that slowed down) falls
/// on both alike. Returns the median ratio.
///
/// # Panics
/// When the two differ in length or are empty.
pub fn report_paired(name: &str, samples: &[Duration], baselines: &[Duration]) -> f64 {
    assert!(
        samples.len() == baselines.len() && !samples.is_empty(),
        "one baseline per sample"
    );
    let mut ratios: Vec<f64> = samples
        .iter()
        .zip(baselines)
        .map(|(s, b)| s.as_secs_f64() / b.as_secs_f64().max(1e-9))
        .collect();
    let median = percentile(&mut ratios, 0.5);
    println!(
        "  {name:<44} per round: median {median:>5.2}x  (p10 {:.2}x, p90 {:.2}x)",
        percentile(&mut ratios, 0.1),
        percentile(&mut ratios, 0.9)
    );
    median
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut samples, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&mut samples, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&mut samples, 1.0), Duration::from_millis(100));
    }

    #[test]
    fn paired_ratios_are_taken_round_by_round() {
        let ms = Duration::from_millis;
        // Each sample is twice its own round's baseline, though the rounds drift tenfold.
        let baselines = [ms(1), ms(10), ms(2), ms(20), ms(5)];
        let samples = baselines.map(|b| b * 2);
        assert_eq!(report_paired("x", &samples, &baselines), 2.0);
        // Two slow rounds that caught only the samples: the medians would read 10x.
        let baselines = [ms(1), ms(1), ms(1), ms(10), ms(10)];
        let samples = [ms(10), ms(10), ms(2), ms(20), ms(20)];
        assert_eq!(report_paired("y", &samples, &baselines), 2.0);
    }
}
