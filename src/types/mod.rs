//! Identifiers, states and small enums shared by every module.

mod ids;
mod state;

pub use ids::{BufferHandle, FlowId, StageId};
pub use state::{FlowState, IllegalFlowTransition};
