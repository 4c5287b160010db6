//! Why a flow's graph cannot run. Each problem is its own variant and names
//! the nodes and ports involved, so a manifest with several mistakes gets
//! every one of them reported at once.

use std::fmt;

use crate::contracts::Role;

/// One problem with the topology of a flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error("flow `{flow}` has no nodes; add [flow.{flow}.nodes.NAME] tables")]
    NoNodes { flow: String },
    #[error("flow `{flow}` has {nodes} node(s) and no edges; connect a source to a sink with [[flow.{flow}.edges]]")]
    NoEdges { flow: String, nodes: usize },
    #[error("flow `{flow}`: edge {edge} names node `{node}`, which the flow does not define (its nodes: {known})")]
    UnknownNode { flow: String, edge: String, node: String, known: String },
    #[error("flow `{flow}`: edge {edge} is listed more than once; remove the duplicate")]
    DuplicateEdge { flow: String, edge: String },
    #[error("flow `{flow}`: edge {edge} leaves port `{port}` of node `{node}` ({role}), which has only the output port `output`")]
    UnknownOutputPort { flow: String, edge: String, node: String, port: String, role: Role },
    #[error("flow `{flow}`: edge {edge} enters port `{port}` of node `{node}` ({role}), which has only the input port `input`")]
    UnknownInputPort { flow: String, edge: String, node: String, port: String, role: Role },
    #[error("flow `{flow}`: edge {edge} leaves node `{node}`, a sink ({role}), which has no output port; remove the edge")]
    OutputOfSink { flow: String, edge: String, node: String, role: Role },
    #[error("flow `{flow}`: edge {edge} enters node `{node}`, a source ({role}), which takes no input; remove the edge or use a processor")]
    SourceWithInput { flow: String, edge: String, node: String, role: Role },
    #[error("flow `{flow}`: sink `{node}` has no input; add an edge into `{node}.input` or remove the node")]
    SinkWithoutInput { flow: String, node: String },
    #[error("flow `{flow}`: output port `{node}.output` is connected to nothing, so what `{node}` produces would be lost; add an edge from it or remove the node")]
    DanglingOutput { flow: String, node: String },
    #[error("flow `{flow}` has no source; add a node whose component exports torvyn:streaming/source (or an `endpoint = \"ingress\"` node)")]
    NoSource { flow: String },
    #[error("flow `{flow}` has no sink; add a node whose component exports torvyn:streaming/sink (or an `endpoint = \"egress\"` node)")]
    NoSink { flow: String },
    #[error("flow `{flow}` has a cycle: {path}; a flow must be acyclic")]
    Cycle { flow: String, path: String },
    #[error("flow `{flow}`: node `{node}` cannot be reached from any source ({sources}); connect it downstream of one or remove it")]
    Unreachable { flow: String, node: String, sources: String },
}

/// Every problem found in one flow's graph (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineErrors(pub Vec<PipelineError>);

impl PipelineErrors {
    /// The problems, in the order the checks found them.
    pub fn errors(&self) -> &[PipelineError] {
        &self.0
    }
}

impl fmt::Display for PipelineErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in the flow graph:", many.len())?;
                for e in many {
                    write!(f, "\n  - {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PipelineErrors {}
