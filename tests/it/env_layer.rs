//! The env layer: `APP_DB__PORT=5432` with prefix `APP_` is `db.port = 5432`, typed.

use hotconf::{EnvProvider, Format, MemoryProvider, Reloader};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Cfg {
    name: String,
    db: Db,
}

#[derive(Debug, Deserialize)]
struct Db {
    host: String,
    port: u16,
    tls: bool,
}

#[tokio::test]
async fn env_variables_override_lower_layers_nested_and_typed() {
    // A prefix no other test uses: the environment is shared by the whole test process.
    std::env::set_var("HOTCONF_IT_ENV_DB__PORT", "6543");
    std::env::set_var("HOTCONF_IT_ENV_DB__TLS", "true");
    std::env::set_var("HOTCONF_IT_ENV_NAME", "from-env");
    let (lower, handle) = MemoryProvider::new("memory:defaults");
    handle.set_document(
        Format::Toml,
        "name = \"d\"\n[db]\nhost = \"h\"\nport = 1\ntls = false\n",
    );
    let reloader = Reloader::<Cfg>::builder()
        .layer(lower)
        .layer(EnvProvider::prefixed("HOTCONF_IT_ENV_"))
        .start()
        .await
        .unwrap();
    let config = reloader.store().get();
    assert_eq!(
        (
            config.name.as_str(),
            config.db.host.as_str(),
            config.db.port,
            config.db.tls
        ),
        ("from-env", "h", 6543, true)
    );
    assert!(config
        .revisions()
        .iter()
        .any(|(source, _)| source == "env:HOTCONF_IT_ENV_"));
}
