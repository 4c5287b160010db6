//! The store limiter of one stage: wasmtime's limits, plus the size of the
//! instance's linear memories as they grow (wasmtime does not report it),
//! for the `memory_bytes` metric.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

pub struct StageLimits {
    inner: StoreLimits,
    memory_limit: usize,
    table_limit: usize,
    /// Bytes of linear memory the instance holds now (all its memories).
    memory: u64,
}

impl StageLimits {
    /// A stage's limits: `memory` bytes of linear memory and
    /// `table_elements` per table. Growing past either traps (rather than
    /// letting the guest see a failed `grow` and carry on), so the call
    /// fails and the node's error policy applies.
    pub fn for_stage(memory: usize, table_elements: u64) -> StageLimits {
        let table_limit = usize::try_from(table_elements).unwrap_or(usize::MAX);
        let inner = StoreLimitsBuilder::new().memory_size(memory).table_elements(table_limit).trap_on_grow_failure(true).build();
        StageLimits { inner, memory_limit: memory, table_limit, memory: 0 }
    }

    /// Bytes of linear memory the instance holds now.
    pub fn memory_bytes(&self) -> u64 {
        self.memory
    }
}

impl ResourceLimiter for StageLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            return Err(wasmtime::format_err!(
                "linear memory would grow to {desired} bytes, over this node's memory limit of {} bytes (`max_memory` / `max_memory_per_component`)",
                self.memory_limit
            ));
        }
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
        if desired > self.table_limit {
            return Err(wasmtime::format_err!(
                "a table would grow to {desired} elements, over this node's limit of {} (`max_table_elements`)",
                self.table_limit
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Engine, Instance, Module, Store};

    /// A module that grows its function table by `n` elements at a time,
    /// forever. Rust guests cannot emit `table.grow`, so the limit is shown
    /// on a hand-written module under the same limiter as every stage.
    const TABLE_HOG: &str = r#"(module
        (table $t 1 funcref)
        (func (export "hog") (param $n i32)
            (loop $again
                (drop (table.grow $t (ref.null func) (local.get $n)))
                (br $again))))"#;

    #[test]
    fn growing_a_table_past_its_limit_traps() {
        let engine = Engine::default();
        let module = Module::new(&engine, wat::parse_str(TABLE_HOG).unwrap()).unwrap();
        let mut store = Store::new(&engine, StageLimits::for_stage(64 << 20, 10_000));
        store.limiter(|s| s);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let hog = instance.get_typed_func::<i32, ()>(&mut store, "hog").unwrap();
        let err = hog.call(&mut store, 1000).unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("a table would grow to 10001 elements, over this node's limit of 10000 (`max_table_elements`)"), "{text}");
    }
}
