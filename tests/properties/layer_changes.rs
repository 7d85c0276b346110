//! A reloader over many layers, changed one layer at a time, serves figment's merge of the
//! layers' latest states after every change: overlapping layers, keys removed from a layer
//! (the lower layers' values show through), layers deleted (empty), layers written as JSON
//! documents (read as a stream between the others' trees) or as trees (deserialized from the
//! layers in place), with and without a restart-required key (the merged tree, patched with
//! the running value). The config, `Snapshot::merged()` and the keys pending a restart are
//! checked after each change.

use hotconf::{Format, MemoryHandle, MemoryProvider, Reloader, Stats};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::strategies::{self, config};

/// One write to a layer.
#[derive(Debug, Clone)]
enum Write {
    /// A JSON document (its tree is not built by a reload: the streamed path).
    Json(Value),
    /// A tree (the layers are deserialized in place).
    Tree(Value),
    /// The layer deleted: empty.
    Delete,
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        2 => strategies::merge_layer().prop_map(Write::Json),
        2 => strategies::merge_layer().prop_map(Write::Tree),
        1 => Just(Write::Delete),
    ]
}

/// The restart-required keys: a top-level key and a nested one the layers hold often.
const RESTART: [&str; 2] = ["b", "a.b"];

/// The latest state of every layer, as figment reads it (from its JSON text), with a marker
/// key only that layer holds and that every write changes, so that every write changes the
/// merge and is applied.
struct Stack {
    layers: Vec<Value>,
    handles: Vec<MemoryHandle>,
    writes: u64,
}

impl Stack {
    /// What `write` makes of layer `at` (figment's reading), and the content to set.
    fn apply(&mut self, at: usize, write: &Write) -> bool {
        self.writes += 1;
        let marked = |value: &Value, writes: u64| {
            let mut map = value.as_object().cloned().unwrap_or_default();
            map.insert(format!("marker{at}"), Value::from(writes));
            // Read back from JSON text, as figment reads it (serde_json reads some floats
            // inexactly: see formats.rs).
            let text = Value::Object(map).to_string();
            (serde_json::from_str::<Value>(&text).unwrap(), text)
        };
        match write {
            Write::Json(value) => {
                let (value, text) = marked(value, self.writes);
                self.handles[at].set_document(Format::Json, text);
                self.layers[at] = value;
            }
            Write::Tree(value) => {
                let (value, _) = marked(value, self.writes);
                self.handles[at].set_tree(value.clone());
                self.layers[at] = value;
            }
            Write::Delete => {
                if self.layers[at].as_object().is_some_and(Map::is_empty) {
                    // Deleting a deleted layer changes nothing: nothing to wait for.
                    return false;
                }
                self.handles[at].delete();
                self.layers[at] = Value::Object(Map::new());
            }
        }
        true
    }
}

/// figment's merge of `layers`, lowest first.
fn figment_merge(layers: &[Value]) -> Value {
    use figment::providers::{Format as _, Json};
    layers
        .iter()
        .fold(figment::Figment::new(), |f, layer| {
            f.merge(Json::string(&layer.to_string()))
        })
        .extract()
        .expect("figment merges any JSON maps")
}

/// The value at a dotted `key`.
fn lookup<'v>(tree: &'v Value, key: &str) -> Option<&'v Value> {
    key.split('.').try_fold(tree, |v, k| v.get(k))
}

/// Sets (`Some`) or removes (`None`) the value at a dotted `key`, creating maps on the way; a
/// path through a value that is not a map is left as it is (what a restart-required key whose
/// parent is not a map keeps).
fn set(tree: &mut Value, key: &str, value: Option<Value>) {
    let (parents, last) = key.rsplit_once('.').map_or(("", key), |(p, l)| (p, l));
    let mut node = tree;
    for parent in parents.split('.').filter(|p| !p.is_empty()) {
        let Value::Object(map) = node else { return };
        if value.is_none() && !map.contains_key(parent) {
            return;
        }
        node = map
            .entry(parent.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = node {
        match value {
            Some(value) => map.insert(last.to_owned(), value),
            None => map.remove(last),
        };
    }
}

/// What the reloader must serve over `layers`: figment's merge, with each restart-required key
/// at its `running` value when there are some (its value in the config served before); and the
/// keys pending a restart.
fn expected(layers: &[Value], running: Option<&[Option<Value>]>) -> (Value, Vec<String>) {
    let mut want = figment_merge(layers);
    let mut pending = Vec::new();
    for (key, running) in RESTART.iter().zip(running.unwrap_or_default()) {
        if lookup(&want, key) != running.as_ref() {
            set(&mut want, key, running.clone());
            pending.push(key.to_string());
        }
    }
    (want, pending)
}

fn run(initial: Vec<Write>, changes: Vec<(usize, Write)>, restart: bool) -> Result<(), String> {
    crate::runtime().block_on(async {
        let mut builder = Reloader::<Value>::builder();
        if restart {
            for key in RESTART {
                builder = builder.restart_required(key);
            }
        }
        let mut stack = Stack {
            layers: vec![Value::Object(Map::new()); initial.len()],
            handles: Vec::new(),
            writes: 0,
        };
        for i in 0..initial.len() {
            let (provider, handle) = MemoryProvider::new(format!("memory:layer{i}"));
            builder = builder.layer(provider);
            stack.handles.push(handle);
        }
        for (at, write) in initial.iter().enumerate() {
            stack.apply(at, write);
        }
        let reloader = builder.start().await.map_err(|e| e.to_string())?;
        // The restart-required keys' values in the config served last (a key whose parent
        // became a value that is not a map cannot keep its value, and has none from then on).
        let mut running: Option<Vec<Option<Value>>> = None;
        let mut check = |stack: &Stack, when: &str| -> Result<(), String> {
            let (want, pending) = expected(&stack.layers, running.as_deref());
            let snapshot = reloader.store().get();
            let layers = &stack.layers;
            if *snapshot.config() != want {
                let config = snapshot.config();
                return Err(format!(
                    "{when}: config {config} != {want}; layers {layers:?}"
                ));
            }
            if *snapshot.merged() != want {
                let merged = snapshot.merged();
                return Err(format!(
                    "{when}: merged {merged} != {want}; layers {layers:?}"
                ));
            }
            if snapshot.pending_restart() != pending {
                let got = snapshot.pending_restart();
                return Err(format!(
                    "{when}: pending {got:?} != {pending:?}; layers {layers:?}"
                ));
            }
            if restart {
                running = Some(RESTART.iter().map(|k| lookup(&want, k).cloned()).collect());
            }
            Ok(())
        };
        check(&stack, "at startup")?;
        let mut stats = reloader.stats();
        let handled = |s: &Stats| s.applied + s.rejected + s.unchanged;
        for (step, (at, write)) in changes.iter().enumerate() {
            let at = at % stack.layers.len();
            let before = handled(&stats.borrow());
            if !stack.apply(at, write) {
                continue;
            }
            tokio::time::timeout(
                hotconf_testkit::TIMEOUT,
                stats.wait_for(|s| handled(s) > before),
            )
            .await
            .map_err(|_| format!("change {step} was not handled in time"))?
            .map_err(|_| "the reloader stopped".to_owned())?;
            check(
                &stack,
                &format!("after change {step} ({write:?} to layer {at})"),
            )?;
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn a_reloader_over_changing_layers_equals_figment(
        initial in prop::collection::vec(write(), 2..=12),
        changes in prop::collection::vec((0usize..12, write()), 1..=6),
        restart in any::<bool>(),
    ) {
        run(initial, changes, restart).map_err(TestCaseError::fail)?;
    }
}
