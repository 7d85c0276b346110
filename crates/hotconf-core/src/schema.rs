//! `schema::<T>()`: the JSON Schema of a config type, for checking one layer's document
//! before it is published (`hotconf check --schema`, `GET /config/schema` of the admin API).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

use crate::secret::Secret;

/// The JSON Schema (draft 2020-12, from schemars) of the config type `T`, as one layer's
/// document must satisfy it.
///
/// It is `T`'s schema with one change: the root object lists no `required` keys. A layer is
/// only part of the config (defaults in one file, a team's overrides in etcd, secrets in
/// Vault): a document that sets one key is a valid layer even though the merged config needs
/// more. Nested objects keep their `required` keys, so a layer that holds a nested map must
/// hold the whole of it; where a running service merges that map from several layers, ask
/// the service itself (`POST /config/check`, `hotconf check --against`), which checks the
/// proposal merged with its other layers.
///
/// A [`Secret`] field is its inner type's schema with `"writeOnly": true`: tools that read
/// the schema (forms, documentation, editors) then know not to show its value.
///
/// ```
/// #[derive(schemars::JsonSchema, serde::Deserialize)]
/// struct App {
///     port: u16,
///     db: Db,
/// }
/// #[derive(schemars::JsonSchema, serde::Deserialize)]
/// struct Db {
///     host: String,
///     password: hotconf_core::Secret,
/// }
///
/// let schema = hotconf_core::schema::<App>();
/// assert!(schema.get("required").is_none()); // a layer may set `port` alone
/// assert_eq!(schema["$defs"]["Db"]["required"], serde_json::json!(["host", "password"]));
/// assert_eq!(schema["$defs"]["Db"]["properties"]["password"]["writeOnly"], true);
/// ```
pub fn schema<T: JsonSchema>() -> Value {
    let mut schema = SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("required");
    }
    schema
}

/// A secret is its inner type's schema, `writeOnly`: a form or an editor that reads the
/// schema knows not to show it. Inlined wherever it is used, so that the mark sits on the
/// field.
impl<T: JsonSchema> JsonSchema for Secret<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Secret_of_{}", T::schema_name()).into()
    }

    fn schema_id() -> Cow<'static, str> {
        format!("hotconf_core::Secret<{}>", T::schema_id()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = generator.subschema_for::<T>();
        schema.insert("writeOnly".into(), Value::Bool(true));
        schema
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[allow(dead_code)]
    #[derive(JsonSchema, serde::Deserialize)]
    struct App {
        name: String,
        port: u16,
        db: Db,
        #[serde(default)]
        tls: Option<Tls>,
        api_key: Option<Secret>,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema, serde::Deserialize)]
    struct Db {
        host: String,
        port: u16,
        password: Secret,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema, serde::Deserialize)]
    struct Tls {
        cert: String,
    }

    #[test]
    fn the_root_requires_nothing_and_nested_objects_keep_their_required_keys() {
        let schema = schema::<App>();
        assert!(schema.get("required").is_none(), "{schema:#}");
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["title"], "App");
        assert_eq!(
            schema["$defs"]["Db"]["required"],
            json!(["host", "port", "password"])
        );
        assert_eq!(schema["$defs"]["Tls"]["required"], json!(["cert"]));
        // An `Option` of a struct: the struct or null.
        let tls = schema["properties"]["tls"].to_string();
        assert!(tls.contains("#/$defs/Tls") && tls.contains("null"), "{tls}");
    }

    #[test]
    fn a_secret_is_its_inner_schema_marked_write_only() {
        let schema = schema::<App>();
        let password = &schema["$defs"]["Db"]["properties"]["password"];
        assert_eq!(password, &json!({"type": "string", "writeOnly": true}));
        let api_key = &schema["properties"]["api_key"];
        assert_eq!(api_key["writeOnly"], true, "{api_key}");
        assert_eq!(api_key["type"], json!(["string", "null"]), "{api_key}");
        assert_eq!(
            schema["properties"]["name"],
            json!({"type": "string"}),
            "an ordinary string is not write-only"
        );
    }

    #[test]
    fn the_schema_of_a_type_with_no_object_root_is_left_as_it_is() {
        assert_eq!(schema::<u16>()["type"], "integer");
        assert!(schema::<Vec<String>>().get("required").is_none());
    }
}
