//! The reactor: dedicated OS threads that drive flows. No async runtime.
//!
//! A flow lives on one worker for its whole life, so its wasmtime `Store`s
//! never cross threads. A worker applies control messages, gives each
//! runnable flow a bounded turn, and parks when nothing can move, waking on
//! a message, a cancel request, or the earliest time a held stage may run.

mod endpoint;
mod flow;
mod mailbox;
mod queue;
mod shared;
mod summary;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use endpoint::{Egress, Element, EndpointError, Ingress};
pub use flow::{FlowDriver, Turn};
pub use mailbox::{Control, Mailbox};
pub use queue::EdgeQueue;
pub use shared::FlowShared;
pub use summary::{DirectionCopies, EdgeSummary, FailureKind, FlowSummary, StageSummary};

use crate::config::EndpointKind;
use crate::engine::{Busy, Engine};
use crate::linker::LinkedFlow;
use crate::config::ExhaustionPolicy;
use crate::observability::{EdgeMetrics, FlowMetrics, NodeMetrics};
use crate::resources::{Budget, BufferPool, BufferTable, POOL_DEPTH, PoolReserve, TierLimits};
use crate::types::{FlowId, StageId, deadline_after};

/// Rounds a flow may run before the worker moves on to the next flow.
const TURN_BUDGET: usize = 64;

/// A flow handed to a worker.
pub struct FlowTask {
    pub shared: Arc<FlowShared>,
    pub linked: LinkedFlow,
    pub table: Arc<parking_lot::Mutex<BufferTable>>,
}

impl FlowTask {
    /// Everything a flow needs before a worker takes it: its buffer table
    /// (endpoints use it from the program's threads at once) and endpoints.
    /// Idle pooled buffers count against the host's `reserve`.
    /// `traceparent`: the trace the flow continues (else a new one).
    pub fn prepare(id: FlowId, linked: LinkedFlow, mailbox: Arc<Mailbox>, reserve: &Arc<PoolReserve>, traceparent: Option<crate::observability::TraceParent>) -> FlowTask {
        let rt = &linked.runtime;
        let budgets = linked
            .stages
            .iter()
            .map(|s| Budget::new(s.node.max_buffers, s.node.max_buffer_bytes))
            .collect();
        let p = &rt.pools;
        let limits = TierLimits {
            kept: [p.small, p.medium, p.large, p.huge, POOL_DEPTH.min(p.huge)],
            fallback: p.exhaustion == ExhaustionPolicy::FallbackAlloc,
        };
        let pool = BufferPool::bounded(limits, rt.pool_max_bytes, Some(Arc::clone(reserve)));
        let table = Arc::new(parking_lot::Mutex::new(BufferTable::with_pool(budgets, rt.max_buffer_size, pool)));
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        for (i, s) in linked.stages.iter().enumerate() {
            match s.node.endpoint {
                Some(EndpointKind::Ingress) => ingress.push(Arc::new(Ingress::new(
                    s.node.name.clone(),
                    StageId::new(i as u32),
                    rt.queue_depth,
                    Arc::clone(&table),
                    Arc::clone(&mailbox),
                ))),
                Some(EndpointKind::Egress) => egress.push(Arc::new(Egress::new(
                    s.node.name.clone(),
                    rt.queue_depth,
                    Arc::clone(&table),
                    Arc::clone(&mailbox),
                ))),
                None => {}
            }
        }
        let nodes = linked.stages.iter().map(|s| NodeMetrics::new(&s.node.name, &s.node.component, s.node.endpoint.is_none())).collect();
        let edges = linked
            .graph
            .edges
            .iter()
            .map(|e| EdgeMetrics::new(&linked.stages[e.from].node.name, &e.port, &linked.stages[e.to].node.name))
            .collect();
        let metrics = Arc::new(FlowMetrics::new(rt.observability, nodes, edges));
        let trace = crate::observability::FlowTrace::new(traceparent, rt.tracing.clone());
        let audit = crate::security::AuditLog::new(&linked.name, id.get(), &linked.runtime.audit);
        let shared = Arc::new(FlowShared::new(id, linked.name.clone(), mailbox, ingress, egress, metrics, Arc::clone(&table), trace, audit));
        FlowTask { shared, linked, table }
    }
}

struct Worker {
    mailbox: Arc<Mailbox>,
    load: Arc<AtomicUsize>,
    stats: Arc<WorkerStats>,
    thread: Option<JoinHandle<()>>,
}

/// What a worker's scheduler did: written by the worker, read by anyone.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Times the worker went to sleep with nothing to do and woke again.
    wakeups: AtomicU64,
    /// Time spent asleep, ns.
    idle_ns: AtomicU64,
}



/// The worker threads of one host.
pub struct Reactor {
    workers: Vec<Worker>,
    exited: mpsc::Receiver<usize>,
}

impl Reactor {
    /// Start `threads` workers sharing `engine`.
    pub fn start(threads: usize, engine: Arc<Engine>) -> std::io::Result<Reactor> {
        let (tx, exited) = mpsc::channel();
        let mut workers = Vec::with_capacity(threads);
        for index in 0..threads.max(1) {
            let mailbox = Arc::new(Mailbox::default());
            let load = Arc::new(AtomicUsize::new(0));
            let stats = Arc::new(WorkerStats::default());
            let (mb, ld, st, eng, tx) = (Arc::clone(&mailbox), Arc::clone(&load), Arc::clone(&stats), Arc::clone(&engine), tx.clone());
            let thread = std::thread::Builder::new()
                // Guest code runs on this stack: room for the largest Wasm
                // stack a flow may ask for, plus the host's own frames.
                .stack_size(crate::engine::MAX_WASM_STACK + (4 << 20))
                .name(format!("torvyn-worker-{index}"))
                .spawn(move || {
                    run(&mb, &ld, &st, &eng);
                    let _ = tx.send(index);
                })?;
            workers.push(Worker {
                mailbox,
                load,
                stats,
                thread: Some(thread),
            });
        }
        Ok(Reactor { workers, exited })
    }

    /// What the workers' schedulers did so far.
    pub fn stats(&self) -> crate::observability::SchedulerStats {
        let mut total = crate::observability::SchedulerStats { workers: self.workers.len() as u64, ..Default::default() };
        for w in &self.workers {
            total.wakeups += w.stats.wakeups.load(Ordering::Relaxed);
            total.idle_ns += w.stats.idle_ns.load(Ordering::Relaxed);
        }
        total
    }

    /// The mailbox of the least-loaded worker (a new flow goes there).
    pub fn pick(&self) -> Arc<Mailbox> {
        let w = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
            .expect("a reactor has at least one worker");
        w.load.fetch_add(1, Ordering::Relaxed);
        Arc::clone(&w.mailbox)
    }

    /// Ask every worker to cancel its flows and exit, and wait up to
    /// `timeout` for them. Returns how many workers did not stop in time
    /// (they are left detached; a guest call in progress ends at its deadline).
    pub fn shutdown(&mut self, timeout: Duration) -> usize {
        for w in &self.workers {
            w.mailbox.send(Control::Shutdown);
        }
        let deadline = deadline_after(timeout);
        let mut remaining = self.workers.iter().filter(|w| w.thread.is_some()).count();
        while remaining > 0 {
            let received = match deadline {
                Some(d) => self.exited.recv_timeout(d.saturating_duration_since(Instant::now())).ok(),
                None => self.exited.recv().ok(),
            };
            match received {
                Some(index) => {
                    if let Some(t) = self.workers[index].thread.take() {
                        let _ = t.join();
                    }
                    remaining -= 1;
                }
                None => break,
            }
        }
        remaining
    }
}

fn run(mailbox: &Mailbox, load: &AtomicUsize, stats: &WorkerStats, engine: &Engine) {
    let mut flows: Vec<FlowDriver> = Vec::new();
    // The epoch ticker runs while some worker is busy (not parked).
    let mut busy = Some(Busy::begin());
    loop {
        let mut shutdown = false;
        for msg in mailbox.take() {
            match msg {
                Control::Start(task) => {
                    if shutdown {
                        task.shared.request_cancel();
                    }
                    flows.push(FlowDriver::start(*task));
                }
                Control::Shutdown => shutdown = true,
            }
        }
        if shutdown {
            for mut f in flows.drain(..) {
                f.cancel();
            }
            load.store(0, Ordering::Relaxed);
            return;
        }
        let mut progressed = false;
        let mut wake: Option<Instant> = None;
        flows.retain_mut(|f| match f.turn(TURN_BUDGET, engine) {
            Turn::Progress => {
                progressed = true;
                true
            }
            Turn::Idle(at) => {
                wake = match (wake, at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                true
            }
            Turn::Done => false,
        });
        load.store(flows.len(), Ordering::Relaxed);
        if !progressed {
            drop(busy.take());
            let slept = crate::observability::Tick::now();
            mailbox.park(wake);
            stats.idle_ns.fetch_add(crate::observability::Tick::now().nanos_since(slept), Ordering::Relaxed);
            stats.wakeups.fetch_add(1, Ordering::Relaxed);
            busy = Some(Busy::begin());
        }
    }
}
