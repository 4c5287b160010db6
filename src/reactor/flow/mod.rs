//! The driver of one flow on its worker thread: instantiation, `init`, the
//! element loop over the flow's graph with credit-based backpressure, error
//! policies, draining, completion, cancellation and teardown.
//!
//! Buffer holds along the way (see [`crate::resources::BufferState`]): an
//! emitted buffer is host-owned and is put on every edge of the port it
//! leaves by (fan-out puts the *same* buffer on several queues). A consumer
//! takes it off its queue and borrows it for one call; a filter or router
//! that passes it on puts it on its own output queues before its borrow
//! ends. When the last queue entry and the last borrow are gone the buffer
//! returns to its pool. A retried element goes back on its queue and keeps
//! its place at the head.
//!
//! Scheduling: nodes run consumers first (reverse topological order), so
//! queues drain before producers refill them. A node runs only when every
//! one of its output edges has credit: the slowest consumer of a fan-out
//! governs its producer, and memory in flight is bounded by the queue
//! capacities. A fan-in node takes from its input edges round-robin.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

mod delivery;
mod report;
mod startup;
mod steps;
mod tracing;

use startup::Startup;

use super::endpoint::{Egress, Ingress};
use super::queue::EdgeQueue;
use super::shared::FlowShared;
use super::summary::FailureKind;
use super::FlowTask;
use crate::config::{ErrorAction, NodeDef, SchedulingPolicy};
use crate::contracts::Role;
use crate::engine::{CallError, Engine, FlowContextInfo, Lent, ProcessError, Stage};
use crate::pipeline::{GraphEdge, OutPort};
use crate::resources::{BufferTable, Owner};
use crate::observability::Tick;
use crate::types::{FlowState, saturating_deadline};

/// What one turn achieved.
pub enum Turn {
    /// Elements moved; the flow wants another turn soon.
    Progress,
    /// Nothing can move until the given time (or until woken).
    Idle(Option<Instant>),
    /// The flow ended; its summary is published.
    Done,
}

/// What runs a node: a component instance, or the embedding program
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
    /// Edges into the node's `input` port (several = fan-in).
    inputs: Vec<usize>,
    /// Output ports and their edges.
    ports: Vec<OutPort>,
    /// Every output edge.
    outputs: Vec<usize>,
    /// Position in `inputs` the fair merge tries next.
    cursor: usize,
    /// The input edge whose head this node is working on (kept across a
    /// retry, so the retried element is the next one delivered).
    current: Option<usize>,
    /// Sequence number of the next element delivered to this node: the
    /// runtime numbers each node's input 0, 1, 2 … in delivery order.
    in_seq: u64,
    /// Nothing more will come out of this node (a sink: it completed).
    done: bool,
    /// An aggregator's flushed elements waiting for output credit.
    pending: VecDeque<Lent>,
    flushed: bool,
    /// Timestamp of the last element ingested (what aggregated output carries).
    last_timestamp: u64,
    /// A source: the last signal sent was `pause`.
    told_pause: bool,
    /// A source: the sinks downstream of it (a pause of any holds it).
    sinks_below: Vec<usize>,
    /// No calls before this time (a sink's pause, or a retry back-off).
    hold_until: Option<Instant>,
    /// Consecutive failed attempts at the current element.
    attempts: u32,
    elements_in: u64,
    elements_out: u64,
    dropped: u64,
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
    edges: Vec<EdgeQueue>,
    /// Producer, port and consumer of each edge (indexed like `edges`).
    links: Vec<GraphEdge>,
    /// Nodes in topological order (producers first).
    order: Vec<usize>,
    table: Arc<Mutex<BufferTable>>,
    state: FlowState,
    pause_signals: u64,
    ready_signals: u64,
    started: Instant,
    error: Option<String>,
    failure: Option<FailureKind>,
    /// Every node (for a summary of a flow that failed to start).
    names: Vec<(String, String, Role)>,
    /// While the flow is being brought up: what is left to do.
    startup: Option<Box<Startup>>,
    /// Elements the sources may still emit (`FlowDef::limit`).
    source_budget: Option<u64>,
    /// Where in its round the next turn starts (a position in reversed
    /// `order`, and the steps that node already took): after a turn cut
    /// short mid-round, exactly where it stopped.
    round_from: (usize, u32),
    /// Per edge: since when a full `block` queue has stopped its producer
    /// (while metrics are on).
    backpressure_since: Vec<Tick>,
    /// The clock at the start of the current round: what backpressure
    /// episodes are timed with (to the round, without a clock read per
    /// element: a saturated edge opens and closes once per element).
    round_clock: Tick,
    /// Steps each node may take per round (indexed like `stages`): its
    /// priority over the flow's lowest under weighted-fair, 1 under
    /// round-robin.
    weights: Vec<u32>,
}

/// Steps per round of each stage of `linked` (see `FlowDriver::weights`):
/// under weighted-fair each node's priority divided by the greatest common
/// divisor of the flow's priorities, so steps are exactly proportional to
/// priority (equal priorities: one step each, as under round-robin).
fn weights(linked: &crate::linker::LinkedFlow) -> Vec<u32> {
    let rt = &linked.runtime;
    if linked.def.scheduling.unwrap_or(rt.scheduling) == SchedulingPolicy::RoundRobin {
        return vec![1; linked.stages.len()];
    }
    let priority = |s: &crate::linker::LinkedStage| s.node.priority.unwrap_or(rt.default_priority).max(1);
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let common = linked.stages.iter().map(priority).fold(0, gcd).max(1);
    linked.stages.iter().map(|s| priority(s) / common).collect()
}

/// Wall-clock share of one turn: long calls end a turn early.
const TURN_SLICE: Duration = Duration::from_millis(5);

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((1u64 << attempt.min(7)).min(100))
}

impl FlowDriver {
    /// Take over a flow. Nothing of it runs yet: its nodes are instantiated
    /// and initialised one call per turn ([`FlowDriver::turn`]), so bringing
    /// a flow up never holds the worker's other flows back by more than one
    /// call, and a cancel is seen between any two of those calls.
    pub fn start(task: FlowTask) -> FlowDriver {
        let FlowTask { shared, linked, table } = task;
        let rt = &linked.runtime;
        let graph = &linked.graph;
        let mut driver = FlowDriver {
            shared: Arc::clone(&shared),
            stages: Vec::with_capacity(linked.stages.len()),
            edges: (0..graph.edges.len())
                .map(|e| {
                    let q = linked.def.queue(e, rt);
                    let counts = shared.metrics.edges.get(e).map(|m| Arc::clone(&m.queue)).unwrap_or_default();
                    EdgeQueue::new(q.depth, q.low_watermark, q.policy, counts)
                })
                .collect(),
            links: graph.edges.clone(),
            order: graph.order.clone(),
            table,
            state: FlowState::Created,
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
            startup: None,
            source_budget: linked.def.limit,
            weights: weights(&linked),
            backpressure_since: vec![Tick::NONE; graph.edges.len()],
            round_clock: Tick::NONE,
            round_from: (0, 0),
        };
        if driver.ended_by_cancel() {
            return driver;
        }
        driver.advance(FlowState::Initializing);
        let context = FlowContextInfo {
            flow_id: shared.id.to_string(),
            trace_id: shared.trace.trace_id_hex(),
        };
        driver.startup = Some(Box::new(Startup {
            linked,
            context,
            initialized: 0,
        }));
        driver
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
            CallError::Guest(_) | CallError::Contract(_) => FailureKind::Component,
            CallError::Deadline { .. } | CallError::FuelExhausted { .. } => FailureKind::Deadline,
            CallError::Trap(_) | CallError::Poisoned => FailureKind::Trap,
            CallError::Cancelled => FailureKind::Internal,
        });
        let s = &self.stages[i];
        format!("node `{}` (component `{}`) {call}: {e}", s.node.name, s.node.component)
    }

    /// Move elements for at most `budget` rounds and about [`TURN_SLICE`]
    /// (one start-up call while the flow is being brought up), so the
    /// worker's other flows, and their cancels, wait at most about one slice
    /// plus one call. A cancel is looked at before every
    /// node's step, and the call in progress watches it too.
    pub fn turn(&mut self, budget: usize, engine: &Engine) -> Turn {
        if self.state.is_terminal() {
            return Turn::Done;
        }
        if self.ended_by_cancel() {
            return Turn::Done;
        }
        if self.startup.is_some() {
            self.start_step(engine);
            return if self.state.is_terminal() { Turn::Done } else { Turn::Progress };
        }
        let mut rounds = 0;
        let began = Tick::now();
        self.round_clock = began;
        let slice = TURN_SLICE.as_nanos() as u64;
        loop {
            let mut progressed = false;
            // A round visits consumers first; one cut short by the slice
            // resumes where it stopped, so no node is favoured by the cut.
            let n = self.order.len();
            let (start, taken) = std::mem::take(&mut self.round_from);
            let start = start.min(n);
            for pos in start..n {
                let i = self.order[n - 1 - pos];
                let weight = self.weights.get(i).copied().unwrap_or(1);
                // The node a cut interrupted takes only its remaining steps.
                let already = if pos == start { taken.min(weight) } else { 0 };
                for step in already..weight {
                    let moved = match self.stages[i].role {
                        Role::Source => self.step_source(i),
                        Role::Sink => self.step_sink(i),
                        Role::Processor | Role::Filter | Role::Router | Role::Aggregator => self.step_middle(i),
                    };
                    if self.state.is_terminal() {
                        return Turn::Done;
                    }
                    if self.ended_by_cancel() {
                        return Turn::Done;
                    }
                    progressed |= moved;
                    if !moved {
                        break;
                    }
                    // A heavy node's many steps still end the turn on time.
                    if weight > 1 && Tick::now().nanos_since(began) >= slice {
                        self.round_from = if step + 1 < weight { (pos, step + 1) } else { (pos + 1, 0) };
                        return Turn::Progress;
                    }
                }
            }
            if !progressed {
                // A resumed partial round saw only the nodes after the
                // cut: the others get their full round before "idle".
                if start > 0 || taken > 0 {
                    continue;
                }
                break;
            }
            rounds += 1;
            self.round_clock = Tick::now();
            if rounds >= budget || self.round_clock.nanos_since(began) >= slice {
                return Turn::Progress;
            }
        }
        if self.stages.iter().filter(|s| s.role == Role::Sink).all(|s| s.done) {
            self.end(FlowState::Completed, None);
            return Turn::Done;
        }
        if rounds > 0 { Turn::Progress } else { Turn::Idle(self.earliest_hold()) }
    }

    fn earliest_hold(&self) -> Option<Instant> {
        self.stages.iter().filter_map(|s| s.hold_until).min()
    }

    /// Whether node `i` is held back now (clearing an expired hold).
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
        if self.shared.metrics.on() {
            self.shared.metrics.node_error(i);
        }
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
                slot.hold_until = Some(saturating_deadline(backoff(slot.attempts)));
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

    /// The component instance of node `i`, if it is one.
    fn wasm(&mut self, i: usize) -> Option<&mut Stage> {
        match &mut self.stages[i].runner {
            Runner::Wasm(s) => Some(s),
            _ => None,
        }
    }

    /// When node `i`'s call on the timed element `el` ended: the stage's
    /// own reading (no extra clock read), the clock for an endpoint;
    /// `Tick::NONE` when the call or the element is not timed.
    #[inline]
    fn call_ended(&self, i: usize, el: &Lent) -> Tick {
        match &self.stages[i].runner {
            Runner::Wasm(s) => s.last_call().1,
            _ if el.born.is_none() => Tick::NONE,
            _ => Tick::now(),
        }
    }

    /// When node `i`'s last call started (the clock, for an endpoint).
    #[inline]
    fn call_started(&self, i: usize) -> Tick {
        match &self.stages[i].runner {
            Runner::Wasm(s) => s.last_call().0,
            _ => Tick::now(),
        }
    }

    /// Node `i` is about to be called on `input`: a timed element is timed
    /// at every node it passes.
    #[inline]
    fn time_if_timed(&mut self, i: usize, input: &Lent) {
        if !input.born.is_none() {
            if let Some(s) = self.wasm(i) {
                s.time_next_call();
            }
        }
    }

    /// End the flow as Cancelled if a cancel was requested; says whether it did.
    #[inline]
    fn ended_by_cancel(&mut self) -> bool {
        let cancelled = self.shared.cancel_requested();
        if cancelled {
            self.end(FlowState::Cancelled, None);
        }
        cancelled
    }

    /// Stop now: cancel whatever is in flight.
    pub fn cancel(&mut self) {
        self.shared.request_cancel();
        self.end(FlowState::Cancelled, None);
    }

    /// Enter a terminal state: teardown every node, return every buffer,
    /// publish the summary. Idempotent.
    fn end(&mut self, state: FlowState, error: Option<String>) {
        if self.state.is_terminal() {
            return;
        }
        self.startup = None;
        // A call stopped by a cancel fails; the flow's outcome is the cancel.
        let (state, error) = if state == FlowState::Failed && self.shared.cancel_requested() {
            (FlowState::Cancelled, None)
        } else {
            (state, error)
        };
        if state == FlowState::Failed {
            self.shared.trace.failed();
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
                    if let Err(e) = t.discard_queued(el.handle) {
                        log::error!("{}: discarding a queued buffer: {e}", self.shared.id);
                    }
                }
            }
            for slot in &mut self.stages {
                for el in slot.pending.drain(..) {
                    let _ = t.release(el.handle, Owner::Host);
                }
            }
        }
        let mut summary = self.summary();
        // Dropping the instances returns what components still hold; an
        // egress of a flow that did not complete returns what it queued.
        self.stages.clear();
        for egress in &self.shared.egress {
            egress.end(self.state);
        }
        let live = self.table.lock().live();
        summary.buffers_live = live as u64;
        if live != 0 && self.shared.egress.is_empty() {
            log::warn!("{}: {live} buffer(s) still live after teardown", self.shared.id);
        }
        self.shared.finish(summary);
    }
}
