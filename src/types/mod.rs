//! Identifiers, states and small enums shared by every module.

mod ids;
mod state;
mod time;

pub use ids::{BufferHandle, FlowId, StageId};
pub use state::{FlowState, IllegalFlowTransition};
pub use time::{deadline_after, deadline_within, saturating_deadline, unix_now_ns, wait_until_drained};
