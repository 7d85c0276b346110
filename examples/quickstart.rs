//! hotconf in one minute: a service reads its typed config from two layers, then watches
//! hotconf apply a valid edit, reject an invalid one (the last good config keeps serving), fall
//! back to defaults when the upper source is deleted, and roll back.
//!
//! Run: `cargo run --example quickstart` (needs only the Rust toolchain; finishes in a second).
//! The sources are in memory until the file backend lands; the flow is the same for any backend.

use std::time::Duration;

use hotconf::{Error, Event, Format, MemoryProvider, Reloader, Store};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Config {
    greeting: String,
    server: Server,
}

#[derive(Debug, Deserialize)]
struct Server {
    port: u16,
    workers: u32,
}

/// The "service": answers requests from whatever config is current, without locks.
fn handle_request(store: &Store<Config>) -> String {
    let config = store.load(); // one consistent version for the whole request
    format!(
        "v{}: {} (port {}, {} workers)",
        config.version(),
        config.greeting,
        config.server.port,
        config.server.workers
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Layer 1: defaults shipped with the service. Layer 2: what operators change at run time.
    let (defaults, defaults_source) = MemoryProvider::new("memory:defaults.toml");
    defaults_source.set_document(
        Format::Toml,
        "greeting = \"hello\"\n[server]\nport = 8080\nworkers = 4\n",
    );
    let (runtime, operator) = MemoryProvider::new("memory:runtime.yaml");
    operator.set_document(Format::Yaml, "greeting: hello from the operators\n");

    let reloader = Reloader::<Config>::builder()
        .layer(defaults)
        .layer(runtime)
        .validate(|c| match c.server.workers {
            0 => Err(Error::validation("must be at least 1").with_key("server.workers")),
            _ => Ok(()),
        })
        .start()
        .await?;
    let mut events = reloader.events();
    let store = reloader.store();
    let mut changes = store.subscribe();
    println!("started        {}", handle_request(&store));

    step("a valid edit", &mut events, || {
        operator.set_document(Format::Yaml, "greeting: hi\nserver: {workers: 16}\n");
    })
    .await;
    changes.changed().await?;
    println!("  service sees {}", handle_request(&store));

    step("an edit that fails validation", &mut events, || {
        operator.set_document(Format::Yaml, "server: {workers: 0}\n");
    })
    .await;
    println!("  service sees {}", handle_request(&store));

    step("an edit that does not even parse", &mut events, || {
        operator.set_document(Format::Yaml, "server: {workers: [\n");
    })
    .await;
    println!("  service sees {}", handle_request(&store));

    step("the runtime source is deleted", &mut events, || {
        operator.delete();
    })
    .await;
    changes.changed().await?;
    println!("  service sees {}", handle_request(&store));

    println!("\n== rolling back to version 2");
    let restored = reloader.rollback(2).await?;
    println!(
        "  applied version {} ({:?})",
        restored.version(),
        restored.origin()
    );
    println!("  service sees {}", handle_request(&store));
    Ok(())
}

/// Makes a change and prints the event it leads to.
async fn step(
    what: &str,
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    change: impl FnOnce(),
) {
    println!("\n== {what}");
    change();
    let next = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Ok(event @ (Event::Applied { .. } | Event::Rejected { .. })) => return Some(event),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    });
    match next.await {
        Ok(Some(event)) => println!(
            "  event        {}",
            serde_json::to_string(&event).unwrap_or_default()
        ),
        _ => println!("  (no event within 5 s)"),
    }
}
