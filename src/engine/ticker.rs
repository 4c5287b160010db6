//! The one thread per process that advances every engine's epoch, so Wasm
//! code that overruns its deadline (or whose flow is cancelled) is stopped.
//!
//! It ticks only while some reactor worker is busy ([`Busy`]); with every
//! worker parked it sleeps, so an idle process costs no CPU however many
//! hosts it keeps. It stops (and is joined) when the last engine is dropped,
//! and starts again with the next one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use wasmtime::EngineWeak;

/// Time between epoch ticks.
pub const TICK: Duration = Duration::from_millis(5);

struct Ticker {
    engines: Vec<(u64, EngineWeak)>,
    next_id: u64,
    /// The running thread and its generation; a thread whose generation is
    /// no longer current exits.
    thread: Option<JoinHandle<()>>,
    generation: u64,
}

static TICKER: Mutex<Ticker> = Mutex::new(Ticker {
    engines: Vec::new(),
    next_id: 0,
    thread: None,
    generation: 0,
});
/// Workers in a busy period (not parked).
static BUSY: AtomicUsize = AtomicUsize::new(0);

/// An engine's place on the ticker; dropping it stops ticking that engine
/// (and stops the thread if it was the last).
pub struct Registration(u64);

/// Tick `engine` until the returned registration is dropped.
pub fn register(engine: &wasmtime::Engine) -> std::io::Result<Registration> {
    let mut t = TICKER.lock();
    let id = t.next_id;
    t.next_id += 1;
    if t.thread.is_none() {
        t.generation += 1;
        let generation = t.generation;
        let handle = std::thread::Builder::new()
            .name("torvyn-epoch".into())
            .spawn(move || run(generation))?;
        t.thread = Some(handle);
    }
    t.engines.push((id, engine.weak()));
    Ok(Registration(id))
}

impl Drop for Registration {
    fn drop(&mut self) {
        let stopped = {
            let mut t = TICKER.lock();
            t.engines.retain(|(id, _)| *id != self.0);
            if t.engines.is_empty() {
                t.generation += 1;
                t.thread.take()
            } else {
                None
            }
        };
        if let Some(thread) = stopped {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn run(generation: u64) {
    loop {
        if BUSY.load(Ordering::Acquire) == 0 {
            std::thread::park();
        } else {
            std::thread::park_timeout(TICK);
        }
        let t = TICKER.lock();
        if t.generation != generation {
            return;
        }
        for (_, weak) in &t.engines {
            if let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
            }
        }
    }
}

/// Held by a worker while it is busy: the ticker runs while any is held.
pub struct Busy(());

impl Busy {
    pub fn begin() -> Busy {
        if BUSY.fetch_add(1, Ordering::AcqRel) == 0 {
            if let Some(thread) = &TICKER.lock().thread {
                thread.thread().unpark();
            }
        }
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Ticks in `d`, rounded up, plus one for the tick in progress.
pub fn ticks(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(TICK.as_nanos()) as u64).saturating_add(1)
}
