//! How fast `hotconf rollout` moves a fleet (docs/rollout.md): 20 `hotconf watch --admin`
//! processes on a real etcd, scraped every second by a real Prometheus, the controller run as a
//! user runs it (`--poll 200ms`). Per round:
//! - the baseline: an `etcdctl put` of the key → every process applied it (one watch round
//!   trip to the whole fleet);
//! - a good change, steps 10,100 with no bake: `rollout start` → the first step observed, →
//!   promoted;
//! - a change a `--health` query flags (the bench's gauge is 1 while a process serves it; a
//!   5 s bake, so that the gauge is scraped before the next step): from the first member
//!   applying it to the last member back on the old value, against one scrape interval plus
//!   one watch round trip (the target).
//!
//! Run: `cargo bench -p hotconf-cli --bench rollout_latency` (10 rounds; 3 with
//! `HOTCONF_BENCH_SHORT`).

#[path = "../tests/rollout/fleet.rs"]
mod fleet;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleet::Fleet;
use hotconf_testkit::etcd::EtcdCluster;
use hotconf_testkit::latency::{report, short};
use serde_json::{json, Value};

const KEY: &str = "app/config.json";
const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

fn doc(v: &str) -> String {
    json!({"v": v, "pool": 10}).to_string()
}

/// Runs `hotconf rollout start`; each event with when it came, and the exit code.
fn rollout(
    fleet: &Fleet,
    source: &str,
    file: &str,
    id: &str,
    extra: &[&str],
) -> (Vec<(Instant, Value)>, i32) {
    let url = fleet.prometheus.url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args([
            "rollout",
            "start",
            source,
            "--file",
            file,
            "--id",
            id,
            "--prometheus",
            &url,
        ])
        .args(["--poll", "200ms", "--steps", "10,100"])
        .args(extra)
        .current_dir(fleet.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .map(|line| (Instant::now(), serde_json::from_str(&line).unwrap()))
        .collect();
    (events, child.wait().unwrap().code().unwrap_or(-1))
}

fn at(events: &[(Instant, Value)], event: &str) -> Instant {
    (events.iter())
        .find(|(_, e)| e["event"] == event)
        .unwrap_or_else(|| panic!("no {event} event: {events:?}"))
        .0
}

async fn run(rounds: usize) {
    let etcd = EtcdCluster::single();
    let source = format!("etcd://{}/{KEY}", etcd.endpoint(0));
    etcd.ctl(&["put", KEY, &doc("start")]);
    let fleet = Fleet::start(&format!("{source}?rollout=true")).await;
    fleet.all_serve("start").await;
    let (mut round_trip, mut first_step, mut promoted, mut back) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let base = format!("base-{round}");
        let put = Instant::now();
        etcd.ctl(&["put", KEY, &doc(&base)]);
        fleet.all_serve(&base).await;
        let applied = fleet
            .processes
            .iter()
            .filter_map(|p| p.first(&base))
            .max()
            .unwrap();
        round_trip.push(applied.duration_since(put));

        let good = format!("good-{round}");
        std::fs::write(fleet.dir.path().join("good.json"), doc(&good)).unwrap();
        let id = fleet.rollout_id(&good, 10.0);
        let spawned = Instant::now();
        let (events, code) = rollout(&fleet, &source, "good.json", &id, &["--bake", "0s"]);
        assert_eq!(code, 0, "{events:?}");
        first_step.push(at(&events, "step").duration_since(spawned));
        promoted.push(at(&events, "promoted").duration_since(spawned));
        fleet.all_serve(&good).await;

        let bad = format!("bad-{round}");
        std::fs::write(fleet.dir.path().join("bad.json"), doc(&bad)).unwrap();
        let id = fleet.rollout_id(&bad, 10.0);
        let members = fleet.members(&id, 10.0);
        let (events, code) = rollout(
            &fleet,
            &source,
            "bad.json",
            &id,
            &["--bake", "5s", "--health", "bad_candidate > 0"],
        );
        assert_eq!(code, 1, "{events:?}");
        fleet.all_serve(&good).await;
        let member = |p: &&fleet::Process| members.contains(&p.id);
        let flagged = fleet
            .processes
            .iter()
            .filter(member)
            .filter_map(|p| p.first(&bad))
            .min()
            .unwrap();
        let returned = fleet
            .processes
            .iter()
            .filter(member)
            .filter_map(|p| p.last(&good))
            .max()
            .unwrap();
        back.push(returned.duration_since(flagged));
    }
    println!("rollout_latency: 20 hotconf watch processes on etcd, Prometheus scraping every 1 s, {rounds} rounds");
    let rt = report(
        "etcdctl put -> all 20 applied (round trip)",
        round_trip,
        None,
    );
    let target = SCRAPE_INTERVAL + rt;
    println!(
        "  target: scrape interval + round trip = {:.0} ms",
        target.as_secs_f64() * 1e3
    );
    report("rollout start -> 10 % observed", first_step, Some(target));
    report(
        "rollout start -> promoted (10,100, no bake)",
        promoted,
        Some(target),
    );
    report("unhealthy member -> every member back", back, Some(target));
}

fn main() {
    let rounds = if short() { 3 } else { 10 };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(rounds));
}
