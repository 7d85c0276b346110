//! The scale benchmarks' harness (issue 16 item 5): many sources on one server, and how CPU,
//! memory and throughput grow with the number of sources and keys.
//!
//! Source `i` of run `r` follows the prefix `scale/r/s<i>/` and holds [`KEYS_PER_SOURCE`] keys
//! `s<i>/k<j>`, so that the sources' layers do not overlap. A writer puts round-robin over every
//! key at up to 1 000 puts/s; then every key's final value must be what each reloader serves.

use std::future::Future;
use std::time::{Duration, Instant};

use hotconf_core::{Provider, Reloader, Store};
use serde_json::Value;

/// Keys per source.
pub const KEYS_PER_SOURCE: usize = 10;

/// This process's CPU time (user + system), from /proc/self/stat.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// This process's resident memory, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The prefix source `source` of `run` follows.
pub fn prefix(run: &str, source: usize) -> String {
    format!("scale/{run}/s{source:03}/")
}

fn key(run: &str, source: usize, key: usize) -> String {
    format!("{}s{source:03}/k{key}", prefix(run, source))
}

/// How far the sustained phase goes.
pub fn duration() -> Duration {
    if crate::latency::short() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(5)
    }
}

/// Writes to the server under test.
pub trait Writer {
    /// Puts `value` at `key` and waits for the server's answer.
    fn put(&mut self, key: String, value: String) -> impl Future<Output = ()>;
}

/// Puts every key of `sources` sources once (value 0).
pub async fn seed(writer: &mut impl Writer, run: &str, sources: usize) {
    for s in 0..sources {
        for k in 0..KEYS_PER_SOURCE {
            writer.put(key(run, s, k), "0".into()).await;
        }
    }
}

/// Puts round-robin over every key at up to 1 000 puts/s for [`duration`]; the puts made.
pub async fn write(writer: &mut impl Writer, run: &str, sources: usize) -> usize {
    let duration = duration();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < duration {
        ticker.tick().await;
        let (s, k) = (n % sources, (n / sources) % KEYS_PER_SOURCE);
        writer.put(key(run, s, k), n.to_string()).await;
        n += 1;
    }
    n
}

/// The writer's own CPU per put, with nobody watching: subtracted from each row.
async fn writer_cpu_per_put(writer: &mut impl Writer) -> Duration {
    seed(writer, "alone", 100).await;
    let before = cpu_time();
    let puts = write(writer, "alone", 100).await;
    (cpu_time() - before) / puts.max(1) as u32
}

/// Waits (30 s at most) until `store` serves, for each `(source, values)`, every value that
/// was put last.
async fn converge(store: &Store<Value>, want: &[(usize, Vec<Option<u64>>)]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut changes = store.subscribe();
    loop {
        let config = store.load();
        let done = want.iter().all(|(s, keys)| {
            keys.iter().enumerate().all(|(k, v)| {
                let got = config[format!("s{s:03}")][format!("k{k}")].as_u64();
                v.is_none_or(|v| got == Some(v))
            })
        });
        if done {
            return;
        }
        tokio::time::timeout_at(deadline, changes.changed())
            .await
            .expect("every final state applied within 30 s")
            .expect("the reloader runs");
    }
}

/// One measured shape.
struct Row {
    shape: &'static str,
    sources: usize,
    start: Duration,
    rss_per_source_kib: f64,
    puts_per_second: f64,
    /// This process's CPU per second of puts.
    cpu: Duration,
    /// The same per source, the writer's own subtracted.
    cpu_per_source: Duration,
    converged: Duration,
}

impl Row {
    /// The table's header.
    fn header() {
        println!("| shape | sources | keys | start | RSS per source | puts/s | process CPU | CPU per source, writer's own subtracted | all final states applied |");
        println!("|---|---|---|---|---|---|---|---|---|");
    }

    /// The row as a line of the table.
    fn print(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {} | {} | {} | {:.0} ms | {:.0} KiB | {:.0} | {:.0}% of a core | {:.2} ms/s ({:.3}% of a core) | yes, {:.0} ms after the last put |",
            self.shape,
            self.sources,
            self.sources * KEYS_PER_SOURCE,
            ms(self.start),
            self.rss_per_source_kib,
            self.puts_per_second,
            ms(self.cpu) / 10.0,
            ms(self.cpu_per_source),
            ms(self.cpu_per_source) / 10.0,
            ms(self.converged),
        );
    }
}

/// Follows `sources` sources, either as the layers of one reloader (`shared`) or with a
/// reloader each, each provider from `provider(i)`; seeds them, writes, checks every final
/// state, and measures.
async fn measure<P: Provider + 'static>(
    writer: &mut impl Writer,
    writer_cpu_per_put: Duration,
    shared: bool,
    sources: usize,
    mut provider: impl FnMut(&str, usize) -> P,
) -> Row {
    let run = format!("{}{sources}", if shared { "shared" } else { "apart" });
    seed(writer, &run, sources).await;
    let rss_before = rss_kib();
    let started = Instant::now();
    let reloaders: Vec<Reloader<Value>> = if shared {
        let mut builder = Reloader::<Value>::builder();
        for s in 0..sources {
            builder = builder.layer(provider(&run, s));
        }
        vec![builder.start().await.expect("starts")]
    } else {
        let mut reloaders = Vec::with_capacity(sources);
        for s in 0..sources {
            let builder = Reloader::<Value>::builder().layer(provider(&run, s));
            reloaders.push(builder.start().await.expect("starts"));
        }
        reloaders
    };
    let start = started.elapsed();
    let rss_per_source_kib = rss_kib().saturating_sub(rss_before) as f64 / sources as f64;

    let cpu_before = cpu_time();
    let started = Instant::now();
    let puts = write(writer, &run, sources).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut last = vec![vec![None; KEYS_PER_SOURCE]; sources];
    for n in 0..puts {
        last[n % sources][(n / sources) % KEYS_PER_SOURCE] = Some(n as u64);
    }
    let converging = Instant::now();
    for (i, reloader) in reloaders.iter().enumerate() {
        let want: Vec<(usize, Vec<Option<u64>>)> = match shared {
            true => last.iter().cloned().enumerate().collect(),
            false => vec![(i, last[i].clone())],
        };
        converge(&reloader.store(), &want).await;
    }
    let converged = converging.elapsed();
    let total = cpu_time() - cpu_before;
    let cpu = total.saturating_sub(writer_cpu_per_put * puts as u32);
    Row {
        shape: if shared {
            "one reloader, a layer per source, one client"
        } else {
            "a reloader and a client per source"
        },
        sources,
        start,
        rss_per_source_kib,
        puts_per_second: puts as f64 / seconds,
        cpu: total.div_f64(seconds),
        cpu_per_source: cpu.div_f64(seconds * sources as f64),
        converged,
    }
}

/// The whole table for one server: the writer's own cost first, then both shapes at 10 and
/// 100 sources. `shared(run, i)` makes source `i`'s provider on one client kept by the caller,
/// `own(run, i)` on a client of its own.
pub async fn table<P: Provider + 'static, Q: Provider + 'static>(
    server: &str,
    writer: &mut impl Writer,
    mut shared: impl FnMut(&str, usize) -> P,
    mut own: impl FnMut(&str, usize) -> Q,
) {
    let writer_cpu = writer_cpu_per_put(writer).await;
    println!(
        "\n{server} scale: {KEYS_PER_SOURCE} keys per source, puts round-robin at up to 1000/s for {} s (the writer's own {:.0} µs of CPU per put subtracted)",
        duration().as_secs(),
        writer_cpu.as_secs_f64() * 1e6
    );
    Row::header();
    for sources in [10, 100] {
        measure(writer, writer_cpu, true, sources, &mut shared)
            .await
            .print();
    }
    for sources in [10, 100] {
        measure(writer, writer_cpu, false, sources, &mut own)
            .await
            .print();
    }
}
