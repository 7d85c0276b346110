//! `fleet_restart` (issue 29): 1 000 followers (in 4 processes) on one etcd, one Consul
//! emulator, one Apollo emulator and one r-nacos; each server out of reach for 30 s (two
//! versions written and, on etcd, a compaction meanwhile; the server stopped and started again
//! on its data), and a version written the moment it is back.
//! hotconf's followers and the raw clients' default loops in the same run (see the
//! `hotconf-fleet` crate docs). Prints one table row per backend and kind, and fails loudly
//! when a follower lost the last version, served an older one after a newer one, or failed.
//!
//! `scripts/bench.sh --fleet` runs it. Settings: `HOTCONF_FLEET_FOLLOWERS`,
//! `HOTCONF_FLEET_PROCESSES`, `HOTCONF_FLEET_OUTAGE`, `HOTCONF_FLEET_DEADLINE`,
//! `HOTCONF_FLEET_BACKENDS`, `HOTCONF_FLEET_KINDS` (`hotconf`, `raw`, `cli`), `HOTCONF_FLEET_CLI`
//! (the `hotconf` binary of the `cli` kind). `scripts/test.sh` runs two small fleets (`cargo
//! test --bench fleet_restart`: library followers, then `hotconf watch` processes), which check
//! only that nothing is lost: timings are reported, never asserted.

use hotconf_fleet::{host, run, Figures, Settings};

fn main() {
    if host::run_if_host() {
        return;
    }
    let settings = Settings::from_env();
    let exe = std::env::current_exe().expect("the bench's own path");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    println!(
        "fleet_restart: {} followers (hosts: {} processes; CLI followers: a process each), the \
         server out of reach for {:?}",
        settings.followers, settings.processes, settings.outage
    );
    println!("{}", Figures::header());
    let mut losses = Vec::new();
    for backend in &settings.backends {
        for kind in &settings.kinds {
            let figures = runtime.block_on(run(*backend, *kind, &settings, &exe));
            println!("{}", figures.row());
            if !figures.lossless() {
                losses.push(format!("{} {}", figures.backend, figures.kind));
            }
        }
    }
    let hotconf_lost: Vec<&String> = losses.iter().filter(|l| l.ends_with("hotconf")).collect();
    if !losses.is_empty() {
        eprintln!("followers lost the last version, went back or failed: {losses:?}");
    }
    assert!(
        hotconf_lost.is_empty(),
        "hotconf followers lost an update: {hotconf_lost:?}"
    );
}
