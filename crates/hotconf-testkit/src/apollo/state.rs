//! The emulator's data: releases per app/cluster/namespace, gray releases, and the
//! notification ids (one global sequence, as Apollo's `ReleaseMessage` table ids are).

use std::collections::BTreeMap;

/// One release: the configurations map and its release key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The key/value pairs (for a namespace with a suffix, one key: `content`).
    pub configurations: BTreeMap<String, String>,
    /// The release key (`yyyyMMddHHmmss-hash` on a real server; unique per release here).
    pub release_key: String,
}

/// A gray rule: which clients get the gray release instead of the main one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrayRule {
    /// Client IPs (`ip=` of the request) that match.
    pub ips: Vec<String>,
    /// Client labels (`label=` of the request) that match.
    pub labels: Vec<String>,
}

impl GrayRule {
    pub(crate) fn matches(&self, ip: Option<&str>, label: Option<&str>) -> bool {
        ip.is_some_and(|ip| self.ips.iter().any(|i| i == ip))
            || label.is_some_and(|label| self.labels.iter().any(|l| l == label))
    }
}

/// `(appId, cluster, namespace)`.
pub(crate) type Key = (String, String, String);

#[derive(Debug, Clone, Default)]
pub(crate) struct Namespace {
    pub(crate) release: Option<Release>,
    pub(crate) gray: Option<(GrayRule, Release)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) namespaces: BTreeMap<Key, Namespace>,
    /// The notification id of each key that ever had a release message.
    pub(crate) ids: BTreeMap<Key, i64>,
    /// The last notification id handed out.
    pub(crate) last_id: i64,
    /// Releases made so far (for unique release keys).
    pub(crate) releases: u64,
}

/// The namespace name as the server stores it: `.properties` is the default format's suffix
/// and is dropped.
pub(crate) fn normalize(namespace: &str) -> &str {
    namespace.strip_suffix(".properties").unwrap_or(namespace)
}

pub(crate) fn key(app: &str, cluster: &str, namespace: &str) -> Key {
    (
        app.to_owned(),
        cluster.to_owned(),
        normalize(namespace).to_owned(),
    )
}

impl State {
    pub(crate) fn new_release(&mut self, configurations: BTreeMap<String, String>) -> Release {
        self.releases += 1;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (k, v) in &configurations {
            for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        Release {
            configurations,
            release_key: format!("20260101{:06}-{hash:016x}", self.releases),
        }
    }

    /// A new release message for `key`: its notification id becomes the next in sequence.
    pub(crate) fn notify(&mut self, key: &Key) -> i64 {
        self.last_id += 1;
        self.ids.insert(key.clone(), self.last_id);
        self.last_id
    }

    /// The notification id a client following `namespace` of `app`/`cluster` sees: the highest
    /// of the cluster's own, the data centre's and `default`'s (the server watches all three),
    /// or -1 when none ever had a release message.
    pub(crate) fn id_for(
        &self,
        app: &str,
        cluster: &str,
        data_center: Option<&str>,
        namespace: &str,
    ) -> i64 {
        watched_clusters(cluster, data_center)
            .into_iter()
            .filter_map(|c| self.ids.get(&key(app, &c, namespace)).copied())
            .max()
            .unwrap_or(-1)
    }

    /// The release served for a read, and the cluster that served it: the cluster's own,
    /// else the data centre's, else `default` (Apollo's fallback); the gray release when
    /// the client matches the namespace's gray rule.
    pub(crate) fn serve(
        &self,
        app: &str,
        cluster: &str,
        data_center: Option<&str>,
        namespace: &str,
        ip: Option<&str>,
        label: Option<&str>,
    ) -> Option<(String, Release)> {
        for c in watched_clusters(cluster, data_center) {
            let Some(ns) = self.namespaces.get(&key(app, &c, namespace)) else {
                continue;
            };
            if let Some((rule, gray)) = &ns.gray {
                if ns.release.is_some() && rule.matches(ip, label) {
                    return Some((c, gray.clone()));
                }
            }
            if let Some(release) = &ns.release {
                return Some((c, release.clone()));
            }
        }
        None
    }

    /// Renumbers every notification id from 1, as a server restored from an older database
    /// (or a fresh one) would: clients may see ids lower than, or equal to, ids they hold.
    pub(crate) fn reset_ids(&mut self) {
        let mut next = 0;
        for id in self.ids.values_mut() {
            next += 1;
            *id = next;
        }
        self.last_id = next;
    }
}

/// The clusters a request of `cluster` reads, in the server's order of preference: the
/// cluster itself (unless `default`), the data centre (unless it is the cluster), `default`.
fn watched_clusters(cluster: &str, data_center: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if cluster != "default" {
        out.push(cluster.to_owned());
    }
    if let Some(dc) = data_center.filter(|dc| !dc.is_empty() && *dc != cluster && *dc != "default")
    {
        out.push(dc.to_owned());
    }
    out.push("default".to_owned());
    out
}
