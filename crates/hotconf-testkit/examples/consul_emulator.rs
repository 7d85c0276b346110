//! The Consul KV emulator as a standalone server, for trying `hotconf watch consul://…` with curl
//! and for running the Consul suite in its real-agent mode (`HOTCONF_CONSUL_ADDR`).
//!
//! Run: `cargo run -p hotconf-testkit --features consul --example consul_emulator`, then e.g.
//! `curl -X PUT --data-binary 5432 http://ADDRESS/v1/kv/app/db/port` with the address it prints.

use hotconf_testkit::consul::ConsulEmulator;

#[tokio::main]
async fn main() {
    let consul = ConsulEmulator::start().await;
    println!("{}", consul.url());
    let _ = tokio::signal::ctrl_c().await;
}
