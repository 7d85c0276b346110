//! `ConsulWriter`: writes to a Consul agent's KV store (the emulator or a real agent) over plain
//! HTTP, as an operator's tools do, so that tests write through the same API the provider reads
//! without the provider's own crate having to offer writes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest answer read (writes answer `true`/`false`, key lists are small in tests).
const MAX_ANSWER: u64 = 4 << 20;
/// How long one request may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// Writes to the KV store of the agent at `host:port`.
#[derive(Debug, Clone)]
pub struct ConsulWriter {
    address: String,
}

impl ConsulWriter {
    /// A writer for the agent at `address` (`host:port`).
    pub fn new(address: impl Into<String>) -> Self {
        ConsulWriter {
            address: address.into(),
        }
    }

    /// Writes `value` to `key`. Panics unless the agent answers `true`.
    pub async fn put(&self, key: &str, value: impl AsRef<[u8]>) {
        let answer = self.request("PUT", key, "", value.as_ref()).await;
        assert_eq!(answer.trim(), "true", "PUT {key}");
    }

    /// Deletes `key`, or with `recurse` every key under it.
    pub async fn delete(&self, key: &str, recurse: bool) {
        let query = if recurse { "?recurse" } else { "" };
        self.request("DELETE", key, query, b"").await;
    }

    /// The keys under `prefix` (`?keys`), sorted.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let answer = self.request("GET", prefix, "?keys", b"").await;
        if answer.is_empty() {
            return Vec::new(); // 404: none
        }
        let mut keys: Vec<String> = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("GET {prefix}?keys answered {answer:?}: {e}"));
        keys.sort();
        keys
    }

    /// One request; returns the body of a 200 (empty for a 404), panics on anything else.
    async fn request(&self, method: &str, key: &str, query: &str, body: &[u8]) -> String {
        let send = async {
            let mut stream = TcpStream::connect(&self.address).await?;
            let head = format!(
                "{method} /v1/kv/{}{query} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                encode(key),
                self.address,
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            let mut answer = Vec::new();
            stream.take(MAX_ANSWER).read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        let answer = tokio::time::timeout(DEADLINE, send)
            .await
            .unwrap_or_else(|_| panic!("{method} {key}: no answer within {DEADLINE:?}"))
            .unwrap_or_else(|e| panic!("{method} {key}: {e}"));
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split_whitespace().nth(1).unwrap_or("");
        match status {
            "200" => dechunk(head, body),
            "404" => String::new(),
            _ => panic!("{method} {key} answered {head}"),
        }
    }
}

/// The body of an answer, joined from chunks if it was chunked.
fn dechunk(head: &str, body: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encodes a key, keeping `/` between segments.
fn encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
