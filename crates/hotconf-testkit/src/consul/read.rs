//! KV reads: flags by presence, the index rules, blocking with wait and jitter, the answer
//! shapes of 200/404/raw/keys, ACL filtering, and the read-side faults.

// An early answer (400, 403) travels as the `Err` of a query: a response, sized as hyper makes it.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use super::http::{
    allowed, clamp_wait, entries_json, fault_answer, parse_wait, text as plain, Answer as Reply,
};
use super::Shared;

/// What a read found, before it is turned into an answer.
struct Found {
    index: u64,
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    raw: bool,
    filtered: bool,
}

/// Keeps the parked counter right even when hyper drops the request.
struct Parked<'a>(&'a Shared);

impl<'a> Parked<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.count(|c| c.parked += 1);
        Parked(shared)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.count(|c| c.parked -= 1);
    }
}

pub(crate) async fn get(
    shared: &Shared,
    key: &str,
    query: &BTreeMap<String, String>,
    token: &str,
) -> Reply {
    shared.count(|c| c.reads += 1);
    let has = |flag: &str| query.contains_key(flag);
    let Ok(wait) = parse_wait(query) else {
        return plain(StatusCode::BAD_REQUEST, "Invalid wait time");
    };
    let index = match query.get("index").filter(|i| !i.is_empty()) {
        None => 0,
        Some(i) => match i.parse::<u64>() {
            Ok(i) => i,
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Invalid index"),
        },
    };
    if index > 0 {
        shared.long_polls.send_modify(|n| *n += 1);
    }
    let stale = has("stale") || has("max_stale");
    if stale && has("consistent") {
        return plain(
            StatusCode::BAD_REQUEST,
            "Cannot specify ?stale with ?consistent, conflicting semantics.",
        );
    }
    let consistency = match (stale, has("consistent")) {
        (true, _) => "stale",
        (_, true) => "consistent",
        _ => "leader",
    };
    if key.is_empty() && !has("recurse") && !has("keys") {
        return plain(StatusCode::BAD_REQUEST, "Missing key name");
    }
    let mut wake = shared.wake.subscribe();
    let mut abandon = shared.abandon.subscribe();
    let deadline = {
        let timeout = clamp_wait(wait);
        let jitter = timeout.mul_f64(fastrand::f64()) / 16;
        tokio::time::Instant::now() + timeout + jitter
    };
    let found = loop {
        if let Some(fault) = shared.modes().fault {
            return fault_answer(fault);
        }
        // Marked seen before the query runs, so a write between the query and the wait below
        // still wakes it (as memdb's watch set does).
        wake.borrow_and_update();
        let found = match run_query(shared, key, query, token) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if index == 0 || found.index > index || shared.modes().at_once {
            break found;
        }
        let _parked = Parked::new(shared);
        tokio::select! {
            _ = wake.changed() => {
                shared.count(|c| c.wakeups += 1);
                if shared.modes().spurious {
                    break run_query(shared, key, query, token).unwrap_or(found);
                }
            }
            _ = abandon.changed() => {
                break run_query(shared, key, query, token).unwrap_or(found);
            }
            () = tokio::time::sleep_until(deadline) => {
                shared.count(|c| c.timeouts += 1);
                break run_query(shared, key, query, token).unwrap_or(found);
            }
        }
    };
    let (slow, index_zero, acl_on) = {
        let modes = shared.modes();
        (modes.slow, modes.index_zero, modes.acl.is_some())
    };
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = shared.modes().fault {
        return fault_answer(fault);
    }
    let mut response = Response::new(Full::new(Bytes::from(found.body)));
    *response.status_mut() = found.status;
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, value.parse().expect("a header value"));
    };
    let shown_index = if index_zero { 0 } else { found.index.max(1) };
    set("X-Consul-Index", shown_index.to_string());
    set("X-Consul-KnownLeader", "true".into());
    set("X-Consul-LastContact", "0".into());
    set("X-Consul-Effective-Consistency", consistency.into());
    if acl_on {
        set("X-Consul-Default-ACL-Policy", "deny".into());
    }
    if found.filtered && !token.is_empty() {
        set("X-Consul-Results-Filtered-By-ACLs", "true".into());
    }
    if found.status == StatusCode::OK {
        set("Content-Type", found.content_type.into());
        if found.raw {
            set("X-Content-Type-Options", "nosniff".into());
            set("Content-Security-Policy", "sandbox".into());
        }
    }
    Ok(response)
}

/// Runs the query once against the current state (KVS.Get, KVS.List or ListKeys).
fn run_query(
    shared: &Shared,
    key: &str,
    query: &BTreeMap<String, String>,
    token: &str,
) -> Result<Found, Reply> {
    let has = |flag: &str| query.contains_key(flag);
    let acl = |k: &str| match allowed(shared, token, k, false) {
        Err(()) => Err(plain(StatusCode::FORBIDDEN, "ACL not found")),
        Ok(ok) => Ok(ok),
    };
    acl(key)?; // an unknown token fails whatever is read
    let state = shared.state();
    let found = |index, status, body, content_type| Found {
        index,
        status,
        body,
        content_type,
        raw: false,
        filtered: false,
    };
    if has("keys") {
        let index = state.list_index(key);
        let separator = query.get("separator").filter(|s| !s.is_empty());
        let mut keys: Vec<String> = Vec::new();
        let mut filtered = false;
        for entry in state.under(key) {
            if !acl(&entry.key)? {
                filtered = true;
                continue;
            }
            let rest = &entry.key[key.len()..];
            let shown = match separator.and_then(|s| rest.find(s.as_str()).map(|i| i + s.len())) {
                Some(end) => format!("{key}{}", &rest[..end]),
                None => entry.key.clone(),
            };
            if keys.last() != Some(&shown) {
                keys.push(shown);
            }
        }
        if keys.is_empty() && !key.is_empty() {
            return Ok(found(index, StatusCode::NOT_FOUND, Vec::new(), ""));
        }
        let body = serde_json::to_vec(&keys).unwrap_or_default();
        let mut answer = found(index, StatusCode::OK, body, "application/json");
        answer.filtered = filtered;
        return Ok(answer);
    }
    if has("recurse") {
        let index = state.list_index(key);
        let mut entries = Vec::new();
        let mut filtered = false;
        for entry in state.under(key) {
            if acl(&entry.key)? {
                entries.push(entry.clone());
            } else {
                filtered = true;
            }
        }
        let mut answer = if entries.is_empty() {
            found(index, StatusCode::NOT_FOUND, Vec::new(), "")
        } else {
            let body = entries_json(&entries).into_bytes();
            found(index, StatusCode::OK, body, "application/json")
        };
        answer.filtered = filtered;
        return Ok(answer);
    }
    if !acl(key)? {
        return Err(plain(StatusCode::FORBIDDEN, "Permission denied"));
    }
    let index = state.key_index(key);
    Ok(match state.kvs.get(key) {
        None => found(index, StatusCode::NOT_FOUND, Vec::new(), ""),
        Some(entry) if has("raw") => {
            let body = entry.value.clone().unwrap_or_default();
            let mut answer = found(index, StatusCode::OK, body, "text/plain");
            answer.raw = true;
            answer
        }
        Some(entry) => {
            let body = entries_json(std::slice::from_ref(entry)).into_bytes();
            found(index, StatusCode::OK, body, "application/json")
        }
    })
}
