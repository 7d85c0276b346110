//! Follows a Nacos config and prints every applied config and event.
//!
//! Run: `cargo run -p hotconf-examples --features nacos --example nacos_watch -- 127.0.0.1:8848 app.yaml`
//! then publish `app.yaml` (and `shared.yaml`) in group `DEFAULT_GROUP` from the Nacos console
//! or with `curl -X POST '127.0.0.1:8848/nacos/v1/cs/configs' -d dataId=app.yaml
//! -d group=DEFAULT_GROUP --data-urlencode 'content=port: 8080'`; delete it with `curl -X DELETE
//! '127.0.0.1:8848/nacos/v1/cs/configs?dataId=app.yaml&group=DEFAULT_GROUP'`.

use hotconf::{NacosClient, NacosProvider, NacosSource};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hotconf_examples::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "127.0.0.1:8848".into());
    let data_id = args.next().unwrap_or_else(|| "app.yaml".into());
    let provider = NacosProvider::new(&NacosClient::new([server]), NacosSource::new(data_id));
    println!("following {} (Ctrl-C to stop)", provider.name());
    hotconf_examples::print_until_ctrl_c(provider).await
}
