//! ConfigMap and Secret objects as JSON: what a write must hold (backends.md §7.6), Secret
//! `stringData` folded into `data`, JSON merge patches, and the fields the server owns.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Map, Value};

use super::status::Status;
use super::Resource;

/// The most a ConfigMap's or Secret's data may hold (§7.6).
const MAX_DATA: usize = 1 << 20;

/// Checks and normalises a written object for `resource` in `namespace`: `kind`, `apiVersion`,
/// the name (`path_name` must match it when the request names one), the namespace, the data
/// maps, and for a Secret `stringData` merged into base64 `data` (its keys win) and dropped.
pub(crate) fn prepare(
    resource: Resource,
    namespace: &str,
    path_name: Option<&str>,
    body: Value,
) -> Result<Value, Status> {
    let Value::Object(mut object) = body else {
        return Err(Status::bad_request(
            "the request body must be a JSON object",
        ));
    };
    match object.get("kind") {
        None => {}
        Some(Value::String(kind)) if kind == resource.kind() => {}
        Some(other) => {
            return Err(Status::bad_request(format!(
                "the kind of the object must be {}, not {other}",
                resource.kind()
            )))
        }
    }
    match object.get("apiVersion") {
        None => {}
        Some(Value::String(v)) if v == "v1" => {}
        Some(other) => {
            return Err(Status::bad_request(format!(
                "the apiVersion of the object must be v1, not {other}"
            )))
        }
    }
    let mut metadata = match object.remove("metadata") {
        Some(Value::Object(m)) => m,
        None => Map::new(),
        Some(_) => return Err(Status::bad_request("metadata must be an object")),
    };
    let name = match (metadata.get("name"), path_name) {
        (Some(Value::String(n)), Some(p)) if n != p => {
            return Err(Status::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({p})"
            )))
        }
        (Some(Value::String(n)), _) if !n.is_empty() => n.clone(),
        (None, Some(p)) => p.to_owned(),
        _ => {
            return Err(Status::invalid(
                resource,
                "",
                "metadata.name: Required value: name or generateName is required",
            ))
        }
    };
    if !valid_name(&name) {
        return Err(Status::invalid(
            resource,
            &name,
            "metadata.name: Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
        ));
    }
    match metadata.get("namespace") {
        Some(Value::String(ns)) if !ns.is_empty() && ns != namespace => {
            return Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ))
        }
        _ => {}
    }
    metadata.insert("name".into(), name.clone().into());
    metadata.insert("namespace".into(), namespace.into());
    object.insert("kind".into(), resource.kind().into());
    object.insert("apiVersion".into(), "v1".into());
    object.insert("metadata".into(), Value::Object(metadata));
    let invalid = |why: String| Status::invalid(resource, &name, &why);
    match resource {
        Resource::ConfigMaps => check_config_map(&object).map_err(invalid)?,
        Resource::Secrets => fold_secret(&mut object).map_err(invalid)?,
    }
    Ok(Value::Object(object))
}

/// An RFC 1123 subdomain, as object names must be.
fn valid_name(name: &str) -> bool {
    name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A map of string values under `field`, or `None` when absent or null.
fn string_map<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => {
            for (key, value) in map {
                if !valid_key(key) {
                    return Err(format!("{field}[{key}]: Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
                }
                if !value.is_string() {
                    return Err(format!("{field}[{key}]: Invalid value: must be a string"));
                }
            }
            Ok(Some(map))
        }
        Some(_) => Err(format!("{field}: Invalid value: must be a map of strings")),
    }
}

fn decode(value: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str()?)
        .ok()
}

fn check_config_map(object: &Map<String, Value>) -> Result<(), String> {
    let data = string_map(object, "data")?;
    let binary = string_map(object, "binaryData")?;
    let mut size = 0;
    for (key, value) in data.into_iter().flatten() {
        size += key.len() + value.as_str().map_or(0, str::len);
    }
    for (key, value) in binary.into_iter().flatten() {
        if data.is_some_and(|d| d.contains_key(key)) {
            return Err(format!(
                "data[{key}]: Invalid value: duplicate of key present in binaryData"
            ));
        }
        let bytes = decode(value)
            .ok_or_else(|| format!("binaryData[{key}]: Invalid value: illegal base64 data"))?;
        size += key.len() + bytes.len();
    }
    if size > MAX_DATA {
        return Err(format!("[]: Too long: must have at most {MAX_DATA} bytes"));
    }
    Ok(())
}

fn fold_secret(object: &mut Map<String, Value>) -> Result<(), String> {
    let mut data = string_map(object, "data")?.cloned().unwrap_or_default();
    for (key, value) in &data {
        if decode(value).is_none() {
            return Err(format!("data[{key}]: Invalid value: illegal base64 data"));
        }
    }
    if let Some(plain) = string_map(object, "stringData")? {
        for (key, value) in plain {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key.clone(), encoded.into());
        }
    }
    object.remove("stringData");
    let size: usize = data
        .iter()
        .map(|(k, v)| k.len() + decode(v).map_or(0, |b| b.len()))
        .sum();
    if size > MAX_DATA {
        return Err(format!(
            "data: Too long: must have at most {MAX_DATA} bytes"
        ));
    }
    if data.is_empty() {
        object.remove("data");
    } else {
        object.insert("data".into(), Value::Object(data));
    }
    if !object.get("type").is_some_and(Value::is_string) {
        object.insert("type".into(), "Opaque".into());
    }
    Ok(())
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` deletes a key, anything else
/// replaces. For a ConfigMap's or Secret's maps a strategic merge patch does the same (§7.9).
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The fields the server owns on a stored object: `resourceVersion`, and `uid` and
/// `creationTimestamp` kept from `previous` (or new on a create).
pub(crate) fn stamp(object: &mut Value, rv: u64, previous: Option<&Value>, uid: u64) {
    let keep = |field: &str| previous.and_then(|p| p["metadata"].get(field)).cloned();
    let uid = keep("uid").unwrap_or_else(|| {
        format!("6b0f5e2a-0000-4000-8000-{:012x}", uid & 0xffff_ffff_ffff).into()
    });
    let created = keep("creationTimestamp").unwrap_or_else(|| now_rfc3339().into());
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("uid".into(), uid);
        metadata.insert("creationTimestamp".into(), created);
        metadata.insert("resourceVersion".into(), rv.to_string().into());
    }
}

/// The same object with its server-owned fields removed, to tell a no-op write from a change.
pub(crate) fn content(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "creationTimestamp",
            "resourceVersion",
            "managedFields",
        ] {
            metadata.remove(field);
        }
    }
    copy
}

/// The current time as `2006-01-02T15:04:05Z`.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_deletes_on_null_and_merges_maps() {
        let mut target = json!({"data": {"a": "1", "b": "2"}, "metadata": {"name": "x"}});
        merge_patch(
            &mut target,
            &json!({"data": {"a": "10", "b": null, "c": "3"}}),
        );
        assert_eq!(
            target,
            json!({"data": {"a": "10", "c": "3"}, "metadata": {"name": "x"}})
        );
    }

    #[test]
    fn timestamps_look_like_go_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
