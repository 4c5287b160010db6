//! The graph of one flow: nodes with their roles, output ports and edges,
//! checked as a whole before anything is instantiated.
//!
//! Invariants of a built [`Graph`]: it is acyclic; every edge joins two
//! known nodes through a port their roles have; every non-source has at
//! least one input edge and is reachable from a source; every non-sink has
//! at least one output edge; `order` lists every node once, producers
//! before consumers.

use std::collections::{HashSet, VecDeque};

use super::error::{PipelineError, PipelineErrors};
use crate::config::FlowDef;
use crate::contracts::Role;

/// The input port every consuming role has.
pub const INPUT_PORT: &str = "input";
/// The output port of every role except routers (whose ports are named by edges).
pub const OUTPUT_PORT: &str = "output";

/// One edge: elements leave `from` through `port` and enter `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    pub from: usize,
    pub port: String,
    pub to: usize,
}

/// A named output port and the edges it feeds (one = a plain link,
/// several = fan-out of the same buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutPort {
    pub name: String,
    pub edges: Vec<usize>,
}

/// One node, indexed like the flow's `nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    pub name: String,
    pub role: Role,
    /// Edges into the `input` port, in manifest order (several = fan-in).
    pub inputs: Vec<usize>,
    /// Output ports in the order their first edge appears.
    pub ports: Vec<OutPort>,
}

impl GraphNode {
    /// The output port called `name`.
    pub fn port(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// Every output edge of the node.
    pub fn output_edges(&self) -> impl Iterator<Item = usize> + '_ {
        self.ports.iter().flat_map(|p| p.edges.iter().copied())
    }
}

/// A checked flow graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// Topological order: every producer before its consumers.
    pub order: Vec<usize>,
}

fn edge_text(flow: &FlowDef, i: usize) -> String {
    let e = &flow.edges[i];
    format!("{}.{} → {}.{}", e.from.node, e.from.port, e.to.node, e.to.port)
}

impl Graph {
    /// Build and check the graph of `flow`, where `roles[i]` is the role of
    /// `flow.nodes[i]`. Reports every problem found, not only the first.
    pub fn build(flow: &FlowDef, roles: &[Role]) -> Result<Graph, PipelineErrors> {
        let name = || flow.name.clone();
        let mut errors = Vec::new();
        if flow.nodes.is_empty() {
            return Err(PipelineErrors(vec![PipelineError::NoNodes { flow: name() }]));
        }
        if flow.edges.is_empty() {
            return Err(PipelineErrors(vec![PipelineError::NoEdges {
                flow: name(),
                nodes: flow.nodes.len(),
            }]));
        }
        let index = |n: &str| flow.nodes.iter().position(|d| d.name == n);
        let known = || flow.nodes.iter().map(|d| format!("`{}`", d.name)).collect::<Vec<_>>().join(", ");
        let mut nodes: Vec<GraphNode> = flow
            .nodes
            .iter()
            .zip(roles)
            .map(|(d, &role)| GraphNode {
                name: d.name.clone(),
                role,
                inputs: Vec::new(),
                ports: Vec::new(),
            })
            .collect();
        let mut edges: Vec<GraphEdge> = Vec::new();
        let mut seen = HashSet::new();
        for (i, e) in flow.edges.iter().enumerate() {
            let mut ends = [None, None];
            for (slot, node) in ends.iter_mut().zip([&e.from.node, &e.to.node]) {
                *slot = index(node);
                if slot.is_none() {
                    errors.push(PipelineError::UnknownNode {
                        flow: name(),
                        edge: edge_text(flow, i),
                        node: node.clone(),
                        known: known(),
                    });
                }
            }
            let [Some(a), Some(b)] = ends else { continue };
            if !seen.insert((a, e.from.port.as_str(), b, e.to.port.as_str())) {
                errors.push(PipelineError::DuplicateEdge {
                    flow: name(),
                    edge: edge_text(flow, i),
                });
                continue;
            }
            let (ra, rb) = (roles[a], roles[b]);
            // An edge against the direction of a role is left out of the
            // graph; one with a misspelt port is kept for the connectivity
            // checks, so they do not report what the port error explains.
            let mut against_role = false;
            if !ra.gives_output() {
                against_role = true;
                errors.push(PipelineError::OutputOfSink {
                    flow: name(),
                    edge: edge_text(flow, i),
                    node: e.from.node.clone(),
                    role: ra,
                });
            } else if !ra.has_named_outputs() && e.from.port != OUTPUT_PORT {
                errors.push(PipelineError::UnknownOutputPort {
                    flow: name(),
                    edge: edge_text(flow, i),
                    node: e.from.node.clone(),
                    port: e.from.port.clone(),
                    role: ra,
                });
            }
            if !rb.takes_input() {
                against_role = true;
                errors.push(PipelineError::SourceWithInput {
                    flow: name(),
                    edge: edge_text(flow, i),
                    node: e.to.node.clone(),
                    role: rb,
                });
            } else if e.to.port != INPUT_PORT {
                errors.push(PipelineError::UnknownInputPort {
                    flow: name(),
                    edge: edge_text(flow, i),
                    node: e.to.node.clone(),
                    port: e.to.port.clone(),
                    role: rb,
                });
            }
            if against_role {
                continue;
            }
            let id = edges.len();
            edges.push(GraphEdge {
                from: a,
                port: e.from.port.clone(),
                to: b,
            });
            nodes[b].inputs.push(id);
            let from = &mut nodes[a];
            match from.port(&e.from.port) {
                Some(p) => from.ports[p].edges.push(id),
                None => from.ports.push(OutPort {
                    name: e.from.port.clone(),
                    edges: vec![id],
                }),
            }
        }
        for n in &nodes {
            if n.role == Role::Sink && n.inputs.is_empty() {
                errors.push(PipelineError::SinkWithoutInput {
                    flow: name(),
                    node: n.name.clone(),
                });
            }
            if n.role.gives_output() && n.ports.is_empty() {
                errors.push(PipelineError::DanglingOutput {
                    flow: name(),
                    node: n.name.clone(),
                });
            }
        }
        let sources: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].role == Role::Source).collect();
        if sources.is_empty() {
            errors.push(PipelineError::NoSource { flow: name() });
        }
        if !nodes.iter().any(|n| n.role == Role::Sink) {
            errors.push(PipelineError::NoSink { flow: name() });
        }
        let order = topological(&nodes, &edges);
        let in_cycle: HashSet<usize> = match &order {
            Ok(_) => HashSet::new(),
            Err(cycle) => {
                errors.push(PipelineError::Cycle {
                    flow: name(),
                    path: cycle.iter().map(|&i| format!("`{}`", nodes[i].name)).collect::<Vec<_>>().join(" → "),
                });
                cycle.iter().copied().collect()
            }
        };
        if !sources.is_empty() {
            let reached = reachable(&nodes, &edges, &sources);
            let source_names = sources.iter().map(|&i| format!("`{}`", nodes[i].name)).collect::<Vec<_>>().join(", ");
            for (i, n) in nodes.iter().enumerate() {
                let reported = n.role == Role::Sink && n.inputs.is_empty();
                if !reached[i] && !reported && !in_cycle.contains(&i) {
                    errors.push(PipelineError::Unreachable {
                        flow: name(),
                        node: n.name.clone(),
                        sources: source_names.clone(),
                    });
                }
            }
        }
        match (errors.is_empty(), order) {
            (true, Ok(order)) => Ok(Graph { nodes, edges, order }),
            _ => Err(PipelineErrors(errors)),
        }
    }

    /// The sinks reachable downstream of node `from` (including itself).
    pub fn sinks_below(&self, from: usize) -> Vec<usize> {
        let reached = reachable(&self.nodes, &self.edges, &[from]);
        (0..self.nodes.len())
            .filter(|&i| reached[i] && self.nodes[i].role == Role::Sink)
            .collect()
    }
}

/// Kahn's order, or the nodes of one cycle (in path order, first repeated
/// at the end) when there is one.
fn topological(nodes: &[GraphNode], edges: &[GraphEdge]) -> Result<Vec<usize>, Vec<usize>> {
    let mut indegree: Vec<usize> = nodes.iter().map(|n| n.inputs.len()).collect();
    let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for e in nodes[i].output_edges() {
            let to = edges[e].to;
            indegree[to] -= 1;
            if indegree[to] == 0 {
                ready.push_back(to);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    // Every node left has an input from another node left: walk backwards
    // along such inputs until a node repeats.
    let left: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
    let start = left.iter().position(|&l| l).unwrap_or(0);
    let mut path = vec![start];
    let mut at = start;
    loop {
        let prev = nodes[at]
            .inputs
            .iter()
            .map(|&e| edges[e].from)
            .find(|&p| left[p])
            .unwrap_or(at);
        if let Some(pos) = path.iter().position(|&p| p == prev) {
            let mut cycle: Vec<usize> = path[pos..].to_vec();
            cycle.reverse();
            // Named from the node declared first, so the message follows
            // the manifest.
            let first = cycle.iter().enumerate().min_by_key(|(_, &n)| n).map_or(0, |(k, _)| k);
            cycle.rotate_left(first);
            cycle.push(cycle[0]);
            return Err(cycle);
        }
        path.push(prev);
        at = prev;
    }
}

fn reachable(nodes: &[GraphNode], edges: &[GraphEdge], from: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; nodes.len()];
    let mut todo: Vec<usize> = from.to_vec();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        todo.extend(nodes[i].output_edges().map(|e| edges[e].to));
    }
    seen
}
