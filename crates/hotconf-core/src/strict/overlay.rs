//! One JSON document read as a stream between layers already parsed into trees: where the
//! other layers hold nothing (almost everywhere, when the document is the large layer) its values
//! go straight to the typed config; where they overlap, their keys are merged in with the
//! merge's semantics (a map merges with the maps right below it, anything else replaces what is
//! below). Anything the stream cannot decide alone (a map above a value that is not one) fails,
//! and the caller takes the tree path, which also names the key and source of real errors.

use std::borrow::Cow;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{parse_json, plain, Strict, Wrap};
use crate::layered::{node, Node};

/// The maps the other layers hold where the stream is: `lower` right below it (the maps it
/// merges onto when it holds a map), `upper` above it (all maps: a value above that is not one
/// replaces the stream's and is decided before).
#[derive(Clone, Default)]
pub(crate) struct Overlay<'de> {
    pub(crate) lower: Vec<&'de Map<String, Value>>,
    pub(crate) upper: Vec<&'de Map<String, Value>>,
}

/// Deserializes `T` from the merge of `below` (lowest first), the JSON document `bytes`, and
/// `above`, without building the document's tree.
pub(crate) fn from_layers<'de, T: DeserializeOwned>(
    below: &[&'de Value],
    bytes: &'de [u8],
    above: &[&'de Value],
) -> serde_json::Result<T> {
    let maps = |values: &[&'de Value]| {
        values
            .iter()
            .map(|v| v.as_object())
            .collect::<Option<Vec<_>>>()
    };
    let (Some(lower), Some(upper)) = (maps(below), maps(above)) else {
        return Err(de::Error::custom("a layer is not a map"));
    };
    let overlay = Some(Overlay { lower, upper });
    parse_json!(bytes, |json| T::deserialize(Strict::new(json, overlay)))
}

/// What the value of the key just read comes from.
enum Next<'de> {
    /// The stream, merged with these maps if any.
    Stream(Option<Overlay<'de>>),
    /// A layer above replaces the stream's value (which is still read, for the checks).
    Replaced(Node<'de>),
    /// The other layers alone: the stream has no such key.
    Layers(Node<'de>),
}

/// A stream map with the other layers' maps at the same path merged in.
pub(crate) struct MergingMap<'de, A> {
    stream: A,
    overlay: Overlay<'de>,
    /// Every key the other layers hold here, sorted, and whether the stream had it.
    keys: Vec<&'de str>,
    seen: Vec<bool>,
    /// Where the keys only the other layers hold are at, once the stream ended.
    rest: Option<usize>,
    next: Option<Next<'de>>,
}

impl<'de, A> MergingMap<'de, A> {
    pub(crate) fn new(stream: A, overlay: Overlay<'de>) -> Self {
        let mut keys: Vec<&str> = overlay
            .lower
            .iter()
            .chain(&overlay.upper)
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        MergingMap {
            stream,
            seen: vec![false; keys.len()],
            keys,
            overlay,
            rest: None,
            next: None,
        }
    }

    /// The values the other layers hold at `key`, lowest first: below the stream, above it.
    fn at(&self, key: &str) -> (Vec<&'de Value>, Vec<&'de Value>) {
        let get =
            |maps: &[&'de Map<String, Value>]| maps.iter().filter_map(|m| m.get(key)).collect();
        (get(&self.overlay.lower), get(&self.overlay.upper))
    }

    /// What decides the value of `key`, which the stream holds.
    fn decide(&mut self, key: &str) -> Next<'de> {
        let Ok(index) = self.keys.binary_search(&key) else {
            return Next::Stream(None);
        };
        self.seen[index] = true;
        let (lower, upper) = self.at(key);
        if let Some(cut) = upper.iter().rposition(|v| !v.is_object()) {
            let decided = node(upper[cut..].to_vec()).expect("a value is there");
            return Next::Replaced(decided);
        }
        let mut lower: Vec<_> = lower.iter().rev().map_while(|v| v.as_object()).collect();
        lower.reverse();
        let upper: Vec<_> = upper.iter().filter_map(|v| v.as_object()).collect();
        // Values below that are not maps are replaced by the stream's, whatever it holds.
        let overlay = (!lower.is_empty() || !upper.is_empty()).then_some(Overlay { lower, upper });
        Next::Stream(overlay)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for MergingMap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if self.rest.is_none() {
            match self.stream.next_key_seed(Key)? {
                Some(key) => {
                    self.next = Some(self.decide(&key));
                    return match key {
                        Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
                        Cow::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
                    }
                    .map(Some);
                }
                None => self.rest = Some(0),
            }
        }
        let mut index = self.rest.unwrap_or_default();
        while index < self.keys.len() && self.seen[index] {
            index += 1;
        }
        self.rest = Some(index + 1);
        let Some(&key) = self.keys.get(index) else {
            return Ok(None);
        };
        let (mut values, upper) = self.at(key);
        values.extend(upper);
        self.next = node(values).map(Next::Layers);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        fn layers<'de, S: DeserializeSeed<'de>, E: de::Error>(
            seed: S,
            node: Node<'de>,
        ) -> Result<S::Value, E> {
            seed.deserialize(node).map_err(E::custom)
        }
        match self.next.take() {
            Some(Next::Stream(overlay)) => self.stream.next_value_seed(Wrap {
                inner: seed,
                overlay,
            }),
            Some(Next::Replaced(node)) => {
                self.stream
                    .next_value_seed(plain(std::marker::PhantomData::<IgnoredAny>))?;
                layers(seed, node)
            }
            Some(Next::Layers(node)) => layers(seed, node),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }
}

/// Reads a stream key as a string (borrowed when it has no escapes).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, key: D) -> Result<Cow<'de, str>, D::Error> {
        key.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key.to_owned()))
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key))
    }
}
