//! A serde `Deserializer` over the located document tree ([`Node`]), so the
//! manifest's tables are plain `#[derive(Deserialize)]` structs (one
//! definition for TOML, JSON and the JSON Schema) while every error still
//! names the dotted key and the line and column it was written at.
//!
//! Invariant: an error leaves here with the innermost key and position that
//! caused it; outer levels never overwrite them.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::doc::{Node, Pos, Value};

/// A deserialization failure at a key.
#[derive(Debug)]
pub struct DeError {
    /// Dotted key, e.g. `flow.main.edges[0].to`; empty until located.
    pub key: String,
    pub pos: Option<Pos>,
    pub message: String,
    /// Set until located: the error is about this key of the current table
    /// (a missing or unknown key), not the table itself.
    child: Option<String>,
    located: bool,
}

impl DeError {
    fn new(message: String) -> Self {
        DeError { key: String::new(), pos: None, message, child: None, located: false }
    }

    /// Give an unlocated error the key and position of `node` at `path`.
    fn at(mut self, path: &str, pos: Option<Pos>) -> Self {
        if !self.located {
            self.key = match self.child.take() {
                Some(child) => join(path, &child),
                None => path.to_string(),
            };
            self.pos = pos;
            self.located = true;
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("expected {}, found {}", expected(exp), kind(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("expected {}, found {}", expected(exp), found(&unexp)))
    }

    fn unknown_field(field: &str, known: &'static [&'static str]) -> Self {
        let mut e = DeError::new(format!("unknown key `{field}`{}", suggest(field, known, "valid keys here")));
        e.child = Some(field.to_string());
        e
    }

    fn unknown_variant(variant: &str, known: &'static [&'static str]) -> Self {
        DeError::new(format!("unknown value `{variant}`{}", suggest(variant, known, "use one of")))
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = DeError::new(format!("missing required key `{field}`"));
        e.child = Some(field.to_string());
        e
    }

    fn duplicate_field(field: &'static str) -> Self {
        let mut e = DeError::new(format!("`{field}` is given twice"));
        e.child = Some(field.to_string());
        e
    }
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// `; did you mean `x`?` when a known word is close, else the whole list.
pub(super) fn suggest(word: &str, known: &[&str], list_label: &str) -> String {
    match known.iter().min_by_key(|k| distance(word, k)) {
        Some(best) if distance(word, best) <= 3.min(word.len().max(1)) => format!("; did you mean `{best}`?"),
        _ if known.is_empty() => String::new(),
        _ => format!("; {list_label}: {}", known.join(", ")),
    }
}

/// Edit distance, for "did you mean" suggestions.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// What serde expected, as a user would say it.
fn expected(exp: &dyn de::Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "a string" | "a borrowed string" => "a string".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "a boolean".into(),
        "a sequence" => "an array".into(),
        t if t.starts_with("struct ") || t.starts_with("a map") => "a table".into(),
        t if t.starts_with("variant identifier") || t.starts_with("enum ") => "a string".into(),
        _ => text,
    }
}

/// The type of a value that has the wrong type.
fn kind(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(_) => "a boolean".into(),
        U::Unsigned(_) | U::Signed(_) => "an integer".into(),
        U::Float(_) => "a number".into(),
        U::Str(s) => format!("the string \"{s}\""),
        other => found(other),
    }
}

/// A value that has the right type but is out of range.
fn found(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("the boolean {b}"),
        U::Unsigned(n) => format!("{n}"),
        U::Signed(n) => format!("{n}"),
        U::Float(f) => format!("the number {f}"),
        U::Str(s) => format!("\"{s}\""),
        U::Seq => "an array".into(),
        U::Map => "a table".into(),
        U::Unit => "nothing".into(),
        other => other.to_string(),
    }
}

/// Deserialize `T` from `node`; `path` is the dotted key of `node`.
pub fn from_node<'de, T: serde::Deserialize<'de>>(node: &'de Node, path: &str) -> Result<T, DeError> {
    T::deserialize(NodeDe { node, path: path.to_string() })
}

/// One located value.
struct NodeDe<'a> {
    node: &'a Node,
    path: String,
}

impl<'de> NodeDe<'de> {
    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(&self.path, self.node.pos))
    }

    fn text(&self) -> Option<&'de str> {
        match &self.node.value {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

macro_rules! parsed_text {
    ($($method:ident => $ty:ty, $visit:ident, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.text() {
                Some(t) => {
                    let parsed = t.trim().parse::<$ty>().map_err(|_| {
                        DeError::new(format!("expected {}, found \"{t}\"", $what))
                    });
                    let r = parsed.and_then(|v| visitor.$visit(v));
                    self.locate(r)
                }
                None => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Str(s) | Value::Text(s) => visitor.visit_borrowed_str(s),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Array(items) => visitor.visit_seq(Items { items: items.iter(), path: &self.path, index: 0 }),
            Value::Table(entries) => visitor.visit_map(Entries { entries: entries.iter(), path: &self.path, value: None }),
        };
        self.locate(r)
    }

    parsed_text! {
        deserialize_u8 => u8, visit_u8, "a non-negative integer";
        deserialize_u16 => u16, visit_u16, "a non-negative integer";
        deserialize_u32 => u32, visit_u32, "a non-negative integer";
        deserialize_u64 => u64, visit_u64, "a non-negative integer";
        deserialize_i8 => i8, visit_i8, "an integer";
        deserialize_i16 => i16, visit_i16, "an integer";
        deserialize_i32 => i32, visit_i32, "an integer";
        deserialize_i64 => i64, visit_i64, "an integer";
        deserialize_f32 => f32, visit_f32, "a number";
        deserialize_f64 => f64, visit_f64, "a number";
        deserialize_bool => bool, visit_bool, "a boolean (true or false)";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) | Value::Text(s) => {
                let de: StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                let r = visitor.visit_enum(de);
                self.locate(r)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// The entries of a table, each value located at `path.key`.
struct Entries<'p, 'de, I> {
    entries: I,
    path: &'p str,
    value: Option<(&'de Node, String)>,
}

impl<'de, I> de::MapAccess<'de> for Entries<'_, 'de, I>
where
    I: Iterator<Item = &'de (String, Option<Pos>, Node)>,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((key, pos, value)) = self.entries.next() else { return Ok(None) };
        let path = join(self.path, key);
        self.value = Some((value, path.clone()));
        let de: StrDeserializer<'_, DeError> = key.as_str().into_deserializer();
        // An unknown key is reported at the key itself.
        seed.deserialize(de).map(Some).map_err(|mut e| {
            e.child = None;
            e.at(&path, *pos)
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (node, path) = self.value.take().ok_or_else(|| DeError::new("value without a key".into()))?;
        seed.deserialize(NodeDe { node, path })
    }
}

/// The items of an array, each located at `path[i]`.
struct Items<'p, I> {
    items: I,
    path: &'p str,
    index: usize,
}

impl<'de, I> de::SeqAccess<'de> for Items<'_, I>
where
    I: Iterator<Item = &'de Node>,
{
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else { return Ok(None) };
        let path = format!("{}[{}]", self.path, self.index);
        self.index += 1;
        seed.deserialize(NodeDe { node, path }).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::doc;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        depth: u32,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }

    fn parse(text: &str) -> Result<Outer, DeError> {
        let node = doc::from_toml(text).unwrap();
        from_node(Box::leak(Box::new(node)), "")
    }

    #[test]
    fn errors_carry_the_innermost_key_and_position() {
        let e = parse("[[inner]]\ndepth = 1\n[[inner]]\ndepht = 2\n").unwrap_err();
        assert_eq!(e.key, "inner[1].depht");
        assert_eq!(e.pos.map(|p| p.line), Some(4));
        assert!(e.message.contains("did you mean `depth`?"), "{}", e.message);

        let e = parse("[[inner]]\ndepth = -1\n").unwrap_err();
        assert_eq!(e.key, "inner[0].depth");
        assert_eq!(e.message, "expected a non-negative integer, found -1");

        let e = parse("[[inner]]\nname = \"x\"\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.pos.map(|p| p.line)), ("inner[0].depth", Some(1)));
        assert_eq!(e.message, "missing required key `depth`");

        let e = parse("[[inner]]\ndepth = \"deep\"\n").unwrap_err();
        assert_eq!(e.message, "expected a non-negative integer, found the string \"deep\"");
    }

    #[test]
    fn text_from_outside_the_manifest_is_parsed_by_the_field_type() {
        let node = Node {
            pos: None,
            value: Value::Table(vec![(
                "inner".into(),
                None,
                Node { pos: None, value: Value::Array(vec![Node { pos: None, value: Value::Table(vec![("depth".into(), None, Node { pos: None, value: Value::Text("7".into()) })]) }]) },
            )]),
        };
        let o: Outer = from_node(&node, "").unwrap();
        assert_eq!(o.inner[0].depth, 7);
    }
}
