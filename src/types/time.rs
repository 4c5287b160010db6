//! Wall-clock time as the contract states it, and deadlines that never overflow.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The instant `timeout` from now, or `None` when that is beyond what the
/// clock can represent: a timeout that large means "no limit". Every
/// user-supplied timeout goes through here, so `Duration::MAX` or
/// `--timeout 18446744073709551615` wait forever instead of panicking.
pub fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// `deadline_after` for an optional timeout (`None`: no limit).
pub fn deadline_within(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(deadline_after)
}

/// The instant `d` from now, clamped to a century: for holds and back-offs
/// that must end at some instant (an absurd `resume_after_ms` holds a node
/// "forever" instead of panicking).
pub fn saturating_deadline(d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(d.min(CENTURY)).unwrap_or(now)
}

/// Wait (at most `timeout`) until `pending` is zero; says whether it got
/// there. For a program about to end: the work a background writer was
/// handed (spans, audit events) is done or given up on in bounded time.
pub fn wait_until_drained(pending: &std::sync::atomic::AtomicU64, timeout: Duration) -> bool {
    let deadline = saturating_deadline(timeout);
    while pending.load(std::sync::atomic::Ordering::Acquire) > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}
