//! The topology of a flow: which node feeds which, checked before anything
//! runs. This version runs linear flows: one source, any number of
//! processors in a chain, one sink.

use crate::config::FlowDef;

/// Why a flow's graph cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error("flow `{flow}` has {nodes} node(s) and no edges; connect a source to a sink with [[flow.{flow}.edges]]")]
    NoEdges { flow: String, nodes: usize },
    #[error("flow `{flow}`: node `{node}` has more than one {direction} edge ({edges}); this version runs linear flows (source → processors → sink) only")]
    Branching {
        flow: String,
        node: String,
        direction: &'static str,
        edges: String,
    },
    #[error("flow `{flow}`: edge {from} → {to} uses port `{port}`; linear flows connect port `output` to port `input`")]
    UnknownPort {
        flow: String,
        from: String,
        to: String,
        port: String,
    },
    #[error("flow `{flow}`: edge {from} → {to} connects a node to itself")]
    SelfLoop { flow: String, from: String, to: String },
    #[error("flow `{flow}` has a cycle through {nodes}")]
    Cycle { flow: String, nodes: String },
    #[error("flow `{flow}`: node(s) {nodes} are not connected to the chain that starts at `{start}`")]
    Disconnected { flow: String, start: String, nodes: String },
}

/// Node indices of a linear flow, from its source to its sink.
pub fn linear_chain(flow: &FlowDef) -> Result<Vec<usize>, PipelineError> {
    let n = flow.nodes.len();
    if flow.edges.is_empty() {
        return Err(PipelineError::NoEdges {
            flow: flow.name.clone(),
            nodes: n,
        });
    }
    let index = |name: &str| flow.nodes.iter().position(|d| d.name == name);
    let mut next: Vec<Option<usize>> = vec![None; n];
    let mut prev: Vec<Option<usize>> = vec![None; n];
    for e in &flow.edges {
        let (Some(a), Some(b)) = (index(&e.from.node), index(&e.to.node)) else {
            continue; // unknown node names were rejected by the manifest reader
        };
        for (port, expected) in [(&e.from.port, "output"), (&e.to.port, "input")] {
            if port != expected {
                return Err(PipelineError::UnknownPort {
                    flow: flow.name.clone(),
                    from: e.from.node.clone(),
                    to: e.to.node.clone(),
                    port: port.clone(),
                });
            }
        }
        if a == b {
            return Err(PipelineError::SelfLoop {
                flow: flow.name.clone(),
                from: e.from.node.clone(),
                to: e.to.node.clone(),
            });
        }
        for (slot, node, other, direction) in [(&mut next[a], a, b, "outgoing"), (&mut prev[b], b, a, "incoming")] {
            if let Some(existing) = *slot {
                return Err(PipelineError::Branching {
                    flow: flow.name.clone(),
                    node: flow.nodes[node].name.clone(),
                    direction,
                    edges: format!("to/from `{}` and `{}`", flow.nodes[existing].name, flow.nodes[other].name),
                });
            }
            *slot = Some(other);
        }
    }
    let Some(start) = (0..n).find(|&i| prev[i].is_none() && next[i].is_some()) else {
        let names: Vec<&str> = flow.nodes.iter().map(|d| d.name.as_str()).collect();
        return Err(PipelineError::Cycle {
            flow: flow.name.clone(),
            nodes: names.join(" → "),
        });
    };
    let mut chain = vec![start];
    let mut at = start;
    while let Some(b) = next[at] {
        if chain.contains(&b) {
            let names: Vec<&str> = chain.iter().map(|&i| flow.nodes[i].name.as_str()).collect();
            return Err(PipelineError::Cycle {
                flow: flow.name.clone(),
                nodes: names.join(" → "),
            });
        }
        chain.push(b);
        at = b;
    }
    if chain.len() != n {
        let missing: Vec<String> = (0..n)
            .filter(|i| !chain.contains(i))
            .map(|i| format!("`{}`", flow.nodes[i].name))
            .collect();
        return Err(PipelineError::Disconnected {
            flow: flow.name.clone(),
            start: flow.nodes[start].name.clone(),
            nodes: missing.join(", "),
        });
    }
    Ok(chain)
}
