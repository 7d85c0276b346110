//! Follows a Consul KV prefix and prints every applied config and event.
//!
//! Run: `cargo run -p hotconf-examples --features consul --example consul_watch -- 127.0.0.1:8500 app/`
//! then, in another shell: `consul kv put app/db/port 5432`, `consul kv delete app/db/port`
//! (or `curl -X PUT --data 5432 http://127.0.0.1:8500/v1/kv/app/db/port`).
//! Set `CONSUL_HTTP_TOKEN` to send an ACL token (in the `X-Consul-Token` header).

use hotconf::{ConsulConfig, ConsulProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:8500".into());
    let prefix = args.next().unwrap_or_else(|| "app/".into());
    let mut config = ConsulConfig::prefix(address, &prefix).typed();
    if let Ok(token) = std::env::var("CONSUL_HTTP_TOKEN") {
        config = config.with_token(token);
    }
    println!("following {} (Ctrl-C to stop)", config.name());
    hotconf_examples::print_until_ctrl_c(ConsulProvider::new(config)?).await
}
