use crate::types::{BufferHandle, StageId};

use super::state::BufferState;

/// Why a buffer operation was refused. Every variant names the buffer or the
/// limit involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BufferError {
    #[error("{0} is stale: it was released and its slot reused; handles must not be used after release")]
    Stale(BufferHandle),
    #[error("{0} does not exist in this flow's buffer table")]
    Unknown(BufferHandle),
    #[error("{handle}: illegal ownership transition `{action}` from state {from:?}")]
    IllegalTransition {
        handle: BufferHandle,
        from: BufferState,
        action: &'static str,
    },
    #[error("{handle} is not accessible to stage {stage:?} in state {state:?}")]
    NotAccessible {
        handle: BufferHandle,
        stage: Option<StageId>,
        state: BufferState,
    },
    #[error("{0} is frozen; a frozen buffer cannot be written")]
    Frozen(BufferHandle),
    #[error("requested {requested} bytes but the maximum buffer size is {max} bytes (raise `max_buffer_size`)")]
    CapacityExceeded { requested: u64, max: u64 },
    #[error("offset {offset} is beyond the end ({size} bytes) of {handle}")]
    OutOfBounds {
        handle: BufferHandle,
        offset: u64,
        size: u64,
    },
    #[error("stage budget exhausted: {live} live buffers / {bytes} bytes held, limits {max_buffers} buffers / {max_bytes} bytes (raise the node's `max_buffers` / `max_buffer_bytes`, or release buffers)")]
    BudgetExhausted {
        live: u64,
        bytes: u64,
        max_buffers: u64,
        max_bytes: u64,
    },
    #[error("the {tier} buffer pool is exhausted (exhaustion_policy = \"error\"); raise `runtime.pools.{tier}_pool_size`, release buffers sooner, or use exhaustion_policy = \"fallback-alloc\"")]
    PoolExhausted { tier: &'static str },
}
