use crate::linker::LinkError;
use crate::types::{FlowId, FlowState};

/// Errors of the embedding API.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start the host: {0}")]
    Start(String),
    #[error(transparent)]
    Observability(#[from] crate::observability::ObservabilityError),
    #[error("host option `{option}` is {value}; allowed: {allowed}")]
    InvalidOption {
        option: &'static str,
        value: u64,
        allowed: &'static str,
    },
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("the manifest has no flow named `main` and more than one flow ({known}); name the flow to run")]
    NoDefaultFlow { known: String },
    #[error("{0} is not a flow of this host")]
    UnknownFlow(FlowId),
    #[error("{flow} did not end within the timeout (it is {state})")]
    Timeout { flow: FlowId, state: FlowState },
    #[error("{flow} has not ended (it is {state}); cancel or wait for it first")]
    StillRunning { flow: FlowId, state: FlowState },
    #[error("runtime.memory_limit of {requested} bytes exceeds this host's ceiling of {ceiling} bytes; build the host with HostBuilder::max_memory_bytes")]
    MemoryCeiling { requested: u64, ceiling: u64 },
    #[error("the host is shut down; build a new one")]
    ShutDown,
}
