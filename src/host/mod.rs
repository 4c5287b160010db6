//! `Host` and `HostBuilder`: the embedding API. A host owns the engine, the
//! reactor threads and the flows it started.
//!
//! Life cycle: Ready → Running (a flow was started) → ShuttingDown → Stopped.
//! Dropping a `Host` shuts it down. `Host` and [`Flow`] are `Send + Sync`.

mod builder;
mod error;
mod flow;

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

pub use builder::HostBuilder;
pub use error::HostError;
pub use flow::Flow;


use crate::config::PipelineDef;
use crate::contracts::Role;
use crate::engine::Engine;
use crate::resources::PoolReserve;
use crate::linker;
use crate::observability::{HostSnapshot, MetricsServer, MetricsSnapshot};
use crate::reactor::{Control, FlowShared, FlowSummary, FlowTask, Reactor};
use crate::types::{FlowId, FlowState};

/// Where the host is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    /// Built; no flow started yet.
    Ready,
    /// At least one flow was started.
    Running,
    /// `shutdown` is in progress; no new flows are accepted.
    ShuttingDown,
    /// Every worker stopped; the host only answers queries.
    Stopped,
}

/// What `shutdown` did.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    /// Flows that were still in flight and got cancelled.
    pub cancelled: Vec<FlowId>,
    /// Summaries of the flows the host still knew: those in flight and
    /// ended ones the program still held.
    pub flows: Vec<FlowSummary>,
    /// Workers that did not stop within the timeout (0 when clean).
    pub workers_still_running: usize,
}

/// Flows the host can still name. An entry is weak: a flow is kept alive by
/// its worker while it runs and by the program's handles; once it ended and
/// its last handle is dropped it is gone, and its entry is pruned on the next
/// start. So a host that runs flows one after another for weeks holds only
/// the ones still running or still referenced.
struct Inner {
    state: HostState,
    reactor: Option<Reactor>,
    flows: BTreeMap<FlowId, Weak<FlowShared>>,
}

impl Inner {
    /// Every flow still alive.
    fn live(&self) -> Vec<Arc<FlowShared>> {
        self.flows.values().filter_map(Weak::upgrade).collect()
    }
}

/// The host's metrics now: every flow it knows, and the host-wide figures.
/// The host lock is held only to list the flows.
fn snapshot(inner: &Mutex<Inner>, reserve: &PoolReserve) -> HostSnapshot {
    let (flows, scheduler) = {
        let inner = inner.lock();
        (inner.live(), inner.reactor.as_ref().map(Reactor::stats).unwrap_or_default())
    };
    let flows: Vec<MetricsSnapshot> = flows.iter().map(|f| f.metrics_snapshot()).collect();
    let active: Vec<&MetricsSnapshot> = flows.iter().filter(|f| !f.state.is_terminal()).collect();
    let instances = || active.iter().flat_map(|f| f.nodes.iter()).filter(|n| n.instance);
    let memory_linear_bytes = instances().map(|n| n.memory_bytes).sum();
    let memory_host_bytes = reserve.idle_bytes() + active.iter().map(|f| f.buffers_held_bytes).sum::<u64>();
    HostSnapshot {
        flows_active: active.len() as u64,
        components_active: instances().count() as u64,
        memory_linear_bytes,
        memory_host_bytes,
        memory_total_bytes: memory_linear_bytes + memory_host_bytes,
        scheduler,
        spans_dropped: crate::observability::spans_dropped(),
        metric_pushes_failed: crate::observability::metric_pushes_failed(),
        flows,
    }
}

/// How to start a flow, beyond what its manifest says.
#[derive(Debug, Clone, Default)]
pub struct FlowOptions {
    /// Continue this W3C trace (`"00-<trace id>-<parent id>-<flags>"`
    /// parsed with `str::parse`): the flow's trace id is its trace id, its
    /// root span's parent is its parent id, and its sampled flag decides
    /// export.
    pub traceparent: Option<crate::observability::TraceParent>,
}

/// A Torvyn runtime embedded in this process.
pub struct Host {
    engine: Arc<Engine>,
    /// Engines for flows that meter fuel or set another stack size.
    other_engines: Mutex<Vec<Arc<Engine>>>,
    /// Shared with a metrics endpoint's thread, which reads the flows.
    inner: Arc<Mutex<Inner>>,
    next_id: AtomicU64,
    worker_threads: usize,
    queue_depth: Option<usize>,
    /// Ceiling on any instance's linear memory for this host's flows.
    max_memory_bytes: u64,
    /// Idle pooled buffer bytes of all this host's flows, and their bound.
    pool_reserve: Arc<PoolReserve>,
    /// Audit destination of flows whose manifest names none.
    audit: Mutex<Option<crate::security::AuditDestination>>,
}

/// Record the capability refusals of a flow that did not link.
fn audit_link_denials(e: &linker::LinkError, flow: &str, audit: &crate::security::AuditConfig) {
    let all = match e {
        linker::LinkError::Several(v) => v.iter().collect(),
        e => vec![e],
    };
    let mut cached = None;
    for e in all {
        let log = || crate::security::AuditLog::new(flow, 0, audit);
        match e {
            linker::LinkError::MissingCapability { node, component, capability, imports, digest, .. } => {
                let log = cached.get_or_insert_with(log);
                for import in imports {
                    log.link_denied(node, component, digest, capability, import);
                }
            }
            linker::LinkError::MissingRequired { node, component, capability, digest } => {
                cached.get_or_insert_with(log).link_denied(node, component, digest, capability, "[capabilities.required]");
            }
            _ => {}
        }
    }
}

impl Host {
    /// Start configuring a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The host's state.
    pub fn state(&self) -> HostState {
        self.inner.lock().state
    }

    /// Every flow's metrics and the host's own, now (serde: JSON; the
    /// Prometheus text with [`crate::observability::prometheus_text`]).
    pub fn metrics(&self) -> HostSnapshot {
        snapshot(&self.inner, &self.pool_reserve)
    }

    /// Serve [`Host::metrics`] over HTTP at `addr` (`GET /metrics`, the
    /// Prometheus text format; `GET /metrics.json`) until the returned
    /// server is dropped. Port 0 picks a free port ([`MetricsServer::addr`]).
    pub fn serve_metrics(&self, addr: &str) -> Result<MetricsServer, HostError> {
        let (inner, reserve) = (Arc::clone(&self.inner), Arc::clone(&self.pool_reserve));
        Ok(MetricsServer::start(addr, Arc::new(move || snapshot(&inner, &reserve)))?)
    }

    /// Push [`Host::metrics`] to an OTLP/HTTP collector (`url` ending in
    /// `/v1/metrics`) every `interval`, and once more when the returned
    /// pusher is dropped. Pushing runs on its own thread.
    pub fn push_metrics_otlp(&self, url: &str, encoding: crate::observability::OtlpEncoding, interval: Duration) -> Result<crate::observability::MetricsPusher, HostError> {
        let (inner, reserve) = (Arc::clone(&self.inner), Arc::clone(&self.pool_reserve));
        crate::observability::MetricsPusher::start(url.to_string(), encoding, interval, Arc::new(move || snapshot(&inner, &reserve)))
            .map_err(|e| HostError::Start(format!("cannot start the metrics pusher: {e}")))
    }

    /// Reactor threads.
    pub fn worker_threads(&self) -> usize {
        self.worker_threads
    }

    /// Bytes of idle buffers all of this host's flows keep pooled now
    /// (bounded by [`HostBuilder::pool_max_bytes`]).
    pub fn pooled_bytes(&self) -> u64 {
        self.pool_reserve.idle_bytes()
    }

    /// The role each node of `flow` plays, in the manifest's order (each
    /// component compiled through the host's cache, so a later
    /// `start_flow` does not compile it again). Nothing is checked beyond
    /// what compiling needs: a flow without a source or a sink still
    /// answers, which is how a runner decides what to wire around it.
    pub fn node_roles(&self, pipeline: &PipelineDef, flow: &str) -> Result<Vec<(String, Role)>, HostError> {
        let engine = self.engine_for(pipeline, flow)?;
        Ok(linker::node_roles(&engine, pipeline, flow)?)
    }

    /// The engine a flow runs on: the host's, or one that meters fuel or
    /// gives another Wasm stack size (kept for the host's life, so its
    /// compiled components are reused).
    fn engine_for(&self, pipeline: &PipelineDef, flow: &str) -> Result<Arc<Engine>, HostError> {
        let metering = pipeline.flow(flow).is_some_and(|f| pipeline.runtime.fuel.is_some() || f.nodes.iter().any(|n| n.fuel.is_some_and(|b| b > 0)));
        // Stack sizes are rounded up to a power of two, so however many
        // sizes manifests ask for, a host keeps at most a few engines.
        let stack = pipeline.runtime.max_stack_bytes.map_or(self.engine.settings.max_stack_bytes, |s| s.next_power_of_two().min(crate::engine::MAX_WASM_STACK));
        let settings = crate::engine::EngineSettings {
            fuel: metering,
            max_stack_bytes: stack,
            ..self.engine.settings.clone()
        };
        if settings == self.engine.settings {
            return Ok(Arc::clone(&self.engine));
        }
        let mut others = self.other_engines.lock();
        if let Some(e) = others.iter().find(|e| e.settings == settings) {
            return Ok(Arc::clone(e));
        }
        let engine = Engine::shared(settings).map_err(|e| HostError::Start(format!("cannot make an engine for this flow's fuel or stack settings: {e}")))?;
        others.push(Arc::clone(&engine));
        Ok(engine)
    }

    /// Link flow `flow` of `pipeline` (compiling its components, checking
    /// roles) and start it on a worker. Errors here mean nothing ran.
    pub fn start_flow(&self, pipeline: &PipelineDef, flow: &str) -> Result<Flow, HostError> {
        self.start_flow_with(pipeline, flow, &FlowOptions::default())
    }

    /// [`Host::start_flow`], with `options` (a `traceparent` the flow's
    /// trace continues).
    pub fn start_flow_with(&self, pipeline: &PipelineDef, flow: &str, options: &FlowOptions) -> Result<Flow, HostError> {
        {
            let inner = self.inner.lock();
            if matches!(inner.state, HostState::ShuttingDown | HostState::Stopped) {
                return Err(HostError::ShutDown);
            }
        }
        let ceiling = self.max_memory_bytes;
        let requested = pipeline
            .flow(flow)
            .into_iter()
            .flat_map(|f| f.nodes.iter().filter_map(|n| n.memory_limit))
            .fold(pipeline.runtime.memory_limit, u64::max);
        if requested > ceiling {
            return Err(HostError::MemoryCeiling { requested, ceiling });
        }
        let engine = self.engine_for(pipeline, flow)?;
        let mut audit = pipeline.runtime.audit.clone();
        if audit.destination.is_none() {
            audit.destination = self.audit.lock().clone();
        }
        let mut linked = linker::link(&engine, pipeline, flow).inspect_err(|e| audit_link_denials(e, flow, &audit))?;
        linked.runtime.audit = audit;
        if !Arc::ptr_eq(&engine, &self.engine) {
            linked.engine = Some(engine);
        }
        if let Some(depth) = self.queue_depth {
            linked.runtime.queue_depth = depth;
        }
        let mut inner = self.inner.lock();
        let Some(reactor) = inner.reactor.as_ref() else {
            return Err(HostError::ShutDown);
        };
        if matches!(inner.state, HostState::ShuttingDown | HostState::Stopped) {
            return Err(HostError::ShutDown);
        }
        let id = FlowId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let mailbox = reactor.pick();
        let task = FlowTask::prepare(id, linked, Arc::clone(&mailbox), &self.pool_reserve, options.traceparent);
        let shared = Arc::clone(&task.shared);
        mailbox.send(Control::Start(Box::new(task)));
        inner.flows.retain(|_, f| f.strong_count() > 0);
        inner.flows.insert(id, Arc::downgrade(&shared));
        inner.state = HostState::Running;
        log::info!("started {id} `{flow}`");
        Ok(Flow::new(shared))
    }

    /// Where the audit events of flows started from now on go when their
    /// manifest names no file or stdout destination (see
    /// [`HostBuilder::audit_sink`]); `None` stops it for new flows.
    pub fn set_audit_sink(&self, sink: Option<Box<dyn Fn(&crate::security::AuditEvent) + Send + Sync>>) {
        let new = sink.map(|f| crate::security::AuditDestination::Callback(crate::security::AuditCallback::new(f)));
        // The old sink is dropped after the lock is let go: dropping it may
        // run the embedder's code (a C `user_data_free`).
        let old = std::mem::replace(&mut *self.audit.lock(), new);
        drop(old);
    }

    /// Start the manifest's default flow (`main`, or its only flow).
    pub fn start_default_flow(&self, pipeline: &PipelineDef) -> Result<Flow, HostError> {
        let name = pipeline
            .default_flow()
            .ok_or_else(|| HostError::NoDefaultFlow {
                known: pipeline.flows.iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", "),
            })?
            .name
            .clone();
        self.start_flow(pipeline, &name)
    }

    fn shared(&self, id: FlowId) -> Result<Arc<FlowShared>, HostError> {
        self.inner.lock().flows.get(&id).and_then(Weak::upgrade).ok_or(HostError::UnknownFlow(id))
    }

    /// A flow's current state.
    pub fn flow_state(&self, id: FlowId) -> Result<FlowState, HostError> {
        Ok(self.shared(id)?.state())
    }

    /// Wait for a flow to end (up to `timeout`; `None` waits forever).
    pub fn wait(&self, id: FlowId, timeout: Option<Duration>) -> Result<FlowSummary, HostError> {
        Flow::new(self.shared(id)?).wait(timeout)
    }

    /// Ask a flow to stop. Returns at once; `wait` for the outcome.
    pub fn cancel_flow(&self, id: FlowId) -> Result<(), HostError> {
        self.shared(id)?.request_cancel();
        Ok(())
    }

    /// The flows this host still knows, with their names and states: those
    /// running, and ended ones the program still holds a handle to.
    pub fn list_flows(&self) -> Vec<(FlowId, String, FlowState)> {
        let live = self.inner.lock().live();
        live.iter().map(|f| (f.id, f.name.clone(), f.state())).collect()
    }

    /// Forget an ended flow now, even while handles to it remain (ended
    /// flows are forgotten anyway once their last handle is dropped).
    /// Returns its summary; a flow still running is not removed.
    pub fn remove_flow(&self, id: FlowId) -> Result<FlowSummary, HostError> {
        let mut inner = self.inner.lock();
        let shared = inner.flows.get(&id).and_then(Weak::upgrade).ok_or(HostError::UnknownFlow(id))?;
        let summary = shared.summary().ok_or(HostError::StillRunning {
            flow: id,
            state: shared.state(),
        })?;
        inner.flows.remove(&id);
        Ok(summary)
    }

    /// A handle to a flow started earlier.
    pub fn flow(&self, id: FlowId) -> Result<Flow, HostError> {
        Ok(Flow::new(self.shared(id)?))
    }

    /// Cancel every flow in flight, tear every component down and stop the
    /// workers, waiting up to `timeout`. A call in progress (Wasm code or a
    /// WASI wait) is stopped within a few milliseconds. Later calls return
    /// the same picture.
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let (mut reactor, flows) = {
            let mut inner = self.inner.lock();
            if inner.state != HostState::Stopped {
                inner.state = HostState::ShuttingDown;
            }
            (inner.reactor.take(), inner.live())
        };
        let cancelled: Vec<FlowId> = flows.iter().filter(|f| !f.state().is_terminal()).map(|f| f.id).collect();
        for f in &flows {
            f.request_cancel();
        }
        let stuck = reactor.as_mut().map_or(0, |r| r.shutdown(timeout));
        // Ended flows handed their last spans over; give exporters a moment.
        crate::observability::flush_spans(timeout.min(Duration::from_secs(2)));
        crate::security::flush_audit(timeout.min(Duration::from_secs(2)));
        drop(reactor);
        self.inner.lock().state = HostState::Stopped;
        if stuck > 0 {
            log::error!("{stuck} worker thread(s) did not stop within {timeout:?}");
        }
        ShutdownReport {
            cancelled,
            flows: flows.iter().filter_map(|f| f.summary()).collect(),
            workers_still_running: stuck,
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.inner.lock().reactor.is_some() {
            self.shutdown(Duration::from_secs(10));
        }
    }
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<super::Host>();
        assert_send_sync::<super::Flow>();
    }
}
