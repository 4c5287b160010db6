//! The one thread that advances the engine's epoch, so a guest call that
//! overruns its deadline traps instead of holding a worker forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Time between epoch ticks; deadlines are rounded up to whole ticks.
pub const TICK: Duration = Duration::from_millis(5);

/// Owns the ticker thread; dropping it stops and joins the thread.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: wasmtime::Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("torvyn-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }

    /// Ticks in `d`, rounded up, plus one for the tick in progress.
    pub fn ticks(d: Duration) -> u64 {
        (d.as_nanos().div_ceil(TICK.as_nanos()) as u64).saturating_add(1)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
