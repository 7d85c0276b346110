//! KV secrets as an operator writes them: version 2 at the dev server's `secret/` mount
//! (reference/backends.md §8.2), and version 1 mounts enabled on demand (§8.3).

use serde_json::{json, Value};

use super::OpenBao;

/// The KV v2 mount every dev server has.
pub const KV2_MOUNT: &str = "secret";

impl OpenBao {
    /// Writes `data` (a JSON object of key/values) as a new version of `secret/<path>`
    /// (`POST secret/data/<path>`); returns the new version.
    ///
    /// # Panics
    /// When the server refuses the write (for example when `cas_required` is set on the path).
    pub async fn put(&self, path: &str, data: Value) -> u64 {
        let answer = self
            .ok(
                "POST",
                &format!("{KV2_MOUNT}/data/{path}"),
                Some(&json!({ "data": data })),
            )
            .await;
        version(&answer)
    }

    /// Writes `data` as a new version of `secret/<path>` only if its current version is `cas`
    /// (0: only if the path does not exist yet). `Ok` with the new version, or `Err` with the
    /// server's errors when the check fails (400 "check-and-set parameter did not match the
    /// current version").
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn put_cas(&self, path: &str, data: Value, cas: u64) -> Result<u64, String> {
        let body = json!({ "options": { "cas": cas }, "data": data });
        let (status, answer) = self
            .api("POST", &format!("{KV2_MOUNT}/data/{path}"), Some(&body))
            .await;
        if (200..300).contains(&status) {
            Ok(version(&answer))
        } else {
            Err(format!("HTTP {status}: {}", answer["errors"]))
        }
    }

    /// The latest version's key/values of `secret/<path>` (`data.data`), or `None` when the
    /// path does not exist or its latest version is deleted or destroyed (404).
    ///
    /// # Panics
    /// When the server answers anything else.
    pub async fn read(&self, path: &str) -> Option<Value> {
        self.read_envelope(&format!("{KV2_MOUNT}/data/{path}"))
            .await
            .map(|answer| answer["data"]["data"].clone())
    }

    /// The metadata of `secret/<path>` (`GET secret/metadata/<path>`: `current_version`,
    /// `oldest_version`, `versions` with each one's `deletion_time` and `destroyed`, …), or
    /// `None` when there is none.
    ///
    /// # Panics
    /// When the server answers anything but 200 or 404.
    pub async fn metadata(&self, path: &str) -> Option<Value> {
        self.read_envelope(&format!("{KV2_MOUNT}/metadata/{path}"))
            .await
            .map(|answer| answer["data"].clone())
    }

    /// Soft-deletes the latest version of `secret/<path>` (`DELETE secret/data/<path>`); reads
    /// then get 404 until [`OpenBao::undelete`].
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn delete(&self, path: &str) {
        self.ok("DELETE", &format!("{KV2_MOUNT}/data/{path}"), None)
            .await;
    }

    /// Restores soft-deleted `versions` of `secret/<path>` (`POST secret/undelete/<path>`).
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn undelete(&self, path: &str, versions: &[u64]) {
        self.ok(
            "POST",
            &format!("{KV2_MOUNT}/undelete/{path}"),
            Some(&json!({ "versions": versions })),
        )
        .await;
    }

    /// Destroys `versions` of `secret/<path>` for good (`POST secret/destroy/<path>`).
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn destroy(&self, path: &str, versions: &[u64]) {
        self.ok(
            "POST",
            &format!("{KV2_MOUNT}/destroy/{path}"),
            Some(&json!({ "versions": versions })),
        )
        .await;
    }

    /// Removes every version and the metadata of `secret/<path>` (`DELETE
    /// secret/metadata/<path>`): the path no longer exists, and the next write is version 1.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn delete_metadata(&self, path: &str) {
        self.ok("DELETE", &format!("{KV2_MOUNT}/metadata/{path}"), None)
            .await;
    }

    /// Mounts a KV version 1 engine at `<mount>/` (`POST sys/mounts/<mount>`).
    ///
    /// # Panics
    /// When the server refuses (for example when the path is already mounted).
    pub async fn enable_kv1(&self, mount: &str) {
        let body = json!({ "type": "kv", "options": { "version": "1" } });
        self.ok("POST", &format!("sys/mounts/{mount}"), Some(&body))
            .await;
    }

    /// Writes `data` (a JSON object) at `<mount>/<path>` of a KV v1 mount, replacing what was
    /// there (KV v1 keeps no versions). A `ttl` key sets the re-read hint readers get as
    /// `lease_duration`.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn put_v1(&self, mount: &str, path: &str, data: Value) {
        self.ok("POST", &format!("{mount}/{path}"), Some(&data))
            .await;
    }

    /// The key/values at `<mount>/<path>` of a KV v1 mount (`data`), or `None` (404).
    ///
    /// # Panics
    /// When the server answers anything but 200 or 404.
    pub async fn read_v1(&self, mount: &str, path: &str) -> Option<Value> {
        self.read_envelope(&format!("{mount}/{path}"))
            .await
            .map(|answer| answer["data"].clone())
    }

    /// `GET /v1/<path>`: the whole answer on 200, `None` on 404.
    async fn read_envelope(&self, path: &str) -> Option<Value> {
        match self.api("GET", path, None).await {
            (200, answer) => Some(answer),
            (404, _) => None,
            (status, answer) => panic!(
                "GET /v1/{path} answered {status}: {answer}; the server's log ends with:\n{}",
                self.log_tail()
            ),
        }
    }
}

/// The `data.version` of a KV v2 write's answer.
fn version(answer: &Value) -> u64 {
    answer["data"]["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("a KV v2 write answered without a version: {answer}"))
}
