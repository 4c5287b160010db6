//! Tiered pools of byte vectors, so a flow in steady state allocates nothing.
//!
//! Idle memory is bounded twice: each pool (one per flow) keeps at most
//! `max_idle_bytes` of idle capacity, and all pools of a host together at
//! most their [`PoolReserve`]'s limit. A returned vector that would exceed
//! either is freed instead, so no guest can make the host keep memory
//! beyond those bounds by allocating and releasing large buffers.
//!
//! A pooled buffer is an `Arc<Vec<u8>>` whose reference count is 1 while it
//! sits in the pool or is being written. The `Arc` lets a full read hand the
//! bytes to wasmtime's lowering without copying them first on the host; the
//! extra reference ends before the host call returns. Keeping large (1 MiB)
//! vectors here matters: glibc returns freshly freed large blocks to the
//! kernel, and re-faulting them costs far more than the copy itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Idle pooled bytes shared by every pool of one host, and their limit.
#[derive(Debug)]
pub struct PoolReserve {
    idle: AtomicU64,
    max: u64,
}

impl PoolReserve {
    pub fn new(max: u64) -> Arc<PoolReserve> {
        Arc::new(PoolReserve {
            idle: AtomicU64::new(0),
            max,
        })
    }

    /// Idle bytes held by all pools of the host now.
    pub fn idle_bytes(&self) -> u64 {
        self.idle.load(Ordering::Relaxed)
    }

    /// Count `bytes` more idle capacity if the limit allows it.
    fn try_keep(&self, bytes: u64) -> bool {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |idle| {
                idle.checked_add(bytes).filter(|&n| n <= self.max)
            })
            .is_ok()
    }

    fn forget(&self, bytes: u64) {
        self.idle.fetch_sub(bytes, Ordering::AcqRel);
    }
}

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
    /// Most idle capacity this pool keeps, in bytes.
    max_idle_bytes: u64,
    idle_bytes: u64,
    /// The host-wide bound this pool's idle bytes count against.
    reserve: Option<Arc<PoolReserve>>,
    stats: PoolStats,
}

impl BufferPool {
    /// A pool keeping at most `max_free_per_tier` idle buffers per tier,
    /// with no byte bound of its own (tests and benchmarks).
    pub fn new(max_free_per_tier: usize) -> Self {
        Self::bounded(max_free_per_tier, u64::MAX, None)
    }

    /// A pool keeping at most `max_idle_bytes` of idle capacity, counted
    /// also against the host's `reserve`.
    pub fn bounded(max_free_per_tier: usize, max_idle_bytes: u64, reserve: Option<Arc<PoolReserve>>) -> Self {
        BufferPool {
            free: Default::default(),
            max_free_per_tier,
            max_idle_bytes,
            idle_bytes: 0,
            reserve,
            stats: PoolStats::default(),
        }
    }

    /// Idle capacity held now, in bytes.
    pub fn idle_bytes(&self) -> u64 {
        self.idle_bytes
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
                let capacity = buf.capacity() as u64;
                self.idle_bytes -= capacity;
                if let Some(r) = &self.reserve {
                    r.forget(capacity);
                }
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
        let capacity = bytes.capacity() as u64;
        let list = &mut self.free[Tier::for_len(bytes.capacity()).index()];
        let fits = list.len() < self.max_free_per_tier
            && self.idle_bytes.saturating_add(capacity) <= self.max_idle_bytes
            && self.reserve.as_ref().is_none_or(|r| r.try_keep(capacity));
        if fits {
            list.push(buf);
            self.idle_bytes += capacity;
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

impl Drop for BufferPool {
    /// The host's reserve stops counting what this pool held.
    fn drop(&mut self) {
        if let Some(r) = &self.reserve {
            r.forget(self.idle_bytes);
        }
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

    #[test]
    fn idle_bytes_are_bounded_per_pool_and_per_host() {
        let reserve = PoolReserve::new(3 << 20);
        let mut a = BufferPool::bounded(256, 2 << 20, Some(Arc::clone(&reserve)));
        let mut b = BufferPool::bounded(256, 2 << 20, Some(Arc::clone(&reserve)));
        // A guest releasing ten 16 MiB buffers leaves none of them pooled.
        let huge: Vec<_> = (0..10).map(|_| a.take(16 << 20)).collect();
        huge.into_iter().for_each(|v| a.give(v));
        assert_eq!(a.idle_bytes(), 0);
        // Within the pool's bound: two 1 MiB buffers stay, the third goes.
        let large: Vec<_> = (0..3).map(|_| a.take(1 << 20)).collect();
        large.into_iter().for_each(|v| a.give(v));
        assert_eq!(a.idle_bytes(), 2 << 20);
        // The host's bound: b may keep only what is left of 3 MiB.
        let more: Vec<_> = (0..2).map(|_| b.take(1 << 20)).collect();
        more.into_iter().for_each(|v| b.give(v));
        assert_eq!(b.idle_bytes(), 1 << 20);
        assert_eq!(reserve.idle_bytes(), 3 << 20);
        // Reuse takes bytes out of both counts; a dropped pool gives its share back.
        let v = a.take(1 << 20);
        assert_eq!(reserve.idle_bytes(), 2 << 20);
        drop(v);
        drop(a);
        assert_eq!(reserve.idle_bytes(), 1 << 20);
        drop(b);
        assert_eq!(reserve.idle_bytes(), 0);
    }
}
