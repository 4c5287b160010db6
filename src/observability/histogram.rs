//! A fixed-memory log-linear histogram of durations in nanoseconds.
//!
//! Values below 16 are counted exactly; above, each power of two is split
//! into 16 equal buckets, so a value is known to within 1/16 (6.25 %) of
//! itself. Values up to 2^40 ns (about 18 minutes) have their own bucket;
//! larger ones share the last. The histogram is about 4.8 KiB whatever it holds.
//!
//! Invariant: one thread records (the reactor worker that runs the flow),
//! any thread may read. Recording is a relaxed load and store per counter:
//! no lock, no read-modify-write instruction, no allocation. A reader sees
//! each counter as of some recent moment (a snapshot is not atomic across
//! counters, which quantiles tolerate).

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Largest exponent with buckets of its own.
const MAX_EXP: u32 = 40;
/// Buckets: the exact ones below `SUB`, then `SUB` per power of two.
pub const BUCKETS: usize = (SUB as usize) * ((MAX_EXP - SUB_BITS + 2) as usize);

/// Relative error of a reported quantile (upper bound of its bucket).
pub const RELATIVE_ERROR: f64 = 1.0 / SUB as f64;

pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram").finish_non_exhaustive()
    }
}

/// The bucket of `v`.
#[inline]
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = (63 - v.leading_zeros()).min(MAX_EXP);
    let v = v.min((1 << (MAX_EXP + 1)) - 1);
    let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
    ((exp - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exp = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = i % SUB;
    ((SUB + sub + 1) << (exp - SUB_BITS)) - 1
}

/// Single-writer increment (see the module invariant).
#[inline]
fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

impl Histogram {
    /// Count one value. Called by the histogram's one writer only.
    #[inline]
    pub fn record(&self, v: u64) {
        bump(&self.buckets[index(v)], 1);
        bump(&self.sum, v);
        if v > self.max.load(Ordering::Relaxed) {
            self.max.store(v, Ordering::Relaxed);
        }
    }

    /// What the histogram holds now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets = self.buckets.iter().enumerate().map(|(i, b)| (upper(i), b.load(Ordering::Relaxed))).filter(|&(_, c)| c > 0).collect();
        HistogramSnapshot::from_buckets(buckets, self.sum.load(Ordering::Relaxed), self.max.load(Ordering::Relaxed))
    }
}

impl HistogramSnapshot {
    /// The figures of non-empty `buckets` ((largest value, count),
    /// ascending), `sum` and `max`.
    pub fn from_buckets(buckets: Vec<(u64, u64)>, sum: u64, max: u64) -> HistogramSnapshot {
        let count: u64 = buckets.iter().map(|b| b.1).sum();
        let quantile = |q: f64| -> u64 {
            if count == 0 {
                return 0;
            }
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for &(top, c) in &buckets {
                seen += c;
                if seen >= rank {
                    return top.min(max);
                }
            }
            max
        };
        HistogramSnapshot {
            count,
            sum,
            p50: quantile(0.50),
            p90: quantile(0.90),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max,
            buckets,
        }
    }

    /// What was recorded after `earlier` (a snapshot of the same
    /// histogram); the max is this snapshot's (a histogram keeps no
    /// per-interval max).
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let buckets = self
            .buckets
            .iter()
            .map(|&(top, c)| (top, c.saturating_sub(earlier.buckets.iter().find(|b| b.0 == top).map_or(0, |b| b.1))))
            .filter(|b| b.1 > 0)
            .collect();
        HistogramSnapshot::from_buckets(buckets, self.sum.saturating_sub(earlier.sum), self.max)
    }

    /// Both together (two runs of a flow).
    pub fn merge(&self, other: &HistogramSnapshot) -> HistogramSnapshot {
        let mut buckets = self.buckets.clone();
        for &(top, c) in &other.buckets {
            match buckets.iter_mut().find(|b| b.0 == top) {
                Some(b) => b.1 += c,
                None => buckets.push((top, c)),
            }
        }
        buckets.sort_unstable();
        HistogramSnapshot::from_buckets(buckets, self.sum + other.sum, self.max.max(other.max))
    }

    /// The mean, ns (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum as f64 / self.count as f64 }
    }
}

/// A histogram's figures at one moment, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistogramSnapshot {
    pub count: u64,
    pub sum: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// Non-empty buckets: (largest value of the bucket, count), ascending.
    pub buckets: Vec<(u64, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_within_the_stated_error() {
        let mut last = 0;
        for v in (0..5000).chain([1 << 20, (1 << 20) + 1, 123_456_789, 1 << 40, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS, "{v} -> {i}");
            assert!(i >= last || v < 5000 && i == last || v >= 5000, "monotonic");
            if v < (1 << 41) {
                assert!(upper(i) >= v, "{v} in bucket {i} ending {}", upper(i));
                assert!((upper(i) - v) as f64 <= v as f64 * RELATIVE_ERROR + 1.0, "{v}: {}", upper(i));
            }
            last = i;
        }
        for i in 1..BUCKETS {
            assert_eq!(index(upper(i)), i, "bucket {i}");
            assert_eq!(index(upper(i - 1) + 1), i, "bucket {i} starts after {}", upper(i - 1));
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let s = h.snapshot();
        assert_eq!((s.count, s.max, s.sum), (1000, 1_000_000, 500_500_000));
        for (got, want) in [(s.p50, 500_000), (s.p90, 900_000), (s.p99, 990_000), (s.p999, 999_000)] {
            assert!(got >= want && (got - want) as f64 <= want as f64 * RELATIVE_ERROR, "{got} vs {want}");
        }
        assert_eq!(Histogram::default().snapshot().p99, 0);
    }
}
