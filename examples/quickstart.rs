//! hotconf in one minute. A small service reads its typed config from four layers: a file, an
//! optional local override file (missing at the start), a Kubernetes-style ConfigMap mount, and
//! the environment. The demo then edits them the way people and the kubelet do and prints what
//! the service sees after each step: a valid edit is applied, an invalid one is rejected (the
//! last good config keeps serving), a ConfigMap update (the kubelet's `..data` symlink swap) is
//! applied, the local override file is created (applied) and deleted (the file's values come
//! back), and a rollback restores an earlier version.
//!
//! Run: `cargo run --example quickstart` (only the Rust toolchain; finishes in about a second).
//! Or watch your own file until Ctrl-C: `cargo run --example quickstart -- ./my-config.toml`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use hotconf::{Error, Event, FileProvider, Reloader, Store};
use serde::Deserialize;
use tokio::sync::broadcast;

#[derive(Debug, Deserialize)]
struct Config {
    greeting: String,
    server: Server,
    db: Db,
}

#[derive(Debug, Deserialize)]
struct Server {
    port: u16,
    workers: u32,
}

#[derive(Debug, Deserialize)]
struct Db {
    host: String,
    pool: u32,
}

/// The "service": answers a request from whatever config is current, without locks.
fn handle_request(store: &Store<Config>) -> String {
    let c = store.load(); // one consistent version for the whole request
    format!(
        "v{}: \"{}\" on :{} with {} workers, db {} (pool {})",
        c.version(),
        c.greeting,
        c.server.port,
        c.server.workers,
        c.db.host,
        c.db.pool
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match std::env::args().nth(1) {
        Some(path) => watch_user_file(PathBuf::from(path)).await,
        None => demo().await,
    };
    hotconf_examples::exit_code(outcome)
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("app.toml");
    let local = dir.path().join("local.toml");
    let configmap = dir.path().join("configmap");
    std::fs::write(
        &file,
        "greeting = \"hello\"\n[server]\nport = 8080\nworkers = 4\n",
    )?;
    kubelet_publish(
        &configmap,
        &[("db.host", "db-1.internal"), ("db.pool", "8")],
    )?;

    println!(
        "layers (lowest first): {}, {} (optional, missing), {}/ (a ConfigMap mount), env QUICKSTART_*",
        file.display(),
        local.display(),
        configmap.display()
    );
    let reloader = Reloader::<Config>::builder()
        .layer(FileProvider::new(&file))
        .layer(FileProvider::new(&local))
        .optional() // local overrides: left out while the file is missing
        .layer(FileProvider::directory(&configmap).typed())
        .layer(hotconf::EnvProvider::prefixed("QUICKSTART_"))
        .validate(|c| match c.server.workers {
            0 => Err(Error::validation("must be at least 1").with_key("server.workers")),
            _ => Ok(()),
        })
        .start()
        .await?;
    let store = reloader.store();
    let mut events = reloader.events();
    println!("started        {}", handle_request(&store));

    step(
        "edit app.toml (saved by rename, as editors do)",
        &mut events,
        &store,
        || {
            save(
                &file,
                "greeting = \"hi\"\n[server]\nport = 8080\nworkers = 16\n",
            )
        },
    )
    .await?;
    step(
        "an edit that fails validation (workers = 0)",
        &mut events,
        &store,
        || {
            save(
                &file,
                "greeting = \"hi\"\n[server]\nport = 8080\nworkers = 0\n",
            )
        },
    )
    .await?;
    step("an edit that does not parse", &mut events, &store, || {
        save(&file, "greeting = \"hi\n")
    })
    .await?;
    step(
        "the kubelet updates the ConfigMap (..data symlink swap)",
        &mut events,
        &store,
        || {
            kubelet_publish(
                &configmap,
                &[("db.host", "db-2.internal"), ("db.pool", "32")],
            )
        },
    )
    .await?;

    step(
        "create local.toml, the optional override file",
        &mut events,
        &store,
        || save(&local, "greeting = \"hello from local.toml\"\n"),
    )
    .await?;
    step(
        "delete local.toml (app.toml's greeting comes back)",
        &mut events,
        &store,
        || std::fs::remove_file(&local),
    )
    .await?;

    println!("\n== roll back to version 2");
    let restored = reloader.rollback(2).await?;
    println!(
        "  applied v{} ({}); sources are followed again after unpin()",
        restored.version(),
        restored.origin()
    );
    println!("  service sees {}", handle_request(&store));
    Ok(())
}

/// Makes a change and prints the event it leads to, then what the service sees.
async fn step(
    what: &str,
    events: &mut broadcast::Receiver<Event>,
    store: &Store<Config>,
    change: impl FnOnce() -> std::io::Result<()>,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== {what}");
    change()?;
    let event = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(event @ (Event::Applied { .. } | Event::Rejected { .. })) => return Ok(event),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    })
    .await??;
    println!("  event        {}", serde_json::to_string(&event)?);
    println!("  service sees {}", handle_request(store));
    Ok(())
}

fn save(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

/// What the kubelet does to a ConfigMap volume: write a new timestamped directory, point
/// `..data` at it with one atomic rename, remove the old one. Keys are `key -> ..data/key`.
fn kubelet_publish(dir: &Path, files: &[(&str, &str)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let old = std::fs::read_link(dir.join("..data")).ok();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let ts = format!("..{nanos}");
    std::fs::create_dir(dir.join(&ts))?;
    for (key, value) in files {
        std::fs::write(dir.join(&ts).join(key), value)?;
        if std::fs::symlink_metadata(dir.join(key)).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(key), dir.join(key))?;
        }
    }
    std::os::unix::fs::symlink(&ts, dir.join("..data_tmp"))?;
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data"))?;
    if let Some(old) = old {
        std::fs::remove_dir_all(dir.join(old))?;
    }
    Ok(())
}

/// Follows the user's own file until Ctrl-C, printing each event.
async fn watch_user_file(path: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    println!("watching {} (Ctrl-C to stop)", path.display());
    hotconf_examples::print_until_ctrl_c(FileProvider::new(&path)).await
}
