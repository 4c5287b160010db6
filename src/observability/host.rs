//! What the whole host shows: every flow it knows, and the figures that
//! belong to no single flow (scheduler, memory, active counts).

use super::MetricsSnapshot;

/// The scheduler figures of all reactor workers together.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct SchedulerStats {
    pub workers: u64,
    /// Times a worker slept with nothing to do and woke again.
    pub wakeups: u64,
    /// Time workers spent asleep, ns.
    pub idle_ns: u64,
}

/// The host at one moment (JSON through serde; Prometheus through
/// [`super::prometheus_text`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostSnapshot {
    /// Flows not yet ended.
    pub flows_active: u64,
    /// Component instances of those flows.
    pub components_active: u64,
    /// Linear memory of those instances, bytes.
    pub memory_linear_bytes: u64,
    /// Host-side buffer memory: idle pooled buffers and the buffers the
    /// active flows hold, bytes.
    pub memory_host_bytes: u64,
    /// The two together.
    pub memory_total_bytes: u64,
    pub scheduler: SchedulerStats,
    /// Trace spans dropped because their exporter could not keep up.
    pub spans_dropped: u64,
    /// OTLP metric pushes that failed (the endpoint was slow or gone).
    pub metric_pushes_failed: u64,
    /// Every flow the host still knows (running, or ended and still held).
    pub flows: Vec<MetricsSnapshot>,
}
