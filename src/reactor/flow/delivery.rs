//! Moving elements along edges: choosing the next input (fair merge),
//! lending it, settling it after the call, and putting elements on output
//! edges. Every buffer-state change of the element loop happens here.

use std::time::Instant;

use super::FlowDriver;
use crate::engine::Lent;
use crate::observability::Tick;
use crate::reactor::queue::Offer;
use crate::resources::{BufferState, Owner};
use crate::types::FlowState;

impl FlowDriver {
    /// Whether every output edge of node `i` has credit.
    pub(super) fn outputs_have_credit(&self, i: usize) -> bool {
        self.stages[i].outputs.iter().all(|&e| self.edges[e].has_credit())
    }

    /// Whether everything upstream of node `i` finished and its input
    /// edges are empty: nothing more will ever arrive.
    pub(super) fn upstream_finished(&self, i: usize) -> bool {
        self.stages[i]
            .inputs
            .iter()
            .all(|&e| self.edges[e].is_empty() && self.stages[self.links[e].from].done)
    }

    /// Whether a sink downstream of source `i` answered `pause` and is still held.
    pub(super) fn sink_paused_below(&self, i: usize) -> bool {
        let now = Instant::now();
        self.stages[i].sinks_below.iter().any(|&s| {
            let sink = &self.stages[s];
            sink.pauses > 0 && sink.hold_until.is_some_and(|t| now < t)
        })
    }

    /// The input edge to take from next: the one being retried, else the
    /// next non-empty edge after the last one served (round-robin).
    pub(super) fn pick_input(&mut self, i: usize) -> Option<usize> {
        let slot = &self.stages[i];
        if let Some(e) = slot.current {
            return Some(e);
        }
        let n = slot.inputs.len();
        let k = (0..n).map(|k| (slot.cursor + k) % n).find(|&k| !self.edges[slot.inputs[k]].is_empty())?;
        let slot = &mut self.stages[i];
        slot.cursor = (k + 1) % n;
        slot.current = Some(slot.inputs[k]);
        slot.current
    }

    /// Lend the head of edge `e` to node `i`, numbered in `i`'s input sequence.
    pub(super) fn lend_head(&mut self, i: usize, e: usize) -> Option<Lent> {
        let (head, gap) = self.edges[e].front()?;
        let mut input = head.clone();
        input.sequence = self.stages[i].in_seq + gap;
        let mut t = self.table.lock();
        if let Err(err) = t.dequeue(input.handle).and_then(|_| t.lend(input.handle)) {
            drop(t);
            self.end(FlowState::Failed, Some(format!("internal buffer error: {err}")));
            return None;
        }
        Some(input)
    }

    /// The head of edge `e` is consumed by node `i`: off the queue, and the
    /// next element gets the next sequence number.
    pub(super) fn consumed(&mut self, i: usize, e: usize) {
        let gap = self.edges[e].front().map_or(0, |(_, gap)| gap);
        let queued_at = self.edges[e].front_queued_at();
        let was_open = self.edges[e].has_credit();
        self.edges[e].pop();
        let reopened = !was_open && self.edges[e].has_credit();
        // Cleared on reopening whatever the level, so a level switched off
        // and on again never charges the time in between.
        let since = if reopened { std::mem::take(&mut self.backpressure_since[e]) } else { Tick::NONE };
        let m = &self.shared.metrics;
        if m.on() {
            let edge = &m.edges[e];
            if !queued_at.is_none() {
                // Waiting ended when the call that took the element began.
                edge.waited(self.call_started(i).nanos_since(queued_at));
            }
            if !since.is_none() {
                let ns = self.round_clock.nanos_since(since);
                edge.backpressure_ended(ns);
                if m.level() == crate::observability::Level::Diagnostic {
                    let trace = &self.shared.trace;
                    trace.episode(crate::observability::BackpressureEpisode {
                        from: edge.from.clone(),
                        port: edge.port.clone(),
                        to: edge.to.clone(),
                        start_unix_ns: trace.unix_ns(since),
                        duration_ns: ns,
                    });
                }
            }
        }
        let slot = &mut self.stages[i];
        slot.current = None;
        slot.in_seq += 1 + gap;
        slot.attempts = 0;
    }

    /// After a call on a lent head: end the borrow and either consume the
    /// element (releasing the buffer if nothing else holds it) or put it
    /// back at the head for a retry. Anything the call forwarded must be on
    /// its output queues before this.
    pub(super) fn settle(&mut self, i: usize, e: usize, input: &Lent, consumed: bool) {
        let mut t = self.table.lock();
        let result = t.end_borrow(input.handle).and_then(|alone| match (consumed, alone) {
            (true, true) => t.release(input.handle, Owner::Host),
            (true, false) => Ok(()),
            (false, _) => t.enqueue(input.handle),
        });
        drop(t);
        if consumed {
            self.consumed(i, e);
        }
        if let Err(err) = result {
            self.end(FlowState::Failed, Some(format!("internal buffer error: {err}")));
        }
    }

    /// Put node `from`'s element `el` on `edges` (each entry holds the same
    /// buffer; its timestamp and birth are kept). The
    /// caller checked they have credit; a full edge with a lossy policy
    /// drops (and releases what nothing else holds). A full edge with the
    /// `error` policy is an error the caller ends the flow with, once it has
    /// settled whatever it holds.
    pub(super) fn forward(&mut self, from: usize, el: &Lent, edges: &[usize]) -> Result<(), String> {
        // A timed element is queued when the producing call ended.
        let on = self.shared.metrics.on();
        let now = if on { self.call_ended(from, el) } else { Tick::NONE };
        // Each element names the call that emitted it (its span's parent-to-be).
        let span = match &self.stages[from].runner {
            super::Runner::Wasm(s) => s.last_span(),
            _ => el.span,
        };
        let handle = el.handle;
        let mut t = self.table.lock();
        let mut failure = None;
        for &e in edges {
            if on && self.edges[e].has_credit() && self.edges[e].len() + 1 >= self.edges[e].capacity() && self.edges[e].policy() == crate::config::BackpressurePolicy::Block {
                // This push closes the edge: its producer stops.
                self.shared.metrics.edges[e].backpressure_began();
                self.backpressure_since[e] = self.round_clock;
            }
            if let Err(err) = t.enqueue(handle) {
                failure = Some(format!("internal buffer error: {err}"));
                break;
            }
            let lent = Lent { sequence: 0, span, ..el.clone() };
            let offered = self.edges[e].offer(lent, now);
            let result = match offered {
                Offer::Queued => Ok(()),
                Offer::DroppedOldest(old) => {
                    let consumer = &mut self.stages[self.links[e].to];
                    if consumer.current == Some(e) {
                        consumer.attempts = 0;
                    }
                    t.discard_queued(old.handle)
                }
                Offer::DroppedNewest(_) => t.dequeue(handle),
                Offer::Full(_) => {
                    let _ = t.dequeue(handle);
                    failure = Some(self.full_edge(e));
                    self.failure = Some(crate::reactor::summary::FailureKind::Backpressure);
                    break;
                }
            };
            if let Err(err) = result {
                failure = Some(format!("internal buffer error: {err}"));
                break;
            }
        }
        // Dropped everywhere (or refused by a full `error` edge): nothing
        // holds the element now.
        if t.state(handle).is_ok_and(|s| s == BufferState::Owned(Owner::Host)) {
            if let Err(err) = t.release(handle, Owner::Host) {
                failure = failure.or(Some(format!("internal buffer error: {err}")));
            }
        }
        match failure {
            Some(msg) => Err(msg),
            None => Ok(()),
        }
    }

    /// Why edge `e` (policy `error`) failed the flow.
    fn full_edge(&self, e: usize) -> String {
        let link = &self.links[e];
        let port = if link.port == crate::pipeline::OUTPUT_PORT { String::new() } else { format!(".{}", link.port) };
        format!(
            "edge `{}{port} -> {}` is full ({} queued) and its backpressure policy is `error`; raise its `queue_depth`, or choose `block`, `drop-oldest` or `drop-newest`",
            self.stages[link.from].node.name,
            self.stages[link.to].node.name,
            self.edges[e].capacity()
        )
    }

    /// Put a host-owned element node `i` produced on every output edge
    /// (the graph guarantees there is at least one).
    pub(super) fn put_out(&mut self, i: usize, el: &Lent) -> Result<(), String> {
        self.stages[i].elements_out += 1;
        let outputs = std::mem::take(&mut self.stages[i].outputs);
        let result = self.forward(i, el, &outputs);
        self.stages[i].outputs = outputs;
        result
    }

    /// [`FlowDriver::put_out`] for a node that holds nothing else: a
    /// failure ends the flow. Returns false if it did.
    pub(super) fn emit(&mut self, i: usize, el: &Lent) -> bool {
        match self.put_out(i, el) {
            Ok(()) => true,
            Err(msg) => {
                self.end(FlowState::Failed, Some(msg));
                false
            }
        }
    }
}
