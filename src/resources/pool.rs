//! Tiered pools of byte vectors, so a flow in steady state allocates nothing.
//!
//! A pooled buffer is an `Arc<Vec<u8>>` whose reference count is 1 while it
//! sits in the pool or is being written. The `Arc` lets a full read hand the
//! bytes to wasmtime's lowering without copying them first on the host; the
//! extra reference ends before the host call returns. Keeping large (1 MiB)
//! vectors here matters: glibc returns freshly freed large blocks to the
//! kernel, and re-faulting them costs far more than the copy itself.

use std::sync::Arc;

/// Size classes. A request is served from the smallest tier that fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Up to 4 KiB.
    Small,
    /// Up to 64 KiB.
    Medium,
    /// Up to 1 MiB.
    Large,
    /// Above 1 MiB (exact capacity, reused when big enough).
    Huge,
}

const TIER_CAPACITY: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];

impl Tier {
    /// The tier serving `len` bytes.
    pub fn for_len(len: usize) -> Tier {
        match len {
            l if l <= TIER_CAPACITY[0] => Tier::Small,
            l if l <= TIER_CAPACITY[1] => Tier::Medium,
            l if l <= TIER_CAPACITY[2] => Tier::Large,
            _ => Tier::Huge,
        }
    }

    fn index(self) -> usize {
        match self {
            Tier::Small => 0,
            Tier::Medium => 1,
            Tier::Large => 2,
            Tier::Huge => 3,
        }
    }

    /// Capacity of a fresh buffer of this tier for a request of `len` bytes.
    fn capacity_for(self, len: usize) -> usize {
        match self {
            Tier::Huge => len,
            t => TIER_CAPACITY[t.index()],
        }
    }
}

/// Counters that show whether the pool is doing its job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created because the tier's free list was empty.
    pub allocations: u64,
    /// Requests served from a free list.
    pub reuses: u64,
    /// Buffers dropped on return because the free list was full.
    pub discarded: u64,
}

/// Free lists per tier. Not thread-safe by itself; the owning table is.
#[derive(Debug)]
pub struct BufferPool {
    free: [Vec<Arc<Vec<u8>>>; 4],
    /// Most buffers each tier keeps; beyond it returned buffers are freed.
    max_free_per_tier: usize,
    stats: PoolStats,
}

impl BufferPool {
    /// A pool keeping at most `max_free_per_tier` idle buffers per tier.
    pub fn new(max_free_per_tier: usize) -> Self {
        BufferPool {
            free: Default::default(),
            max_free_per_tier,
            stats: PoolStats::default(),
        }
    }

    /// An empty vector with capacity of at least `len`, uniquely owned.
    pub fn take(&mut self, len: usize) -> Arc<Vec<u8>> {
        let tier = Tier::for_len(len);
        let list = &mut self.free[tier.index()];
        let found = if tier == Tier::Huge {
            list.iter()
                .position(|b| b.capacity() >= len)
                .map(|i| list.swap_remove(i))
        } else {
            list.pop()
        };
        match found {
            Some(buf) => {
                self.stats.reuses += 1;
                buf
            }
            None => {
                self.stats.allocations += 1;
                Arc::new(Vec::with_capacity(tier.capacity_for(len)))
            }
        }
    }

    /// Return a vector. It is emptied and kept if its tier has room and no
    /// other reference to it is alive; otherwise it is freed.
    pub fn give(&mut self, mut buf: Arc<Vec<u8>>) {
        let Some(bytes) = Arc::get_mut(&mut buf) else {
            self.stats.discarded += 1;
            return;
        };
        bytes.clear();
        let list = &mut self.free[Tier::for_len(bytes.capacity()).index()];
        if list.len() < self.max_free_per_tier {
            list.push(buf);
        } else {
            self.stats.discarded += 1;
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Idle buffers held, per tier (Small, Medium, Large, Huge).
    pub fn idle(&self) -> [usize; 4] {
        [0, 1, 2, 3].map(|i| self.free[i].len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_and_reuse() {
        let mut pool = BufferPool::new(4);
        let a = pool.take(10);
        assert_eq!(a.capacity(), 4096);
        let b = pool.take(5000);
        assert_eq!(b.capacity(), 64 << 10);
        let c = pool.take(1 << 20);
        assert_eq!(c.capacity(), 1 << 20);
        let d = pool.take((1 << 20) + 1);
        assert!(d.capacity() > 1 << 20);
        let a_ptr = a.as_ptr();
        pool.give(a);
        let again = pool.take(100);
        assert_eq!(again.as_ptr(), a_ptr, "a returned buffer is reused");
        assert_eq!(pool.stats().allocations, 4);
        assert_eq!(pool.stats().reuses, 1);
    }

    #[test]
    fn shared_buffers_are_not_pooled() {
        let mut pool = BufferPool::new(4);
        let a = pool.take(10);
        let other = Arc::clone(&a);
        pool.give(a);
        assert_eq!(pool.idle(), [0, 0, 0, 0]);
        assert_eq!(pool.stats().discarded, 1);
        drop(other);
    }
}
