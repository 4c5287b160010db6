//! A handle to a running flow, usable from any thread.

use std::sync::Arc;
use std::time::Duration;

use super::HostError;
use crate::reactor::{Element, EndpointError, FlowShared, FlowSummary};
use crate::types::{FlowId, FlowState};

/// A flow started by a [`Host`](super::Host). Cloning gives another handle to
/// the same flow; dropping a handle does not stop the flow. Once the flow
/// ended and its last handle is dropped, its host forgets it.
#[derive(Clone)]
pub struct Flow {
    shared: Arc<FlowShared>,
}

impl Flow {
    pub(crate) fn new(shared: Arc<FlowShared>) -> Self {
        Flow { shared }
    }

    pub fn id(&self) -> FlowId {
        self.shared.id
    }

    /// The flow's name in the manifest.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn state(&self) -> FlowState {
        self.shared.state()
    }

    /// The flow's metrics now (any thread; also after the flow ended).
    pub fn metrics(&self) -> crate::observability::MetricsSnapshot {
        self.shared.metrics_snapshot()
    }

    /// The flow's W3C trace id (32 hex digits).
    pub fn trace_id(&self) -> String {
        self.shared.trace.trace_id_hex()
    }

    /// A `traceparent` naming the flow's root span, for calls the program
    /// makes on its behalf (they become the flow's children).
    pub fn traceparent(&self) -> String {
        self.trace_parent().to_string()
    }

    /// The same, as its parts.
    pub fn trace_parent(&self) -> crate::observability::TraceParent {
        let t = &self.shared.trace;
        crate::observability::TraceParent { trace_id: t.trace_id, parent_id: t.root_span.to_be_bytes(), sampled: t.sampled }
    }

    /// The flow's trace as JSON-ready data: ids, whether its spans are
    /// exported (sampled, or promoted by an error or a slow element), and
    /// the spans it keeps now (those not yet handed to an exporter).
    pub fn trace(&self) -> serde_json::Value {
        let t = &self.shared.trace;
        serde_json::json!({
            "trace_id": t.trace_id_hex(),
            "traceparent": self.traceparent(),
            "root_span_id": crate::observability::hex(&t.root_span.to_be_bytes()),
            "sampled": t.sampled,
            "promoted": t.promoted(),
            "spans_overwritten": t.overwritten(),
            "spans": t.spans(),
            "backpressure": t.episodes(),
        })
    }

    /// The flow's audit trail: its last 4,096 capability events (every
    /// denial, the first exercise of each grant per node).
    pub fn audit_events(&self) -> Vec<crate::security::AuditEvent> {
        self.shared.audit.events()
    }

    /// Audit events this flow did not keep or could not hand to its
    /// destination.
    pub fn audit_events_dropped(&self) -> u64 {
        self.shared.audit.dropped()
    }

    /// The backpressure episodes the flow keeps now (level diagnostic).
    pub fn backpressure_episodes(&self) -> Vec<crate::observability::BackpressureEpisode> {
        self.shared.trace.episodes()
    }

    /// The spans the flow keeps now.
    pub fn spans(&self) -> Vec<crate::observability::SpanRecord> {
        self.shared.trace.spans()
    }

    /// What the flow records from now on (`Off` records nothing).
    pub fn set_observability_level(&self, level: crate::observability::Level) {
        self.shared.metrics.set_level(level);
    }

    /// Ask the flow to stop; safe from any thread, also while another waits.
    pub fn cancel(&self) {
        self.shared.request_cancel();
    }

    /// Block until the flow ends, up to `timeout` (`None`: no limit).
    /// A flow that failed still returns its summary, with `error` set.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<FlowSummary, HostError> {
        self.shared.wait(timeout).ok_or(HostError::Timeout {
            flow: self.shared.id,
            state: self.shared.state(),
        })
    }

    /// Copy `data` into the ingress node `port` (the one recorded copy),
    /// waiting up to `timeout` while it is full (`Some(ZERO)`: never wait,
    /// `None`: wait as long as it takes). Safe from any thread.
    pub fn push(&self, port: &str, data: &[u8], content_type: &str, timeout: Option<Duration>) -> Result<(), EndpointError> {
        self.shared.ingress(port)?.push(data, content_type, timeout)
    }

    /// No more input on `port`: the flow drains what it has and completes.
    pub fn close_input(&self, port: &str) -> Result<(), EndpointError> {
        self.shared.ingress(port)?.close()
    }

    /// The next element of the egress node `port`, waiting up to `timeout`.
    /// `Ok(None)` is the end of the stream (the flow completed and everything
    /// was taken). The element borrows the host buffer until it is released
    /// or dropped.
    pub fn next(&self, port: &str, timeout: Option<Duration>) -> Result<Option<Element>, EndpointError> {
        self.shared.egress(port)?.next(timeout)
    }

    /// The final summary, if the flow has ended.
    pub fn summary(&self) -> Option<FlowSummary> {
        self.shared.summary()
    }
}
