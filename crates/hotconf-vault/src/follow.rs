//! The poll loop of a [`VaultProvider`](crate::VaultProvider): KV v2's metadata, KV v1's data,
//! a leased secret's lease; and a server that lost its state, told from a deletion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hotconf_core::provider::{Content, Follow, Layer};
use hotconf_core::{Error, ErrorKind, Result, Revision, Secret};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::api::{is_forbidden, str_at, Api, Reply};
use crate::client::VaultClient;
use crate::kv::{self, Engine, VersionState};
use crate::lease::{Due, Lease};
use crate::source::VaultSource;

/// The revision of a secret that does not exist.
const ABSENT: &str = "absent";

pub(crate) struct Poller {
    client: VaultClient,
    source: Arc<VaultSource>,
    /// False for a single `load`: no cluster id is recorded.
    watching: bool,
    engine: Option<Engine>,
    /// The server's `cluster_id` when it was first read: a new one means it lost its state.
    cluster: Option<String>,
    /// The last state delivered.
    last: Option<Layer>,
    /// KV v2: each secret's version state and data (one entry, `""`, for a single secret).
    versions: BTreeMap<String, (VersionState, Option<Map<String, Value>>)>,
    /// The highest version delivered; a lower one means its history restarted.
    highest: u64,
    /// Versions are tags from now on (the history restarted: not comparable to the old ones).
    restarted: bool,
    /// The new cluster found while the secret was gone: followed once the secret is back.
    new_cluster: Option<String>,
    lease: Option<Lease>,
}

impl Poller {
    pub(crate) fn new(client: VaultClient, source: Arc<VaultSource>, watching: bool) -> Self {
        Poller {
            client,
            source,
            watching,
            engine: None,
            cluster: None,
            last: None,
            versions: BTreeMap::new(),
            highest: 0,
            restarted: false,
            new_cluster: None,
            lease: None,
        }
    }

    async fn read_with(&mut self, token: &Secret) -> Result<Layer> {
        let api = self.client.api()?.clone();
        // Asked once, before the first state: a server that does not answer it is followed
        // without the check (a disappearance is then a deletion), not asked at every poll.
        if self.watching && self.cluster.is_none() && self.last.is_none() {
            self.cluster = cluster_id(&api).await.ok();
        }
        let engine = match &self.engine {
            Some(engine) => engine.clone(),
            None => {
                let engine = Engine::detect(&api, token, &self.source.path, self.source.kv).await?;
                if self.source.prefix && matches!(engine, Engine::Other { .. }) {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "vault: `{}/` is not on a KV mount: only KV secrets can be followed by prefix",
                            self.source.path
                        ),
                    )
                    .with_transient(false));
                }
                self.engine = Some(engine.clone());
                engine
            }
        };
        let layer = match (&engine, self.source.prefix) {
            (Engine::Kv2 { mount, path }, false) => {
                self.kv2_secret(&api, token, mount, path).await?
            }
            (Engine::Kv2 { mount, path }, true) => {
                self.kv2_prefix(&api, token, mount, path).await?
            }
            (Engine::Kv1 { mount, path }, false) => {
                let read = kv::read(&api, token, &join(mount, path)).await?;
                self.plain(&api, read.map(|r| r.data)).await?
            }
            (Engine::Kv1 { mount, path }, true) => {
                self.kv1_prefix(&api, token, mount, path).await?
            }
            (Engine::Other { path }, _) => self.leased(&api, token, path).await?,
        };
        self.last = Some(layer.clone());
        Ok(layer)
    }

    /// KV v2, one secret: the metadata, and the data only when the version's state moved.
    async fn kv2_secret(
        &mut self,
        api: &Api,
        token: &Secret,
        mount: &str,
        path: &str,
    ) -> Result<Layer> {
        let Some(state) = kv::kv2_state(api, token, mount, path).await? else {
            // Gone after being there, or still gone from a server that lost its state: the
            // cluster decides whether it is a deletion (and keeps saying so until it is back).
            let had = self.versions.remove("").is_some();
            if had || self.new_cluster.is_some() {
                self.vanished(api).await?;
            }
            return Ok(Layer::empty(Revision::Tag(ABSENT.into())));
        };
        self.present();
        if let (Some((seen, _)), Some(last)) = (self.versions.get(""), &self.last) {
            if *seen == state && !state.deletion_pending() {
                return Ok(last.clone());
            }
        }
        if state.version < self.highest {
            self.vanished(api).await?;
            self.restarted = true;
        }
        let data = kv::kv2_data(api, token, mount, path, state.version).await?;
        let revision = self.version_revision(state.version);
        self.versions.insert(String::new(), (state, data.clone()));
        Ok(Layer::new(self.content(data), revision))
    }

    /// KV v2, every secret under a prefix: a list, each one's metadata, the data of those whose
    /// version moved.
    async fn kv2_prefix(
        &mut self,
        api: &Api,
        token: &Secret,
        mount: &str,
        prefix: &str,
    ) -> Result<Layer> {
        let prefix = with_slash(prefix);
        let limits = self.client.settings().limits;
        let names = kv::list(api, token, &format!("{mount}/metadata"), &prefix, &limits).await?;
        let mut next = BTreeMap::new();
        let mut moved = false;
        for name in names {
            let path = format!("{prefix}{name}");
            let Some(state) = kv::kv2_state(api, token, mount, &path).await? else {
                continue; // deleted between the list and the read
            };
            let data = match self.versions.remove(&name) {
                Some((seen, data)) if seen == state && !state.deletion_pending() => data,
                _ => {
                    moved = true;
                    kv::kv2_data(api, token, mount, &path, state.version).await?
                }
            };
            next.insert(name, (state, data));
        }
        // What is left of the old states are secrets no longer listed.
        let unchanged = !moved && self.versions.is_empty();
        let vanished = next.is_empty() && (!self.versions.is_empty() || self.new_cluster.is_some());
        self.versions = next;
        // Nothing moved: the last state as it was, without building its tree again.
        if let (true, false, Some(last)) = (unchanged, vanished, &self.last) {
            return Ok(last.clone());
        }
        if vanished {
            self.vanished(api).await?;
        } else if !self.versions.is_empty() {
            self.present();
        }
        let mut tree = Map::new();
        let mut revision = String::new();
        for (name, (state, data)) in &self.versions {
            revision.push_str(&format!(
                "{name}@{}:{};",
                state.version, state.deletion_time
            ));
            if let Some(data) = data {
                insert(
                    &mut tree,
                    &name.split('/').collect::<Vec<_>>(),
                    Value::Object(data.clone()),
                );
            }
        }
        check_size(&tree, &limits, &prefix)?;
        let content = (!tree.is_empty()).then_some(tree);
        Ok(Layer::new(
            self.content(content),
            Revision::of_content(revision.as_bytes()),
        ))
    }

    /// KV v1, every secret under a prefix: a list and a read of each.
    async fn kv1_prefix(
        &mut self,
        api: &Api,
        token: &Secret,
        mount: &str,
        prefix: &str,
    ) -> Result<Layer> {
        let prefix = with_slash(prefix);
        let limits = self.client.settings().limits;
        let names = kv::list(api, token, mount, &prefix, &limits).await?;
        let mut tree = Map::new();
        for name in &names {
            if let Some(read) =
                kv::read(api, token, &join(mount, &format!("{prefix}{name}"))).await?
            {
                insert(
                    &mut tree,
                    &name.split('/').collect::<Vec<_>>(),
                    Value::Object(read.data),
                );
            }
        }
        check_size(&tree, &limits, &prefix)?;
        self.plain(api, (!tree.is_empty()).then_some(tree)).await
    }

    /// Another engine's secret: read once, then again only when its lease must be replaced
    /// (each read of `database/creds/ROLE` makes new credentials); renewed meanwhile.
    async fn leased(&mut self, api: &Api, token: &Secret, path: &str) -> Result<Layer> {
        let now = Instant::now();
        if let (Some(lease), Some(last)) = (&mut self.lease, &self.last) {
            match lease.act(api, token, now).await? {
                Due::Not | Due::Renewed => return Ok(last.clone()),
                Due::ReadAgain => {}
            }
        }
        let read = kv::read(api, token, path).await?;
        self.lease = read.as_ref().and_then(|r| Lease::of(r, now));
        self.plain(api, read.map(|r| r.data)).await
    }

    /// A state without versions (KV v1, a leased secret): its revision is its content's hash.
    async fn plain(&mut self, api: &Api, data: Option<Map<String, Value>>) -> Result<Layer> {
        let was_present = self
            .last
            .as_ref()
            .is_some_and(|l| l.content != Content::Empty);
        if data.is_none() && was_present {
            self.vanished(api).await?;
        } else if data.is_some() {
            self.present();
        }
        let revision = match &data {
            Some(data) => Revision::of_content(Value::Object(data.clone()).to_string().as_bytes()),
            None => Revision::Tag(ABSENT.into()),
        };
        Ok(Layer::new(self.content(data), revision))
    }

    /// The secret's keys as the layer's content, under the source's `at` path.
    fn content(&self, data: Option<Map<String, Value>>) -> Content {
        let Some(data) = data else {
            return Content::Empty;
        };
        let mut value = Value::Object(data);
        for key in self.source.at.iter().rev() {
            value = Value::Object(Map::from_iter([(key.clone(), value)]));
        }
        Content::Tree(value)
    }

    /// A KV v2 version as a revision: ordered, unless the secret's history restarted (it was
    /// removed and written again, or the server lost its state), after which the new numbers are
    /// not comparable to the old ones and are tags.
    fn version_revision(&mut self, version: u64) -> Revision {
        self.highest = self.highest.max(version);
        if self.restarted {
            Revision::Tag(format!("v{version}"))
        } else {
            Revision::Ordered(version)
        }
    }

    /// What was there is gone: a deletion, unless the server is another cluster than the one
    /// first read (a dev server restarted, storage lost), which is an error so that the last
    /// good config keeps serving until the secret is written there again.
    async fn vanished(&mut self, api: &Api) -> Result<()> {
        let Some(first) = &self.cluster else {
            return Ok(());
        };
        let now = cluster_id(api).await?;
        if &now == first {
            return Ok(());
        }
        let error = Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "vault: `{}` is gone because the server is a new cluster (cluster_id {first} is now {now}): \
                 it lost its state (a dev server restarted, or storage was replaced); keeping the last \
                 good config until the secret is written there again",
                self.source.path
            ),
        )
        .with_key(self.source.path.clone())
        .with_transient(true));
        self.new_cluster = Some(now);
        error
    }

    /// The secret is there: if it had vanished with its server's state, the new cluster is
    /// the one followed from now on, and its versions are not comparable to the old ones.
    fn present(&mut self) {
        if let Some(cluster) = self.new_cluster.take() {
            self.cluster = Some(cluster);
            self.restarted = true;
        }
    }
}

#[async_trait]
impl Follow for Poller {
    async fn read(&mut self) -> Result<Layer> {
        let client = self.client.clone();
        let session = client.session();
        let token = session.token(&client).await?;
        let result = self.read_with(&token).await;
        if let Err(error) = &result {
            if is_forbidden(error) {
                session.refused(&token).await;
            }
        }
        result
    }

    async fn changed(&mut self) {
        let now = Instant::now();
        let mut wake = match (&self.engine, &self.lease) {
            // A leased secret is read again when its lease is due, not on a timer.
            (Some(Engine::Other { .. }), Some(lease)) => lease.due(),
            _ => now + jittered(self.source.interval),
        };
        if let Some(due) = self.client.session().due() {
            wake = wake.min(due);
        }
        tokio::time::sleep_until(wake.into()).await;
    }
}

/// The server's `cluster_id` (`sys/health`, no token; sealed or standby answer 200 too).
async fn cluster_id(api: &Api) -> Result<String> {
    let asked = "sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200";
    match api.call("checking", Method::GET, asked, None, None).await? {
        Reply::Found(answer) => str_at(&answer, "/cluster_id")
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| crate::api::malformed("checking", "sys/health", "cluster_id")),
        Reply::NotFound => Err(crate::api::malformed("checking", "sys/health", "answer")),
    }
}

/// `interval` ± 10 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + fastrand::f64() * 0.2)
}

fn join(mount: &str, path: &str) -> String {
    format!("{mount}/{path}")
}

fn with_slash(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// Puts `value` at the path `segments` in `tree`, merging into maps already there.
fn insert(tree: &mut Map<String, Value>, segments: &[&str], value: Value) {
    let [first, rest @ ..] = segments else {
        return;
    };
    if rest.is_empty() {
        match (tree.get_mut(*first), value) {
            (Some(Value::Object(there)), Value::Object(new)) => there.extend(new),
            (_, value) => {
                tree.insert((*first).to_owned(), value);
            }
        }
        return;
    }
    let child = tree
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    if let Value::Object(child) = child {
        insert(child, rest, value);
    }
}

/// Refuses a prefix whose secrets add up to more than `max_total_bytes`.
fn check_size(
    tree: &Map<String, Value>,
    limits: &hotconf_core::Limits,
    prefix: &str,
) -> Result<()> {
    let size = serde_json::to_vec(tree).map_or(usize::MAX, |v| v.len());
    if size > limits.max_total_bytes {
        return Err(Error::new(
            ErrorKind::Parse,
            format!(
                "vault: the secrets under `{prefix}` hold {size} bytes, more than {} (Limits)",
                limits.max_total_bytes
            ),
        )
        .with_key(prefix.to_owned())
        .with_transient(true));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_under_a_prefix_nest_by_their_relative_paths() {
        let mut tree = Map::new();
        insert(&mut tree, &["db", "primary"], json!({"user": "a"}));
        insert(&mut tree, &["db", "replica"], json!({"user": "b"}));
        insert(&mut tree, &["api"], json!({"key": "k"}));
        insert(&mut tree, &["db"], json!({"pool": 5}));
        assert_eq!(
            Value::Object(tree),
            json!({"api": {"key": "k"}, "db": {"pool": 5, "primary": {"user": "a"}, "replica": {"user": "b"}}})
        );
    }

    #[test]
    fn a_jittered_interval_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(30));
            assert!(
                d >= Duration::from_secs(27) && d <= Duration::from_secs(33),
                "{d:?}"
            );
        }
    }
}
