use std::path::PathBuf;
use std::time::Duration;

use super::abi::ProcessError;
use crate::contracts::ContractError;

/// Failures preparing components (compiling, linking, instantiating).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Config(String),
    #[error("cannot read component `{path}`: {source}; check the path in the manifest")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{component}` is not a valid WebAssembly component: {reason}; build it for wasm32-wasip2 (a core module must be turned into a component)")]
    Compile { component: String, reason: String },
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("`{component}` imports what no Torvyn host provides: {}; a component may import only WASI 0.2 and torvyn:streaming/types, torvyn:streaming/buffer-allocator, torvyn:capabilities/capability-query (0.1.x)", .imports.join(", "))]
    MissingImports { component: String, imports: Vec<String> },
    #[error("`{component}` cannot be linked: {reason}; it imports something Torvyn does not provide (only WASI 0.2 and the torvyn:* contract interfaces are available)")]
    Link { component: String, reason: String },
    #[error("cannot instantiate `{component}` for node `{node}`: {reason}")]
    Instantiate {
        component: String,
        node: String,
        reason: String,
    },
}

/// Why one call into a component did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The component returned a `process-error`; the node's policy decides.
    #[error("{0}")]
    Guest(ProcessError),
    /// The component trapped (or misused a handle); its instance is dead.
    #[error("trapped: {0}")]
    Trap(String),
    /// The call overran its deadline and was interrupted; the instance is dead.
    #[error("exceeded its {limit:?} deadline and was interrupted")]
    Deadline { limit: Duration },
    /// The call used up its fuel budget and was stopped; the instance is
    /// dead. A deadline-class error, like [`CallError::Deadline`].
    #[error("ran out of fuel: its budget is {budget} per call (raise the node's `fuel_budget` or `runtime.fuel_per_invocation`)")]
    FuelExhausted { budget: u64 },
    /// The instance trapped earlier and cannot be called again.
    #[error("cannot be called again after an earlier trap")]
    Poisoned,
    /// The flow was cancelled (or its host shut down) before or during the
    /// call; a call in progress was stopped and its instance is dead.
    #[error("was stopped because the flow was cancelled")]
    Cancelled,
    /// The component answered something the runtime cannot honour (e.g. a
    /// router naming a port the node does not have). Its instance lives on.
    #[error("{0}")]
    Contract(String),
}

impl CallError {
    /// Whether the instance can still be called.
    pub fn is_fatal_to_instance(&self) -> bool {
        !matches!(self, CallError::Guest(_) | CallError::Contract(_))
    }
}
