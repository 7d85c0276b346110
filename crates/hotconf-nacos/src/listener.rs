//! The nacos-sdk side: a listener that only hands a hint to our task. The SDK runs every
//! callback on one shared thread, so the callback must never block or do work.

use std::sync::Arc;

use hotconf_core::{Error, ErrorKind, Result};
use nacos_sdk::api::config::{
    ConfigChangeListener, ConfigResponse, ConfigService, ConfigServiceBuilder,
};
use nacos_sdk::api::props::ClientProps;
use tokio::sync::Notify;

use crate::config::NacosConfig;

struct Hint(Arc<Notify>);

impl ConfigChangeListener for Hint {
    fn notify(&self, _: ConfigResponse) {
        self.0.notify_one();
    }
}

/// Connects the SDK and registers a listener that pokes `hint` on every push.
pub(crate) async fn listen(config: &NacosConfig, hint: Arc<Notify>) -> Result<ConfigService> {
    let cache_dir = config
        .cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("hotconf-nacos"));
    let mut props = ClientProps::new()
        .server_addr(config.server.clone())
        .namespace(config.namespace.clone())
        .app_name("hotconf")
        // Behaviour never depends on stray NACOS_* variables or on ~/nacos.
        .env_first(false)
        .cache_dir(cache_dir)
        .load_cache_at_start(false);
    if let Some(port) = config.grpc_port {
        props = props.remote_grpc_port(port);
    }
    // No credentials ever reach the SDK (NacosProvider::new refuses them with this listener):
    // its login plugin puts the password in a URL it logs on failure.
    let service = ConfigServiceBuilder::new(props)
        .build()
        .await
        .map_err(sdk_error)?;
    service
        .add_listener(
            config.data_id.clone(),
            config.group.clone(),
            Arc::new(Hint(hint)),
        )
        .await
        .map_err(sdk_error)?;
    Ok(service)
}

fn sdk_error(error: nacos_sdk::api::error::Error) -> Error {
    Error::new(ErrorKind::Unavailable, "nacos-sdk could not listen")
        .with_transient(true)
        .with_cause(error.to_string())
}
