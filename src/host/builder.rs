//! Configuring a host before it starts its threads.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;

use super::{Host, HostError, HostState, Inner};
use crate::config::{MAX_QUEUE_DEPTH, MAX_WORKER_THREADS, MIN_MEMORY_LIMIT};
use crate::engine::{CacheLocation, Engine, EngineSettings, MAX_INSTANCES, MAX_LINEAR_MEMORY};
use crate::reactor::Reactor;
use crate::resources::PoolReserve;


/// Builds a [`Host`]. Defaults: one worker thread, 256 MiB memory ceiling per
/// component instance, an instance pool of 1,000.
#[derive(Debug, Clone)]
pub struct HostBuilder {
    worker_threads: usize,
    queue_depth: Option<usize>,
    pool_max_bytes: u64,
    engine: EngineSettings,
    audit: Option<crate::security::AuditDestination>,
    cache: CacheLocation,
}

/// Default bound on the idle pooled buffer bytes of all of a host's flows.
pub const DEFAULT_HOST_POOL_BYTES: u64 = 512 << 20;

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            worker_threads: 1,
            queue_depth: None,
            pool_max_bytes: DEFAULT_HOST_POOL_BYTES,
            engine: EngineSettings::default(),
            audit: None,
            cache: CacheLocation::UserDefault,
        }
    }
}

impl HostBuilder {
    /// Where the audit events of this host's flows go when their manifest
    /// names no `audit_target` file or stdout (`audit_target =
    /// "event-sink"`): called on the audit writer thread, in order, never on
    /// a worker; events that do not fit its bounded queue are dropped and
    /// counted.
    pub fn audit_sink(mut self, sink: impl Fn(&crate::security::AuditEvent) + Send + Sync + 'static) -> Self {
        self.audit = Some(crate::security::AuditDestination::Callback(crate::security::AuditCallback::new(sink)));
        self
    }

    /// Where compiled components are kept between processes (default: the
    /// user cache directory: `$TORVYN_HOME/cache`, else
    /// `$XDG_CACHE_HOME/torvyn`, else `~/.cache/torvyn`). A new process that
    /// finds a component there, sealed by this user's Torvyn, loads its
    /// machine code instead of compiling it. A directory that is not
    /// private to this user, or cannot be created, is logged and not used
    /// (components are then compiled in memory, as with
    /// [`CacheLocation::Off`]). Hosts of one process with different
    /// locations do not share an engine (nor its instance pool). Pulled
    /// `oci://` artifacts always live in the user cache directory.
    pub fn compilation_cache(mut self, location: CacheLocation) -> Self {
        self.cache = location;
        self
    }

    /// Reactor threads, 1 to 256 (checked by [`HostBuilder::build`]).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n;
        self
    }

    /// Ceiling on any instance's linear memory, 1 MiB to 4 GiB; a flow's
    /// `memory_limit` may be lower.
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.engine.max_memory_bytes = bytes;
        self
    }

    /// Queue capacity of the edges of flows started on this host that set
    /// none of their own: it replaces the manifest's `[runtime]` default
    /// (an edge's `queue_depth` or its flow's `default_queue_depth` still
    /// wins; the low watermark keeps its ratio); 1 to 1,048,576.
    pub fn queue_depth(mut self, n: usize) -> Self {
        self.queue_depth = Some(n);
        self
    }

    /// Idle buffer bytes all flows of this host keep pooled together
    /// (default 512 MiB; each flow also keeps at most its own
    /// `pool_max_bytes`). Buffers returned beyond it are freed.
    pub fn pool_max_bytes(mut self, bytes: u64) -> Self {
        self.pool_max_bytes = bytes;
        self
    }

    /// Slots of the instance pool (each stage of each flow uses one while
    /// the flow lives; default 1,000, up to 10,000). Instances beyond it are
    /// allocated on demand. Hosts of one process with the same settings
    /// share one pool.
    /// The most Wasm stack one call may use, 64 KiB to 8 MiB (default 512
    /// KiB); a flow's `[runtime] max_stack_size` overrides it for that flow.
    pub fn max_stack_bytes(mut self, n: usize) -> Self {
        self.engine.max_stack_bytes = n;
        self
    }

    pub fn max_instances(mut self, n: u32) -> Self {
        self.engine.max_instances = n;
        self
    }

    /// Every option within its range, or an error naming the first that is not.
    fn validate(&self) -> Result<(), HostError> {
        let bad = |option: &'static str, value: u64, allowed: &'static str| {
            Err(HostError::InvalidOption { option, value, allowed })
        };
        if !(1..=MAX_WORKER_THREADS).contains(&self.worker_threads) {
            return bad("worker_threads", self.worker_threads as u64, "1 to 256");
        }
        if !(MIN_MEMORY_LIMIT..=MAX_LINEAR_MEMORY).contains(&self.engine.max_memory_bytes) {
            return bad(
                "memory_limit",
                self.engine.max_memory_bytes,
                "1 MiB to 4 GiB (1048576 to 4294967296 bytes; a 32-bit linear memory holds at most 4 GiB)",
            );
        }
        if !(crate::engine::MIN_WASM_STACK..=crate::engine::MAX_WASM_STACK).contains(&self.engine.max_stack_bytes) {
            return bad("max_stack_bytes", self.engine.max_stack_bytes as u64, "64 KiB to 8 MiB (65536 to 8388608 bytes)");
        }
        if !(1..=MAX_INSTANCES).contains(&self.engine.max_instances) {
            return bad("max_instances", u64::from(self.engine.max_instances), "1 to 10000");
        }
        if let Some(depth) = self.queue_depth {
            if !(1..=MAX_QUEUE_DEPTH).contains(&depth) {
                return bad("queue_depth", depth as u64, "1 to 1048576");
            }
        }
        Ok(())
    }

    /// Check every option, create the engine and start the threads.
    pub fn build(self) -> Result<Host, HostError> {
        self.validate()?;
        // Calibrated here, not on some flow's first call.
        crate::observability::warm_up_clock();
        let max_memory_bytes = self.engine.max_memory_bytes;
        let mut settings = self.engine;
        settings.cache = self.cache.open();
        let engine = Engine::shared(settings).map_err(|e| HostError::Start(e.to_string()))?;
        let reactor = Reactor::start(self.worker_threads, Arc::clone(&engine))
            .map_err(|e| HostError::Start(format!("cannot start worker threads: {e}")))?;
        Ok(Host {
            engine,
            other_engines: Default::default(),
            inner: Arc::new(Mutex::new(Inner {
                state: HostState::Ready,
                reactor: Some(reactor),
                flows: Default::default(),
            })),
            next_id: AtomicU64::new(1),
            worker_threads: self.worker_threads,
            queue_depth: self.queue_depth,
            max_memory_bytes,
            pool_reserve: PoolReserve::new(self.pool_max_bytes),
            audit: Mutex::new(self.audit),
        })
    }
}
