//! `torvyn link --format dot|mermaid`: the flow graph as a picture. Nodes
//! show name, role and component; edges show the port, the queue capacity
//! and the backpressure policy.

use serde_json::Value;

/// Which picture language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    Dot,
    Mermaid,
}

/// `nodes` and `edges` as `torvyn link --format json` gives them.
pub fn draw(picture: Picture, flow: &str, nodes: &[Value], edges: &[Value]) -> String {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let role = |n: &Value| s(n, "role").rsplit('/').next().unwrap_or_default().to_string();
    let node_label = |n: &Value| format!("{}\n{} · {}", s(n, "node"), role(n), s(n, "component"));
    let edge_label = |e: &Value| format!("{} · queue {} · {}", s(e, "port"), e["capacity"], s(e, "policy"));
    let index = |name: &str| nodes.iter().position(|n| n["node"] == name).unwrap_or(0);
    let mut out = String::new();
    match picture {
        Picture::Dot => {
            let q = |t: &str| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"));
            out += &format!("digraph {} {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", q(flow));
            for n in nodes {
                out += &format!("  {} [label={}];\n", q(&s(n, "node")), q(&node_label(n)));
            }
            for e in edges {
                out += &format!("  {} -> {} [label={}];\n", q(&s(e, "from")), q(&s(e, "to")), q(&edge_label(e)));
            }
            out += "}\n";
        }
        Picture::Mermaid => {
            // Mermaid labels: quoted, with its entity for `"` and <br/> for lines.
            let q = |t: &str| format!("\"{}\"", t.replace('"', "#quot;").replace('\n', "<br/>"));
            out += &format!("%% flow {flow}\nflowchart LR\n");
            for (i, n) in nodes.iter().enumerate() {
                out += &format!("  n{i}[{}]\n", q(&node_label(n)));
            }
            for e in edges {
                out += &format!("  n{} -->|{}| n{}\n", index(&s(e, "from")), q(&edge_label(e)), index(&s(e, "to")));
            }
        }
    }
    out
}
