//! The emulated store: objects by resource, namespace and name; one global resourceVersion
//! counter (backends.md §7.2: every write takes the next one); the event history that watches
//! replay from, and its floor, below which a watch gets 410 Gone (§7.3).

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use super::object::{content, merge_patch, prepare, stamp};
use super::status::Status;
use super::Resource;

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as the history keeps it for watches.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) resource: Resource,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) kind: EventType,
    /// The new state, or for a delete the last state stamped with the delete's RV.
    pub(crate) object: Value,
}

type Key = (Resource, String, String);

#[derive(Debug, Clone)]
pub(crate) struct State {
    /// The last resourceVersion handed out.
    pub(crate) rv: u64,
    uids: u64,
    pub(crate) objects: BTreeMap<Key, Value>,
    pub(crate) history: VecDeque<Change>,
    /// Every change with an RV above the floor is in `history`: a watch from an RV below it
    /// gets 410.
    pub(crate) floor: u64,
    /// How many changes the history keeps; older ones are compacted away.
    pub(crate) history_limit: usize,
}

/// Where a state starts counting: far from 0 and 1 so that tests never mistake an RV for a
/// count of changes.
const FIRST_RV: u64 = 1000;

impl State {
    pub(crate) fn new() -> State {
        State {
            rv: FIRST_RV,
            uids: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            floor: FIRST_RV,
            history_limit: 1000,
        }
    }

    pub(crate) fn get(&self, resource: Resource, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource, namespace.to_owned(), name.to_owned()))
    }

    /// The objects of `resource` in `namespace` (every namespace when `None`), named `name`
    /// when given, in namespace and name order.
    pub(crate) fn select<'a>(
        &'a self,
        resource: Resource,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .iter()
            .filter(move |((r, ns, n), _)| {
                *r == resource
                    && namespace.is_none_or(|want| want == ns)
                    && name.is_none_or(|want| want == n)
            })
            .map(|(_, object)| object)
    }

    /// Drops the whole history: only changes after now can be watched.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.floor = self.rv;
    }

    /// Forgets every object and the history (a server that lost its store). The counter moves
    /// past every RV handed out before, so none of them names the new state: each gets 410.
    pub(crate) fn wipe(&mut self) {
        self.objects.clear();
        self.rv += 1;
        self.compact();
    }

    fn record(&mut self, change: Change) {
        self.history.push_back(change);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
    }

    fn commit(&mut self, key: Key, kind: EventType, mut object: Value) -> Value {
        self.rv += 1;
        self.uids += 1;
        let previous = self.objects.get(&key);
        stamp(&mut object, self.rv, previous, self.uids);
        self.objects.insert(key.clone(), object.clone());
        self.record(Change {
            rv: self.rv,
            resource: key.0,
            namespace: key.1,
            name: key.2,
            kind,
            object: object.clone(),
        });
        object
    }

    /// POST: 409 AlreadyExists when the name is taken.
    pub(crate) fn create(
        &mut self,
        resource: Resource,
        namespace: &str,
        body: Value,
    ) -> Result<Value, Status> {
        let mut object = prepare(resource, namespace, None, body)?;
        let name = name_of(&object);
        if self.get(resource, namespace, &name).is_some() {
            return Err(Status::already_exists(resource, &name));
        }
        drop_server_fields(&mut object);
        let key = (resource, namespace.to_owned(), name);
        Ok(self.commit(key, EventType::Added, object))
    }

    /// PUT: 404 when missing, 409 Conflict when the body carries another resourceVersion.
    /// An update that changes nothing keeps the RV and sends no event, as the API server does.
    pub(crate) fn replace(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        body: Value,
    ) -> Result<Value, Status> {
        let Some(current) = self.get(resource, namespace, name).cloned() else {
            return Err(Status::not_found(resource, name));
        };
        let asked_rv = body["metadata"]["resourceVersion"]
            .as_str()
            .filter(|rv| !rv.is_empty())
            .map(str::to_owned);
        if asked_rv
            .is_some_and(|rv| Some(rv.as_str()) != current["metadata"]["resourceVersion"].as_str())
        {
            return Err(Status::conflict(resource, name));
        }
        let object = prepare(resource, namespace, Some(name), body)?;
        self.update(resource, namespace, name, &current, object)
    }

    /// PATCH as a JSON merge patch over the stored object.
    pub(crate) fn patch(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, Status> {
        let Some(current) = self.get(resource, namespace, name).cloned() else {
            return Err(Status::not_found(resource, name));
        };
        if let Some(rv) = patch["metadata"]["resourceVersion"].as_str() {
            if Some(rv) != current["metadata"]["resourceVersion"].as_str() {
                return Err(Status::conflict(resource, name));
            }
        }
        let mut patched = current.clone();
        merge_patch(&mut patched, patch);
        let object = prepare(resource, namespace, Some(name), patched)?;
        self.update(resource, namespace, name, &current, object)
    }

    fn update(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        current: &Value,
        mut object: Value,
    ) -> Result<Value, Status> {
        drop_server_fields(&mut object);
        if content(&object) == content(current) {
            return Ok(current.clone());
        }
        let key = (resource, namespace.to_owned(), name.to_owned());
        Ok(self.commit(key, EventType::Modified, object))
    }

    /// DELETE: the last state, stamped with the delete's RV (as the DELETED event carries it).
    pub(crate) fn delete(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, Status> {
        let key = (resource, namespace.to_owned(), name.to_owned());
        let Some(mut object) = self.objects.remove(&key) else {
            return Err(Status::not_found(resource, name));
        };
        self.rv += 1;
        object["metadata"]["resourceVersion"] = self.rv.to_string().into();
        self.record(Change {
            rv: self.rv,
            resource,
            namespace: key.1,
            name: key.2,
            kind: EventType::Deleted,
            object: object.clone(),
        });
        Ok(object)
    }
}

pub(crate) fn name_of(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A client cannot set what the server owns (its `uid`, `resourceVersion` and so on).
fn drop_server_fields(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            metadata.remove(field);
        }
    }
}
