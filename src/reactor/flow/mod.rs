//! The driver of one flow on its worker thread: instantiation, `init`, the
//! element loop with credit-based backpressure, error policies, draining,
//! completion, cancellation and teardown.
//!
//! Buffer states along the way: an emitted buffer is `Owned(Host)`, becomes
//! `Queued` on its edge, is `Borrowed` for the duration of the consumer's
//! call, and is released to the pool once consumed. A retried element goes
//! back to `Queued` and keeps its place at the head of the queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

mod report;

use super::endpoint::{Egress, Ingress, Intake};
use super::queue::EdgeQueue;
use super::shared::FlowShared;
use super::summary::FailureKind;
use super::FlowTask;
use crate::config::{EndpointKind, ErrorAction, NodeDef};
use crate::contracts::Role;
use crate::engine::{BackpressureSignal, CallError, Engine, FlowContextInfo, Lent, ProcessError, Stage, StageSpec};
use crate::resources::{BufferTable, Owner};
use crate::types::{FlowState, StageId, unix_now_ns};

/// What one turn achieved.
pub enum Turn {
    /// Elements moved; the flow wants another turn soon.
    Progress,
    /// Nothing can move until the given time (or until woken).
    Idle(Option<Instant>),
    /// The flow ended; its summary is published.
    Done,
}

/// What runs a stage: a component instance, or the embedding program
/// through an endpoint.
enum Runner {
    Wasm(Stage),
    Ingress(Arc<Ingress>),
    Egress(Arc<Egress>),
}

struct StageSlot {
    runner: Runner,
    node: NodeDef,
    role: Role,
    /// No calls before this time (a sink's pause, or a retry back-off).
    hold_until: Option<Instant>,
    /// Consecutive failed attempts at the current element.
    attempts: u32,
    /// Next sequence number on this stage's output edge.
    out_seq: u64,
    elements_in: u64,
    elements_out: u64,
    skipped: u64,
    retries: u64,
    pauses: u64,
}

enum Verdict {
    Skip,
    Retry,
    Fail(String),
}

/// One flow, owned by the worker that runs it.
pub struct FlowDriver {
    shared: Arc<FlowShared>,
    stages: Vec<StageSlot>,
    /// `edges[i]` runs from stage `i` to stage `i + 1`.
    edges: Vec<EdgeQueue>,
    table: Arc<Mutex<BufferTable>>,
    state: FlowState,
    source_done: bool,
    told_pause: bool,
    pause_signals: u64,
    ready_signals: u64,
    started: Instant,
    error: Option<String>,
    failure: Option<FailureKind>,
    /// Stages instantiated (for a summary of a flow that failed to start).
    names: Vec<(String, String, Role)>,
}


fn trace_id(flow: &str, id: u64) -> String {
    let digest = Sha256::digest(format!("{flow}/{id}/{}", unix_now_ns()));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((1u64 << attempt.min(7)).min(100))
}

impl FlowDriver {
    /// Instantiate and initialise every stage. On failure the flow is
    /// finished (Failed, with teardown) and `None` is returned.
    pub fn start(task: FlowTask, engine: &Engine) -> Option<FlowDriver> {
        let FlowTask { shared, linked, table } = task;
        let rt = &linked.runtime;
        let mut driver = FlowDriver {
            shared: Arc::clone(&shared),
            stages: Vec::with_capacity(linked.stages.len()),
            edges: (1..linked.stages.len())
                .map(|_| EdgeQueue::new(rt.queue_depth, rt.low_watermark))
                .collect(),
            table: Arc::clone(&table),
            state: FlowState::Created,
            source_done: false,
            told_pause: false,
            pause_signals: 0,
            ready_signals: 0,
            started: Instant::now(),
            error: None,
            failure: None,
            names: linked
                .stages
                .iter()
                .map(|s| (s.node.name.clone(), s.node.component.clone(), s.role))
                .collect(),
        };
        if shared.cancel_requested() {
            driver.end(FlowState::Cancelled, None);
            return None;
        }
        driver.advance(FlowState::Initializing);
        let context = FlowContextInfo {
            flow_id: shared.id.to_string(),
            trace_id: trace_id(&shared.name, shared.id.get()),
            span_id: String::new(),
            deadline_ns: 0,
        };
        for (i, ls) in linked.stages.iter().enumerate() {
            let spec = StageSpec {
                stage: StageId::new(i as u32),
                node: Arc::from(ls.node.name.as_str()),
                config: ls.node.config.clone(),
                grants: Arc::from(ls.node.capabilities.clone()),
                memory_limit: rt.memory_limit,
                init_timeout: rt.init_timeout,
                call_timeout: rt.call_timeout,
                context: context.clone(),
            };
            let runner = match (&ls.component, ls.node.endpoint) {
                (Some(component), _) => match Stage::instantiate(engine, component, spec, Arc::clone(&table)) {
                    Ok(s) => Runner::Wasm(s),
                    Err(e) => {
                        driver.failure = Some(FailureKind::Instantiate);
                        driver.end(FlowState::Failed, Some(e.to_string()));
                        return None;
                    }
                },
                (None, Some(EndpointKind::Ingress)) => match shared.ingress(&ls.node.name) {
                    Ok(i) => Runner::Ingress(Arc::clone(i)),
                    Err(e) => {
                        driver.end(FlowState::Failed, Some(e.to_string()));
                        return None;
                    }
                },
                (None, _) => match shared.egress(&ls.node.name) {
                    Ok(e) => Runner::Egress(Arc::clone(e)),
                    Err(e) => {
                        driver.end(FlowState::Failed, Some(e.to_string()));
                        return None;
                    }
                },
            };
            driver.stages.push(StageSlot {
                runner,
                node: ls.node.clone(),
                role: ls.role,
                hold_until: None,
                attempts: 0,
                out_seq: 0,
                elements_in: 0,
                elements_out: 0,
                skipped: 0,
                retries: 0,
                pauses: 0,
            });
        }
        for i in 0..driver.stages.len() {
            let Runner::Wasm(stage) = &mut driver.stages[i].runner else {
                continue;
            };
            if let Err(e) = stage.init() {
                let msg = driver.describe(i, "init", &e);
                driver.failure = Some(FailureKind::Instantiate);
                driver.end(FlowState::Failed, Some(msg));
                return None;
            }
        }
        driver.advance(FlowState::Running);
        log::debug!("{} `{}` running with {} stages", shared.id, shared.name, driver.stages.len());
        Some(driver)
    }

    fn advance(&mut self, next: FlowState) {
        match self.state.advance(next) {
            Ok(s) => {
                self.state = s;
                self.shared.set_state(s);
            }
            Err(e) => log::error!("{}: {e}", self.shared.id),
        }
    }

    /// The message for a failed call; records what kind of failure it was.
    fn describe(&mut self, i: usize, call: &str, e: &CallError) -> String {
        self.failure = Some(match e {
            CallError::Guest(_) => FailureKind::Component,
            CallError::Deadline { .. } => FailureKind::Deadline,
            CallError::Trap(_) | CallError::Poisoned => FailureKind::Trap,
        });
        let s = &self.stages[i];
        format!("node `{}` (component `{}`) {call}: {e}", s.node.name, s.node.component)
    }

    /// Move elements for at most `budget` rounds.
    pub fn turn(&mut self, budget: usize) -> Turn {
        if self.shared.cancel_requested() {
            self.end(FlowState::Cancelled, None);
            return Turn::Done;
        }
        let n = self.stages.len();
        let mut rounds = 0;
        loop {
            let mut progressed = false;
            for i in (0..n).rev() {
                progressed |= match self.stages[i].role {
                    Role::Sink => self.step_sink(i),
                    Role::Processor => self.step_processor(i),
                    Role::Source => self.step_source(i),
                };
                if self.state.is_terminal() {
                    return Turn::Done;
                }
            }
            if !progressed {
                break;
            }
            rounds += 1;
            if rounds >= budget {
                return Turn::Progress;
            }
        }
        if self.source_done && self.edges.iter().all(EdgeQueue::is_empty) {
            let wake = self.earliest_hold();
            if wake.is_some_and(|t| t > Instant::now()) {
                return Turn::Idle(wake);
            }
            self.complete();
            return Turn::Done;
        }
        if rounds > 0 { Turn::Progress } else { Turn::Idle(self.earliest_hold()) }
    }

    fn earliest_hold(&self) -> Option<Instant> {
        self.stages.iter().filter_map(|s| s.hold_until).min()
    }

    /// Whether stage `i` is held back now (clearing an expired hold).
    #[inline]
    fn held(&mut self, i: usize) -> bool {
        match self.stages[i].hold_until {
            None => false,
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                self.stages[i].hold_until = None;
                false
            }
        }
    }

    fn judge(&mut self, i: usize, call: &str, err: CallError) -> Verdict {
        let pe = match err {
            CallError::Guest(pe) => pe,
            other => return Verdict::Fail(self.describe(i, call, &other)),
        };
        let policy = self.stages[i].node.on_error;
        let action = match &pe {
            ProcessError::InvalidInput(_) => policy.invalid_input,
            ProcessError::DeadlineExceeded => policy.deadline_exceeded,
            ProcessError::Unavailable(_) => policy.unavailable,
            ProcessError::Internal(_) => policy.internal,
            ProcessError::Fatal(_) => ErrorAction::Fail,
        };
        let slot = &mut self.stages[i];
        let verdict = match action {
            ErrorAction::Skip => {
                slot.skipped += 1;
                slot.attempts = 0;
                log::warn!(
                    "{}: node `{}` {call} returned {pe}; element skipped (policy)",
                    self.shared.id,
                    slot.node.name
                );
                Verdict::Skip
            }
            ErrorAction::Retry if slot.attempts < policy.max_retries => {
                slot.attempts += 1;
                slot.retries += 1;
                slot.hold_until = Some(Instant::now() + backoff(slot.attempts));
                log::info!(
                    "{}: node `{}` {call} returned {pe}; retry {} of {}",
                    self.shared.id,
                    slot.node.name,
                    slot.attempts,
                    policy.max_retries
                );
                Verdict::Retry
            }
            ErrorAction::Retry => Verdict::Fail(format!(
                "node `{}` (component `{}`) {call} failed after {} retries: {pe}",
                slot.node.name, slot.node.component, policy.max_retries
            )),
            ErrorAction::Fail => Verdict::Fail(format!(
                "node `{}` (component `{}`) {call} failed: {pe}",
                slot.node.name, slot.node.component
            )),
        };
        if matches!(verdict, Verdict::Fail(_)) {
            self.failure = Some(FailureKind::Component);
        }
        verdict
    }

    fn sink_paused(&self) -> bool {
        let now = Instant::now();
        self.stages
            .iter()
            .any(|s| s.role == Role::Sink && s.pauses > 0 && s.hold_until.is_some_and(|t| now < t))
    }

    /// Put a source's (host-owned) element on its output edge, numbered in
    /// that edge's sequence. The caller checked the edge has credit.
    fn emit_from_source(&mut self, i: usize, mut el: Lent) -> bool {
        let slot = &mut self.stages[i];
        slot.elements_out += 1;
        el.sequence = slot.out_seq;
        slot.out_seq += 1;
        let queued = self.table.lock().enqueue(el.handle);
        if let Err(e) = queued {
            self.end(FlowState::Failed, Some(format!("internal buffer error: {e}")));
            return false;
        }
        self.edges[i].push(el);
        true
    }

    /// The source has nothing more: drain what is queued.
    fn source_exhausted(&mut self) -> bool {
        self.source_done = true;
        self.advance(FlowState::Draining);
        true
    }

    fn step_source(&mut self, i: usize) -> bool {
        if self.source_done || self.held(i) {
            return false;
        }
        if let Runner::Ingress(ingress) = &self.stages[i].runner {
            let ingress = Arc::clone(ingress);
            if !self.edges[i].has_credit() {
                return false;
            }
            return match ingress.take() {
                Intake::Element(el) => self.emit_from_source(i, el),
                Intake::Empty => false,
                Intake::Closed => self.source_exhausted(),
            };
        }
        let blocked = !self.edges[i].has_credit() || self.sink_paused();
        if blocked != self.told_pause {
            let signal = if blocked { BackpressureSignal::Pause } else { BackpressureSignal::Ready };
            if let Err(e) = self.wasm(i).map_or(Ok(()), |s| s.notify(signal)) {
                let msg = self.describe(i, "notify-backpressure", &e);
                self.end(FlowState::Failed, Some(msg));
                return false;
            }
            self.told_pause = blocked;
            if blocked { self.pause_signals += 1 } else { self.ready_signals += 1 }
        }
        if blocked {
            return false;
        }
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        match stage.pull() {
            Ok(Some(out)) => {
                self.stages[i].attempts = 0;
                let el = Lent {
                    handle: out.handle,
                    sequence: 0,
                    timestamp_ns: unix_now_ns(),
                    content_type: out.content_type,
                };
                self.emit_from_source(i, el)
            }
            Ok(None) => self.source_exhausted(),
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

    /// The component instance of stage `i`, if it is one.
    fn wasm(&mut self, i: usize) -> Option<&mut Stage> {
        match &mut self.stages[i].runner {
            Runner::Wasm(s) => Some(s),
            _ => None,
        }
    }

    /// Lend the head of `edges[i - 1]` to stage `i`.
    fn lend_head(&mut self, i: usize) -> Option<Lent> {
        let input = self.edges[i - 1].front()?.clone();
        let mut t = self.table.lock();
        if let Err(e) = t.dequeue(input.handle).and_then(|_| t.lend(input.handle)) {
            drop(t);
            self.end(FlowState::Failed, Some(format!("internal buffer error: {e}")));
            return None;
        }
        Some(input)
    }

    /// After a call on a lent head: end the borrow and either consume the
    /// element (release it) or put it back for a retry.
    fn settle_head(&mut self, i: usize, input: &Lent, consumed: bool, emitted: Option<crate::types::BufferHandle>) {
        let mut t = self.table.lock();
        let result = t.end_borrow(input.handle).and_then(|_| {
            if consumed {
                t.release(input.handle, Owner::Host)
            } else {
                t.enqueue(input.handle)
            }
        });
        let result = result.and_then(|_| match emitted {
            Some(h) => t.enqueue(h),
            None => Ok(()),
        });
        drop(t);
        if consumed {
            self.edges[i - 1].pop();
        }
        if let Err(e) = result {
            self.end(FlowState::Failed, Some(format!("internal buffer error: {e}")));
        }
    }

    /// Apply the node's policy to a failed call on a lent element: skip it
    /// (consumed), keep it at the head for a retry, or fail the flow.
    /// Returns whether the flow made progress.
    fn failed_delivery(&mut self, i: usize, input: &Lent, call: &str, e: CallError) -> bool {
        let verdict = self.judge(i, call, e);
        let consumed = !matches!(verdict, Verdict::Retry);
        self.settle_head(i, input, consumed, None);
        match verdict {
            Verdict::Skip => true,
            Verdict::Retry => false,
            Verdict::Fail(msg) => {
                self.end(FlowState::Failed, Some(msg));
                false
            }
        }
    }

    fn step_processor(&mut self, i: usize) -> bool {
        if self.edges[i - 1].is_empty() || !self.edges[i].has_credit() || self.held(i) {
            return false;
        }
        let Some(input) = self.lend_head(i) else {
            return false;
        };
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        match stage.process(&input) {
            Ok(out) => {
                let slot = &mut self.stages[i];
                slot.attempts = 0;
                slot.elements_in += 1;
                let emitted = out.map(|o| {
                    slot.elements_out += 1;
                    let sequence = slot.out_seq;
                    slot.out_seq += 1;
                    Lent {
                        handle: o.handle,
                        sequence,
                        timestamp_ns: input.timestamp_ns,
                        content_type: o.content_type,
                    }
                });
                self.settle_head(i, &input, true, emitted.as_ref().map(|e| e.handle));
                if let Some(e) = emitted {
                    self.edges[i].push(e);
                }
                true
            }
            Err(e) => self.failed_delivery(i, &input, "process", e),
        }
    }

    fn step_sink(&mut self, i: usize) -> bool {
        if self.edges[i - 1].is_empty() || self.held(i) {
            return false;
        }
        if let Runner::Egress(egress) = &self.stages[i].runner {
            let egress = Arc::clone(egress);
            if !egress.has_room() {
                return false;
            }
            let Some(input) = self.lend_head(i) else {
                return false;
            };
            self.edges[i - 1].pop();
            self.stages[i].elements_in += 1;
            egress.offer(input);
            return true;
        }
        let Some(input) = self.lend_head(i) else {
            return false;
        };
        let Some(stage) = self.wasm(i) else {
            return false;
        };
        match stage.push(&input) {
            Ok(signal) => {
                let slot = &mut self.stages[i];
                slot.attempts = 0;
                slot.elements_in += 1;
                if signal == BackpressureSignal::Pause {
                    slot.pauses += 1;
                    slot.hold_until = Some(Instant::now() + slot.node.resume_after);
                }
                self.settle_head(i, &input, true, None);
                true
            }
            Err(e) => self.failed_delivery(i, &input, "push", e),
        }
    }

    /// Every queue is drained: tell the sinks, then finish.
    fn complete(&mut self) {
        for i in 0..self.stages.len() {
            if self.stages[i].role != Role::Sink {
                continue;
            }
            loop {
                let Some(stage) = self.wasm(i) else {
                    break;
                };
                match stage.complete() {
                    Ok(()) => break,
                    // `judge` bounds retries by the node's `max_retries`. The
                    // back-off blocks this worker briefly: nothing else of
                    // this flow is left to run.
                    Err(e) => match self.judge(i, "complete", e) {
                        Verdict::Skip => break,
                        Verdict::Retry => {
                            if let Some(t) = self.stages[i].hold_until.take() {
                                std::thread::sleep(t.saturating_duration_since(Instant::now()));
                            }
                        }
                        Verdict::Fail(msg) => {
                            self.end(FlowState::Failed, Some(msg));
                            return;
                        }
                    },
                }
            }
        }
        self.end(FlowState::Completed, None);
    }

    /// Stop now: cancel (or fail) whatever is in flight.
    pub fn cancel(&mut self) {
        self.end(FlowState::Cancelled, None);
    }

    /// Enter a terminal state: teardown every stage, return every buffer,
    /// publish the summary. Idempotent.
    fn end(&mut self, state: FlowState, error: Option<String>) {
        if self.state.is_terminal() {
            return;
        }
        match self.state.advance(state) {
            Ok(s) => self.state = s,
            Err(e) => {
                log::error!("{}: {e}", self.shared.id);
                self.state = FlowState::Failed;
            }
        }
        if error.is_none() {
            self.failure = None;
        } else if self.failure.is_none() {
            self.failure = Some(FailureKind::Internal);
        }
        if let Some(msg) = &error {
            log::info!("{} `{}` failed: {msg}", self.shared.id, self.shared.name);
        }
        self.error = error;
        for slot in &mut self.stages {
            if let Runner::Wasm(stage) = &mut slot.runner {
                if let Err(e) = stage.teardown() {
                    log::warn!("{}: node `{}` teardown: {e}", self.shared.id, slot.node.name);
                }
            }
        }
        for ingress in &self.shared.ingress {
            ingress.end(self.state);
        }
        {
            let mut t = self.table.lock();
            for edge in &mut self.edges {
                for el in edge.drain() {
                    let _ = t.dequeue(el.handle);
                    let _ = t.release(el.handle, Owner::Host);
                }
            }
        }
        let summary = self.summary();
        self.stages.clear();
        for egress in &self.shared.egress {
            egress.end(self.state);
        }
        let live = self.table.lock().live();
        if live != 0 && self.shared.egress.is_empty() {
            log::warn!("{}: {live} buffer(s) still live after teardown", self.shared.id);
        }
        self.shared.finish(summary);
    }
}
