//! Deserializing straight from a stack of layer trees, with the merge's semantics, without
//! building the merged tree: where only one layer holds a subtree (almost everywhere in a large
//! config) it is read in place; where several maps overlap their keys are merged on the fly; and
//! for any other request the subtree is merged for real first. Tests prove the result equals
//! deserializing from [`merge_all`](crate::merge::merge_all)'s tree.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::merge;

type Error = serde_json::Error;

/// Deserializes `T` from `layers` (lowest first) as if from their merge.
pub(crate) fn from_layers<'de, T: de::Deserialize<'de>>(layers: &[&'de Value]) -> Result<T, Error> {
    match node(layers.to_vec()) {
        Some(node) => T::deserialize(node),
        None => T::deserialize(Value::Object(Map::new())),
    }
}

/// The values one key path has in the layers that hold it, reduced to what the merge keeps.
pub(crate) enum Node<'de> {
    /// One value decides: the top one when it is not a map, or the only map.
    One(&'de Value),
    /// Two or more maps, lowest first, whose keys merge.
    Maps(Vec<&'de Map<String, Value>>),
}

/// Reduces the values at one path (lowest first): a map merges with the maps right below it;
/// anything else replaces whatever is below.
pub(crate) fn node(values: Vec<&Value>) -> Option<Node<'_>> {
    let top = *values.last()?;
    if !top.is_object() {
        return Some(Node::One(top));
    }
    let mut maps: Vec<&Map<String, Value>> =
        values.iter().rev().map_while(|v| v.as_object()).collect();
    if maps.len() == 1 {
        return Some(Node::One(top));
    }
    maps.reverse();
    Some(Node::Maps(maps))
}

impl<'de> Node<'de> {
    /// The merged value, for requests the on-the-fly merge does not cover.
    fn materialize(maps: &[&'de Map<String, Value>]) -> Value {
        let mut merged = Value::Object(Map::new());
        for map in maps {
            merge::merge_into(&mut merged, &Value::Object((*map).clone()));
        }
        merged
    }
}

/// Key-merging map access over two or more maps.
///
/// Every entry of every map is listed once and sorted by key (stably, so the values of one key
/// stay lowest layer first): each key's values are then a run of the list. A lookup of every
/// key in every map would cost keys × maps; a config followed as a hundred disjoint layers
/// spent most of a reload there.
struct MergedMap<'de> {
    entries: Vec<(&'de str, &'de Value)>,
    /// Where the next key's run starts.
    at: usize,
    /// Keys not read yet.
    left: usize,
    value: Option<Node<'de>>,
}

impl<'de> MergedMap<'de> {
    fn new(maps: Vec<&'de Map<String, Value>>) -> Self {
        let mut entries: Vec<(&str, &Value)> =
            Vec::with_capacity(maps.iter().map(|m| m.len()).sum());
        entries.extend(
            maps.iter()
                .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v))),
        );
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let left = entries.chunk_by(|a, b| a.0 == b.0).count();
        MergedMap {
            entries,
            at: 0,
            left,
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for MergedMap<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(&(key, first)) = self.entries.get(self.at) else {
            return Ok(None);
        };
        let run = self.entries[self.at..]
            .iter()
            .take_while(|(k, _)| *k == key)
            .count();
        self.value = match run {
            1 => Some(Node::One(first)),
            _ => node(
                self.entries[self.at..self.at + run]
                    .iter()
                    .map(|(_, v)| *v)
                    .collect(),
            ),
        };
        self.at += run;
        self.left -= 1;
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(node) => seed.deserialize(node),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// Forwards a request to the single value, or to the materialized merge.
macro_rules! forward {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, Error> {
            match self {
                Node::One(value) => value.$method($($($arg,)*)? visitor),
                Node::Maps(maps) => Node::materialize(&maps).$method($($($arg,)*)? visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Node<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::One(value) => value.deserialize_any(visitor),
            Node::Maps(maps) => visitor.visit_map(MergedMap::new(maps)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::One(value) => value.deserialize_map(visitor),
            Node::Maps(maps) => visitor.visit_map(MergedMap::new(maps)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Node::One(value) => value.deserialize_struct(name, fields, visitor),
            Node::Maps(maps) => visitor.visit_map(MergedMap::new(maps)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::One(value) => value.deserialize_option(visitor),
            maps @ Node::Maps(_) => visitor.visit_some(maps),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Node::One(value) => value.deserialize_newtype_struct(name, visitor),
            maps @ Node::Maps(_) => visitor.visit_newtype_struct(maps),
        }
    }

    forward! {
        deserialize_ignored_any,
        deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64,
        deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64,
        deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char, deserialize_str,
        deserialize_string, deserialize_bytes, deserialize_byte_buf, deserialize_unit,
        deserialize_seq, deserialize_identifier,
        deserialize_unit_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Careful { retries: u32 },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Cfg {
        name: String,
        db: Option<Db>,
        mode: Mode,
        #[serde(default)]
        extra: BTreeMap<String, Value>,
        #[serde(default)]
        list: Vec<u32>,
        #[serde(flatten)]
        rest: BTreeMap<String, Value>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Db {
        host: String,
        port: u16,
        #[serde(default)]
        opts: BTreeMap<String, String>,
    }

    fn both<T: de::DeserializeOwned + std::fmt::Debug + PartialEq>(layers: &[Value]) {
        let refs: Vec<&Value> = layers.iter().collect();
        let merged = merge::merge_all(layers.iter());
        let want = T::deserialize(&merged);
        let got = from_layers::<T>(&refs);
        match (want, got) {
            (Ok(want), Ok(got)) => assert_eq!(want, got, "{layers:?}"),
            (Err(_), Err(_)) => {}
            (want, got) => panic!("merged: {want:?}, layered: {got:?}, layers: {layers:?}"),
        }
    }

    #[test]
    fn layered_deserialization_equals_deserializing_the_merge() {
        let cases = [
            vec![json!({"name": "a", "mode": "fast", "db": {"host": "h", "port": 1}})],
            vec![
                json!({"name": "a", "mode": "fast", "db": {"host": "h", "port": 1, "opts": {"x": "1"}}, "list": [1, 2]}),
                json!({"db": {"port": 2, "opts": {"y": "2"}}, "list": [3], "other": true}),
            ],
            vec![
                json!({"name": "a", "mode": {"careful": {"retries": 1}}, "db": null}),
                json!({"mode": {"careful": {"retries": 2}}, "extra": {"k": [1]}}),
                json!({"name": "c", "db": {"host": "h", "port": 3}}),
            ],
            vec![
                json!({"name": "a", "mode": "fast", "db": {"host": "h", "port": 1}}),
                json!({"db": 5}),
            ],
            vec![
                json!({"name": "a", "mode": "fast", "db": 5}),
                json!({"db": {"host": "h", "port": 9}}),
            ],
            vec![
                json!({"name": "a", "mode": "fast"}),
                json!({"db": {"host": "h"}}),
                json!({"db": {"port": 7}}),
            ],
            vec![
                json!({"name": "a", "mode": "fast"}),
                json!({"db": {"host": "h", "port": "x"}}),
            ],
            vec![json!({}), json!({})],
        ];
        for layers in cases {
            both::<Cfg>(&layers);
            both::<Value>(&layers);
        }
    }
}
