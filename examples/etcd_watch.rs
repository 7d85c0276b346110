//! Follows an etcd prefix and prints every applied config and event.
//!
//! Run: `cargo run -p hotconf-examples --features etcd --example etcd_watch -- 127.0.0.1:2379 app/`
//! then, in another shell: `etcdctl put app/db/port 5432`, `etcdctl del app/db/port`.

use hotconf::{EtcdClient, EtcdProvider, EtcdSource};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hotconf_examples::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:2379".into());
    let prefix = args.next().unwrap_or_else(|| "app/".into());
    let client = EtcdClient::new([endpoint]);
    let provider = EtcdProvider::new(&client, EtcdSource::prefix(&prefix).typed());
    println!("following {} (Ctrl-C to stop)", provider.name());
    hotconf_examples::print_until_ctrl_c(provider).await
}
