//! `[flow.NAME]`, its nodes and edges, as written.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::runtime::SchedulingPolicy;
use super::values::{BackpressureSpec, ByteSize, InitConfig, PortEntry};

/// `[flow.NAME]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowTable {
    pub description: Option<String>,
    /// Queue capacity of this flow's edges that set none.
    pub default_queue_depth: Option<usize>,
    /// This flow's backpressure defaults (a policy name or a table).
    pub backpressure: Option<BackpressureSpec>,
    /// This flow's scheduling policy (default: `[runtime.scheduling] policy`).
    pub scheduling_policy: Option<SchedulingPolicy>,
    /// `[flow.NAME.nodes.NODE]`, in the order written.
    #[serde(default)]
    pub nodes: IndexMap<String, NodeTable>,
    /// `[[flow.NAME.edges]]`.
    #[serde(default)]
    pub edges: Vec<EdgeTable>,
}

/// A host endpoint served by the embedding program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointName {
    Ingress,
    Egress,
}

/// `[flow.NAME.nodes.NODE]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeTable {
    /// A `[[component]]` name, a `.wasm` path or crate folder, or a `file://` URL.
    pub component: Option<String>,
    /// Instead of a component: `ingress` or `egress`, served by the embedder.
    pub endpoint: Option<EndpointName>,
    /// The contract interface the component must export, e.g. `torvyn:streaming/processor`.
    pub interface: Option<String>,
    /// Passed to `lifecycle.init`.
    pub config: Option<InitConfig>,
    /// Capability grants.
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub on_error: Option<ErrorPolicyTable>,
    /// Buffers the component may hold at once (default 256).
    pub max_buffers: Option<u64>,
    /// Bytes of buffer capacity the component may hold at once (default 256 MiB).
    pub max_buffer_bytes: Option<ByteSize>,
    /// Deadline of this node's per-element calls, ms (default `[runtime] call_timeout_ms`).
    pub call_timeout_ms: Option<u64>,
    /// How long deliveries to a paused sink are held, ms (default 1).
    pub resume_after_ms: Option<u64>,
    /// Wasm fuel per call of this node (default `[runtime] fuel_per_invocation`).
    pub fuel_budget: Option<u64>,
    /// Linear-memory limit of this node (default `[runtime] max_memory_per_component`).
    pub max_memory: Option<ByteSize>,
    /// Share of reactor turns under `weighted-fair`, 1 to 10 (default 5).
    pub priority: Option<u32>,
    /// Table elements this node's instance may hold (default `[runtime] max_table_elements`).
    pub max_table_elements: Option<u64>,
    /// Bytes per second it may write to stdout and stderr (default `[runtime] max_output_rate`).
    pub max_output_rate: Option<ByteSize>,
}

/// What to do with a `process-error` of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionName {
    Skip,
    Retry,
    Fail,
}

/// `on_error = { ... }`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorPolicyTable {
    pub invalid_input: Option<ActionName>,
    pub deadline_exceeded: Option<ActionName>,
    pub unavailable: Option<ActionName>,
    pub internal: Option<ActionName>,
    pub max_retries: Option<u32>,
}

/// `[[flow.NAME.edges]]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeTable {
    pub from: PortEntry,
    pub to: PortEntry,
    /// This edge's queue capacity.
    pub queue_depth: Option<usize>,
    /// This edge's policy when full (a name or a table).
    pub backpressure: Option<BackpressureSpec>,
}
