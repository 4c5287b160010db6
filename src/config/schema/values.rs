//! Values a manifest may write in more than one shape: sizes (`65536` or
//! `"64MiB"`), a node's `config` (a string or a table), an edge end
//! (`"node"`, `"node.port"` or `{ node, port }`), a backpressure setting (a
//! policy name or a table) and a low watermark (a ratio or a depth).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::runtime::BackpressureTable;
use crate::config::size::parse_size;

/// A byte count: an integer, or a string with a unit (`"16MiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 65536, \"64KiB\" or \"16MiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom(format!("must not be negative, found {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Bytes: an integer, or a string with a unit (B, KiB, MiB, GiB, KB, MB, GB), e.g. \"64MiB\".",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^\\s*[0-9]+\\s*(B|KiB|MiB|GiB|KB|kB|MB|GB)?\\s*$" }
            ]
        })
    }
}

/// What `lifecycle.init` receives: a string as written, a table as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitConfig(pub String);

impl<'de> Deserialize<'de> for InitConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InitConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a table")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<InitConfig, E> {
                Ok(InitConfig(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<InitConfig, A::Error> {
                let value = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
                Ok(InitConfig(value.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for InitConfig {
    fn schema_name() -> Cow<'static, str> {
        "InitConfig".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Passed to the component's lifecycle.init: a string as written, or a table turned into JSON text.",
            "anyOf": [{ "type": "string" }, { "type": "object" }]
        })
    }
}

/// One end of an edge: `"node"`, `"node.port"` or `{ node = "…", port = "…" }`.
/// `port` is `None` when not written (the caller picks `output`/`input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    pub node: String,
    pub port: Option<String>,
}

impl<'de> Deserialize<'de> for PortEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PortEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node name, \"node.port\", or a table { node = \"…\", port = \"…\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortEntry, E> {
                Ok(match v.split_once('.') {
                    Some((n, p)) => PortEntry { node: n.to_string(), port: Some(p.to_string()) },
                    None => PortEntry { node: v.to_string(), port: None },
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PortEntry, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Table {
                    node: String,
                    #[serde(default)]
                    port: Option<String>,
                }
                let t = Table::deserialize(MapAccessDeserializer::new(map))?;
                Ok(PortEntry { node: t.node, port: t.port })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for PortEntry {
    fn schema_name() -> Cow<'static, str> {
        "PortRef".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An edge end: \"node\", \"node.port\", or { node, port } (port defaults to output/input).",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "node": { "type": "string" }, "port": { "type": "string" } },
                    "required": ["node"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// What happens when an edge's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BackpressurePolicy {
    /// The producer waits until the consumer drains the queue (default).
    #[serde(alias = "block-producer")]
    Block,
    /// The oldest queued element is dropped to make room.
    DropOldest,
    /// The element being pushed is dropped.
    DropNewest,
    /// The flow fails, naming the edge.
    Error,
}

impl fmt::Display for BackpressurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackpressurePolicy::Block => "block",
            BackpressurePolicy::DropOldest => "drop-oldest",
            BackpressurePolicy::DropNewest => "drop-newest",
            BackpressurePolicy::Error => "error",
        })
    }
}

/// An edge's or flow's `backpressure`: a policy name, or a table like
/// `[runtime.backpressure]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackpressureSpec(pub BackpressureTable);

impl<'de> Deserialize<'de> for BackpressureSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BackpressureSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a policy (block, drop-oldest, drop-newest, error) or a table with backpressure_policy")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BackpressureSpec, E> {
                let policy = BackpressurePolicy::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(BackpressureSpec(BackpressureTable { backpressure_policy: Some(policy), ..Default::default() }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BackpressureSpec, A::Error> {
                BackpressureTable::deserialize(MapAccessDeserializer::new(map)).map(BackpressureSpec)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for BackpressureSpec {
    fn schema_name() -> Cow<'static, str> {
        "BackpressureSpec".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let policy = generator.subschema_for::<BackpressurePolicy>();
        let table = generator.subschema_for::<BackpressureTable>();
        json_schema!({ "anyOf": [policy, table] })
    }
}

/// `low_watermark`: a fraction of the queue depth (`0.5`) or a depth (`32`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Watermark {
    Ratio(f64),
    Depth(u64),
}

impl<'de> Deserialize<'de> for Watermark {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Watermark;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fraction between 0 and 1 (e.g. 0.5) or a depth below the queue depth")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Watermark, E> {
                Ok(Watermark::Ratio(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Watermark, E> {
                u64::try_from(v).map(Watermark::Depth).map_err(|_| E::custom(format!("must not be negative, found {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Watermark, E> {
                Ok(Watermark::Depth(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Watermark, E> {
                match (v.trim().parse::<u64>(), v.trim().parse::<f64>()) {
                    (Ok(n), _) => Ok(Watermark::Depth(n)),
                    (_, Ok(f)) => Ok(Watermark::Ratio(f)),
                    _ => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Watermark {
    fn schema_name() -> Cow<'static, str> {
        "Watermark".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A fraction of the queue depth (0 < r < 1) or a depth below it.",
            "anyOf": [{ "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 }, { "type": "integer", "minimum": 0 }]
        })
    }
}
