//! One stage: a component instance in its own `Store`, and the typed calls
//! the reactor (or a benchmark) makes into it.
//!
//! Ownership at the boundary: an element lent to the stage ([`Lent`]) must
//! already be in the `Borrowed` state in the flow's buffer table; the stage
//! registers a rep for the call and forgets it when the call returns. An
//! element the stage emits ([`Emitted`]) has been transferred to the host
//! before the call returns to the caller.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use parking_lot::Mutex;
use wasmtime::component::{Resource, TypedFunc};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::abi::{
    BackpressureSignal, ElementMetaOut, OutputElement, ProcessError, ProcessResult, StreamElement,
};
use super::compile::CompiledComponent;
use super::error::{CallError, EngineError};
use super::handles::HandleKind;
use super::interrupt::{CHECK_EVERY, CallClock, Interrupt};
use super::state::{FlowContextInfo, StageState};
use super::ticker;
use super::{Engine, wasi};
use crate::contracts::Role;
use crate::resources::{BufferTable, Owner};
use crate::observability::{Level, Tick};
use crate::types::{BufferHandle, StageId};

/// How to instantiate one stage.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub stage: StageId,
    pub node: Arc<str>,
    /// Passed to `lifecycle.init`.
    pub config: String,
    /// What the node is granted.
    pub grants: crate::security::GrantSet,
    /// Where its capability uses are counted and audited.
    pub audit: Option<Arc<crate::security::NodeAudit>>,
    /// Linear-memory limit of this instance.
    pub memory_limit: u64,
    /// Table elements the instance may hold.
    pub table_elements: u64,
    /// Bytes per second it may write to stdout and stderr.
    pub output_rate: u64,
    pub init_timeout: Duration,
    pub teardown_timeout: Duration,
    pub call_timeout: Duration,
    /// Fuel per call, for an engine that meters fuel (`None` otherwise).
    pub fuel: Option<u64>,
    /// Where this node's per-element calls are recorded: the flow's metrics
    /// and the node's index in them.
    pub metrics: Option<(Arc<crate::observability::FlowMetrics>, usize)>,
    pub context: FlowContextInfo,
    /// The flow's cancel flag: set, it stops the call in progress (Wasm
    /// code or a WASI wait) within [`CHECK_EVERY`] and every later call.
    pub cancel: Arc<AtomicBool>,
}

/// An element lent to a stage for one call. The buffer must be `Borrowed`.
#[derive(Debug, Clone)]
pub struct Lent {
    pub handle: BufferHandle,
    pub sequence: u64,
    pub timestamp_ns: u64,
    pub content_type: Arc<str>,
    /// When it entered the flow (a source's call ended, or an embedder
    /// pushed it), for end-to-end latency; `Tick::NONE` when not recorded.
    pub born: Tick,
    /// The span of the call that emitted it (0: none recorded).
    pub span: u64,
}

/// An element a stage produced; the host owns its buffer.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub handle: BufferHandle,
    pub content_type: Arc<str>,
}

type Fallible<T> = (Result<T, ProcessError>,);

enum Calls {
    Source {
        pull: TypedFunc<(), Fallible<Option<OutputElement>>>,
        notify: TypedFunc<(BackpressureSignal,), ()>,
    },
    Processor {
        process: TypedFunc<(StreamElement,), Fallible<ProcessResult>>,
    },
    Sink {
        push: TypedFunc<(StreamElement,), Fallible<BackpressureSignal>>,
        complete: TypedFunc<(), Fallible<()>>,
    },
    Filter {
        evaluate: TypedFunc<(StreamElement,), Fallible<bool>>,
    },
    Router {
        route: TypedFunc<(StreamElement,), Fallible<Vec<String>>>,
    },
    Aggregator {
        ingest: TypedFunc<(StreamElement,), Fallible<Option<OutputElement>>>,
        flush: TypedFunc<(), Fallible<Vec<OutputElement>>>,
    },
}

struct Lifecycle {
    init: TypedFunc<(String,), Fallible<()>>,
    teardown: TypedFunc<(), ()>,
}

/// A live component instance bound to a node of a flow.
///
/// Wasm code is stopped at its deadline by epoch ticks, which run while a
/// reactor worker is busy; code that calls a stage outside a reactor (a
/// benchmark) holds a [`super::Busy`] guard for the same guarantee.
pub struct Stage {
    store: Store<StageState>,
    calls: Calls,
    lifecycle: Option<Lifecycle>,
    component: Arc<CompiledComponent>,
    config: String,
    init_timeout: Duration,
    teardown_timeout: Duration,
    call_timeout: Duration,
    memory_limit: u64,
    /// Fuel per call (metered engines only).
    fuel: Option<u64>,
    /// Fuel all calls consumed so far.
    fuel_used: u64,
    metrics: Option<(Arc<crate::observability::FlowMetrics>, usize)>,
    /// When the last per-element call ended, if it was timed.
    ended: Tick,
    /// Time the next per-element call whatever the sample says (its
    /// element's entry was timed).
    time_next: bool,
    poisoned: bool,
    /// `init` succeeded (so `teardown` is owed).
    initialized: bool,
}

/// Which limit a call runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// `init` (and instantiation): `init_timeout`.
    Init,
    /// Per-element calls: `call_timeout`.
    Element,
    /// `teardown`: `teardown_timeout`; once the flow is cancelled (before or
    /// during it), at most [`TEARDOWN_AFTER_CANCEL`] from its start.
    Teardown,
}

/// How long `teardown` may run once its flow is cancelled.
const TEARDOWN_AFTER_CANCEL: Duration = Duration::from_millis(50);

/// Epoch ticks between two looks at the call clock while Wasm code runs:
/// a cancel or an overrun is noticed within about this long.
fn check_ticks() -> u64 {
    ticker::ticks(CHECK_EVERY)
}


/// Turn a failed call into the error users see: the root cause (not the
/// wasm backtrace, which goes to the debug log), with a hint for limits.
fn classify(e: wasmtime::Error, limit: Duration, memory_limit: u64, fuel: Option<u64>) -> CallError {
    match e.downcast_ref::<Interrupt>() {
        Some(Interrupt::Deadline) => return CallError::Deadline { limit },
        Some(Interrupt::Cancelled) => return CallError::Cancelled,
        None => {}
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return CallError::Deadline { limit },
        Some(Trap::OutOfFuel) => return CallError::FuelExhausted { budget: fuel.unwrap_or(0) },
        _ => {}
    }
    log::debug!("guest call failed: {e:?}");
    let cause = e.root_cause().to_string();
    if cause.contains("growing memory") {
        return CallError::Trap(format!(
            "{cause}: the instance reached its memory limit of {memory_limit} bytes (raise the node's `max_memory` or `runtime.max_memory_per_component`)"
        ));
    }
    CallError::Trap(cause)
}

impl Stage {
    /// Instantiate `component` for one node. Nothing of the component runs
    /// yet except its start-up code; call [`Stage::init`] next.
    pub fn instantiate(
        engine: &Engine,
        component: &Arc<CompiledComponent>,
        spec: StageSpec,
        buffers: Arc<Mutex<BufferTable>>,
    ) -> Result<Stage, EngineError> {
        let fail = |reason: String| EngineError::Instantiate {
            component: component.name.clone(),
            node: spec.node.to_string(),
            reason,
        };
        let memory = spec.memory_limit.min(engine.settings.max_memory_bytes) as usize;
        let new_store = |wasm: &wasmtime::Engine| -> Result<Store<StageState>, EngineError> {
            let limits = super::limits::StageLimits::for_stage(memory, spec.table_elements);
            let wasi = wasi::context(&spec.node, &spec.grants, spec.audit.clone(), spec.output_rate).map_err(&fail)?;
            let state = StageState::new(
                spec.stage,
                Arc::clone(&spec.node),
                Arc::clone(&buffers),
                spec.context.clone(),
                spec.grants.clone(),
                spec.audit.clone(),
                limits,
                CallClock::new(Arc::clone(&spec.cancel)),
                wasi,
            );
            let mut store = Store::new(wasm, state);
            store.limiter(|s| &mut s.limits);
            // Every few ticks, Wasm code stops to look at the call clock: it
            // goes on only while its deadline is ahead and its flow not cancelled.
            store.epoch_deadline_callback(|cx| match cx.data().clock.check() {
                Ok(()) => Ok(UpdateDeadline::Continue(check_ticks())),
                Err(why) => Err(wasmtime::Error::new(why)),
            });
            store.data_mut().clock.start(spec.init_timeout);
            store.set_epoch_deadline(check_ticks());
            if spec.fuel.is_some() {
                // Instantiation itself is not on the per-call budget.
                store.set_fuel(u64::MAX).map_err(|e| fail(format!("cannot set fuel: {e}")))?;
            }
            Ok(store)
        };
        let mut store = new_store(engine.wasmtime())?;
        let (instance, idx) = match component.pre.instantiate(&mut store) {
            Ok(instance) => (instance, &component.indices),
            Err(e) if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() => {
                // The pool is full: this instance is allocated on demand.
                let (wasm, pre, indices) = engine.overflow(component).map_err(&fail)?;
                store = new_store(wasm)?;
                (pre.instantiate(&mut store).map_err(|e| fail(format!("{e:#}")))?, indices)
            }
            Err(e) => return Err(fail(format!("{e:#}"))),
        };
        let typed_err = |e: wasmtime::Error| fail(format!("export has the wrong type: {e:#}"));
        let calls = match component.exports.role {
            Role::Source => Calls::Source {
                pull: instance.get_typed_func(&mut store, &idx.role[0]).map_err(typed_err)?,
                notify: instance.get_typed_func(&mut store, &idx.role[1]).map_err(typed_err)?,
            },
            Role::Processor => Calls::Processor {
                process: instance.get_typed_func(&mut store, &idx.role[0]).map_err(typed_err)?,
            },
            Role::Sink => Calls::Sink {
                push: instance.get_typed_func(&mut store, &idx.role[0]).map_err(typed_err)?,
                complete: instance.get_typed_func(&mut store, &idx.role[1]).map_err(typed_err)?,
            },
            Role::Filter => Calls::Filter {
                evaluate: instance.get_typed_func(&mut store, &idx.role[0]).map_err(typed_err)?,
            },
            Role::Router => Calls::Router {
                route: instance.get_typed_func(&mut store, &idx.role[0]).map_err(typed_err)?,
            },
            Role::Aggregator => Calls::Aggregator {
                ingest: instance.get_typed_func(&mut store, &idx.role[0]).map_err(typed_err)?,
                flush: instance.get_typed_func(&mut store, &idx.role[1]).map_err(typed_err)?,
            },
        };
        let lifecycle = match &idx.lifecycle {
            Some((init, teardown)) => Some(Lifecycle {
                init: instance.get_typed_func(&mut store, init).map_err(typed_err)?,
                teardown: instance.get_typed_func(&mut store, teardown).map_err(typed_err)?,
            }),
            None => None,
        };
        Ok(Stage {
            store,
            calls,
            lifecycle,
            component: Arc::clone(component),
            config: spec.config,
            init_timeout: spec.init_timeout,
            teardown_timeout: spec.teardown_timeout,
            call_timeout: spec.call_timeout,
            memory_limit: memory as u64,
            fuel: spec.fuel,
            fuel_used: 0,
            metrics: spec.metrics,
            ended: Tick::NONE,
            time_next: false,
            poisoned: false,
            initialized: false,
        })
    }

    /// The component this stage runs.
    pub fn component(&self) -> &Arc<CompiledComponent> {
        &self.component
    }

    /// The stage's role.
    pub fn role(&self) -> Role {
        self.component.exports.role
    }

    /// Fuel this instance's calls consumed (0 without metering).
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    /// When the last per-element call started and ended (`Tick::NONE` for
    /// the end when the call was not timed): the reactor times queue waits
    /// and latency with these readings instead of reading the clock again.
    #[inline]
    pub fn last_call(&self) -> (Tick, Tick) {
        (self.store.data().clock.started(), self.ended)
    }

    /// The span id of the last per-element call.
    #[inline]
    pub fn last_span(&self) -> u64 {
        self.store.data().span
    }

    /// Time the next per-element call (its element is a timed one).
    #[inline]
    pub fn time_next_call(&mut self) {
        self.time_next = true;
    }

    /// Whether an earlier trap killed the instance.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Run `f` under the per-call deadline; a trap poisons the stage.
    #[inline]
    fn guarded<R>(
        &mut self,
        call: CallKind,
        f: impl FnOnce(&mut Calls, &mut Store<StageState>, &Option<Lifecycle>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Poisoned);
        }
        let limit = match call {
            CallKind::Init => self.init_timeout,
            CallKind::Teardown => self.teardown_timeout,
            CallKind::Element => self.call_timeout,
        };
        let clock = &mut self.store.data_mut().clock;
        if call == CallKind::Teardown {
            clock.start_with_grace(limit, TEARDOWN_AFTER_CANCEL);
        } else {
            clock.start(limit);
            if clock.cancel_requested() {
                // Cancelled before the call began: the instance is untouched.
                return Err(CallError::Cancelled);
            }
        }
        self.store.set_epoch_deadline(check_ticks());
        if let Some(budget) = self.fuel {
            if let Err(e) = self.store.set_fuel(budget) {
                return Err(CallError::Trap(format!("cannot set fuel: {e}")));
            }
        }
        if call == CallKind::Element {
            self.store.data_mut().span = crate::observability::span_id();
        }
        let forced = std::mem::take(&mut self.time_next);
        let timed = call == CallKind::Element
            && self.metrics.as_ref().is_some_and(|(m, i)| {
                let level = m.level();
                level != Level::Off && m.nodes.get(*i).is_some_and(|n| n.invoked(level) || forced)
            });
        let result = f(&mut self.calls, &mut self.store, &self.lifecycle);
        if let Some(budget) = self.fuel {
            let left = self.store.get_fuel().unwrap_or(0);
            self.fuel_used = self.fuel_used.saturating_add(budget - left.min(budget));
            if let Some(node) = self.metrics.as_ref().and_then(|(m, i)| m.nodes.get(*i)) {
                node.set_fuel(self.fuel_used);
            }
        }
        self.ended = Tick::NONE;
        if timed {
            self.ended = Tick::now();
            if let Some(node) = self.metrics.as_ref().and_then(|(m, i)| m.nodes.get(*i)) {
                // The memory gauge follows the sample (a node's first call is timed).
                node.set_memory(self.store.data().limits.memory_bytes());
                node.timed(self.ended.nanos_since(self.store.data().clock.started()));
            }
        }
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                self.poisoned = true;
                Err(classify(e, limit, self.memory_limit, self.fuel))
            }
        }
    }

    /// `lifecycle.init(config)`, if the component exports it.
    pub fn init(&mut self) -> Result<(), CallError> {
        if self.lifecycle.is_none() {
            self.initialized = true;
            return Ok(());
        }
        let config = self.config.clone();
        let (r,) = self.guarded(CallKind::Init, |_, store, lc| match lc {
            Some(lc) => lc.init.call(store, (config,)),
            None => Ok((Ok(()),)),
        })?;
        r.map_err(CallError::Guest)?;
        self.initialized = true;
        Ok(())
    }

    /// `lifecycle.teardown()`, best effort: only for an instance whose
    /// `init` succeeded and that is still alive.
    pub fn teardown(&mut self) -> Result<(), CallError> {
        if self.lifecycle.is_none() || self.poisoned || !self.initialized {
            return Ok(());
        }
        self.initialized = false;
        self.guarded(CallKind::Teardown, |_, store, lc| match lc {
            Some(lc) => lc.teardown.call(store, ()),
            None => Ok(()),
        })
    }

    /// A source's next element, or `None` when exhausted.
    pub fn pull(&mut self) -> Result<Option<Emitted>, CallError> {
        let (r,) = self.guarded(CallKind::Element, |calls, store, _| match calls {
            Calls::Source { pull, .. } => pull.call(store, ()),
            _ => Err(wasmtime::format_err!("pull called on a stage that is not a source")),
        })?;
        match r.map_err(CallError::Guest)? {
            Some(out) => self.accept(out).map(Some),
            None => Ok(None),
        }
    }

    /// Tell a source about backpressure.
    pub fn notify(&mut self, signal: BackpressureSignal) -> Result<(), CallError> {
        self.guarded(CallKind::Element, |calls, store, _| match calls {
            Calls::Source { notify, .. } => notify.call(store, (signal,)),
            _ => Err(wasmtime::format_err!("notify-backpressure called on a stage that is not a source")),
        })
    }

    fn lend(&mut self, input: &Lent) -> (u32, StreamElement) {
        let rep = self.store.data_mut().handles.insert(input.handle, HandleKind::Borrowed);
        let element = StreamElement {
            meta: ElementMetaOut {
                sequence: input.sequence,
                timestamp_ns: input.timestamp_ns,
                content_type: Arc::clone(&input.content_type),
            },
            payload: Resource::new_borrow(rep),
            context: Resource::new_borrow(0),
        };
        (rep, element)
    }

    /// Lend `input` to the component for one call of `f` (which picks the
    /// function from `calls`, or `None` if the role has no `call`), under the
    /// per-call deadline. The borrow's rep is forgotten when the call returns.
    fn with_lent<R>(
        &mut self,
        input: &Lent,
        call: &'static str,
        f: impl FnOnce(&mut Calls, &mut Store<StageState>, StreamElement) -> Option<wasmtime::Result<Fallible<R>>>,
    ) -> Result<R, CallError> {
        let (rep, element) = self.lend(input);
        let result = self.guarded(CallKind::Element, |calls, store, _| {
            f(calls, store, element).unwrap_or_else(|| Err(wasmtime::format_err!("{call} called on a stage whose role has no {call}")))
        });
        self.store.data_mut().handles.remove(rep);
        result?.0.map_err(CallError::Guest)
    }

    /// A processor's answer for one lent element: `Some` when it emitted.
    pub fn process(&mut self, input: &Lent) -> Result<Option<Emitted>, CallError> {
        let r = self.with_lent(input, "process", |calls, store, el| match calls {
            Calls::Processor { process } => Some(process.call(store, (el,))),
            _ => None,
        })?;
        match r {
            ProcessResult::Emit(out) => self.accept(out).map(Some),
            ProcessResult::Drop => Ok(None),
        }
    }

    /// Deliver one lent element to a sink.
    pub fn push(&mut self, input: &Lent) -> Result<BackpressureSignal, CallError> {
        self.with_lent(input, "push", |calls, store, el| match calls {
            Calls::Sink { push, .. } => Some(push.call(store, (el,))),
            _ => None,
        })
    }

    /// A filter's verdict on one lent element: `true` passes it on.
    pub fn evaluate(&mut self, input: &Lent) -> Result<bool, CallError> {
        self.with_lent(input, "evaluate", |calls, store, el| match calls {
            Calls::Filter { evaluate } => Some(evaluate.call(store, (el,))),
            _ => None,
        })
    }

    /// The output ports a router sends one lent element to (empty = drop).
    pub fn route(&mut self, input: &Lent) -> Result<Vec<String>, CallError> {
        self.with_lent(input, "route", |calls, store, el| match calls {
            Calls::Router { route } => Some(route.call(store, (el,))),
            _ => None,
        })
    }

    /// An aggregator takes in one lent element; `Some` when it emitted.
    pub fn ingest(&mut self, input: &Lent) -> Result<Option<Emitted>, CallError> {
        let r = self.with_lent(input, "ingest", |calls, store, el| match calls {
            Calls::Aggregator { ingest, .. } => Some(ingest.call(store, (el,))),
            _ => None,
        })?;
        match r {
            Some(out) => self.accept(out).map(Some),
            None => Ok(None),
        }
    }

    /// An aggregator's remaining output once its upstream completed. Either
    /// every element is accepted, or none is (the ones taken so far go back
    /// to the pool) and the call fails.
    pub fn flush(&mut self) -> Result<Vec<Emitted>, CallError> {
        let (r,) = self.guarded(CallKind::Element, |calls, store, _| match calls {
            Calls::Aggregator { flush, .. } => flush.call(store, ()),
            _ => Err(wasmtime::format_err!("flush called on a stage that is not an aggregator")),
        })?;
        let outs = r.map_err(CallError::Guest)?;
        let mut accepted = Vec::with_capacity(outs.len());
        for out in outs {
            match self.accept(out) {
                Ok(e) => accepted.push(e),
                Err(err) => {
                    let mut table = self.store.data().buffers.lock();
                    for e in accepted {
                        let _ = table.release(e.handle, Owner::Host);
                    }
                    return Err(err);
                }
            }
        }
        Ok(accepted)
    }

    /// Tell a sink its upstream finished.
    pub fn complete(&mut self) -> Result<(), CallError> {
        let (r,) = self.guarded(CallKind::Element, |calls, store, _| match calls {
            Calls::Sink { complete, .. } => complete.call(store, ()),
            _ => Err(wasmtime::format_err!("complete called on a stage that is not a sink")),
        })?;
        r.map_err(CallError::Guest)
    }

    /// Take ownership of an element the component returned.
    fn accept(&mut self, out: OutputElement) -> Result<Emitted, CallError> {
        let st = self.store.data_mut();
        let rep = out.payload.rep();
        let fail = |what: String| CallError::Trap(format!("node `{}`: {what}", st.node));
        let (handle, kind) = st
            .handles
            .remove(rep)
            .ok_or_else(|| fail(format!("returned buffer handle {rep}, which it does not hold")))?;
        if kind != HandleKind::Owned {
            return Err(fail(format!("returned a {kind:?} handle as an owned buffer")));
        }
        let mut table = st.buffers.lock();
        table
            .transfer(handle, Owner::Component(st.stage), Owner::Host)
            .map_err(|e| fail(e.to_string()))?;
        if !out.meta.content_type.is_empty() {
            table
                .set_host_content_type(handle, &out.meta.content_type)
                .map_err(|e| fail(e.to_string()))?;
        }
        let content_type = table.content_type(handle).map_err(|e| fail(e.to_string()))?;
        Ok(Emitted { handle, content_type })
    }
}

impl Drop for Stage {
    /// Whatever the component still holds goes back to the flow's pool.
    fn drop(&mut self) {
        let st = self.store.data_mut();
        let held = st.handles.drain();
        let stage = st.stage;
        let mut table = st.buffers.lock();
        for (h, kind) in held {
            if matches!(kind, HandleKind::Mutable | HandleKind::Owned) {
                let _ = table.release(h, Owner::Component(stage));
            }
        }
    }
}
