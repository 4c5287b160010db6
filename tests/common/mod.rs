//! Helpers shared by the integration tests: paths of the committed guest
//! components, manifest text for linear flows, and a logger that captures
//! what guests print.
#![allow(dead_code)]

pub mod cli;
pub mod registry;

use std::sync::{Mutex, Once};

use torvyn::PipelineDef;

/// Path of a committed guest component.
pub fn wasm(name: &str) -> String {
    format!("{}/examples/components/wasm/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

/// One node of a linear test flow: (node name, component file stem, config JSON, extra TOML lines).
pub struct N<'a>(pub &'a str, pub &'a str, pub &'a str, pub &'a str);

/// Manifest text for a linear flow `main` through `nodes`, with extra `[runtime]` lines.
pub fn linear(nodes: &[N<'_>], runtime: &str) -> String {
    let mut t = String::from("[torvyn]\nname = \"test\"\n\n");
    for N(name, comp, config, extra) in nodes {
        t += &format!(
            "[flow.main.nodes.{name}]\ncomponent = \"{}\"\nconfig = '{config}'\n{extra}\n\n",
            wasm(comp)
        );
    }
    for w in nodes.windows(2) {
        t += &format!("[[flow.main.edges]]\nfrom = {{ node = \"{}\", port = \"output\" }}\nto = {{ node = \"{}\", port = \"input\" }}\n\n", w[0].0, w[1].0);
    }
    if !runtime.is_empty() {
        t += &format!("[runtime]\n{runtime}\n");
    }
    t
}

pub fn pipeline(nodes: &[N<'_>], runtime: &str) -> PipelineDef {
    let text = linear(nodes, runtime);
    PipelineDef::from_toml_str(&text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A captured guest line: (node, stream, text).
pub type Line = (String, String, String);

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

struct Capture;

#[derive(Default)]
struct Fields {
    node: String,
    stream: String,
}

impl<'k> log::kv::VisitSource<'k> for Fields {
    fn visit_pair(&mut self, key: log::kv::Key<'k>, value: log::kv::Value<'k>) -> Result<(), log::kv::Error> {
        match key.as_str() {
            "node" => self.node = value.to_string(),
            "stream" => self.stream = value.to_string(),
            _ => {}
        }
        Ok(())
    }
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == torvyn::engine::GUEST_LOG_TARGET {
            let mut f = Fields::default();
            let _ = record.key_values().visit(&mut f);
            LINES.lock().unwrap().push((f.node, f.stream, record.args().to_string()));
        } else if record.level() <= log::Level::Warn {
            eprintln!("{}: {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

/// Start capturing guest output (idempotent).
pub fn capture() {
    INSTALL.call_once(|| {
        log::set_logger(&Capture).expect("no other logger in tests");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// Every captured line so far, in the order printed.
pub fn all_lines() -> Vec<Line> {
    LINES.lock().unwrap().clone()
}

/// Drop what `nodes` printed (a long test's captured lines are memory of
/// its own, not the runtime's).
pub fn forget_lines(nodes: &[&str]) {
    LINES.lock().unwrap().retain(|(n, _, _)| !nodes.contains(&n.as_str()));
}

/// Lines a node printed, in order (node names are unique per test).
pub fn lines_of(node: &str) -> Vec<(String, String)> {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _, _)| n == node)
        .map(|(_, s, l)| (s.clone(), l.clone()))
        .collect()
}

/// Manifest text for a graph flow `main`: `nodes` as in [`linear`], `edges`
/// as (from, to) where either end may be `node.port`.
pub fn graph_text(nodes: &[N<'_>], edges: &[(&str, &str)], runtime: &str) -> String {
    let mut t = String::from("[torvyn]\nname = \"test\"\n\n");
    for N(name, comp, config, extra) in nodes {
        t += &format!(
            "[flow.main.nodes.{name}]\ncomponent = \"{}\"\nconfig = '{config}'\n{extra}\n\n",
            wasm(comp)
        );
    }
    for (from, to) in edges {
        t += &format!("[[flow.main.edges]]\nfrom = \"{from}\"\nto = \"{to}\"\n\n");
    }
    if !runtime.is_empty() {
        t += &format!("[runtime]\n{runtime}\n");
    }
    t
}

pub fn graph(nodes: &[N<'_>], edges: &[(&str, &str)], runtime: &str) -> PipelineDef {
    let text = graph_text(nodes, edges, runtime);
    PipelineDef::from_toml_str(&text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// What a printing sink printed: (sequence, payload) per element, and
/// whether `complete` came last.
pub fn printed(node: &str) -> (Vec<(u64, String)>, bool) {
    let lines: Vec<String> = lines_of(node).into_iter().filter(|(s, _)| s == "stdout").map(|(_, l)| l).collect();
    let mut out = Vec::new();
    for l in &lines {
        if let Some(rest) = l.strip_prefix('[') {
            let (head, payload) = rest.split_once("] ").unwrap_or((rest.trim_end_matches(']'), ""));
            let seq = head.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("sequence");
            out.push((seq, payload.to_string()));
        }
    }
    let completed = lines.last().is_some_and(|l| l.ends_with("complete"));
    (out, completed)
}

/// Resident memory of this process, in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// source → pass-through → sink, `n` elements of 64 bytes.
pub fn three_stages(n: u64) -> PipelineDef {
    pipeline(
        &[
            N("src", "counting-source", &format!(r#"{{"count": {n}, "payload_size": 64}}"#), ""),
            N("pass", "passthrough", "", ""),
            N("sink", "slow-sink", r#"{"pause_every": 1000000000}"#, ""),
        ],
        "",
    )
}

/// source → `wasi-probe` (as node `node`, with `config` and the grants
/// `grants`, a comma-separated list of quoted capabilities) → sink.
pub fn probe(node: &str, config: &str, grants: &str) -> PipelineDef {
    let extra = format!("capabilities = [{grants}]");
    graph(
        &[
            N(&format!("{node}_src"), "counting-source", r#"{"count": 2}"#, ""),
            N(node, "wasi-probe", config, &extra),
            N(&format!("{node}_sink"), "printing-sink", "{}", ""),
        ],
        &[(&format!("{node}_src"), node), (node, &format!("{node}_sink"))],
        "",
    )
}
