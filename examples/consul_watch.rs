//! Follows a Consul KV prefix and prints every applied config and event.
//!
//! Run: `cargo run -p hotconf-examples --features consul --example consul_watch -- 127.0.0.1:8500 app/`
//! then, in another shell: `consul kv put app/db/port 5432`, `consul kv delete app/db/port`
//! (or `curl -X PUT --data 5432 http://127.0.0.1:8500/v1/kv/app/db/port`).
//! Set `CONSUL_HTTP_TOKEN` to send an ACL token (in the `X-Consul-Token` header).

use hotconf::{ConsulClient, ConsulProvider, ConsulSource};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hotconf_examples::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:8500".into());
    let prefix = args.next().unwrap_or_else(|| "app/".into());
    let mut client = ConsulClient::new([address]);
    if let Ok(token) = std::env::var("CONSUL_HTTP_TOKEN") {
        client = client.token(token);
    }
    let provider = ConsulProvider::new(&client, ConsulSource::prefix(&prefix).typed());
    println!("following {} (Ctrl-C to stop)", provider.name());
    hotconf_examples::print_until_ctrl_c(provider).await
}
