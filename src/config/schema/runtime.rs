//! `[runtime]` and its sub-tables, as written. Our spellings and the public
//! Torvyn 0.1 ones are separate fields so a manifest that gives both can be
//! told which one won (see `config::resolve`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::values::{BackpressurePolicy, ByteSize, Watermark};

/// `[runtime]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimeTable {
    /// Reactor threads (default 1; 0 = one per CPU).
    pub worker_threads: Option<usize>,
    /// Linear-memory limit per component instance (default 64 MiB).
    pub memory_limit: Option<ByteSize>,
    /// Public spelling of `memory_limit`; wins when both are given.
    pub max_memory_per_component: Option<ByteSize>,
    /// Capacity of every edge queue (default 64).
    pub queue_depth: Option<usize>,
    /// A full queue accepts again once it drains to this (default 0.5).
    pub low_watermark: Option<Watermark>,
    /// Deadline of `lifecycle.init` in ms (default 5000).
    pub init_timeout_ms: Option<u64>,
    /// Public spelling of `init_timeout_ms`; wins when both are given.
    pub component_init_timeout_ms: Option<u64>,
    /// Deadline of `lifecycle.teardown` in ms (default 2000).
    pub component_teardown_timeout_ms: Option<u64>,
    /// Deadline of every per-element call in ms (default 1000).
    pub call_timeout_ms: Option<u64>,
    /// Wasm stack one call may use (default 512 KiB, 64 KiB to 8 MiB).
    pub max_stack_size: Option<ByteSize>,
    /// Buffers a component may hold at once, unless its node says (default 256).
    pub max_buffers: Option<u64>,
    /// Bytes of buffer capacity a component may hold at once, unless its node says (default 256 MiB).
    pub max_buffer_bytes: Option<ByteSize>,
    /// Table elements an instance may hold (default 10,000).
    pub max_table_elements: Option<u64>,
    /// Bytes per second a component may write to stdout and stderr
    /// (default 4 MiB; a burst of one second's worth is allowed).
    pub max_output_rate: Option<ByteSize>,
    /// Largest buffer a component may build (default 16 MiB).
    pub max_buffer_size: Option<ByteSize>,
    /// Idle buffer bytes a flow's pool keeps for reuse (default 64 MiB).
    pub pool_max_bytes: Option<ByteSize>,
    /// Instance-pool slots of the host `torvyn run` builds (default 1000).
    pub max_instances: Option<u32>,
    /// Wasm fuel per component call (default 0 = unmetered).
    pub fuel_per_invocation: Option<u64>,
    /// Another public spelling of `fuel_per_invocation`.
    pub default_fuel_per_invocation: Option<u64>,
    /// Where compiled components are kept between runs.
    pub compilation_cache_dir: Option<String>,
    pub backpressure: Option<BackpressureTable>,
    pub scheduling: Option<SchedulingTable>,
    pub pools: Option<PoolsTable>,
}

/// `[runtime.backpressure]` (also an edge's or flow's `backpressure` table).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackpressureTable {
    /// Queue capacity of every edge that sets none (default 64).
    pub default_queue_depth: Option<usize>,
    /// What a full queue does (default `block`).
    pub backpressure_policy: Option<BackpressurePolicy>,
    /// Fraction of the depth at which a full queue accepts again (default 0.5).
    pub low_watermark_ratio: Option<f64>,
}

/// How reactor turns are shared between the runnable nodes of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulingPolicy {
    /// Turns in proportion to each node's `priority` (default).
    WeightedFair,
    /// Every runnable node in turn; `priority` is ignored.
    RoundRobin,
}

/// `[runtime.scheduling]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulingTable {
    pub policy: Option<SchedulingPolicy>,
    /// Priority of a node that sets none, 1 (lowest) to 10 (default 5).
    pub default_priority: Option<u32>,
}

/// What a pool tier does when it has no free buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExhaustionPolicy {
    /// Allocate a new buffer outside the tier (default).
    FallbackAlloc,
    /// Refuse the allocation: the component's `allocate` fails.
    Error,
}

/// `[runtime.pools]`: buffers kept per size tier.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolsTable {
    /// Buffers of up to 256 bytes (default 4096).
    pub small_pool_size: Option<usize>,
    /// Buffers of up to 4 KiB (default 1024).
    pub medium_pool_size: Option<usize>,
    /// Buffers of up to 64 KiB (default 256).
    pub large_pool_size: Option<usize>,
    /// Buffers of up to 1 MiB (default 32).
    pub huge_pool_size: Option<usize>,
    pub exhaustion_policy: Option<ExhaustionPolicy>,
}
