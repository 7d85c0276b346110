//! One namespace as the core follow helper drives it: read at start, when the shared long poll
//! says the namespace changed (or failed), and on the periodic check; a read sends the release
//! key held (304: nothing new) and the notification's `messages`.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Content, Follow, Layer};
use hotconf_core::{Error, ErrorKind, Result, Revision};

use crate::client::{ApolloClient, ConfigRead};
use crate::config::{ApolloSource, Kind};
use crate::poller::{Poller, Subscription};
use crate::wire::ApolloConfig;

pub(crate) struct Follower {
    client: ApolloClient,
    source: Arc<ApolloSource>,
    /// Joins the shared long poll (watching); `None` for a one-off load.
    subscription: Option<Subscription>,
    watching: bool,
    /// The release last read and the layer made of it.
    last: Option<(String, Layer)>,
}

impl Follower {
    pub(crate) fn new(client: ApolloClient, source: Arc<ApolloSource>, watching: bool) -> Self {
        Follower {
            client,
            source,
            subscription: None,
            watching,
            last: None,
        }
    }

    fn layer(&self, read: &ApolloConfig) -> Result<Layer> {
        let revision = if read.release_key.is_empty() {
            let mut bytes = Vec::new();
            for (k, v) in &read.configurations {
                bytes.extend_from_slice(k.as_bytes());
                bytes.push(0);
                bytes.extend_from_slice(v.as_bytes());
                bytes.push(0);
            }
            Revision::of_content(&bytes)
        } else {
            Revision::Tag(read.release_key.clone())
        };
        let content = match self.source.kind {
            Kind::Properties => {
                let entries: Vec<(String, String)> = read
                    .configurations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Content::Keys {
                    separator: '.',
                    entries,
                    typed: self.source.typed,
                }
            }
            Kind::Document(format) => match read.configurations.get("content") {
                Some(content) => Content::Document {
                    format,
                    bytes: content.as_bytes().into(),
                },
                None => Content::Empty,
            },
            Kind::Unknown => return Err(unknown_format(&self.source.namespace)),
        };
        Ok(Layer::new(content, revision))
    }
}

fn unknown_format(namespace: &str) -> Error {
    let suffix = namespace.rsplit_once('.').map_or("", |(_, s)| s);
    Error::new(
        ErrorKind::Config,
        format!(
            "apollo: hotconf cannot tell how to parse namespace `{namespace}` (`.{suffix}`): give its format (`ApolloSource::format`, or `format=` in the URI)"
        ),
    )
    .with_key(namespace.to_owned())
}

#[async_trait]
impl Follow for Follower {
    async fn read(&mut self) -> Result<Layer> {
        if self.source.kind == Kind::Unknown {
            return Err(unknown_format(&self.source.namespace));
        }
        if self.watching && self.subscription.is_none() {
            // Check the settings first: a client that cannot work starts no poll.
            self.client
                .config()
                .check()
                .map_err(|e| e.with_transient(false))?;
            self.subscription = Some(Poller::subscribe(&self.client, &self.source.namespace));
        }
        let messages = self.subscription.as_ref().and_then(Subscription::messages);
        let namespace = &self.source.namespace;
        let held = self.last.as_ref().map(|(key, _)| key.as_str());
        let read = self.client.read(namespace, held, messages.as_ref()).await;
        if let Some(subscription) = &self.subscription {
            subscription.read_done();
        }
        match read? {
            ConfigRead::Release(read) => {
                let layer = self.layer(&read)?;
                self.last = Some((read.release_key, layer.clone()));
                Ok(layer)
            }
            ConfigRead::NotModified => match &self.last {
                Some((_, layer)) => Ok(layer.clone()),
                None => {
                    // A 304 without a release key sent: a confused server; read it all.
                    match self.client.read(namespace, None, messages.as_ref()).await? {
                        ConfigRead::Release(read) => {
                            let layer = self.layer(&read)?;
                            self.last = Some((read.release_key, layer.clone()));
                            Ok(layer)
                        }
                        _ => Ok(Layer::empty(Revision::Tag("absent".to_owned()))),
                    }
                }
            },
            ConfigRead::NotFound => {
                self.last = None;
                Ok(Layer::empty(Revision::Tag("absent".to_owned())))
            }
        }
    }

    /// The shared long poll's word for this namespace, or the periodic check.
    async fn changed(&mut self) {
        let interval = self.client.config().check_interval;
        match &mut self.subscription {
            Some(subscription) => {
                tokio::select! {
                    () = subscription.changed() => {}
                    () = tokio::time::sleep(interval) => {}
                }
            }
            None => tokio::time::sleep(interval).await,
        }
    }
}
