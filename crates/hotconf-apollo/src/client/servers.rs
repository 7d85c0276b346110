//! Which config service a request goes to: the endpoints themselves, or those a meta server
//! lists (discovered on first use, asked again after a whole round of failures); failing over
//! to the next one when one cannot be reached.

use hotconf_core::{Error, ErrorKind, Result};
use reqwest::StatusCode;

use super::{lock, ApolloClient, SMALL_BODY};
use crate::error::{bad_answer, from_transport};
use crate::wire::ServiceDto;

/// The config services requests go to, and which one is current.
#[derive(Debug, Default)]
pub(super) struct Servers {
    /// Base URLs (`http://host:port`, no trailing `/`); empty until discovered (meta mode).
    bases: Vec<String>,
    current: usize,
}

/// `http://host:port` for `host:port`; a URL is kept (without its trailing `/`).
fn base_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    }
}

impl ApolloClient {
    /// The config services a meta server lists (`GET /services/config`), as base URLs; the
    /// endpoints themselves when the client is not in meta mode.
    ///
    /// # Errors
    /// A transient error when no meta server answers with a non-empty list.
    pub async fn config_services(&self) -> Result<Vec<String>> {
        if !self.config().meta {
            self.config().check()?;
            return Ok(self
                .config()
                .endpoints
                .iter()
                .map(|e| base_url(e))
                .collect());
        }
        let http = self.http()?;
        let mut last = None;
        for meta in &self.config().endpoints {
            let url = format!("{}/services/config", base_url(meta));
            let what = "services/config";
            let answer = async {
                let response = http
                    .get(url)
                    .timeout(self.config().request_timeout)
                    .send()
                    .await
                    .map_err(|e| from_transport("listing", what, e))?;
                let status = response.status();
                let body = self
                    .body(response, status, SMALL_BODY, "listing", what)
                    .await?;
                if status != StatusCode::OK {
                    return Err(self.status_error("listing", what, status, &body));
                }
                let list: Vec<ServiceDto> = serde_json::from_slice(&body).map_err(|e| {
                    bad_answer("listing", what, "is not a service list").with_cause(e)
                })?;
                let bases: Vec<String> = list
                    .iter()
                    .filter(|s| !s.homepage_url.is_empty())
                    .map(|s| base_url(&s.homepage_url))
                    .collect();
                if bases.is_empty() {
                    return Err(bad_answer("listing", what, "lists no config service"));
                }
                Ok(bases)
            }
            .await;
            match answer {
                Ok(bases) => return Ok(bases),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "apollo: give at least one meta server address",
            )
        }))
    }

    /// The current config service, discovered first in meta mode.
    pub(super) async fn base(&self) -> Result<(String, usize)> {
        {
            let servers = lock(&self.state.built().servers);
            if !servers.bases.is_empty() {
                let i = servers.current % servers.bases.len();
                return Ok((servers.bases[i].clone(), servers.bases.len()));
            }
        }
        let bases = self.config_services().await?;
        let mut servers = lock(&self.state.built().servers);
        if servers.bases.is_empty() {
            if self.config().meta {
                tracing::info!(services = ?bases, "apollo: the meta server lists these config services");
            }
            servers.bases = bases;
            servers.current = 0;
        }
        let i = servers.current % servers.bases.len();
        Ok((servers.bases[i].clone(), servers.bases.len()))
    }

    /// `base` could not be reached: the next request goes to the next config service; after a
    /// whole round in meta mode, the meta server is asked again.
    pub(super) fn failed(&self, base: &str) {
        let mut servers = lock(&self.state.built().servers);
        let len = servers.bases.len();
        if len == 0 || servers.bases[servers.current % len] != base {
            return;
        }
        servers.current = (servers.current + 1) % len;
        if servers.current == 0 && self.config().meta {
            servers.bases.clear();
        }
    }
}
