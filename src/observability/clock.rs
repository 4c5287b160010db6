//! The monotonic clock the hot path reads.
//!
//! A stage call reads the clock once at its start (for its deadline) and,
//! when metrics are on, once at its end; every other figure of an element
//! (queue wait, end-to-end latency, backpressure) is a difference between
//! those readings, so recording costs no further reads. The readings are
//! the CPU's invariant counter where there is one (`quanta` calibrates it
//! against the OS clock once and falls back to that clock where the counter
//! is not invariant): about 10 ns instead of 25 for `clock_gettime`.
//!
//! A reading is an opaque `Tick` of this process; only differences mean
//! anything. `Tick(0)` is reserved for "not recorded".

use std::sync::OnceLock;
use std::time::Duration;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// One reading of the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Tick(u64);

impl Tick {
    /// No reading.
    pub const NONE: Tick = Tick(0);

    /// Now. Never `Tick::NONE`.
    #[inline]
    pub fn now() -> Tick {
        Tick(clock().raw().max(1))
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Nanoseconds from `earlier` to `self`; zero if either is missing or
    /// `earlier` is later.
    #[inline]
    pub fn nanos_since(self, earlier: Tick) -> u64 {
        if self.0 == 0 || earlier.0 == 0 || self.0 <= earlier.0 {
            return 0;
        }
        clock().delta_as_nanos(earlier.0, self.0)
    }

    /// Time from `earlier` to `self` (see [`Tick::nanos_since`]).
    #[inline]
    pub fn since(self, earlier: Tick) -> Duration {
        Duration::from_nanos(self.nanos_since(earlier))
    }

    /// Time since this reading.
    #[inline]
    pub fn elapsed(self) -> Duration {
        Tick::now().since(self)
    }
}

/// Calibrate the clock now rather than on the first call of a flow.
pub fn warm_up() {
    let _ = clock();
}

#[cfg(test)]
mod tests {
    use super::Tick;
    use std::time::{Duration, Instant};

    #[test]
    fn differences_track_the_os_clock() {
        let (t0, i0) = (Tick::now(), Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let (t1, i1) = (Tick::now(), Instant::now());
        let ours = t1.nanos_since(t0) as f64;
        let os = i1.duration_since(i0).as_nanos() as f64;
        assert!((ours - os).abs() < os * 0.05 + 200_000.0, "tick {ours} ns vs OS {os} ns");
        assert_eq!(t0.nanos_since(t1), 0, "never negative");
        assert_eq!(t1.nanos_since(Tick::NONE), 0, "a missing reading gives zero");
    }
}
