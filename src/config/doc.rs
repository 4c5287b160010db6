//! A small document tree with source locations, built from TOML or JSON, so
//! the manifest reader reports every error at the key that caused it.

use std::fmt;

use toml::de::{DeTable, DeValue};

/// 1-based line and column of a key or value in the manifest text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value with where it was written (JSON input has no positions).
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Option<Pos>,
    pub value: Value,
}

/// The shapes a manifest value can take.
#[derive(Debug, Clone)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    /// Entries in document order: key, key position, value.
    Table(Vec<(String, Option<Pos>, Node)>),
}

impl Value {
    /// The type's name as a user would say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// Maps byte offsets to line and column.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset);
        Pos {
            line,
            column: offset - self.starts[line - 1] + 1,
        }
    }
}

/// Parse TOML text. A syntax error comes back with its position and message.
pub fn from_toml(text: &str) -> Result<Node, (Option<Pos>, String)> {
    let lines = Lines::new(text);
    let table = DeTable::parse(text).map_err(|e| {
        let pos = e.span().map(|s| lines.pos(s.start));
        (pos, e.message().to_string())
    })?;
    Ok(Node {
        pos: Some(lines.pos(table.span().start)),
        value: toml_table(table.get_ref(), &lines)?,
    })
}

fn toml_table(t: &DeTable<'_>, lines: &Lines) -> Result<Value, (Option<Pos>, String)> {
    let mut entries = Vec::with_capacity(t.len());
    for (k, v) in t.iter() {
        let value = toml_value(v.get_ref(), v.span().start, lines)?;
        entries.push((k.get_ref().to_string(), Some(lines.pos(k.span().start)), value));
    }
    Ok(Value::Table(entries))
}

fn toml_value(v: &DeValue<'_>, at: usize, lines: &Lines) -> Result<Node, (Option<Pos>, String)> {
    let pos = Some(lines.pos(at));
    let value = match v {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let n = i64::from_str_radix(&digits, i.radix()).map_err(|e| (pos, format!("bad integer: {e}")))?;
            Value::Int(n)
        }
        DeValue::Float(f) => {
            let n: f64 = f
                .as_str()
                .replace('_', "")
                .parse()
                .map_err(|e| (pos, format!("bad number: {e}")))?;
            Value::Float(n)
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Str(d.to_string()),
        DeValue::Array(a) => Value::Array(
            a.iter()
                .map(|item| toml_value(item.get_ref(), item.span().start, lines))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => toml_table(t, lines)?,
    };
    Ok(Node { pos, value })
}

/// Parse JSON text. A syntax error comes back with its position and message.
pub fn from_json(text: &str) -> Result<Node, (Option<Pos>, String)> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        (
            Some(Pos {
                line: e.line(),
                column: e.column(),
            }),
            e.to_string(),
        )
    })?;
    Ok(json_value(v))
}

fn json_value(v: serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match v {
        J::Null => Value::Table(Vec::new()),
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s),
        J::Array(a) => Value::Array(a.into_iter().map(json_value).collect()),
        J::Object(o) => Value::Table(o.into_iter().map(|(k, v)| (k, None, json_value(v))).collect()),
    };
    Node { pos: None, value }
}

/// The value as JSON text (how a node's table-valued `config` reaches `init`).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Str(s) => J::String(s.clone()),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Bool(b) => J::Bool(*b),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Table(t) => J::Object(t.iter().map(|(k, _, v)| (k.clone(), to_json(v))).collect()),
    }
}
