//! Binds each node of a flow to a compiled component, decides the role each
//! one plays from what it exports, checks the contracts (declared interface,
//! version, imports, capabilities) and the graph, and hands the reactor a
//! [`LinkedFlow`]. Every problem of a flow is reported at once.

mod error;

use std::sync::Arc;

pub use error::LinkError;

use crate::config::{EndpointKind, FlowDef, NodeDef, PipelineDef, RuntimeConfig};
use crate::contracts::Role;
use crate::engine::{CompiledComponent, Engine};
use crate::pipeline::Graph;
use crate::observability::hex;
use crate::security::{GrantSet, Need};

/// A flow ready to run: its nodes (indexed like the manifest's nodes and
/// the graph's) and the checked graph between them.
#[derive(Clone)]
pub struct LinkedFlow {
    pub name: String,
    /// The flow as written, nodes in the stages' (topological) order: what
    /// the queues of its edges are made from ([`FlowDef::queue`]).
    pub def: FlowDef,
    pub stages: Vec<LinkedStage>,
    pub graph: Graph,
    pub runtime: RuntimeConfig,
    /// The engine the components were compiled by, when it is not the
    /// worker's own (a fuel-metered flow).
    pub engine: Option<Arc<Engine>>,
}

/// One node and what runs it: a compiled component, or the embedding
/// program for an endpoint node (`component` is `None`).
#[derive(Clone)]
pub struct LinkedStage {
    pub node: NodeDef,
    pub role: Role,
    pub component: Option<Arc<CompiledComponent>>,
    /// The node's grants, checked against the component's imports.
    pub grants: GrantSet,
}

/// Compile every component of `flow` (through the engine's cache), check
/// contracts and the graph.
pub fn link(engine: &Engine, pipeline: &PipelineDef, flow: &str) -> Result<LinkedFlow, LinkError> {
    let def: &FlowDef = pipeline.flow(flow).ok_or_else(|| LinkError::UnknownFlow {
        flow: flow.to_string(),
        known: pipeline.flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let mut errors = Vec::new();
    let mut stages = Vec::with_capacity(def.nodes.len());
    for node in &def.nodes {
        match link_node(engine, node) {
            Ok(stage) => stages.push(stage),
            Err(mut e) => errors.append(&mut e),
        }
    }
    // The graph is checked with every role known; with a node that failed
    // to link, the roles it would have played are unknown.
    let graph = if errors.is_empty() {
        let roles: Vec<Role> = stages.iter().map(|s| s.role).collect();
        match Graph::build(def, &roles) {
            Ok(g) => Some(topological(def, g, &mut stages)?),
            Err(e) => {
                errors.push(LinkError::Pipeline(e));
                None
            }
        }
    } else {
        None
    };
    match (graph, LinkError::collect(errors)) {
        (Some(graph), None) => Ok(LinkedFlow {
            name: def.name.clone(),
            def: FlowDef { nodes: stages.iter().map(|s| s.node.clone()).collect(), ..def.clone() },
            stages,
            graph,
            runtime: pipeline.runtime.clone(),
            engine: None,
        }),
        (_, Some(e)) => Err(e),
        (None, None) => Err(LinkError::Internal("graph missing without an error".into())),
    }
}

/// The role each node of `flow` plays, in the manifest's order, compiling
/// components (through the engine's cache) but checking nothing else.
pub fn node_roles(engine: &Engine, pipeline: &PipelineDef, flow: &str) -> Result<Vec<(String, Role)>, LinkError> {
    let def = pipeline.flow(flow).ok_or_else(|| LinkError::UnknownFlow {
        flow: flow.to_string(),
        known: pipeline.flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let mut roles = Vec::with_capacity(def.nodes.len());
    let mut errors = Vec::new();
    for n in &def.nodes {
        match link_node(engine, n) {
            Ok(stage) => roles.push((n.name.clone(), stage.role)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    match LinkError::collect(errors) {
        None => Ok(roles),
        Some(e) => Err(e),
    }
}

/// Renumber the nodes in topological order (so stage `i` of a summary is
/// upstream of stage `i + 1` in a chain) and rebuild the graph with those
/// indices.
fn topological(def: &FlowDef, graph: Graph, stages: &mut Vec<LinkedStage>) -> Result<Graph, LinkError> {
    let mut taken: Vec<Option<LinkedStage>> = stages.drain(..).map(Some).collect();
    let mut ordered = def.clone();
    ordered.nodes = graph.order.iter().map(|&i| def.nodes[i].clone()).collect();
    stages.extend(graph.order.iter().filter_map(|&i| taken[i].take()));
    let roles: Vec<Role> = stages.iter().map(|s| s.role).collect();
    Graph::build(&ordered, &roles).map_err(LinkError::Pipeline)
}

/// Compile one node's component and check its contract.
fn link_node(engine: &Engine, node: &NodeDef) -> Result<LinkedStage, Vec<LinkError>> {
    let (component, actual) = match node.endpoint {
        Some(EndpointKind::Ingress) => (None, Role::Source),
        Some(EndpointKind::Egress) => (None, Role::Sink),
        None if node.needs_build() => {
            return Err(vec![LinkError::NotBuilt {
                node: node.name.clone(),
                component: node.component.clone(),
                wasm: node.path.clone(),
                krate: node.unbuilt.clone().unwrap_or_default(),
            }]);
        }
        None => {
            let c = engine.compile_file(&node.component, &node.path).map_err(|source| {
                vec![LinkError::Component {
                    node: node.name.clone(),
                    source,
                }]
            })?;
            // A pulled component is read again here: it must still be the
            // bytes that were verified (the store names each by its digest).
            if let Some(expected) = crate::packaging::stored_digest(&node.path) {
                let actual = format!("sha256:{}", crate::observability::hex(&c.digest));
                if actual != expected {
                    return Err(vec![LinkError::Altered { node: node.name.clone(), path: node.path.clone(), expected, actual }]);
                }
            }
            let role = c.exports.role;
            (Some(c), role)
        }
    };
    let mut errors = Vec::new();
    if let Some(declared) = node.interface {
        if declared != actual {
            errors.push(LinkError::InterfaceMismatch {
                node: node.name.clone(),
                declared,
                component: node.component.clone(),
                actual,
            });
        }
    }
    let grants = match GrantSet::parse(&node.capabilities) {
        Ok(g) => Some(g),
        Err(e) => {
            errors.push(LinkError::Grant { node: node.name.clone(), source: e });
            None
        }
    };
    if let (Some(c), Some(grants)) = (&component, &grants) {
        for required in node.needs.required.iter().filter(|r| !grants.answers(r)) {
            errors.push(LinkError::MissingRequired {
                node: node.name.clone(),
                component: node.component.clone(),
                capability: required.clone(),
                digest: hex(&c.digest),
            });
        }
        let mut needed: Vec<(Need, Vec<String>)> = Vec::new();
        for import in &c.imports {
            let Err(need) = grants.allows_import(import) else { continue };
            match needed.iter_mut().find(|(n, _)| *n == need) {
                Some((_, list)) => list.push(import.clone()),
                None => needed.push((need, vec![import.clone()])),
            }
        }
        for (need, imports) in needed {
            errors.push(LinkError::MissingCapability {
                node: node.name.clone(),
                component: node.component.clone(),
                world: c.exports.world().to_string(),
                capability: need.suggest,
                any_of: need.any_of.join(", "),
                imports,
                digest: hex(&c.digest),
            });
        }
    }
    if errors.is_empty() {
        Ok(LinkedStage {
            node: node.clone(),
            role: actual,
            component,
            grants: grants.unwrap_or_default(),
        })
    } else {
        Err(errors)
    }
}

