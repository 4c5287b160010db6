//! Walks a parsed manifest document into a [`PipelineDef`], checking keys,
//! types and references as it goes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::doc::{self, Node, Pos, Value};
use super::overrides::Overrides;
use super::size::parse_size;
use super::{
    ComponentDef, ConfigError, EdgeDef, EndpointKind, ErrorAction, ErrorPolicy, FlowDef, NodeDef,
    PipelineDef, PortRef, RuntimeConfig, MAX_QUEUE_DEPTH, MAX_WORKER_THREADS, MIN_MEMORY_LIMIT,
};
use crate::contracts::Role;
use crate::engine::{MAX_INSTANCES, MAX_LINEAR_MEMORY};

type Entries = [(String, Option<Pos>, Node)];

const TOP_KEYS: &[&str] = &["torvyn", "component", "flow", "runtime"];
const TORVYN_KEYS: &[&str] = &["name", "version", "description", "contract_version"];
const COMPONENT_KEYS: &[&str] = &["name", "path", "description"];
const FLOW_KEYS: &[&str] = &["description", "nodes", "edges"];
const NODE_KEYS: &[&str] = &[
    "component",
    "endpoint",
    "interface",
    "config",
    "capabilities",
    "on_error",
    "max_buffers",
    "max_buffer_bytes",
    "resume_after_ms",
];
const POLICY_KEYS: &[&str] = &["invalid_input", "deadline_exceeded", "unavailable", "internal", "max_retries"];
const EDGE_KEYS: &[&str] = &["from", "to"];
const PORT_KEYS: &[&str] = &["node", "port"];
/// Every `[runtime]` key can also be overridden (environment, `--set`).
const RUNTIME_KEYS: &[&str] = super::overrides::OVERRIDABLE;

struct Reader<'a> {
    file: Option<&'a Path>,
    base: &'a Path,
}

/// Parse manifest text into a checked pipeline definition.
pub fn parse(text: &str, json: bool, file: Option<&Path>, base: &Path, overrides: &Overrides) -> Result<PipelineDef, ConfigError> {
    let r = Reader { file, base };
    let root = if json { doc::from_json(text) } else { doc::from_toml(text) }
        .map_err(|(pos, message)| r.err(pos, "", format!("syntax error: {message}")))?;
    let top = r.table(&root, "")?;
    r.check_keys(top, TOP_KEYS, "")?;

    let mut name = String::new();
    if let Some((_, node)) = get(top, "torvyn") {
        let t = r.table(node, "torvyn")?;
        r.check_keys(t, TORVYN_KEYS, "torvyn")?;
        if let Some((_, n)) = get(t, "name") {
            name = r.string(n, "torvyn.name")?;
        }
        if let Some((_, v)) = get(t, "contract_version") {
            let v = r.string(v, "torvyn.contract_version")?;
            let parsed = crate::contracts::ContractVersion::parse(&v);
            if !parsed.is_some_and(|p| p.compatible_with(crate::contracts::SUPPORTED)) {
                return Err(r.err(
                    get(t, "contract_version").and_then(|e| e.0),
                    "torvyn.contract_version",
                    format!("contract {v} is not supported; this runtime speaks {}", crate::contracts::SUPPORTED),
                ));
            }
        }
    }

    let mut components = Vec::new();
    if let Some((_, node)) = get(top, "component") {
        let Value::Array(items) = &node.value else {
            return Err(r.type_err(node, "component", "an array of tables ([[component]])"));
        };
        for (i, item) in items.iter().enumerate() {
            let key = format!("component[{i}]");
            let t = r.table(item, &key)?;
            r.check_keys(t, COMPONENT_KEYS, &key)?;
            let cname = r.string(r.required(t, "name", &key, item)?, &format!("{key}.name"))?;
            if components.iter().any(|c: &ComponentDef| c.name == cname) {
                return Err(r.err(item.pos, &format!("{key}.name"), format!("component `{cname}` is defined twice")));
            }
            let pnode = r.required(t, "path", &key, item)?;
            let path = r.string(pnode, &format!("{key}.path"))?;
            let path = r.resolve_component_path(&path, pnode.pos, &format!("{key}.path"))?;
            components.push(ComponentDef { name: cname, path });
        }
    }

    let runtime = match (get(top, "runtime"), overrides.entries().is_empty()) {
        (None, true) => RuntimeConfig::default(),
        (Some((_, node)), true) => r.runtime(node)?,
        (found, false) => {
            let node = overrides.apply(found.map(|(_, n)| n));
            r.runtime(&node).map_err(|e| overrides.blame(e))?
        }
    };

    let mut flows = Vec::new();
    if let Some((_, node)) = get(top, "flow") {
        for (fname, pos, fnode) in r.table(node, "flow")? {
            flows.push(r.flow(fname, *pos, fnode, &components)?);
        }
    }
    if flows.is_empty() {
        return Err(r.err(root.pos, "flow", "the manifest defines no flow; add a [flow.main] table with nodes and edges".into()));
    }
    Ok(PipelineDef {
        name,
        file: file.map(Path::to_path_buf),
        components,
        flows,
        runtime,
    })
}

fn get<'n>(entries: &'n Entries, key: &str) -> Option<(Option<Pos>, &'n Node)> {
    entries.iter().find(|(k, _, _)| k == key).map(|(_, p, n)| (*p, n))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// Edit distance, for "did you mean" suggestions.
pub(super) fn distance(a: &str, b: &str) -> usize {
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

impl Reader<'_> {
    fn err(&self, pos: Option<Pos>, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.map(Path::to_path_buf),
            pos,
            key: key.to_string(),
            message,
        }
    }

    fn type_err(&self, node: &Node, key: &str, expected: &str) -> ConfigError {
        self.err(node.pos, key, format!("expected {expected}, found {}", node.value.kind()))
    }

    fn table<'n>(&self, node: &'n Node, key: &str) -> Result<&'n Entries, ConfigError> {
        match &node.value {
            Value::Table(t) => Ok(t),
            _ => Err(self.type_err(node, key, "a table")),
        }
    }

    fn check_keys(&self, entries: &Entries, allowed: &[&str], prefix: &str) -> Result<(), ConfigError> {
        for (k, pos, _) in entries {
            if allowed.contains(&k.as_str()) {
                continue;
            }
            let best = allowed.iter().min_by_key(|a| distance(k, a));
            let hint = match best {
                Some(b) if distance(k, b) <= 3 => format!("; did you mean `{b}`?"),
                _ => format!("; valid keys here: {}", allowed.join(", ")),
            };
            return Err(self.err(*pos, &join(prefix, k), format!("unknown key `{k}`{hint}")));
        }
        Ok(())
    }

    fn required<'n>(&self, entries: &'n Entries, key: &str, prefix: &str, parent: &Node) -> Result<&'n Node, ConfigError> {
        get(entries, key)
            .map(|(_, n)| n)
            .ok_or_else(|| self.err(parent.pos, &join(prefix, key), format!("missing required key `{key}`")))
    }

    fn string(&self, node: &Node, key: &str) -> Result<String, ConfigError> {
        match &node.value {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(self.type_err(node, key, "a string")),
        }
    }

    fn uint(&self, node: &Node, key: &str) -> Result<u64, ConfigError> {
        match node.value {
            Value::Int(i) if i >= 0 => Ok(i as u64),
            Value::Int(i) => Err(self.err(node.pos, key, format!("must not be negative, found {i}"))),
            _ => Err(self.type_err(node, key, "a non-negative integer")),
        }
    }

    fn size(&self, node: &Node, key: &str) -> Result<u64, ConfigError> {
        match &node.value {
            Value::Str(s) => parse_size(s).map_err(|m| self.err(node.pos, key, m)),
            _ => self.uint(node, key),
        }
    }

    fn millis(&self, node: &Node, key: &str) -> Result<Duration, ConfigError> {
        let ms = self.uint(node, key)?;
        if ms == 0 {
            return Err(self.err(node.pos, key, "must be at least 1 millisecond".into()));
        }
        Ok(Duration::from_millis(ms))
    }

    /// A component path: a `.wasm` file, or a component crate folder whose
    /// `target/wasm32-wasip2/release/` holds the built `.wasm`.
    fn resolve_component_path(&self, text: &str, pos: Option<Pos>, key: &str) -> Result<PathBuf, ConfigError> {
        let path = self.base.join(text);
        if path.is_dir() {
            let release = path.join("target/wasm32-wasip2/release");
            let wanted = crate_wasm_name(&path);
            let found: Vec<PathBuf> = std::fs::read_dir(&release)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                        .collect()
                })
                .unwrap_or_default();
            let pick = match (&wanted, found.as_slice()) {
                (Some(w), _) if found.iter().any(|p| p.file_name().is_some_and(|n| n == w.as_str())) => {
                    Some(release.join(w))
                }
                (_, [one]) => Some(one.clone()),
                _ => None,
            };
            return pick.ok_or_else(|| {
                self.err(
                    pos,
                    key,
                    format!(
                        "`{}` is a folder without a built component in {}; build it with `cargo build --release --target wasm32-wasip2` there",
                        path.display(),
                        release.display()
                    ),
                )
            });
        }
        if !path.is_file() {
            return Err(self.err(pos, key, format!("`{}` does not exist; give the path of a .wasm component (relative to the manifest) or of a component crate folder", path.display())));
        }
        Ok(path)
    }

    fn runtime(&self, node: &Node) -> Result<RuntimeConfig, ConfigError> {
        let t = self.table(node, "runtime")?;
        self.check_keys(t, RUNTIME_KEYS, "runtime")?;
        let mut rt = RuntimeConfig::default();
        let mut watermark: Option<&Node> = None;
        for (k, _, v) in t {
            let key = format!("runtime.{k}");
            match k.as_str() {
                "worker_threads" => {
                    rt.worker_threads = self.uint(v, &key)? as usize;
                    if rt.worker_threads == 0 || rt.worker_threads > MAX_WORKER_THREADS {
                        return Err(self.err(v.pos, &key, "must be between 1 and 256".into()));
                    }
                }
                "memory_limit" => {
                    rt.memory_limit = self.size(v, &key)?;
                    if !(MIN_MEMORY_LIMIT..=MAX_LINEAR_MEMORY).contains(&rt.memory_limit) {
                        return Err(self.err(v.pos, &key, "must be between 1MiB and 4GiB (a 32-bit linear memory holds at most 4GiB)".into()));
                    }
                }
                "queue_depth" => {
                    rt.queue_depth = self.uint(v, &key)? as usize;
                    if rt.queue_depth == 0 || rt.queue_depth > MAX_QUEUE_DEPTH {
                        return Err(self.err(v.pos, &key, "must be between 1 and 1048576".into()));
                    }
                }
                "low_watermark" => watermark = Some(v),
                "init_timeout_ms" => rt.init_timeout = self.millis(v, &key)?,
                "call_timeout_ms" => rt.call_timeout = self.millis(v, &key)?,
                "max_buffer_size" => {
                    rt.max_buffer_size = self.size(v, &key)?;
                    if rt.max_buffer_size == 0 || rt.max_buffer_size > 1 << 30 {
                        return Err(self.err(v.pos, &key, "must be between 1 byte and 1GiB".into()));
                    }
                }
                "pool_max_bytes" => {
                    rt.pool_max_bytes = self.size(v, &key)?;
                    if rt.pool_max_bytes > 1 << 40 {
                        return Err(self.err(v.pos, &key, "must be at most 1TiB (0 keeps no idle buffers)".into()));
                    }
                }
                "max_instances" => {
                    let n = self.uint(v, &key)?;
                    if n == 0 || n > u64::from(MAX_INSTANCES) {
                        return Err(self.err(v.pos, &key, "must be between 1 and 10000".into()));
                    }
                    rt.max_instances = n as u32;
                }
                _ => {}
            }
        }
        rt.low_watermark = match watermark {
            None => rt.queue_depth / 2,
            Some(v) => {
                let key = "runtime.low_watermark";
                match v.value {
                    Value::Float(f) if f > 0.0 && f < 1.0 => (rt.queue_depth as f64 * f) as usize,
                    Value::Int(n) if n >= 0 && (n as usize) < rt.queue_depth => n as usize,
                    _ => {
                        return Err(self.err(
                            v.pos,
                            key,
                            format!("must be a fraction between 0 and 1 (e.g. 0.5) or a depth below queue_depth ({})", rt.queue_depth),
                        ))
                    }
                }
            }
        };
        Ok(rt)
    }

    fn flow(&self, name: &str, pos: Option<Pos>, node: &Node, components: &[ComponentDef]) -> Result<FlowDef, ConfigError> {
        let prefix = format!("flow.{name}");
        let t = self.table(node, &prefix)?;
        self.check_keys(t, FLOW_KEYS, &prefix)?;
        let description = match get(t, "description") {
            Some((_, d)) => self.string(d, &format!("{prefix}.description"))?,
            None => String::new(),
        };
        let nodes_key = format!("{prefix}.nodes");
        let Some((_, nodes_node)) = get(t, "nodes") else {
            return Err(self.err(pos, &nodes_key, "a flow needs nodes: add [flow.NAME.nodes.NODE] tables".into()));
        };
        let mut nodes = Vec::new();
        for (nname, _, nnode) in self.table(nodes_node, &nodes_key)? {
            nodes.push(self.node(&format!("{nodes_key}.{nname}"), nname, nnode, components)?);
        }
        let mut edges = Vec::new();
        if let Some((_, enode)) = get(t, "edges") {
            let key = format!("{prefix}.edges");
            let Value::Array(items) = &enode.value else {
                return Err(self.type_err(enode, &key, "an array of tables ([[flow.NAME.edges]])"));
            };
            for (i, item) in items.iter().enumerate() {
                let ekey = format!("{key}[{i}]");
                let et = self.table(item, &ekey)?;
                self.check_keys(et, EDGE_KEYS, &ekey)?;
                let from = self.port(self.required(et, "from", &ekey, item)?, &format!("{ekey}.from"), "output", &nodes)?;
                let to = self.port(self.required(et, "to", &ekey, item)?, &format!("{ekey}.to"), "input", &nodes)?;
                edges.push(EdgeDef { from, to });
            }
        }
        Ok(FlowDef {
            name: name.to_string(),
            description,
            nodes,
            edges,
        })
    }

    fn port(&self, node: &Node, key: &str, default_port: &str, nodes: &[NodeDef]) -> Result<PortRef, ConfigError> {
        let (name, port) = match &node.value {
            // "node" or "node.port"
            Value::Str(s) => match s.split_once('.') {
                Some((n, p)) => (n.to_string(), p.to_string()),
                None => (s.clone(), default_port.to_string()),
            },
            Value::Table(t) => {
                self.check_keys(t, PORT_KEYS, key)?;
                let n = self.string(self.required(t, "node", key, node)?, &format!("{key}.node"))?;
                let p = match get(t, "port") {
                    Some((_, p)) => self.string(p, &format!("{key}.port"))?,
                    None => default_port.to_string(),
                };
                (n, p)
            }
            _ => return Err(self.type_err(node, key, "a node name, \"node.port\", or a table { node = \"…\", port = \"…\" }")),
        };
        if !nodes.iter().any(|n| n.name == name) {
            let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            let hint = known
                .iter()
                .filter(|k| distance(k, &name) <= 2)
                .min_by_key(|k| distance(k, &name))
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(self.err(node.pos, key, format!("unknown node `{name}`; {hint}this flow's nodes are: {}", known.join(", "))));
        }
        Ok(PortRef { node: name, port })
    }

    fn node(&self, key: &str, name: &str, node: &Node, components: &[ComponentDef]) -> Result<NodeDef, ConfigError> {
        let t = self.table(node, key)?;
        self.check_keys(t, NODE_KEYS, key)?;
        if let Some((_, e)) = get(t, "endpoint") {
            return self.endpoint_node(key, name, e, t);
        }
        let cnode = self.required(t, "component", key, node)?;
        let ckey = format!("{key}.component");
        let cref = self.string(cnode, &ckey)?;
        let (component, path) = match components.iter().find(|c| c.name == cref) {
            Some(c) => (c.name.clone(), c.path.clone()),
            None if cref.ends_with(".wasm") || cref.contains('/') => {
                let path = self.resolve_component_path(&cref, cnode.pos, &ckey)?;
                let shown = path.file_name().map_or(cref.clone(), |f| f.to_string_lossy().into_owned());
                (shown, path)
            }
            None => {
                let known: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
                return Err(self.err(
                    cnode.pos,
                    &ckey,
                    format!(
                        "`{cref}` is neither a [[component]] name ({}) nor a path to a .wasm file",
                        if known.is_empty() { "none defined".to_string() } else { known.join(", ") }
                    ),
                ));
            }
        };
        let interface = match get(t, "interface") {
            Some((_, i)) => {
                let ikey = format!("{key}.interface");
                let text = self.string(i, &ikey)?;
                Some(Role::from_interface(&text).ok_or_else(|| {
                    self.err(
                        i.pos,
                        &ikey,
                        format!("unknown interface `{text}`; use torvyn:streaming/source, torvyn:streaming/processor or torvyn:streaming/sink"),
                    )
                })?)
            }
            None => None,
        };
        let config = match get(t, "config") {
            Some((_, c)) => match &c.value {
                Value::Str(s) => s.clone(),
                Value::Table(_) => doc::to_json(c).to_string(),
                _ => return Err(self.type_err(c, &format!("{key}.config"), "a string or a table")),
            },
            None => String::new(),
        };
        let capabilities = match get(t, "capabilities") {
            Some((_, c)) => {
                let ck = format!("{key}.capabilities");
                let Value::Array(items) = &c.value else {
                    return Err(self.type_err(c, &ck, "an array of strings"));
                };
                items.iter().map(|i| self.string(i, &ck)).collect::<Result<_, _>>()?
            }
            None => Vec::new(),
        };
        let on_error = match get(t, "on_error") {
            Some((_, p)) => self.policy(p, &format!("{key}.on_error"))?,
            None => ErrorPolicy::default(),
        };
        let mut def = NodeDef {
            name: name.to_string(),
            component,
            path,
            endpoint: None,
            interface,
            config,
            capabilities,
            on_error,
            max_buffers: 256,
            max_buffer_bytes: 256 << 20,
            resume_after: Duration::from_millis(1),
        };
        if let Some((_, v)) = get(t, "max_buffers") {
            def.max_buffers = self.uint(v, &format!("{key}.max_buffers"))?.max(1);
        }
        if let Some((_, v)) = get(t, "max_buffer_bytes") {
            def.max_buffer_bytes = self.size(v, &format!("{key}.max_buffer_bytes"))?;
        }
        if let Some((_, v)) = get(t, "resume_after_ms") {
            def.resume_after = Duration::from_millis(self.uint(v, &format!("{key}.resume_after_ms"))?);
        }
        Ok(def)
    }

    /// `endpoint = "ingress" | "egress"`: served by the embedding program.
    fn endpoint_node(&self, key: &str, name: &str, e: &Node, t: &Entries) -> Result<NodeDef, ConfigError> {
        let ekey = format!("{key}.endpoint");
        let kind = match self.string(e, &ekey)?.as_str() {
            "ingress" => EndpointKind::Ingress,
            "egress" => EndpointKind::Egress,
            other => return Err(self.err(e.pos, &ekey, format!("unknown endpoint `{other}`; use ingress or egress"))),
        };
        if let Some((pos, _)) = t.iter().find(|(k, _, _)| k != "endpoint").map(|(k, p, _)| (p, k)) {
            return Err(self.err(*pos, &ekey, "an endpoint node takes no other keys (no component, config or policy)".into()));
        }
        Ok(NodeDef {
            name: name.to_string(),
            component: match kind {
                EndpointKind::Ingress => "ingress".into(),
                EndpointKind::Egress => "egress".into(),
            },
            path: PathBuf::new(),
            endpoint: Some(kind),
            interface: None,
            config: String::new(),
            capabilities: Vec::new(),
            on_error: ErrorPolicy::default(),
            max_buffers: 256,
            max_buffer_bytes: 256 << 20,
            resume_after: Duration::from_millis(1),
        })
    }

    fn policy(&self, node: &Node, key: &str) -> Result<ErrorPolicy, ConfigError> {
        let t = self.table(node, key)?;
        self.check_keys(t, POLICY_KEYS, key)?;
        let mut p = ErrorPolicy::default();
        for (k, _, v) in t {
            let vk = format!("{key}.{k}");
            if k == "max_retries" {
                p.max_retries = self.uint(v, &vk)?.min(1000) as u32;
                continue;
            }
            let action = match self.string(v, &vk)?.as_str() {
                "skip" => ErrorAction::Skip,
                "retry" => ErrorAction::Retry,
                "fail" => ErrorAction::Fail,
                other => return Err(self.err(v.pos, &vk, format!("unknown action `{other}`; use skip, retry or fail"))),
            };
            match k.as_str() {
                "invalid_input" => p.invalid_input = action,
                "deadline_exceeded" => p.deadline_exceeded = action,
                "unavailable" => p.unavailable = action,
                _ => p.internal = action,
            }
        }
        Ok(p)
    }
}

/// `<name>.wasm` from a crate folder's Cargo.toml (`-` becomes `_`).
fn crate_wasm_name(folder: &Path) -> Option<String> {
    let text = std::fs::read_to_string(folder.join("Cargo.toml")).ok()?;
    let value: toml::Table = text.parse().ok()?;
    let name = value.get("package")?.get("name")?.as_str()?;
    Some(format!("{}.wasm", name.replace('-', "_")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_distance() {
        assert_eq!(distance("queue_dept", "queue_depth"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
