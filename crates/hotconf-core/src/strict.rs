//! Typed JSON parses that accept exactly what the tree parser accepts, straight from the bytes.
//!
//! `serde_json::from_slice::<T>` skips the fields `T` ignores without checking them: a number
//! out of range, a string with invalid UTF-8 or a lone surrogate pass unseen there, while
//! parsing the same document into a tree rejects them. The [`Strict`] wrapper parses every
//! ignored value in full (`deserialize_any` where `deserialize_ignored_any` was asked), at every
//! depth. On the way it can hash what it reads exactly as [`hash_value`](crate::hash::hash_value)
//! hashes the tree, and merge other layers' trees in where they overlap (`overlay`), so that a
//! reload of a large JSON layer under or over small ones never builds its tree.
//!
//! - [`from_slice`]: one document (the single-layer fast path).
//! - [`overlay::from_layers`]: one document between layers already parsed.

pub(crate) mod overlay;

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::hash::{self, MapHash, SeqHash};

use self::overlay::{MergingMap, Overlay};

/// Deserializes `T` from a JSON document, checking the values `T` ignores as the tree parser
/// would, and nothing but whitespace after the document.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let reading = Reading::new(false);
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Strict::new(&mut json, &reading, None))?;
    json.end()?;
    Ok(value)
}

/// What a parse keeps beside the value: the hash of what it read, when asked for.
pub(crate) struct Reading {
    hashing: bool,
    /// The maps and lists being read, innermost last.
    open: RefCell<Vec<Frame>>,
    /// The hash of the whole document, once read.
    done: Cell<Option<u64>>,
    /// False once something was read that has no tree counterpart to hash like (an enum).
    exact: Cell<bool>,
}

enum Frame {
    Seq(SeqHash),
    /// A map, and the hash of the key whose value is being read.
    Map(MapHash, Option<u64>),
}

impl Reading {
    pub(crate) fn new(hashing: bool) -> Reading {
        Reading {
            hashing,
            open: RefCell::new(Vec::new()),
            done: Cell::new(None),
            exact: Cell::new(true),
        }
    }

    /// The document's hash, equal to its tree's, when hashing and exact.
    pub(crate) fn hash(&self) -> Option<u64> {
        self.done.get().filter(|_| self.exact.get())
    }

    /// A value (or a key) was read whole.
    fn read(&self, hash: u64) {
        if !self.hashing {
            return;
        }
        match self.open.borrow_mut().last_mut() {
            None => self.done.set(Some(hash)),
            Some(Frame::Seq(seq)) => seq.push(hash),
            Some(Frame::Map(_, key @ None)) => *key = Some(hash),
            Some(Frame::Map(map, key)) => map.push(key.take().unwrap_or_default(), hash),
        }
    }

    fn open(&self, frame: impl FnOnce() -> Frame) {
        if self.hashing {
            self.open.borrow_mut().push(frame());
        }
    }

    /// Closes an enum: a variant name alone was a string, a name and a value a map.
    fn close_enum(&self) {
        if !self.hashing {
            return;
        }
        let frame = self.open.borrow_mut().pop();
        match frame {
            Some(Frame::Map(map, Some(name))) if map.is_empty() => self.read(name),
            Some(Frame::Map(map, None)) => self.read(map.finish()),
            _ => self.exact.set(false),
        }
    }

    fn close(&self) {
        if !self.hashing {
            return;
        }
        let frame = self.open.borrow_mut().pop();
        match frame {
            Some(Frame::Seq(seq)) => self.read(seq.finish()),
            Some(Frame::Map(map, _)) => self.read(map.finish()),
            None => self.exact.set(false),
        }
    }
}

/// A deserializer that parses what it is asked to ignore, hashes what it reads, and merges the
/// `overlay` maps in when the value is a map.
pub(crate) struct Strict<'a, 'de, D> {
    de: D,
    reading: &'a Reading,
    overlay: Option<Overlay<'de>>,
}

impl<'a, 'de, D> Strict<'a, 'de, D> {
    pub(crate) fn new(de: D, reading: &'a Reading, overlay: Option<Overlay<'de>>) -> Self {
        Strict {
            de,
            reading,
            overlay,
        }
    }

    fn wrap<X>(self, inner: X) -> (D, Wrap<'a, 'de, X>) {
        let wrap = Wrap {
            inner,
            reading: self.reading,
            overlay: self.overlay,
        };
        (self.de, wrap)
    }
}

/// A visitor, seed or access whose nested deserializers are [`Strict`].
pub(crate) struct Wrap<'a, 'de, X> {
    pub(crate) inner: X,
    pub(crate) reading: &'a Reading,
    pub(crate) overlay: Option<Overlay<'de>>,
}

impl<'a, 'de, X> Wrap<'a, 'de, X> {
    /// `inner`, read with the same [`Reading`] and no overlay.
    fn plain<Y>(&self, inner: Y) -> Wrap<'a, 'de, Y> {
        Wrap {
            inner,
            reading: self.reading,
            overlay: None,
        }
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

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<'_, 'de, D> {
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
    ($($method:ident($ty:ty) => $hash:expr),* $(,)?) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.scalar(($hash)(&value))?;
            self.inner.$method(value)
        }
    )*};
}

impl<V> Wrap<'_, '_, V> {
    /// A value that is not a map replaces what the layers below hold here, and must not be
    /// replaced by a map above (a merge the tree path does).
    fn no_map_above<E: de::Error>(&self) -> Result<(), E> {
        match &self.overlay {
            Some(overlay) if !overlay.upper.is_empty() => Err(E::custom(CONFLICT)),
            _ => Ok(()),
        }
    }

    /// Reads a value that is not a map or a list.
    fn scalar<E: de::Error>(&self, hash: u64) -> Result<(), E> {
        self.no_map_above()?;
        self.reading.read(hash);
        Ok(())
    }

    /// Reads a value that has no tree counterpart to hash like.
    fn inexact<E: de::Error>(&self) -> Result<(), E> {
        self.reading.exact.set(false);
        self.scalar(0)
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) => |v: &bool| hash::hash_bool(*v),
        visit_i8(i8) => |v: &i8| hash::hash_i64(i64::from(*v)),
        visit_i16(i16) => |v: &i16| hash::hash_i64(i64::from(*v)),
        visit_i32(i32) => |v: &i32| hash::hash_i64(i64::from(*v)),
        visit_i64(i64) => |v: &i64| hash::hash_i64(*v),
        visit_u8(u8) => |v: &u8| hash::hash_u64(u64::from(*v)),
        visit_u16(u16) => |v: &u16| hash::hash_u64(u64::from(*v)),
        visit_u32(u32) => |v: &u32| hash::hash_u64(u64::from(*v)),
        visit_u64(u64) => |v: &u64| hash::hash_u64(*v),
        visit_f32(f32) => |v: &f32| hash::hash_f64(f64::from(*v)),
        visit_f64(f64) => |v: &f64| hash::hash_f64(*v),
        visit_str(&str) => |v: &&str| hash::hash_str(v),
        visit_borrowed_str(&'de str) => |v: &&str| hash::hash_str(v),
        visit_string(String) => |v: &String| hash::hash_str(v),
    }

    // Not produced by serde_json for a JSON document; the hash is then not used.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<V::Value, E> {
        self.inexact()?;
        self.inner.visit_i128(v)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<V::Value, E> {
        self.inexact()?;
        self.inner.visit_u128(v)
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<V::Value, E> {
        self.scalar(hash::hash_str(v.encode_utf8(&mut [0; 4])))?;
        self.inner.visit_char(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        self.inexact()?;
        self.inner.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        self.inexact()?;
        self.inner.visit_borrowed_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<V::Value, E> {
        self.inexact()?;
        self.inner.visit_byte_buf(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.scalar(hash::hash_null())?;
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.scalar(hash::hash_null())?;
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.inner
            .visit_some(Strict::new(inner, self.reading, self.overlay))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.inner
            .visit_newtype_struct(Strict::new(inner, self.reading, self.overlay))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.no_map_above()?;
        self.reading.open(|| Frame::Seq(SeqHash::default()));
        let seq = self.plain(seq);
        let value = self.inner.visit_seq(seq)?;
        self.reading.close();
        Ok(value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.reading.open(|| Frame::Map(MapHash::default(), None));
        let value = match self.overlay {
            Some(overlay) => self
                .inner
                .visit_map(MergingMap::new(map, self.reading, overlay))?,
            None => {
                let map = Wrap {
                    inner: map,
                    reading: self.reading,
                    overlay: None,
                };
                self.inner.visit_map(map)?
            }
        };
        self.reading.close();
        Ok(value)
    }

    /// An enum is a string (a unit variant) or a map of one entry. With maps of other layers
    /// here, only the tree path knows which merge applies.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        if let Some(overlay) = &self.overlay {
            if !overlay.lower.is_empty() || !overlay.upper.is_empty() {
                return Err(de::Error::custom(CONFLICT));
            }
        }
        self.reading.open(|| Frame::Map(MapHash::default(), None));
        let data = self.plain(data);
        let value = self.inner.visit_enum(data)?;
        self.reading.close_enum();
        Ok(value)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.inner
            .deserialize(Strict::new(inner, self.reading, self.overlay))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<'_, 'de, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let seed = self.plain(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.plain(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.plain(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<'a, 'de, A> {
    type Error = A::Error;
    type Variant = Variant<'a, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        // serde_json hands a unit variant written as a string to `UnitVariantAccess`, and any
        // variant written as a map of one entry to `VariantAccess`. Only the name tells them
        // apart; a wrong guess would only make the hash differ from the tree's.
        let in_a_map = !std::any::type_name::<A>().contains("UnitVariantAccess");
        let seed = self.plain(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        let variant = Variant {
            inner: variant,
            reading: self.reading,
            in_a_map,
        };
        Ok((value, variant))
    }
}

/// A variant's content, read through [`Strict`].
pub(crate) struct Variant<'a, A> {
    inner: A,
    reading: &'a Reading,
    /// Whether the variant was written as a map of one entry (its value is read too).
    in_a_map: bool,
}

impl<'a, A> Variant<'a, A> {
    fn plain<'de, Y>(&self, inner: Y) -> Wrap<'a, 'de, Y> {
        Wrap {
            inner,
            reading: self.reading,
            overlay: None,
        }
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<'_, A> {
    type Error = A::Error;

    /// serde_json reads a unit variant's `null` itself, out of sight: hashed here.
    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()?;
        if self.in_a_map {
            self.reading.read(hash::hash_null());
        }
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.plain(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.plain(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.plain(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests;
