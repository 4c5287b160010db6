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

/// Size classes (the public Torvyn tiers, plus one for what is larger). A
/// request is served from the smallest tier that fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Up to 256 bytes (`small_pool_size`).
    Small,
    /// Up to 4 KiB (`medium_pool_size`).
    Medium,
    /// Up to 64 KiB (`large_pool_size`).
    Large,
    /// Up to 1 MiB (`huge_pool_size`).
    Huge,
    /// Above 1 MiB (exact capacity, reused when big enough).
    Oversize,
}

/// Number of tiers.
pub const TIERS: usize = 5;

const TIER_CAPACITY: [usize; 4] = [256, 4 << 10, 64 << 10, 1 << 20];

impl Tier {
    pub const ALL: [Tier; TIERS] = [Tier::Small, Tier::Medium, Tier::Large, Tier::Huge, Tier::Oversize];

    /// The tier serving `len` bytes.
    pub fn for_len(len: usize) -> Tier {
        match TIER_CAPACITY.iter().position(|&c| len <= c) {
            Some(i) => Tier::ALL[i],
            None => Tier::Oversize,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Capacity of a fresh buffer of this tier for a request of `len` bytes.
    fn capacity_for(self, len: usize) -> usize {
        match self {
            Tier::Oversize => len,
            t => TIER_CAPACITY[t.index()],
        }
    }

    /// The tier's name in `[runtime.pools]` (`small`, … `huge`, `oversize`).
    pub fn name(self) -> &'static str {
        ["small", "medium", "large", "huge", "oversize"][self.index()]
    }
}

/// How many buffers each tier keeps, and what an empty tier does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLimits {
    /// Most idle buffers per tier (Small … Oversize).
    pub kept: [usize; TIERS],
    /// An empty tier allocates a new buffer (`true`), or refuses a
    /// component's allocation (`false`: the tiers are filled up front and
    /// their buffers are all there is).
    pub fallback: bool,
}

impl TierLimits {
    /// The same count for every tier, falling back to new allocations.
    pub fn uniform(kept: usize) -> TierLimits {
        TierLimits { kept: [kept; TIERS], fallback: true }
    }
}

/// Counters that show whether the pool is doing its job (one set per
/// tier; [`BufferPool::stats`] adds them up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Buffers created because the tier's free list was empty.
    pub allocations: u64,
    /// Requests served from a free list.
    pub reuses: u64,
    /// Buffers dropped on return because the free list was full.
    pub discarded: u64,
    /// Component allocations refused because their tier was empty
    /// (exhaustion policy `error`).
    pub exhausted: u64,
    /// Buffers given back (kept or discarded).
    pub returned: u64,
}

impl PoolStats {
    fn add(&mut self, o: &PoolStats) {
        self.allocations += o.allocations;
        self.reuses += o.reuses;
        self.discarded += o.discarded;
        self.exhausted += o.exhausted;
        self.returned += o.returned;
    }
}

/// One tier at one moment.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TierSnapshot {
    pub tier: &'static str,
    /// Most idle buffers the tier keeps.
    pub capacity: u64,
    /// Idle buffers in it now.
    pub available: u64,
    #[serde(flatten)]
    pub stats: PoolStats,
}

/// Free lists per tier. Not thread-safe by itself; the owning table is.
#[derive(Debug)]
pub struct BufferPool {
    free: [Vec<Arc<Vec<u8>>>; TIERS],
    /// Most buffers each tier keeps (beyond it returned buffers are freed),
    /// and whether an empty tier may allocate for a component.
    limits: TierLimits,
    /// Most idle capacity this pool keeps, in bytes.
    max_idle_bytes: u64,
    idle_bytes: u64,
    /// The host-wide bound this pool's idle bytes count against.
    reserve: Option<Arc<PoolReserve>>,
    stats: [PoolStats; TIERS],
}

impl BufferPool {
    /// A pool keeping at most `max_free_per_tier` idle buffers per tier,
    /// with no byte bound of its own (tests and benchmarks).
    pub fn new(max_free_per_tier: usize) -> Self {
        Self::bounded(TierLimits::uniform(max_free_per_tier), u64::MAX, None)
    }

    /// A pool keeping at most `max_idle_bytes` of idle capacity, counted
    /// also against the host's `reserve`. Without fallback the tiers are
    /// filled now, up to their counts and the byte bounds.
    pub fn bounded(limits: TierLimits, max_idle_bytes: u64, reserve: Option<Arc<PoolReserve>>) -> Self {
        let mut pool = BufferPool {
            free: Default::default(),
            limits,
            max_idle_bytes,
            idle_bytes: 0,
            reserve,
            stats: Default::default(),
        };
        if !limits.fallback {
            for tier in &Tier::ALL[..TIERS - 1] {
                let list = &mut pool.free[tier.index()];
                list.extend((0..limits.kept[tier.index()]).map(|_| Arc::new(Vec::with_capacity(TIER_CAPACITY[tier.index()]))));
            }
        }
        pool
    }

    /// Like [`BufferPool::take`] for a component: `None` when the tier is
    /// empty and the pool may not allocate (exhaustion policy `error`).
    pub fn try_take(&mut self, len: usize) -> Option<Arc<Vec<u8>>> {
        let tier = Tier::for_len(len);
        if !self.limits.fallback && tier != Tier::Oversize && self.free[tier.index()].is_empty() {
            self.stats[tier.index()].exhausted += 1;
            return None;
        }
        Some(self.take(len))
    }

    /// Idle capacity held now, in bytes (not counting the tiers of a pool
    /// without fallback, which are bounded by their sizes).
    pub fn idle_bytes(&self) -> u64 {
        self.idle_bytes
    }

    /// An empty vector with capacity of at least `len`, uniquely owned.
    pub fn take(&mut self, len: usize) -> Arc<Vec<u8>> {
        let tier = Tier::for_len(len);
        let list = &mut self.free[tier.index()];
        let found = if tier == Tier::Oversize {
            list.iter()
                .position(|b| b.capacity() >= len)
                .map(|i| list.swap_remove(i))
        } else {
            list.pop()
        };
        match found {
            Some(buf) => {
                self.stats[tier.index()].reuses += 1;
                if self.limits.fallback || tier == Tier::Oversize {
                    let capacity = buf.capacity() as u64;
                    self.idle_bytes -= capacity;
                    if let Some(r) = &self.reserve {
                        r.forget(capacity);
                    }
                }
                buf
            }
            None => {
                self.stats[tier.index()].allocations += 1;
                Arc::new(Vec::with_capacity(tier.capacity_for(len)))
            }
        }
    }

    /// Return a vector. It is emptied and kept if its tier has room and no
    /// other reference to it is alive; otherwise it is freed.
    pub fn give(&mut self, mut buf: Arc<Vec<u8>>) {
        let tier = Tier::for_len(buf.capacity());
        let stats = &mut self.stats[tier.index()];
        stats.returned += 1;
        let Some(bytes) = Arc::get_mut(&mut buf) else {
            stats.discarded += 1;
            return;
        };
        bytes.clear();
        let capacity = bytes.capacity() as u64;
        let list = &mut self.free[tier.index()];
        if list.len() >= self.limits.kept[tier.index()] {
            stats.discarded += 1;
            return;
        }
        // Without fallback a tier's buffers are all there is: they are kept
        // whatever the byte bounds (the tier sizes, chosen explicitly, bound
        // them), and never counted against the host's shared reserve, so
        // other flows' idle buffers cannot shrink this flow's tiers.
        if !self.limits.fallback && tier != Tier::Oversize {
            list.push(buf);
            return;
        }
        let fits = self.idle_bytes.saturating_add(capacity) <= self.max_idle_bytes
            && self.reserve.as_ref().is_none_or(|r| r.try_keep(capacity));
        if fits {
            list.push(buf);
            self.idle_bytes += capacity;
        } else {
            self.stats[tier.index()].discarded += 1;
        }
    }

    /// Counters since creation, all tiers together.
    pub fn stats(&self) -> PoolStats {
        let mut total = PoolStats::default();
        for s in &self.stats {
            total.add(s);
        }
        total
    }

    /// Each tier now (Small … Oversize).
    pub fn tiers(&self) -> [TierSnapshot; TIERS] {
        std::array::from_fn(|i| TierSnapshot {
            tier: Tier::ALL[i].name(),
            capacity: self.limits.kept[i] as u64,
            available: self.free[i].len() as u64,
            stats: self.stats[i],
        })
    }

    /// Idle buffers held, per tier (Small … Oversize).
    pub fn idle(&self) -> [usize; TIERS] {
        std::array::from_fn(|i| self.free[i].len())
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
        assert_eq!(a.capacity(), 256);
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
        assert_eq!(pool.idle(), [0, 0, 0, 0, 0]);
        assert_eq!(pool.stats().discarded, 1);
        drop(other);
    }

    #[test]
    fn idle_bytes_are_bounded_per_pool_and_per_host() {
        let reserve = PoolReserve::new(3 << 20);
        let mut a = BufferPool::bounded(TierLimits::uniform(256), 2 << 20, Some(Arc::clone(&reserve)));
        let mut b = BufferPool::bounded(TierLimits::uniform(256), 2 << 20, Some(Arc::clone(&reserve)));
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

    #[test]
    fn without_fallback_the_tiers_are_filled_up_front_and_then_refuse() {
        let limits = TierLimits { kept: [2, 1, 0, 0, 0], fallback: false };
        let mut pool = BufferPool::bounded(limits, u64::MAX, None);
        assert_eq!(pool.idle(), [2, 1, 0, 0, 0]);
        let a = pool.try_take(100).unwrap();
        let _b = pool.try_take(200).unwrap();
        assert!(pool.try_take(10).is_none(), "small tier exhausted");
        assert!(pool.try_take(5000).is_none(), "large tier has none");
        assert_eq!(pool.stats().exhausted, 2);
        pool.give(a);
        assert!(pool.try_take(10).is_some(), "a returned buffer serves again");
        assert_eq!(pool.stats().allocations, 0, "nothing allocated after the start");
    }
}
