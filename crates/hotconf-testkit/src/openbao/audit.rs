//! A file audit device: every request the server handles, as one JSON line, to count a client's
//! requests and see which paths it read.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::OpenBao;

/// The audit device's path (`sys/audit/<AUDIT_DEVICE>`).
const AUDIT_DEVICE: &str = "hotconf";

impl OpenBao {
    /// Enables a file audit device (`PUT sys/audit/hotconf`, type `file`) writing to
    /// `audit.log` in the server's temporary directory, and returns that path. From then on
    /// every request is logged before it is handled: [`OpenBao::audit_requests`] reads them
    /// back. The first line is the server's own test request, `update sys/audit/test`.
    ///
    /// A restart forgets the device (dev mode keeps nothing): enable it again, and the file
    /// goes on growing.
    ///
    /// # Panics
    /// When the server refuses (for example when the device is already enabled).
    pub async fn enable_file_audit(&self) -> PathBuf {
        let path = self.audit_path();
        let body = json!({
            "type": "file",
            "options": { "file_path": path.to_str().expect("a UTF-8 temporary path") },
        });
        self.ok("PUT", &format!("sys/audit/{AUDIT_DEVICE}"), Some(&body))
            .await;
        path
    }

    /// Where [`OpenBao::enable_file_audit`] logs.
    pub fn audit_path(&self) -> PathBuf {
        self.dir().join("audit.log")
    }

    /// The audit log so far ("" before [`OpenBao::enable_file_audit`]).
    pub fn audit_log_text(&self) -> String {
        std::fs::read_to_string(self.audit_path()).unwrap_or_default()
    }

    /// Every request in the audit log so far, in order, as `(operation, path)`: the operation is
    /// `read`, `create`, `update`, `delete` or `list` (a KV v2 read of `secret/app` is
    /// `("read", "secret/data/app")`; a login is `("update", "auth/approle/login")`). Paths are
    /// logged in clear; tokens and values are HMACed.
    ///
    /// # Panics
    /// When a line is not JSON.
    pub fn audit_requests(&self) -> Vec<(String, String)> {
        parse_requests(&self.audit_log_text())
    }
}

/// The `(operation, path)` of every `"type":"request"` line of an audit log (a last line the
/// server is still writing, with no newline yet, is left for the next call).
fn parse_requests(log: &str) -> Vec<(String, String)> {
    log.split_inclusive('\n')
        .filter(|line| line.ends_with('\n') && !line.trim().is_empty())
        .filter_map(|line| {
            let entry: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an audit line that is not JSON ({e}): {line}"));
            if entry["type"] != "request" {
                return None;
            }
            let field = |name: &str| entry["request"][name].as_str().unwrap_or("").to_owned();
            Some((field("operation"), field("path")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_requests;

    #[test]
    fn request_lines_are_parsed_and_responses_skipped() {
        let log = concat!(
            r#"{"time":"t","type":"request","request":{"operation":"update","path":"sys/audit/test"}}"#,
            "\n",
            r#"{"time":"t","type":"request","request":{"operation":"read","path":"secret/data/a"}}"#,
            "\n",
            r#"{"time":"t","type":"response","request":{"operation":"read","path":"secret/data/a"}}"#,
            "\n\n",
            r#"{"time":"t","type":"requ"#,
        );
        assert_eq!(
            parse_requests(log),
            [
                ("update".to_owned(), "sys/audit/test".to_owned()),
                ("read".to_owned(), "secret/data/a".to_owned()),
            ]
        );
    }
}
