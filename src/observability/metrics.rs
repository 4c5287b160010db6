//! Per-flow, per-node and per-edge metrics.
//!
//! Ownership: one `FlowMetrics` per flow, shared (`Arc`) by the worker that
//! drives the flow (the only writer) and every handle that reads a
//! snapshot. Writers use single-writer relaxed stores (see `histogram`);
//! nothing here allocates after the flow started.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::{Histogram, HistogramSnapshot, Level};

/// At `production`, one per-element call in this many is timed on each
/// node, and so is every call on an element whose entry into the flow was
/// timed (so its queue waits and end-to-end latency are known too). Counts
/// are exact at every level; the time histograms are a sample. At
/// `diagnostic`, every call is timed. Reading the clock twice and filling
/// the histograms for every call of a microsecond-scale pipeline would cost
/// more than everything else `production` records together.
pub const TIMING_SAMPLE: u64 = 32;

#[inline]
fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// One node's counters. `repr(C)` keeps the scalars on adjacent cache
/// lines, ahead of the histogram.
#[derive(Debug, Default)]
#[repr(C)]
pub struct NodeMetrics {
    pub name: String,
    pub component: String,
    /// A component instance (false: a host endpoint).
    pub instance: bool,
    /// Per-element calls (`pull`, `process`, `push`, …), failed ones
    /// included; for an endpoint, the elements it passed.
    invocations: AtomicU64,
    /// Calls that returned an error or trapped.
    errors: AtomicU64,
    /// Fuel consumed (when the flow meters fuel).
    fuel: AtomicU64,
    /// The instance's linear memory after its last call, bytes.
    memory: AtomicU64,
    /// Time inside the timed per-element calls (queue wait excluded), ns.
    processing: Histogram,
}

impl NodeMetrics {
    /// `instance`: the node runs a component (not a host endpoint).
    pub fn new(name: &str, component: &str, instance: bool) -> NodeMetrics {
        NodeMetrics { name: name.to_string(), component: component.to_string(), instance, ..Default::default() }
    }

    /// A per-element call begins (or an endpoint passes an element):
    /// counted, and says whether to time it (see [`TIMING_SAMPLE`]).
    #[inline]
    pub fn invoked(&self, level: Level) -> bool {
        let n = get(&self.invocations);
        self.invocations.store(n.wrapping_add(1), Ordering::Relaxed);
        level == Level::Diagnostic || n % TIMING_SAMPLE == 0
    }

    /// A timed call took `ns`.
    #[inline]
    pub fn timed(&self, ns: u64) {
        self.processing.record(ns);
    }

    /// A call of this node failed (an error returned, a trap, an overrun).
    pub fn error(&self) {
        bump(&self.errors, 1);
    }

    pub fn set_fuel(&self, total: u64) {
        self.fuel.store(total, Ordering::Relaxed);
    }

    pub fn set_memory(&self, bytes: u64) {
        self.memory.store(bytes, Ordering::Relaxed);
    }
}

/// An edge queue's own counts: kept by the queue itself at every level
/// (the flow summary reports them too, so there is one source of truth),
/// written only by the worker driving the flow, read by snapshots from any
/// thread. Relaxed single-writer stores: a reader may see one count a step
/// ahead of another, never a torn or lost update.
#[derive(Debug, Default)]
pub struct QueueCounts {
    /// Elements the consumer took off the queue.
    taken: AtomicU64,
    depth: AtomicU64,
    peak: AtomicU64,
    /// Elements dropped under a lossy policy.
    dropped: AtomicU64,
}

impl QueueCounts {
    /// The consumer took an element; `depth` remain.
    #[inline]
    pub fn taken(&self, depth: usize) {
        bump(&self.taken, 1);
        self.depth.store(depth as u64, Ordering::Relaxed);
    }

    /// The queue holds `depth` now (after a push).
    #[inline]
    pub fn queued(&self, depth: usize) {
        let d = depth as u64;
        self.depth.store(d, Ordering::Relaxed);
        if d > get(&self.peak) {
            self.peak.store(d, Ordering::Relaxed);
        }
    }

    /// The queue was emptied without consumers (the flow ended).
    pub fn emptied(&self) {
        self.depth.store(0, Ordering::Relaxed);
    }

    #[inline]
    pub fn dropped(&self) {
        bump(&self.dropped, 1);
    }

    pub fn peak(&self) -> u64 {
        get(&self.peak)
    }

    pub fn drops(&self) -> u64 {
        get(&self.dropped)
    }
}

/// One edge's figures (`repr(C)`: see [`NodeMetrics`]).
#[derive(Debug, Default)]
#[repr(C)]
pub struct EdgeMetrics {
    pub from: String,
    pub port: String,
    pub to: String,
    /// Elements taken, depth, peak and drops: the queue's own counts.
    pub queue: std::sync::Arc<QueueCounts>,
    /// Times the queue filled and stopped its producer (`block`).
    backpressure_events: AtomicU64,
    /// Time the producer spent stopped by this edge, ns.
    backpressure_ns: AtomicU64,
    /// Time timed elements spent queued, ns.
    queue_wait: Histogram,
}

impl EdgeMetrics {
    pub fn new(from: &str, port: &str, to: &str) -> EdgeMetrics {
        EdgeMetrics { from: from.to_string(), port: port.to_string(), to: to.to_string(), ..Default::default() }
    }

    /// A timed element waited `ns` on the queue.
    #[inline]
    pub fn waited(&self, ns: u64) {
        self.queue_wait.record(ns);
    }

    pub fn backpressure_began(&self) {
        bump(&self.backpressure_events, 1);
    }

    pub fn backpressure_ended(&self, ns: u64) {
        bump(&self.backpressure_ns, ns);
    }
}

/// Everything one flow records.
#[derive(Debug)]
pub struct FlowMetrics {
    level: AtomicU8,
    /// Elements that reached a sink.
    elements: AtomicU64,
    /// Sampled elements that reached a sink, and their bytes (the mean
    /// element size, without reading every element's size).
    sized: AtomicU64,
    sized_bytes: AtomicU64,
    timed_deliveries: AtomicU64,
    /// Calls that failed, on any node.
    errors: AtomicU64,
    /// From a timed element entering the flow to a sink's call on it
    /// ending, ns.
    latency: Histogram,
    pub nodes: Vec<NodeMetrics>,
    pub edges: Vec<EdgeMetrics>,
}

impl FlowMetrics {
    pub fn new(level: Level, nodes: Vec<NodeMetrics>, edges: Vec<EdgeMetrics>) -> FlowMetrics {
        FlowMetrics {
            level: AtomicU8::new(level.to_u8()),
            elements: AtomicU64::new(0),
            sized: AtomicU64::new(0),
            sized_bytes: AtomicU64::new(0),
            timed_deliveries: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Histogram::default(),
            nodes,
            edges,
        }
    }

    pub fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Relaxed))
    }

    /// Change what the flow records from now on (any thread).
    pub fn set_level(&self, level: Level) {
        self.level.store(level.to_u8(), Ordering::Relaxed);
    }

    /// Whether anything is recorded (checked once per step).
    #[inline]
    pub fn on(&self) -> bool {
        self.level.load(Ordering::Relaxed) != Level::Off as u8
    }

    /// An element reached a sink.
    #[inline]
    pub fn delivered(&self) {
        bump(&self.elements, 1);
    }

    /// A timed element reached a sink `ns` after it entered the flow.
    #[inline]
    pub fn latency(&self, ns: u64) {
        self.latency.record(ns);
    }

    /// Whether to read this timed element's size: one in 8 of them (one
    /// element in 256 at `production`), as reading it takes the buffer lock.
    #[inline]
    pub fn wants_size(&self) -> bool {
        let n = get(&self.timed_deliveries);
        self.timed_deliveries.store(n.wrapping_add(1), Ordering::Relaxed);
        n % 8 == 0
    }

    /// One sampled element's size.
    pub fn sized(&self, bytes: u64) {
        bump(&self.sized, 1);
        bump(&self.sized_bytes, bytes);
    }

    /// A call of node `i` failed.
    pub fn node_error(&self, i: usize) {
        bump(&self.errors, 1);
        if let Some(n) = self.nodes.get(i) {
            n.error();
        }
    }

    /// The figures this records now; the flow's owner fills in the rest
    /// (name, state, copies, pools).
    pub fn snapshot(&self) -> MetricsSnapshot {
        let latency = self.latency.snapshot();
        MetricsSnapshot {
            flow: String::new(),
            flow_id: 0,
            state: crate::types::FlowState::Created,
            active_ns: 0,
            copies: 0,
            bytes_copied: 0,
            pools: Vec::new(),
            buffers_live: 0,
            buffers_held_bytes: 0,
            capabilities: Vec::new(),
            level: self.level(),
            elements: get(&self.elements),
            mean_element_bytes: match get(&self.sized) {
                0 => 0.0,
                n => get(&self.sized_bytes) as f64 / n as f64,
            },
            errors: get(&self.errors),
            latency_ns: latency,
            nodes: self
                .nodes
                .iter()
                .map(|n| {
                    let processing = n.processing.snapshot();
                    NodeSnapshot {
                        node: n.name.clone(),
                        component: n.component.clone(),
                        instance: n.instance,
                        invocations: get(&n.invocations),
                        errors: get(&n.errors),
                        processing_ns: processing,
                        fuel_consumed: get(&n.fuel),
                        memory_bytes: get(&n.memory),
                    }
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|e| {
                    let wait = e.queue_wait.snapshot();
                    EdgeSnapshot {
                        from: e.from.clone(),
                        port: e.port.clone(),
                        to: e.to.clone(),
                        elements: get(&e.queue.taken),
                        backpressure_events: get(&e.backpressure_events),
                        backpressure_ns: get(&e.backpressure_ns),
                        depth: get(&e.queue.depth),
                        peak_depth: get(&e.queue.peak),
                        queue_wait_ns: wait,
                        dropped: get(&e.queue.dropped),
                    }
                })
                .collect(),
        }
    }
}

/// A flow's metrics at one moment (JSON through serde).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetricsSnapshot {
    /// The flow's name in its manifest, and its id in the host.
    pub flow: String,
    pub flow_id: u64,
    pub state: crate::types::FlowState,
    /// Since the flow was started (until it ended, once it has).
    pub active_ns: u64,
    /// Copies of element bytes so far, and the bytes they moved.
    pub copies: u64,
    pub bytes_copied: u64,
    pub level: Level,
    pub elements: u64,
    /// Mean size of the elements that reached a sink (of the timed sample).
    pub mean_element_bytes: f64,
    pub errors: u64,
    /// Source emit to sink take.
    pub latency_ns: HistogramSnapshot,
    pub nodes: Vec<NodeSnapshot>,
    pub edges: Vec<EdgeSnapshot>,
    /// The flow's buffer pool, per tier.
    pub pools: Vec<crate::resources::TierSnapshot>,
    /// Live buffers, and the bytes of capacity they hold.
    pub buffers_live: u64,
    pub buffers_held_bytes: u64,
    /// Per node and capability kind: uses its grants allowed, and uses
    /// they refused (at any level, `off` included: they are security facts).
    pub capabilities: Vec<crate::security::CapabilityUse>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeSnapshot {
    pub node: String,
    pub component: String,
    /// A component instance (false: a host endpoint).
    pub instance: bool,
    pub invocations: u64,
    pub errors: u64,
    /// Time inside per-element calls.
    pub processing_ns: HistogramSnapshot,
    pub fuel_consumed: u64,
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EdgeSnapshot {
    pub from: String,
    pub port: String,
    pub to: String,
    pub elements: u64,
    pub backpressure_events: u64,
    pub backpressure_ns: u64,
    pub depth: u64,
    pub peak_depth: u64,
    pub queue_wait_ns: HistogramSnapshot,
    pub dropped: u64,
}
