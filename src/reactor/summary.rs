//! What a flow did: the figures a user reads after (or during) a run.

use std::time::Duration;

use serde::Serialize;

use crate::config::BackpressurePolicy;
use crate::resources::{CopyCount, CopyDirection};
use crate::types::{FlowId, FlowState};

/// Per-flow report. Serializes to the JSON the C ABI and `--format json` print.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSummary {
    #[serde(serialize_with = "flow_id")]
    pub flow_id: FlowId,
    pub flow: String,
    pub state: FlowState,
    /// Elements delivered to the sinks (an element two sinks receive counts twice).
    pub elements: u64,
    /// Every byte copy the flow made (the copy ledger's total).
    pub copies: u64,
    pub bytes_copied: u64,
    pub copies_by_direction: Vec<DirectionCopies>,
    /// Buffers the pool had to create (the rest were reused): bounded by
    /// the queues when buffers return after their last reader.
    pub pool_allocations: u64,
    pub pool_reuses: u64,
    /// Buffers still alive once the flow ended and every stage, queue and
    /// endpoint released what it held: only elements a completed flow's
    /// egress still offers, or that the program took and has not released.
    pub buffers_live: u64,
    pub stages: Vec<StageSummary>,
    pub edges: Vec<EdgeSummary>,
    /// Wall time from start to the end state (or to now, while running).
    #[serde(serialize_with = "millis", rename = "duration_ms")]
    pub duration: Duration,
    /// Backpressure signals sent to the source.
    pub pause_signals: u64,
    pub ready_signals: u64,
    /// Why the flow failed, naming the node and component.
    pub error: Option<String>,
    /// What kind of failure, when it failed.
    pub failure: Option<FailureKind>,
}

/// The kind of failure that ended a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// A component trapped or misused a handle.
    Trap,
    /// A call overran its deadline and was interrupted.
    Deadline,
    /// A component returned an error its node's policy does not absorb.
    Component,
    /// A component could not be instantiated or initialised.
    Instantiate,
    /// A full edge whose backpressure policy is `error`.
    Backpressure,
    /// The runtime itself failed (a bug).
    Internal,
}

/// Copies in one direction.
#[derive(Debug, Clone, Serialize)]
pub struct DirectionCopies {
    pub direction: CopyDirection,
    pub copies: u64,
    pub bytes: u64,
}

/// One stage's figures.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    pub node: String,
    pub component: String,
    pub role: String,
    pub elements_in: u64,
    /// Elements sent on (a fan-out counts once).
    pub elements_out: u64,
    /// Elements the component dropped (a processor's `drop`, a filter's
    /// `false`, a router's empty list).
    pub dropped: u64,
    /// Elements dropped by the error policy (`skip`).
    pub skipped: u64,
    /// Calls repeated by the error policy (`retry`).
    pub retries: u64,
    /// Times a sink answered `pause`.
    pub pauses: u64,
    /// Buffers the component allocated.
    pub buffers_allocated: u64,
    /// Wasm fuel the component's calls consumed (0 unless the flow meters fuel).
    pub fuel_consumed: u64,
    pub copies: CopyCount,
}

/// One edge's figures.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeSummary {
    pub from: String,
    /// The output port of `from` the edge leaves by.
    pub port: String,
    pub to: String,
    pub capacity: usize,
    pub peak_depth: usize,
    /// What the edge did when full (`block`, `drop-oldest`, `drop-newest`, `error`).
    pub policy: BackpressurePolicy,
    /// Elements dropped under a lossy policy.
    pub dropped: u64,
}

impl FlowSummary {
    /// Average copies per delivered element.
    pub fn copies_per_element(&self) -> f64 {
        if self.elements == 0 { 0.0 } else { self.copies as f64 / self.elements as f64 }
    }

    /// The summary as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

fn flow_id<S: serde::Serializer>(id: &FlowId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(id.get())
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}
