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
    /// Untyped text given outside the manifest (an environment variable,
    /// `--config`): read as whatever type the key expects.
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    /// Entries in document order: key, key position, value.
    Table(Vec<(String, Option<Pos>, Node)>),
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
        // A key whose value is null is as if it were not written.
        J::Object(o) => Value::Table(o.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, None, json_value(v))).collect()),
    };
    Node { pos: None, value }
}

/// The value as JSON text (how a node's table-valued `config` reaches `init`).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Str(s) | Value::Text(s) => J::String(s.clone()),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Bool(b) => J::Bool(*b),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Table(t) => J::Object(t.iter().map(|(k, _, v)| (k.clone(), to_json(v))).collect()),
    }
}

impl Node {
    /// The node at a dotted key such as `flow.main.edges[0].to`, or the
    /// deepest one on the way there.
    pub fn find(&self, key: &str) -> &Node {
        self.walk(key).0
    }

    /// The node at a dotted key, if it is there.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self.walk(key) {
            (n, true) => Some(n),
            _ => None,
        }
    }

    fn walk(&self, key: &str) -> (&Node, bool) {
        let mut at = self;
        for part in key.split('.').filter(|p| !p.is_empty()) {
            let (name, indices) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            let Value::Table(entries) = &at.value else { return (at, false) };
            let Some((_, _, child)) = entries.iter().find(|(k, _, _)| k == name) else { return (at, false) };
            at = child;
            for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
                match (&at.value, index.parse::<usize>()) {
                    (Value::Array(items), Ok(i)) if i < items.len() => at = &items[i],
                    _ => return (at, false),
                }
            }
        }
        (at, true)
    }

    /// Position of the key itself (not its value) for a dotted key, when
    /// the key was written in a table.
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        let (parent, last) = match key.rsplit_once('.') {
            Some((p, l)) => (self.find(p), l),
            None => (self, key),
        };
        match &parent.value {
            Value::Table(entries) => entries.iter().find(|(k, _, _)| k == last).and_then(|(_, p, _)| *p),
            _ => None,
        }
    }

    /// Set `key` (dotted, tables only) to `value`, creating tables on the way.
    pub fn set(&mut self, key: &str, value: Node) {
        let mut at = self;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if !matches!(at.value, Value::Table(_)) {
                at.value = Value::Table(Vec::new());
            }
            let Value::Table(entries) = &mut at.value else { return };
            let last = i + 1 == parts.len();
            let idx = match entries.iter().position(|(k, _, _)| k == part) {
                Some(idx) => idx,
                None => {
                    entries.push((part.to_string(), None, Node { pos: None, value: Value::Table(Vec::new()) }));
                    entries.len() - 1
                }
            };
            if last {
                entries[idx].2 = value;
                return;
            }
            at = &mut entries[idx].2;
        }
    }

    /// Remove `key` (dotted, tables only); whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let (parent, last) = match key.rsplit_once('.') {
            Some((p, l)) => (p, l),
            None => ("", key),
        };
        let mut at = self;
        for part in parent.split('.').filter(|p| !p.is_empty()) {
            let Value::Table(entries) = &mut at.value else { return false };
            let Some(e) = entries.iter_mut().find(|(k, _, _)| k == part) else { return false };
            at = &mut e.2;
        }
        let Value::Table(entries) = &mut at.value else { return false };
        let before = entries.len();
        entries.retain(|(k, _, _)| k != last);
        before != entries.len()
    }
}
