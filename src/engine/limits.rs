//! The store limiter of one stage: wasmtime's limits, plus the size of the
//! instance's linear memories as they grow (wasmtime does not report it),
//! for the `memory_bytes` metric.

use wasmtime::{ResourceLimiter, StoreLimits};

pub struct StageLimits {
    inner: StoreLimits,
    /// Bytes of linear memory the instance holds now (all its memories).
    memory: u64,
}

impl StageLimits {
    pub fn new(inner: StoreLimits) -> StageLimits {
        StageLimits { inner, memory: 0 }
    }

    /// Bytes of linear memory the instance holds now.
    pub fn memory_bytes(&self) -> u64 {
        self.memory
    }
}

impl ResourceLimiter for StageLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory = self.memory.saturating_add((desired - current.min(desired)) as u64);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
