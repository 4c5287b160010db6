//! One step of each kind of node: what it may do now, the call into the
//! component (or endpoint), and what happens to the element afterwards.

use std::sync::Arc;

use super::{FlowDriver, Runner, Verdict};
use crate::contracts::Role;
use crate::engine::{BackpressureSignal, CallError, Emitted, Lent};
use crate::reactor::endpoint::Intake;
use crate::types::{FlowState, saturating_deadline, unix_now_ns};
use crate::observability::{Level, Tick};

/// A middle node's raw answer.
enum Answer {
    Emitted(Option<Emitted>),
    Pass(bool),
    Ports(Vec<String>),
}

/// What a middle node decided about one element.
enum Outcome {
    /// A new buffer the component emitted, for every output edge.
    Emit(Emitted),
    /// The input buffer itself goes on every output edge (a filter's pass).
    PassAll,
    /// The input buffer itself goes on these output edges (a router's choice).
    Pass(Vec<usize>),
    /// Nothing goes on (dropped, or absorbed by an aggregator).
    Nothing { dropped: bool },
}

impl FlowDriver {
    /// The node has nothing more: a source is exhausted, or a consumer has
    /// handed on everything its upstream will ever send.
    fn finish_node(&mut self, i: usize) -> bool {
        self.stages[i].done = true;
        let sources_done = self.stages.iter().filter(|s| s.role == Role::Source).all(|s| s.done);
        if sources_done && self.state == FlowState::Running {
            self.advance(FlowState::Draining);
        }
        true
    }

    pub(super) fn step_source(&mut self, i: usize) -> bool {
        if self.stages[i].done || self.held(i) {
            return false;
        }
        if self.source_budget == Some(0) {
            return self.finish_node(i);
        }
        if let Runner::Ingress(ingress) = &self.stages[i].runner {
            let ingress = Arc::clone(ingress);
            if !self.outputs_have_credit(i) {
                return false;
            }
            return match ingress.take() {
                Intake::Element(mut el) => {
                    // The push stamped its entry; only a sample stays timed.
                    let m = &self.shared.metrics;
                    let level = m.level();
                    if level == Level::Off || !m.nodes[i].invoked(level) {
                        el.born = Tick::NONE;
                    }
                    self.emit_from_source(i, &el)
                }
                Intake::Empty => false,
                Intake::Closed => self.finish_node(i),
            };
        }
        let blocked = !self.outputs_have_credit(i) || self.sink_paused_below(i);
        if blocked != self.stages[i].told_pause {
            let signal = if blocked { BackpressureSignal::Pause } else { BackpressureSignal::Ready };
            if let Err(e) = self.wasm(i).map_or(Ok(()), |s| s.notify(signal)) {
                let msg = self.describe(i, "notify-backpressure", &e);
                self.end(FlowState::Failed, Some(msg));
                return false;
            }
            self.stages[i].told_pause = blocked;
            if blocked { self.pause_signals += 1 } else { self.ready_signals += 1 }
        }
        if blocked {
            return false;
        }
        let begun = self.span_begin(i);
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        let pulled = stage.pull();
        let out_handle = pulled.as_ref().ok().and_then(|o| o.as_ref().map(|o| o.handle));
        if !matches!(pulled, Ok(None)) {
            self.span_end(i, begun, "pull", None, out_handle, self.stages[i].elements_out, pulled.is_ok());
        }
        match pulled {
            Ok(Some(out)) => {
                self.stages[i].attempts = 0;
                // Entry time: the pull's own start reading on the flow's
                // wall-clock anchor (no clock read of its own).
                let started = self.wasm(i).map_or(Tick::NONE, |s| s.last_call().0);
                let el = Lent {
                    handle: out.handle,
                    sequence: 0,
                    timestamp_ns: if started.is_none() { unix_now_ns() } else { self.shared.trace.unix_ns(started) },
                    content_type: out.content_type,
                    born: self.wasm(i).map_or(Tick::NONE, |s| s.last_call().1),
                    span: 0,
                };
                self.emit_from_source(i, &el)
            }
            Ok(None) => self.finish_node(i),
            Err(e) => match self.judge(i, "pull", e) {
                Verdict::Skip => true,
                Verdict::Retry => false,
                Verdict::Fail(msg) => {
                    self.end(FlowState::Failed, Some(msg));
                    false
                }
            },
        }
    }

    /// `input` reached sink `i`; a timed one's latency runs from entering
    /// the flow to the end of the sink's call.
    #[inline]
    fn delivered(&self, i: usize, input: &Lent) {
        let m = &self.shared.metrics;
        if m.on() {
            m.delivered();
            // Only an element whose entry was timed has a latency (a sink's
            // own sample may time its call on an untimed element).
            let end = if input.born.is_none() { Tick::NONE } else { self.call_ended(i, input) };
            if !end.is_none() {
                let ns = end.nanos_since(input.born);
                m.latency(ns);
                if m.wants_size() {
                    m.sized(self.table.lock().size(input.handle).unwrap_or(0));
                }
                self.shared.trace.latency(ns);
            }
        }
    }

    /// A source's element, counted against the flow's limit.
    fn emit_from_source(&mut self, i: usize, el: &Lent) -> bool {
        if let Some(left) = &mut self.source_budget {
            *left = left.saturating_sub(1);
        }
        self.emit(i, el)
    }

    /// Processors, filters, routers and aggregators.
    pub(super) fn step_middle(&mut self, i: usize) -> bool {
        if self.stages[i].done || self.held(i) || !self.outputs_have_credit(i) {
            return false;
        }
        if let Some(el) = self.stages[i].pending.pop_front() {
            return self.emit(i, &el);
        }
        let Some(e) = self.pick_input(i) else {
            if !self.upstream_finished(i) {
                return false;
            }
            if self.stages[i].role == Role::Aggregator && !self.stages[i].flushed {
                return self.flush(i);
            }
            return self.finish_node(i);
        };
        let Some(input) = self.lend_head(i, e) else {
            return false;
        };
        let role = self.stages[i].role;
        self.time_if_timed(i, &input);
        let begun = self.span_begin(i);
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        let (call, answer) = match role {
            Role::Processor => ("process", stage.process(&input).map(Answer::Emitted)),
            Role::Aggregator => ("ingest", stage.ingest(&input).map(Answer::Emitted)),
            Role::Filter => ("evaluate", stage.evaluate(&input).map(Answer::Pass)),
            _ => ("route", stage.route(&input).map(Answer::Ports)),
        };
        let emitted = match &answer {
            Ok(Answer::Emitted(Some(out))) => Some(out.handle),
            _ => None,
        };
        self.span_end(i, begun, call, Some(&input), emitted, input.sequence, answer.is_ok());
        let outcome = answer.and_then(|a| self.outcome(i, a));
        match outcome {
            Ok(outcome) => self.deliver(i, e, &input, outcome),
            Err(err) => self.failed_delivery(i, e, &input, call, err),
        }
    }

    /// What node `i`'s answer means for the element. A router naming a port
    /// the node does not have breaks the contract (the error names the
    /// ports it has).
    fn outcome(&self, i: usize, answer: Answer) -> Result<Outcome, CallError> {
        let slot = &self.stages[i];
        Ok(match answer {
            Answer::Emitted(Some(out)) => Outcome::Emit(out),
            Answer::Emitted(None) => Outcome::Nothing {
                dropped: slot.role != Role::Aggregator,
            },
            Answer::Pass(true) => Outcome::PassAll,
            Answer::Pass(false) => Outcome::Nothing { dropped: true },
            Answer::Ports(names) => {
                let mut edges = Vec::new();
                for name in &names {
                    let Some(port) = slot.ports.iter().find(|p| &p.name == name) else {
                        let known: Vec<&str> = slot.ports.iter().map(|p| p.name.as_str()).collect();
                        return Err(CallError::Contract(format!(
                            "route returned port `{name}`, which the node does not have (its ports: {}); add an edge from `{}.{name}` or fix the component",
                            known.join(", "),
                            slot.node.name
                        )));
                    };
                    for &edge in &port.edges {
                        if !edges.contains(&edge) {
                            edges.push(edge);
                        }
                    }
                }
                if edges.is_empty() { Outcome::Nothing { dropped: true } } else { Outcome::Pass(edges) }
            }
        })
    }

    /// Hand on what a middle node decided, then settle its input.
    fn deliver(&mut self, i: usize, e: usize, input: &Lent, outcome: Outcome) -> bool {
        self.stages[i].elements_in += 1;
        if self.stages[i].role == Role::Aggregator {
            self.stages[i].last_timestamp = input.timestamp_ns;
        }
        let result = match outcome {
            Outcome::Emit(out) => {
                let el = Lent {
                    handle: out.handle,
                    sequence: 0,
                    timestamp_ns: input.timestamp_ns,
                    content_type: out.content_type,
                    born: input.born,
                    span: 0,
                };
                self.put_out(i, &el)
            }
            Outcome::Pass(edges) => {
                self.stages[i].elements_out += 1;
                self.forward(i, input, &edges)
            }
            Outcome::PassAll => self.put_out(i, input),
            Outcome::Nothing { dropped } => {
                self.stages[i].dropped += u64::from(dropped);
                Ok(())
            }
        };
        // The input is settled first, so a flow that fails here (a full
        // `error` edge) ends holding nothing.
        self.settle(i, e, input, true);
        if let Err(msg) = result {
            self.end(FlowState::Failed, Some(msg));
            return false;
        }
        !self.state.is_terminal()
    }

    /// An aggregator's upstream finished: take what it still holds.
    fn flush(&mut self, i: usize) -> bool {
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        match stage.flush() {
            Ok(outs) => {
                let slot = &mut self.stages[i];
                let ts = slot.last_timestamp;
                slot.flushed = true;
                slot.attempts = 0;
                slot.pending.extend(outs.into_iter().map(|o| Lent {
                    handle: o.handle,
                    sequence: 0,
                    timestamp_ns: ts,
                    content_type: o.content_type,
                    born: Tick::NONE,
                    span: 0,
                }));
                true
            }
            Err(e) => match self.judge(i, "flush", e) {
                Verdict::Skip => {
                    self.stages[i].flushed = true;
                    true
                }
                Verdict::Retry => false,
                Verdict::Fail(msg) => {
                    self.end(FlowState::Failed, Some(msg));
                    false
                }
            },
        }
    }

    pub(super) fn step_sink(&mut self, i: usize) -> bool {
        if self.stages[i].done || self.held(i) {
            return false;
        }
        if let Runner::Egress(egress) = &self.stages[i].runner {
            let egress = Arc::clone(egress);
            if !egress.has_room() {
                return false;
            }
            let Some(e) = self.pick_input(i) else {
                return self.upstream_finished(i) && self.finish_node(i);
            };
            let Some(input) = self.lend_head(i, e) else {
                return false;
            };
            self.consumed(i, e);
            self.stages[i].elements_in += 1;
            let m = &self.shared.metrics;
            let level = m.level();
            if level != Level::Off {
                m.nodes[i].invoked(level);
            }
            self.delivered(i, &input);
            egress.offer(input);
            return true;
        }
        let Some(e) = self.pick_input(i) else {
            return self.upstream_finished(i) && self.complete(i);
        };
        let Some(input) = self.lend_head(i, e) else {
            return false;
        };
        self.time_if_timed(i, &input);
        let begun = self.span_begin(i);
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        let pushed = stage.push(&input);
        self.span_end(i, begun, "push", Some(&input), None, input.sequence, pushed.is_ok());
        match pushed {
            Ok(signal) => {
                self.stages[i].elements_in += 1;
                self.delivered(i, &input);
                if signal == BackpressureSignal::Pause {
                    let slot = &mut self.stages[i];
                    slot.pauses += 1;
                    slot.hold_until = Some(saturating_deadline(slot.node.resume_after));
                }
                self.settle(i, e, &input, true);
                true
            }
            Err(err) => self.failed_delivery(i, e, &input, "push", err),
        }
    }

    /// Everything upstream of sink `i` is delivered: `complete()`, under
    /// the node's policy (a retry waits its back-off like any other call).
    fn complete(&mut self, i: usize) -> bool {
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        match stage.complete() {
            Ok(()) => self.finish_node(i),
            Err(e) => match self.judge(i, "complete", e) {
                Verdict::Skip => self.finish_node(i),
                Verdict::Retry => false,
                Verdict::Fail(msg) => {
                    self.end(FlowState::Failed, Some(msg));
                    false
                }
            },
        }
    }

    /// Apply the node's policy to a failed call on a lent element: skip it
    /// (consumed), keep it at the head for a retry, or fail the flow.
    /// Returns whether the flow made progress.
    fn failed_delivery(&mut self, i: usize, e: usize, input: &Lent, call: &str, err: CallError) -> bool {
        let verdict = self.judge(i, call, err);
        let consumed = !matches!(verdict, Verdict::Retry);
        self.settle(i, e, input, consumed);
        match verdict {
            Verdict::Skip => true,
            Verdict::Retry => false,
            Verdict::Fail(msg) => {
                self.end(FlowState::Failed, Some(msg));
                false
            }
        }
    }
}
