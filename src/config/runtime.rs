//! `[runtime]`: threads, memory, queues and deadlines.

use std::time::Duration;

use super::schema::runtime::{ExhaustionPolicy, SchedulingPolicy};
use super::schema::values::BackpressurePolicy;
use crate::resources::DEFAULT_MAX_BUFFER_SIZE;

/// Most reactor threads a host may have (manifest and host options alike).
pub const MAX_WORKER_THREADS: usize = 256;
/// Deepest an edge queue may be (manifest and host options alike).
pub const MAX_QUEUE_DEPTH: usize = 1 << 20;
/// Smallest linear-memory limit (the largest is [`crate::engine::MAX_LINEAR_MEMORY`]).
pub const MIN_MEMORY_LIMIT: u64 = 1 << 20;

/// Runtime settings of a manifest. When a manifest is run inside an existing
/// `Host`, `worker_threads` is the host's; everything else applies per flow.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// Reactor threads (default 1).
    pub worker_threads: usize,
    /// Linear-memory limit per component instance (default 64 MiB).
    pub memory_limit: u64,
    /// Capacity of every edge queue that sets none (default 64).
    pub queue_depth: usize,
    /// A full queue accepts again once it drains to this fraction of its
    /// depth (default 0.5).
    pub low_watermark_ratio: f64,
    /// What a full queue does unless its edge or flow says (default block).
    pub backpressure: BackpressurePolicy,
    /// Deadline of `init` (default 5 s).
    pub init_timeout: Duration,
    /// Deadline of `teardown` (default 2 s).
    pub teardown_timeout: Duration,
    /// Deadline of every per-element call (default 1 s).
    pub call_timeout: Duration,
    /// Largest buffer a component may build (default 16 MiB).
    pub max_buffer_size: u64,
    /// Wasm stack one call may use (`max_stack_size`; else the host's).
    pub max_stack_bytes: Option<usize>,
    /// Buffers, and buffer bytes, a component may hold unless its node says.
    pub max_buffers: u64,
    pub max_buffer_bytes: u64,
    /// Table elements an instance may hold (`max_table_elements`).
    pub max_table_elements: u64,
    /// Bytes per second a component may write to stdout and stderr.
    pub max_output_rate: u64,
    /// Idle buffer capacity a flow's pool keeps for reuse (default 64 MiB);
    /// what is returned beyond it is freed.
    pub pool_max_bytes: u64,
    /// Instance-pool slots of the host `torvyn run` builds (default 1,000;
    /// an embedding `Host` keeps its own). Beyond it instances are allocated
    /// on demand.
    pub max_instances: u32,
    /// Wasm fuel per call of nodes that set no `fuel_budget` (`None` or
    /// 0: unmetered).
    pub fuel: Option<u64>,
    /// How reactor turns are shared between a flow's runnable nodes.
    pub scheduling: SchedulingPolicy,
    /// Priority of nodes that set none (1 to 10, default 5).
    pub default_priority: u32,
    /// Buffers kept per pool tier, and what an empty tier does.
    pub pools: PoolSizes,
    /// Where compiled components are kept between runs.
    pub compilation_cache_dir: crate::engine::CacheLocation,
    /// What flows record (`[observability] level`, `metrics_enabled`).
    pub observability: crate::observability::Level,
    /// Where `torvyn run` serves `/metrics` (`prometheus_enabled`, or
    /// `metrics_exporter = "prometheus"`, at `metrics_endpoint`).
    pub prometheus_addr: Option<String>,
    /// Where and how often `torvyn run` pushes OTLP metrics
    /// (`otlp_metrics_enabled` or `metrics_exporter = "otlp"`, at
    /// `metrics_endpoint`, every `otlp_metrics_interval_s`).
    pub otlp_metrics: Option<OtlpMetrics>,
    /// Span recording, sampling and promotion (`[observability]`).
    pub tracing: crate::observability::TraceSettings,
    /// The audit trail (`[security] audit_enabled`, `audit_target`).
    pub audit: crate::security::AuditConfig,
}

/// Table elements an instance may hold unless `max_table_elements` says otherwise.
pub const DEFAULT_MAX_TABLE_ELEMENTS: u64 = 10_000;
/// Most table elements a setting may allow.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;
/// Bytes per second of stdout and stderr unless `max_output_rate` says otherwise.
pub const DEFAULT_MAX_OUTPUT_RATE: u64 = 4 << 20;

/// `[runtime.pools]`: buffers kept per size tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSizes {
    pub small: usize,
    pub medium: usize,
    pub large: usize,
    pub huge: usize,
    pub exhaustion: ExhaustionPolicy,
}

impl Default for PoolSizes {
    fn default() -> Self {
        PoolSizes { small: 4096, medium: 1024, large: 256, huge: 32, exhaustion: ExhaustionPolicy::FallbackAlloc }
    }
}

/// One edge's queue, resolved (see [`super::FlowDef::queue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub depth: usize,
    /// A full queue accepts again at this depth (below `depth`).
    pub low_watermark: usize,
    pub policy: BackpressurePolicy,
}

/// Default idle pooled bytes per flow.
pub const DEFAULT_POOL_MAX_BYTES: u64 = 64 << 20;

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            worker_threads: 1,
            memory_limit: 64 << 20,
            queue_depth: 64,
            low_watermark_ratio: 0.5,
            backpressure: BackpressurePolicy::Block,
            init_timeout: Duration::from_secs(5),
            teardown_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(1),
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            max_stack_bytes: None,
            max_buffers: super::DEFAULT_MAX_BUFFERS,
            max_buffer_bytes: super::DEFAULT_MAX_BUFFER_BYTES,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_output_rate: DEFAULT_MAX_OUTPUT_RATE,
            pool_max_bytes: DEFAULT_POOL_MAX_BYTES,
            max_instances: crate::engine::DEFAULT_MAX_INSTANCES,
            fuel: None,
            scheduling: SchedulingPolicy::WeightedFair,
            default_priority: 5,
            pools: PoolSizes::default(),
            compilation_cache_dir: crate::engine::CacheLocation::UserDefault,
            observability: crate::observability::Level::Production,
            prometheus_addr: None,
            otlp_metrics: None,
            tracing: Default::default(),
            audit: Default::default(),
        }
    }
}

/// An OTLP/HTTP metrics destination.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpMetrics {
    /// `…/v1/metrics`.
    pub url: String,
    pub encoding: crate::observability::OtlpEncoding,
    pub interval: std::time::Duration,
}
