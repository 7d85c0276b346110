//! Follows an etcd prefix and prints every applied config and event.
//!
//! Run: `cargo run -p hotconf-examples --features etcd --example etcd_watch -- 127.0.0.1:2379 app/`
//! then, in another shell: `etcdctl put app/db/port 5432`, `etcdctl del app/db/port`.

use hotconf::{EtcdConfig, EtcdProvider, Reloader, Startup};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:2379".into());
    let prefix = args.next().unwrap_or_else(|| "app/".into());
    let config = EtcdConfig::prefix([endpoint], &prefix).typed();
    println!("following {} (Ctrl-C to stop)", config.name());
    let builder = Reloader::<serde_json::Value>::builder()
        .layer(EtcdProvider::new(config))
        .startup(Startup::Wait(std::time::Duration::MAX));
    let mut events = builder.subscribe_events();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            println!("{}", serde_json::to_string(&event).unwrap_or_default());
        }
    });
    let reloader = tokio::select! {
        started = builder.start() => started?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
    };
    let mut changes = reloader.store().subscribe();
    loop {
        println!("config: {}", changes.borrow_and_update().merged());
        tokio::select! {
            changed = changes.changed() => changed?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
