//! A stateful fake of the reloader behind the admin router: the test applies versions, the
//! router rolls back and unpins, all under one mutex.

#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use hotconf_admin::{AdminError, Readiness, View};
use serde_json::{json, Value};

/// Keys whose values never leave the process.
const SECRET: &str = "db.password";

struct Entry {
    version: u64,
    config: Value,
    origin: Value,
    changes: Value,
}

struct State {
    history: Vec<Entry>,
    /// What the sources hold now (applied unless pinned).
    sources: Value,
    pinned: bool,
    ready: bool,
    last_error: Option<String>,
}

/// The fake view; clone the `Arc` to keep a handle for the test.
pub struct Fake {
    state: Mutex<State>,
}

impl Fake {
    /// Version 1 holds `config`.
    pub fn new(config: Value) -> Arc<Self> {
        let changes = changes(&json!({}), &config);
        Arc::new(Self {
            state: Mutex::new(State {
                history: vec![Entry {
                    version: 1,
                    config: config.clone(),
                    origin: json!({"kind": "sources"}),
                    changes,
                }],
                sources: config,
                pinned: false,
                ready: true,
                last_error: None,
            }),
        })
    }

    /// The sources now hold `config`: applied as a new version unless pinned.
    pub fn apply(&self, config: Value) {
        let mut state = self.state.lock().unwrap();
        state.sources = config.clone();
        if !state.pinned {
            push(&mut state, config, json!({"kind": "sources"}));
        }
    }

    /// Marks the application ready or not.
    pub fn set_ready(&self, ready: bool) {
        self.state.lock().unwrap().ready = ready;
    }

    /// Sets the source's last error (an error message, shown by the page).
    pub fn set_last_error(&self, error: Option<&str>) {
        self.state.lock().unwrap().last_error = error.map(str::to_owned);
    }

    /// The applied version and whether it is pinned.
    pub fn current(&self) -> (u64, bool) {
        let state = self.state.lock().unwrap();
        (state.history.last().unwrap().version, state.pinned)
    }
}

fn push(state: &mut State, config: Value, origin: Value) -> u64 {
    let last = state.history.last().unwrap();
    let version = last.version + 1;
    let changes = changes(&last.config, &config);
    state.history.push(Entry {
        version,
        config,
        origin,
        changes,
    });
    version
}

fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (name, value) in fields {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                flatten(value, &key, out);
            }
        }
        other if !prefix.is_empty() => {
            out.insert(prefix.to_owned(), other.clone());
        }
        _ => {}
    }
}

fn flat(value: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten(value, "", &mut out);
    out
}

fn changes(before: &Value, after: &Value) -> Value {
    let (before, after) = (flat(before), flat(after));
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<_> = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
        .map(|(k, _)| k)
        .collect();
    json!({"added": added, "removed": removed, "changed": changed, "omitted": 0})
}

fn redact(key: &str, value: &Value) -> Value {
    if key == SECRET {
        json!("<redacted>")
    } else {
        value.clone()
    }
}

fn redacted_config(config: &Value) -> Value {
    let mut config = config.clone();
    if let Some(db) = config.get_mut("db").and_then(Value::as_object_mut) {
        if db.contains_key("password") {
            db.insert("password".into(), json!("<redacted>"));
        }
    }
    config
}

impl State {
    fn entry(&self, version: u64) -> Result<&Entry, AdminError> {
        self.history
            .iter()
            .find(|entry| entry.version == version)
            .ok_or_else(|| AdminError::not_found(format!("version {version} is not kept")))
    }
}

impl View for Fake {
    fn version(&self) -> Value {
        let state = self.state.lock().unwrap();
        let last = state.history.last().unwrap();
        json!({
            "version": last.version,
            "content_hash": format!("{:016x}", last.version * 0x9f0c_1a2b),
            "applied_at": format!("2026-11-30T05:00:{:02}.123Z", last.version % 60),
            "origin": last.origin,
            "pinned": state.pinned,
            "pending_restart": [],
            "consecutive_rejections": 0,
            "sources": [{
                "layer": "file-0",
                "source": "file:./app.toml",
                "revision": format!("{:04x}", last.version),
                "health": if state.last_error.is_some() { "erroring" } else { "up" },
                "last_change": "2026-11-30T05:00:00.100Z",
                "consecutive_failures": u64::from(state.last_error.is_some()),
                "last_error": state.last_error,
            }],
        })
    }

    fn ready(&self) -> Readiness {
        let state = self.state.lock().unwrap();
        if state.ready {
            let version = state.history.last().unwrap().version;
            Readiness {
                ready: true,
                detail: json!({"version": version}),
            }
        } else {
            Readiness::not_ready("waiting for the first config")
        }
    }

    fn config(&self) -> Value {
        let state = self.state.lock().unwrap();
        let last = state.history.last().unwrap();
        json!({"version": last.version, "config": redacted_config(&last.config)})
    }

    fn history(&self) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap();
            let versions: Vec<Value> = state
                .history
                .iter()
                .map(|entry| {
                    json!({
                        "version": entry.version,
                        "applied_at": format!("2026-11-30T05:00:{:02}.123Z", entry.version % 60),
                        "origin": entry.origin,
                        "content_hash": format!("{:016x}", entry.version * 0x9f0c_1a2b),
                        "changes": entry.changes,
                    })
                })
                .collect();
            Ok(json!({"pinned": state.pinned, "versions": versions}))
        })
    }

    fn diff(&self, from: u64, to: u64) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap();
            let before = flat(&state.entry(from)?.config);
            let after = flat(&state.entry(to)?.config);
            let mut added = Vec::new();
            let mut removed = Vec::new();
            let mut changed = Vec::new();
            for (key, value) in &after {
                match before.get(key) {
                    None => added.push(json!({"key": key, "after": redact(key, value)})),
                    Some(old) if old != value => {
                        if key == SECRET {
                            changed.push(json!({"key": key, "redacted": true}));
                        } else {
                            changed.push(json!({"key": key, "before": old, "after": value}));
                        }
                    }
                    Some(_) => {}
                }
            }
            for (key, value) in &before {
                if !after.contains_key(key) {
                    removed.push(json!({"key": key, "before": redact(key, value)}));
                }
            }
            Ok(
                json!({"from": from, "to": to, "added": added, "removed": removed, "changed": changed}),
            )
        })
    }

    fn explain<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Value, AdminError>> {
        Box::pin(async move {
            if key == "slow" {
                // Never answers: the router's deadline must.
                futures_util::future::pending::<()>().await;
            }
            let state = self.state.lock().unwrap();
            let config = flat(&state.history.last().unwrap().config);
            let value = config.get(key).map(|value| redact(key, value));
            Ok(json!({
                "key": key,
                "found": value.is_some(),
                "layer": value.as_ref().map(|_| "file-0"),
                "value": value,
                "redacted": key == SECRET,
                "overridden": [],
                "layers": [{"layer": "file-0", "source": "file:./app.toml", "holds": value.is_some(), "value": value}],
            }))
        })
    }

    fn rollback(&self, version: u64) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            let config = state.entry(version)?.config.clone();
            let new = push(
                &mut state,
                config,
                json!({"kind": "rollback", "of": version}),
            );
            state.pinned = true;
            Ok(json!({"version": new, "pinned": true, "of": version}))
        })
    }

    fn unpin(&self) -> BoxFuture<'_, Result<Value, AdminError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            if !state.pinned {
                return Err(AdminError::conflict("not pinned"));
            }
            state.pinned = false;
            let sources = state.sources.clone();
            let version = if state.history.last().unwrap().config == sources {
                state.history.last().unwrap().version
            } else {
                push(&mut state, sources, json!({"kind": "sources"}))
            };
            Ok(json!({"version": version, "pinned": false}))
        })
    }
}
