//! The secrets engines' reads: which engine a path is on, KV v2's metadata and versions, KV v1,
//! lists under a prefix, and any other engine's read with its lease.

use hotconf_core::{Error, ErrorKind, Limits, Result, Secret};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::api::{encode_path, malformed, str_at, u64_at, Api, Reply};
use crate::source::KvVersion;

/// Folders below a prefix deeper than this are refused (a lying server could nest forever).
const MAX_DEPTH: usize = 32;

/// The engine a source's path is on, and the path inside its mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Engine {
    /// KV v2 at `mount` (`secret`), the secret at `path` in it.
    Kv2 { mount: String, path: String },
    /// KV v1 at `mount`.
    Kv1 { mount: String, path: String },
    /// Another engine (`database`, `aws`, `pki`…): the whole path is read as is.
    Other { path: String },
}

impl Engine {
    /// The engine of `path` (`secret/app/db`): `forced` when given (the first segment is then
    /// the mount), else what `sys/internal/ui/mounts/PATH` says (the CLI's own way; a server
    /// too old for it is KV v1, as the CLI assumes).
    pub(crate) async fn detect(
        api: &Api,
        token: &Secret,
        path: &str,
        forced: Option<KvVersion>,
    ) -> Result<Engine> {
        let split_first = || {
            let (mount, rest) = path.split_once('/').unwrap_or((path, ""));
            (mount.to_owned(), rest.to_owned())
        };
        if let Some(version) = forced {
            let (mount, path) = split_first();
            return Ok(match version {
                KvVersion::V1 => Engine::Kv1 { mount, path },
                KvVersion::V2 => Engine::Kv2 { mount, path },
            });
        }
        let asked = format!("sys/internal/ui/mounts/{}", encode_path(path));
        let answer = match api
            .call(
                "finding the engine of",
                Method::GET,
                &asked,
                Some(token),
                None,
            )
            .await?
        {
            Reply::Found(answer) => answer,
            Reply::NotFound => {
                let (mount, path) = split_first();
                return Ok(Engine::Kv1 { mount, path });
            }
        };
        let mount = str_at(&answer, "/data/path")
            .ok_or_else(|| malformed("finding the engine of", path, "data.path"))?
            .trim_end_matches('/')
            .to_owned();
        let inside = path
            .strip_prefix(mount.as_str())
            .map(|rest| rest.trim_start_matches('/').to_owned())
            .ok_or_else(|| malformed("finding the engine of", path, "mount that holds it"))?;
        let version = str_at(&answer, "/data/options/version").unwrap_or("1");
        Ok(match str_at(&answer, "/data/type") {
            Some("kv" | "generic") if version == "2" => Engine::Kv2 {
                mount,
                path: inside,
            },
            Some("kv" | "generic") => Engine::Kv1 {
                mount,
                path: inside,
            },
            _ => Engine::Other {
                path: path.to_owned(),
            },
        })
    }
}

/// What KV v2's metadata says of a secret's current version: when it changes, the data is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionState {
    pub(crate) version: u64,
    /// When the secret's metadata was made: a secret removed and written again between two
    /// polls has the same version number but another history.
    pub(crate) created_time: String,
    /// `deletion_time` of the current version (`""` when not deleted).
    pub(crate) deletion_time: String,
    pub(crate) destroyed: bool,
}

impl VersionState {
    /// Whether a deletion is set (maybe in the future, by `delete_version_after`): the data
    /// is then read at every poll, since it may disappear without the metadata changing.
    pub(crate) fn deletion_pending(&self) -> bool {
        !self.deletion_time.is_empty() || self.destroyed
    }
}

/// KV v2: the current version's state, `None` when the secret does not exist.
pub(crate) async fn kv2_state(
    api: &Api,
    token: &Secret,
    mount: &str,
    path: &str,
) -> Result<Option<VersionState>> {
    let asked = format!("{}/metadata/{}", encode_path(mount), encode_path(path));
    let answer = match api
        .call("polling", Method::GET, &asked, Some(token), None)
        .await?
    {
        Reply::Found(answer) => answer,
        Reply::NotFound => return Ok(None),
    };
    let version = u64_at(&answer, "/data/current_version")
        .ok_or_else(|| malformed("polling", &asked, "data.current_version"))?;
    let current = answer.pointer(&format!("/data/versions/{version}"));
    let field = |name: &str| current.and_then(|v| v.get(name));
    Ok(Some(VersionState {
        version,
        created_time: str_at(&answer, "/data/created_time")
            .unwrap_or("")
            .to_owned(),
        deletion_time: field("deletion_time")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        destroyed: field("destroyed").and_then(Value::as_bool).unwrap_or(false),
    }))
}

/// KV v2: the data of `version`, `None` when it is deleted or destroyed (or gone meanwhile).
pub(crate) async fn kv2_data(
    api: &Api,
    token: &Secret,
    mount: &str,
    path: &str,
    version: u64,
) -> Result<Option<Map<String, Value>>> {
    let asked = format!(
        "{}/data/{}?version={version}",
        encode_path(mount),
        encode_path(path)
    );
    match api
        .call("reading", Method::GET, &asked, Some(token), None)
        .await?
    {
        Reply::NotFound => Ok(None),
        Reply::Found(answer) => match answer.pointer("/data/data") {
            Some(Value::Object(data)) => Ok(Some(data.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(malformed("reading", path, "data.data object")),
        },
    }
}

/// A plain read (KV v1, or another engine): the `data` and the answer's lease, `None` on 404.
pub(crate) async fn read(api: &Api, token: &Secret, path: &str) -> Result<Option<Read>> {
    let asked = encode_path(path);
    match api
        .call("reading", Method::GET, &asked, Some(token), None)
        .await?
    {
        Reply::NotFound => Ok(None),
        Reply::Found(answer) => {
            let data = match answer.get("data") {
                Some(Value::Object(data)) => data.clone(),
                _ => return Err(malformed("reading", path, "data object")),
            };
            let lease_id = str_at(&answer, "/lease_id").unwrap_or("").to_owned();
            Ok(Some(Read {
                data,
                lease_id,
                lease_duration: u64_at(&answer, "/lease_duration").unwrap_or(0),
                renewable: answer
                    .get("renewable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }))
        }
    }
}

/// A plain read's answer.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) data: Map<String, Value>,
    /// Empty when the answer holds no lease (KV).
    pub(crate) lease_id: String,
    pub(crate) lease_duration: u64,
    pub(crate) renewable: bool,
}

/// Every secret under `prefix` (`app/`) of a list endpoint (`secret/metadata/` for KV v2, the
/// mount for KV v1), as paths relative to the prefix, sorted; folders are walked.
pub(crate) async fn list(
    api: &Api,
    token: &Secret,
    list_root: &str,
    prefix: &str,
    limits: &Limits,
) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut folders = vec![(String::new(), 0usize)];
    while let Some((folder, depth)) = folders.pop() {
        if depth > MAX_DEPTH {
            return Err(too_many(
                prefix,
                format!("folders nested deeper than {MAX_DEPTH}"),
            ));
        }
        let asked = format!(
            "{}/{}?list=true",
            encode_path(list_root),
            encode_path(&format!("{prefix}{folder}"))
        );
        let answer = match api
            .call("listing", Method::GET, &asked, Some(token), None)
            .await?
        {
            Reply::Found(answer) => answer,
            // An empty folder (or none): nothing under it.
            Reply::NotFound => continue,
        };
        let keys = answer
            .pointer("/data/keys")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("listing", prefix, "data.keys"))?;
        for key in keys {
            let key = key
                .as_str()
                .filter(|k| !k.is_empty() && !k.split('/').any(|s| s == ".." || s == "."))
                .ok_or_else(|| malformed("listing", prefix, "list of names"))?;
            let path = format!("{folder}{key}");
            if key.ends_with('/') {
                folders.push((path, depth + 1));
            } else {
                found.push(path);
            }
            if found.len() + folders.len() > limits.max_keys {
                return Err(too_many(
                    prefix,
                    format!("more than {} secrets", limits.max_keys),
                ));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn too_many(prefix: &str, what: String) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("vault: listing `{prefix}`: {what} (Limits)"),
    )
    .with_key(prefix.to_owned())
    .with_transient(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_deletion_is_read_at_every_poll() {
        let state = |deletion_time: &str, destroyed| VersionState {
            version: 3,
            created_time: String::new(),
            deletion_time: deletion_time.to_owned(),
            destroyed,
        };
        assert!(!state("", false).deletion_pending());
        assert!(state("2030-01-01T00:00:00Z", false).deletion_pending());
        assert!(state("", true).deletion_pending());
    }
}
