//! Configuring a host before it starts its threads.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;

use super::{Host, HostError, HostState, Inner};
use crate::engine::{Engine, EngineSettings};
use crate::reactor::Reactor;

/// Builds a [`Host`]. Defaults: one worker thread, 256 MiB memory ceiling per
/// component instance, 256 instances alive at once.
#[derive(Debug, Clone)]
pub struct HostBuilder {
    worker_threads: usize,
    queue_depth: Option<usize>,
    engine: EngineSettings,
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            worker_threads: 1,
            queue_depth: None,
            engine: EngineSettings::default(),
        }
    }
}

impl HostBuilder {
    /// Reactor threads (at least 1).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }

    /// Ceiling on any instance's linear memory; a flow's `memory_limit` may be lower.
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.engine.max_memory_bytes = bytes;
        self
    }

    /// Capacity of every edge queue of flows started on this host, overriding
    /// the manifest's `queue_depth` (the low watermark becomes half of it).
    pub fn queue_depth(mut self, n: usize) -> Self {
        self.queue_depth = Some(n.max(1));
        self
    }

    /// Component instances alive at once across all flows.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.engine.max_instances = n;
        self
    }

    /// Create the engine and start the threads.
    pub fn build(self) -> Result<Host, HostError> {
        let engine = Arc::new(Engine::new(self.engine).map_err(|e| HostError::Start(e.to_string()))?);
        let reactor = Reactor::start(self.worker_threads, Arc::clone(&engine))
            .map_err(|e| HostError::Start(format!("cannot start worker threads: {e}")))?;
        Ok(Host {
            engine,
            inner: Mutex::new(Inner {
                state: HostState::Ready,
                reactor: Some(reactor),
                flows: Default::default(),
            }),
            next_id: AtomicU64::new(1),
            worker_threads: self.worker_threads,
            queue_depth: self.queue_depth,
        })
    }
}
