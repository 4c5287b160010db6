//! The part of a flow that handles on other threads can see: its state, its
//! final summary, and the cancel request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::endpoint::{Egress, EndpointError, Ingress};
use super::mailbox::Mailbox;
use super::summary::FlowSummary;
use crate::resources::BufferTable;
use crate::types::{FlowId, FlowState, deadline_within};

struct Status {
    state: FlowState,
    summary: Option<FlowSummary>,
}

/// Shared between the worker that drives a flow and every handle to it.
pub struct FlowShared {
    pub id: FlowId,
    pub name: String,
    status: Mutex<Status>,
    changed: Condvar,
    cancel: Arc<AtomicBool>,
    mailbox: Arc<Mailbox>,
    pub(crate) ingress: Vec<Arc<Ingress>>,
    pub(crate) egress: Vec<Arc<Egress>>,
    /// Recorded by the worker, read by any handle.
    pub metrics: Arc<crate::observability::FlowMetrics>,
    /// The flow's buffers: a snapshot reads its copy ledger and pool
    /// under the lock the worker takes for each buffer operation.
    table: Arc<Mutex<BufferTable>>,
    started: std::time::Instant,
    /// The flow's trace id, sampling decision and recorded spans.
    pub trace: crate::observability::FlowTrace,
    /// The flow's audit trail and per-capability counts.
    pub audit: Arc<crate::security::AuditLog>,
}

impl FlowShared {
    pub fn new(
        id: FlowId,
        name: String,
        mailbox: Arc<Mailbox>,
        ingress: Vec<Arc<Ingress>>,
        egress: Vec<Arc<Egress>>,
        metrics: Arc<crate::observability::FlowMetrics>,
        table: Arc<Mutex<BufferTable>>,
        trace: crate::observability::FlowTrace,
        audit: Arc<crate::security::AuditLog>,
    ) -> Self {
        FlowShared {
            id,
            name,
            status: Mutex::new(Status {
                state: FlowState::Created,
                summary: None,
            }),
            changed: Condvar::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            mailbox,
            ingress,
            egress,
            metrics,
            table,
            started: std::time::Instant::now(),
            trace,
            audit,
        }
    }

    /// Everything the flow shows now: its metrics, state, copies and pool.
    pub fn metrics_snapshot(&self) -> crate::observability::MetricsSnapshot {
        let mut m = self.metrics.snapshot();
        let (state, ended) = {
            let s = self.status.lock();
            (s.state, s.summary.as_ref().map(|x| x.duration))
        };
        m.flow = self.name.clone();
        m.flow_id = self.id.get();
        m.state = state;
        m.active_ns = u64::try_from(ended.unwrap_or_else(|| self.started.elapsed()).as_nanos()).unwrap_or(u64::MAX);
        let t = self.table.lock();
        let copies = t.ledger().total();
        m.copies = copies.copies;
        m.bytes_copied = copies.bytes;
        m.pools = t.pool().tiers().to_vec();
        m.buffers_live = t.live() as u64;
        m.buffers_held_bytes = t.held_bytes();
        drop(t);
        m.capabilities = self.audit.capability_uses();
        m
    }

    /// The ingress node called `port`.
    pub fn ingress(&self, port: &str) -> Result<&Arc<Ingress>, EndpointError> {
        self.ingress.iter().find(|i| i.name() == port).ok_or_else(|| EndpointError::UnknownPort {
            kind: "ingress",
            port: port.to_string(),
            known: names(self.ingress.iter().map(|i| i.name())),
        })
    }

    /// The egress node called `port`.
    pub fn egress(&self, port: &str) -> Result<&Arc<Egress>, EndpointError> {
        self.egress.iter().find(|e| e.name() == port).ok_or_else(|| EndpointError::UnknownPort {
            kind: "egress",
            port: port.to_string(),
            known: names(self.egress.iter().map(|e| e.name())),
        })
    }

    pub fn state(&self) -> FlowState {
        self.status.lock().state
    }

    /// Record a state change made by the driver (already validated there).
    pub fn set_state(&self, state: FlowState) {
        self.status.lock().state = state;
        self.changed.notify_all();
    }

    /// Publish the final summary together with the terminal state.
    pub fn finish(&self, summary: FlowSummary) {
        let duration = u64::try_from(summary.duration.as_nanos()).unwrap_or(u64::MAX);
        self.trace.finish(&self.name, self.id.get(), duration, summary.state == FlowState::Completed);
        let mut s = self.status.lock();
        s.state = summary.state;
        s.summary = Some(summary);
        drop(s);
        self.changed.notify_all();
    }

    /// The final summary, once the flow ended.
    pub fn summary(&self) -> Option<FlowSummary> {
        self.status.lock().summary.clone()
    }

    /// Ask the driver to cancel. Idempotent; wakes the worker.
    pub fn request_cancel(&self) {
        self.cancel.store(true, Ordering::Release);
        self.mailbox.wake();
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }

    /// The cancel flag itself, for the flow's stages: a call in progress
    /// watches it and stops when it is set.
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Block until the flow ended or `timeout` passed; returns the summary if ended.
    pub fn wait(&self, timeout: Option<Duration>) -> Option<FlowSummary> {
        let deadline = deadline_within(timeout);
        let mut s = self.status.lock();
        while s.summary.is_none() {
            match deadline {
                Some(d) => {
                    if self.changed.wait_until(&mut s, d).timed_out() {
                        break;
                    }
                }
                None => self.changed.wait(&mut s),
            }
        }
        s.summary.clone()
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() { "(none)".to_string() } else { v.join(", ") }
}
