//! The topology of a flow: nodes, their ports and the edges between them,
//! checked before anything runs. A flow is a directed acyclic graph:
//! sources feed processors, filters, routers and aggregators, which feed
//! sinks; one output port may feed several nodes (fan-out) and one input
//! port may be fed by several (fan-in).

mod error;
mod graph;

pub use error::{PipelineError, PipelineErrors};
pub use graph::{Graph, GraphEdge, GraphNode, INPUT_PORT, OUTPUT_PORT, OutPort};
