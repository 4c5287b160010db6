//! Rust shapes of the `torvyn:streaming` types as they cross the component
//! boundary. Field and case names are the contract's (CONTRACT.md).
//!
//! Written by hand rather than generated so that the hot path controls every
//! allocation: content types travel as shared `Arc<str>`, buffer bytes never
//! pass through a `Vec` on the host.

use std::sync::Arc;

use wasmtime::component::{ComponentType, Lift, Lower, Resource};

/// Marker for the `buffer` resource; the resource's rep indexes the stage's
/// [`HandleMap`](super::handles::HandleMap).
pub struct BufferRes;
/// Marker for the `mutable-buffer` resource (same rep space as `buffer`).
pub struct MutableBufferRes;
/// Marker for the `flow-context` resource (always lent, rep 0).
pub struct FlowContextRes;

/// `element-meta`, as the runtime sends it.
#[derive(ComponentType, Lower, Clone, Debug)]
#[component(record)]
pub struct ElementMetaOut {
    pub sequence: u64,
    #[component(name = "timestamp-ns")]
    pub timestamp_ns: u64,
    #[component(name = "content-type")]
    pub content_type: Arc<str>,
}

/// `element-meta`, as a component returns it. `sequence` and `timestamp-ns`
/// are lifted only because the record must match; the runtime overwrites them.
#[derive(ComponentType, Lift, Clone, Debug)]
#[allow(dead_code)]
#[component(record)]
pub struct ElementMetaIn {
    pub sequence: u64,
    #[component(name = "timestamp-ns")]
    pub timestamp_ns: u64,
    #[component(name = "content-type")]
    pub content_type: String,
}

/// `stream-element`: both handles are borrows.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct StreamElement {
    pub meta: ElementMetaOut,
    pub payload: Resource<BufferRes>,
    pub context: Resource<FlowContextRes>,
}

/// `output-element`: the payload is owned and moves to the runtime.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct OutputElement {
    pub meta: ElementMetaIn,
    pub payload: Resource<BufferRes>,
}

/// `process-result`.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum ProcessResult {
    #[component(name = "emit")]
    Emit(OutputElement),
    #[component(name = "drop")]
    Drop,
}

/// `process-error`.
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq, Eq)]
#[component(variant)]
pub enum ProcessError {
    #[component(name = "invalid-input")]
    InvalidInput(String),
    #[component(name = "unavailable")]
    Unavailable(String),
    #[component(name = "internal")]
    Internal(String),
    #[component(name = "deadline-exceeded")]
    DeadlineExceeded,
    #[component(name = "fatal")]
    Fatal(String),
}

impl std::fmt::Display for ProcessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessError::InvalidInput(m) => write!(f, "invalid-input: {m}"),
            ProcessError::Unavailable(m) => write!(f, "unavailable: {m}"),
            ProcessError::Internal(m) => write!(f, "internal: {m}"),
            ProcessError::DeadlineExceeded => f.write_str("deadline-exceeded"),
            ProcessError::Fatal(m) => write!(f, "fatal: {m}"),
        }
    }
}

/// `buffer-error`.
#[derive(ComponentType, Lower, Clone, Debug, PartialEq, Eq)]
#[component(variant)]
pub enum BufferErrorAbi {
    #[component(name = "capacity-exceeded")]
    CapacityExceeded,
    #[component(name = "out-of-bounds")]
    OutOfBounds,
    #[component(name = "allocation-failed")]
    AllocationFailed(String),
}

/// `backpressure-signal`.
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub enum BackpressureSignal {
    #[component(name = "ready")]
    Ready,
    #[component(name = "pause")]
    Pause,
}
