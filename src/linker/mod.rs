//! Binds each node of a flow to a compiled component and checks that every
//! node plays the role its position needs and its manifest declares.

use std::sync::Arc;

use crate::config::{EndpointKind, FlowDef, NodeDef, PipelineDef, RuntimeConfig};
use crate::contracts::Role;
use crate::engine::{CompiledComponent, Engine, EngineError};
use crate::pipeline::{self, PipelineError};

/// A flow ready to run: its stages in order, each with its component.
#[derive(Clone)]
pub struct LinkedFlow {
    pub name: String,
    pub stages: Vec<LinkedStage>,
    pub runtime: RuntimeConfig,
}

/// One node and what runs it: a compiled component, or the embedding
/// program for an endpoint node (`component` is `None`).
#[derive(Clone)]
pub struct LinkedStage {
    pub node: NodeDef,
    pub role: Role,
    pub component: Option<Arc<CompiledComponent>>,
}

/// Why a flow cannot be linked.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no flow named `{flow}` in the manifest; it defines: {known}")]
    UnknownFlow { flow: String, known: String },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("node `{node}`: {source}")]
    Component {
        node: String,
        #[source]
        source: EngineError,
    },
    #[error("node `{node}` is declared {declared} but `{component}` exports {actual}; point the node at a component that implements {declared}")]
    InterfaceMismatch {
        node: String,
        declared: Role,
        component: String,
        actual: Role,
    },
    #[error("node `{node}` sits at the {position} of flow `{flow}`, which needs {needed}, but `{component}` exports {actual}")]
    RoleMismatch {
        flow: String,
        node: String,
        position: &'static str,
        needed: Role,
        component: String,
        actual: Role,
    },
}

/// Compile every component of `flow` (through the engine's cache) and check roles.
pub fn link(engine: &Engine, pipeline: &PipelineDef, flow: &str) -> Result<LinkedFlow, LinkError> {
    let def: &FlowDef = pipeline.flow(flow).ok_or_else(|| LinkError::UnknownFlow {
        flow: flow.to_string(),
        known: pipeline.flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let chain = pipeline::linear_chain(def)?;
    let last = chain.len() - 1;
    let mut stages = Vec::with_capacity(chain.len());
    for (pos, &i) in chain.iter().enumerate() {
        let node = &def.nodes[i];
        let (component, actual) = match node.endpoint {
            Some(EndpointKind::Ingress) => (None, Role::Source),
            Some(EndpointKind::Egress) => (None, Role::Sink),
            None => {
                let c = engine
                    .compile_file(&node.component, &node.path)
                    .map_err(|source| LinkError::Component {
                        node: node.name.clone(),
                        source,
                    })?;
                let role = c.exports.role;
                (Some(c), role)
            }
        };
        if let Some(declared) = node.interface {
            if declared != actual {
                return Err(LinkError::InterfaceMismatch {
                    node: node.name.clone(),
                    declared,
                    component: node.component.clone(),
                    actual,
                });
            }
        }
        let (position, needed) = match pos {
            0 => ("start", Role::Source),
            p if p == last => ("end", Role::Sink),
            _ => ("middle", Role::Processor),
        };
        if actual != needed {
            return Err(LinkError::RoleMismatch {
                flow: def.name.clone(),
                node: node.name.clone(),
                position,
                needed,
                component: node.component.clone(),
                actual,
            });
        }
        stages.push(LinkedStage {
            node: node.clone(),
            role: actual,
            component,
        });
    }
    Ok(LinkedFlow {
        name: def.name.clone(),
        stages,
        runtime: pipeline.runtime.clone(),
    })
}
