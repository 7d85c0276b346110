//! Typed JSON parses that accept exactly what the tree parser accepts, straight from the bytes.
//!
//! `serde_json::from_slice::<T>` skips the fields `T` ignores without checking them: a number
//! out of range, a string with invalid UTF-8 or a lone surrogate pass unseen there, while
//! parsing the same document into a tree rejects them. The [`Strict`] wrapper parses every
//! ignored value in full (`deserialize_any` where `deserialize_ignored_any` was asked), at every
//! depth. On the way it can merge other layers' trees in where they overlap (`overlay`), so that
//! a reload of a large JSON layer under or over small ones never builds its tree.
//!
//! - [`from_slice`]: one document (the single-layer fast path).
//! - [`overlay::from_layers`]: one document between layers already parsed.

pub(crate) mod overlay;

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use self::overlay::{MergingMap, Overlay};

/// Deserializes `T` from a JSON document, checking the values `T` ignores as the tree parser
/// would, and nothing but whitespace after the document.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    parse_json!(bytes, |json| T::deserialize(Strict::new(json, None)))
}

/// Evaluates `$parse` with `$json` a `&mut serde_json::Deserializer` of `$bytes`, then checks
/// that only whitespace follows; a `serde_json::Result`.
///
/// A document that is valid UTF-8 as a whole (checked once, at memory speed) is read as a
/// `str`, which spares serde_json a UTF-8 check per string, a tenth of a reload's time; other
/// bytes are read as a slice, so that the error is serde_json's own, at the bad byte.
macro_rules! parse_json {
    ($bytes:expr, |$json:ident| $parse:expr) => {{
        let bytes: &[u8] = $bytes;
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let mut json = serde_json::Deserializer::from_str(text);
                let $json = &mut json;
                $parse.and_then(|value| json.end().map(|()| value))
            }
            Err(_) => {
                let mut json = serde_json::Deserializer::from_slice(bytes);
                let $json = &mut json;
                $parse.and_then(|value| json.end().map(|()| value))
            }
        }
    }};
}
pub(crate) use parse_json;

/// A deserializer that parses what it is asked to ignore, and merges the `overlay` maps in when
/// the value is a map.
pub(crate) struct Strict<'de, D> {
    de: D,
    overlay: Option<Overlay<'de>>,
}

impl<'de, D> Strict<'de, D> {
    pub(crate) fn new(de: D, overlay: Option<Overlay<'de>>) -> Self {
        Strict { de, overlay }
    }

    fn wrap<X>(self, inner: X) -> (D, Wrap<'de, X>) {
        let wrap = Wrap {
            inner,
            overlay: self.overlay,
        };
        (self.de, wrap)
    }
}

/// A visitor, seed or access whose nested deserializers are [`Strict`].
pub(crate) struct Wrap<'de, X> {
    pub(crate) inner: X,
    pub(crate) overlay: Option<Overlay<'de>>,
}

/// `inner`, whose nested deserializers are [`Strict`] with no overlay.
fn plain<'de, X>(inner: X) -> Wrap<'de, X> {
    Wrap {
        inner,
        overlay: None,
    }
}

macro_rules! forward_deserialize {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
            let (de, visitor) = self.wrap(visitor);
            de.$method($($($arg,)*)? visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<'de, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32,
        deserialize_u64, deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
        deserialize_str, deserialize_string, deserialize_option, deserialize_unit,
        deserialize_seq, deserialize_map, deserialize_identifier,
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    /// The point of this type: an ignored value is parsed in full, and still ignored.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    /// serde_json reads bytes from a string without checking its UTF-8: read it as a string.
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A layer above holds a map where this document holds something else: the tree path decides.
const CONFLICT: &str = "a layer above holds a map here";

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.no_map_above()?;
            self.inner.$method(value)
        }
    )*};
}

impl<V> Wrap<'_, V> {
    /// A value that is not a map replaces what the layers below hold here, and must not be
    /// replaced by a map above (a merge the tree path does).
    fn no_map_above<E: de::Error>(&self) -> Result<(), E> {
        match &self.overlay {
            Some(overlay) if !overlay.upper.is_empty() => Err(E::custom(CONFLICT)),
            _ => Ok(()),
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_f32(f32),
        visit_f64(f64),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_i128(i128),
        visit_u128(u128),
        visit_char(char),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.no_map_above()?;
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.no_map_above()?;
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Strict::new(inner, self.overlay))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.inner
            .visit_newtype_struct(Strict::new(inner, self.overlay))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.no_map_above()?;
        self.inner.visit_seq(plain(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        match self.overlay {
            Some(overlay) => self.inner.visit_map(MergingMap::new(map, overlay)),
            None => self.inner.visit_map(plain(map)),
        }
    }

    /// An enum is a string (a unit variant) or a map of one entry. With maps of other layers
    /// here, only the tree path knows which merge applies.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        if let Some(overlay) = &self.overlay {
            if !overlay.lower.is_empty() || !overlay.upper.is_empty() {
                return Err(de::Error::custom(CONFLICT));
            }
        }
        self.inner.visit_enum(plain(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Strict::new(inner, self.overlay))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.inner.next_element_seed(plain(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(plain(seed))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(plain(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;
    type Variant = Wrap<'de, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.inner.variant_seed(plain(seed))?;
        Ok((value, plain(variant)))
    }
}

/// A variant's content, read through [`Strict`].
impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<'de, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.newtype_variant_seed(plain(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner.tuple_variant(len, plain(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.struct_variant(fields, plain(visitor))
    }
}

#[cfg(test)]
mod tests;
