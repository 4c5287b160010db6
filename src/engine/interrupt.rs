//! Why a guest call was stopped from outside, and how host code that waits
//! on the guest's behalf observes it.
//!
//! A call ends early for two reasons only: its deadline passed, or its flow
//! was cancelled (which includes the host shutting down). Wasm code is
//! stopped by the epoch callback ([`super::stage`]); host code that waits
//! (WASI polls, blocking stream I/O) races its wait against the same two
//! conditions through [`CallClock::wait`], so no guest can hold a worker
//! past its deadline or keep a cancel waiting more than [`CHECK_EVERY`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::observability::Tick;
use crate::types::unix_now_ns;

/// Longest a cancel request waits to be noticed by a blocked host call.
pub const CHECK_EVERY: Duration = Duration::from_millis(10);

/// The reason a call was stopped; carried inside the `wasmtime::Error` that
/// unwinds the guest and recognised again by `classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Interrupt {
    #[error("the call overran its deadline")]
    Deadline,
    #[error("the flow was cancelled")]
    Cancelled,
}

/// The time budget of the call in progress on one stage, and its flow's
/// cancel flag. Owned by the stage's store data; reset by every call.
#[derive(Debug, Clone)]
pub struct CallClock {
    started: Tick,
    limit: Duration,
    cancel: Arc<AtomicBool>,
    /// How long the call may go on once a cancel was requested: zero for
    /// every call but `teardown`, which runs after a cancel on purpose.
    grace: Duration,
}

impl CallClock {
    pub fn new(cancel: Arc<AtomicBool>) -> Self {
        CallClock {
            started: Tick::now(),
            limit: Duration::ZERO,
            cancel,
            grace: Duration::ZERO,
        }
    }

    /// A call with `limit` starts now.
    #[inline]
    pub fn start(&mut self, limit: Duration) {
        self.started = Tick::now();
        self.limit = limit;
        self.grace = Duration::ZERO;
    }

    /// A call that a cancel stops only once it has run for `grace`
    /// (teardown: it gets a moment to clean up, never more) starts now.
    pub fn start_with_grace(&mut self, limit: Duration, grace: Duration) {
        self.start(limit);
        self.grace = grace;
    }

    /// When the call in progress (or the last one) started.
    #[inline]
    pub fn started(&self) -> Tick {
        self.started
    }

    /// Whether the flow's cancel was requested.
    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }

    /// Time left before the deadline (zero once it passed).
    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.started.elapsed())
    }

    /// The deadline as the contract's `deadline-ns`: wall-clock nanoseconds
    /// since the Unix epoch (computed when asked, so a call pays for one
    /// clock read only).
    pub fn deadline_unix_ns(&self) -> u64 {
        let left = u64::try_from(self.remaining().as_nanos()).unwrap_or(u64::MAX);
        unix_now_ns().saturating_add(left)
    }

    /// Whether the call must stop now, and why.
    #[inline]
    pub fn check(&self) -> Result<(), Interrupt> {
        if self.cancel.load(Ordering::Acquire) && self.started.elapsed() >= self.grace {
            return Err(Interrupt::Cancelled);
        }
        if self.started.elapsed() >= self.limit {
            return Err(Interrupt::Deadline);
        }
        Ok(())
    }

    /// Drive `fut` (host work a guest waits for) on WASI's runtime until it
    /// finishes, the deadline passes, or the flow is cancelled. Dropping the
    /// future abandons the wait (a blocking file read already handed to a
    /// helper thread finishes there, but no longer holds the worker).
    pub fn wait<F: Future>(&self, fut: F) -> Result<F::Output, Interrupt> {
        self.check()?;
        wasmtime_wasi::runtime::in_tokio(async {
            let mut fut = std::pin::pin!(fut);
            loop {
                let slice = self.remaining().min(CHECK_EVERY).max(Duration::from_millis(1));
                match tokio::time::timeout(slice, fut.as_mut()).await {
                    Ok(out) => return Ok(out),
                    Err(_) => self.check()?,
                }
            }
        })
    }
}
