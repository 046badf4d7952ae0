//! A serde deserializer over the parameters of a matched path.
//!
//! One parameter deserializes into a plain value (`Path<u32>`); several into
//! a tuple (in path order) or a struct (by name). Values are parsed from text
//! the way a query string's are.

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// Why path parameters did not fit the requested type.
#[derive(Debug)]
pub(crate) struct PathError {
    pub(crate) message: String,
    pub(crate) field: Option<&'static str>,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PathError {}

impl de::Error for PathError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        PathError {
            message: message.to_string(),
            field: None,
        }
    }
}

pub(crate) struct PathDeserializer<'a> {
    pub(crate) params: &'a [(&'static str, String)],
}

impl<'a> PathDeserializer<'a> {
    fn single(&self) -> Result<Value<'a>, PathError> {
        match self.params {
            [(name, value)] => Ok(Value { name, value }),
            _ => Err(de::Error::custom(format!(
                "expected one path parameter, the path has {}",
                self.params.len()
            ))),
        }
    }

    fn values(&self) -> impl Iterator<Item = Value<'a>> {
        self.params
            .iter()
            .map(|(name, value)| Value { name, value })
    }
}

macro_rules! forward_to_single {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                self.single()?.$method(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for PathDeserializer<'de> {
    type Error = PathError;

    forward_to_single! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        if self.params.len() == 1 {
            self.single()?.deserialize_any(visitor)
        } else {
            self.deserialize_map(visitor)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        let mut seq = SeqDeserializer::new(self.values());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        if len != self.params.len() {
            return Err(de::Error::custom(format!(
                "expected a tuple of {len} path parameters, the path has {}",
                self.params.len()
            )));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        let entries = self
            .params
            .iter()
            .map(|(name, value)| (*name, Value { name, value }));
        let mut map = MapDeserializer::new(entries);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }
}

/// One parameter's text, parsed into whatever the visitor asks for.
#[derive(Clone, Copy)]
struct Value<'a> {
    name: &'static str,
    value: &'a str,
}

impl Value<'_> {
    fn invalid(&self, expected: &str) -> PathError {
        PathError {
            message: format!(
                "path parameter `{}` must be {expected}, found {:?}",
                self.name, self.value
            ),
            field: Some(self.name),
        }
    }
}

macro_rules! parse_value {
    ($($method:ident => $visit:ident: $ty:ty, $expected:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                let parsed: $ty = self.value.parse().map_err(|_| self.invalid($expected))?;
                visitor.$visit(parsed)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = PathError;

    parse_value! {
        deserialize_bool => visit_bool: bool, "`true` or `false`";
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_i128 => visit_i128: i128, "an integer";
        deserialize_u8 => visit_u8: u8, "a non-negative integer";
        deserialize_u16 => visit_u16: u16, "a non-negative integer";
        deserialize_u32 => visit_u32: u32, "a non-negative integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_u128 => visit_u128: u128, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
        deserialize_char => visit_char: char, "one character";
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.value)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_enum(self.value.into_deserializer())
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, PathError> for Value<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn params(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn one_parameter_is_a_plain_value() {
        let p = params(&[("id", "42")]);
        let id = u32::deserialize(PathDeserializer { params: &p }).unwrap();
        assert_eq!(id, 42);
        let name = String::deserialize(PathDeserializer { params: &p }).unwrap();
        assert_eq!(name, "42");
    }

    #[test]
    fn several_parameters_fill_tuples_and_structs() {
        #[derive(Deserialize)]
        struct Key {
            user: String,
            id: u64,
        }
        let p = params(&[("user", "ada"), ("id", "7")]);
        let (user, id) = <(String, u64)>::deserialize(PathDeserializer { params: &p }).unwrap();
        assert_eq!((user.as_str(), id), ("ada", 7));
        let key = Key::deserialize(PathDeserializer { params: &p }).unwrap();
        assert_eq!((key.user.as_str(), key.id), ("ada", 7));
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        let p = params(&[("id", "seven")]);
        let error = u32::deserialize(PathDeserializer { params: &p }).unwrap_err();
        assert_eq!(error.field, Some("id"));
        assert!(error.message.contains("`id`"), "{}", error.message);
    }
}
