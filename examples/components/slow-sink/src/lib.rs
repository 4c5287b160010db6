//! A sink that consumes every element and answers `pause` every N elements.
//!
//! Config: `{"pause_every": N}` (default 10). Reads each payload so the copy
//! ledger sees a real consumer.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-sink",
});

use exports::torvyn::streaming::{lifecycle, sink};
use std::cell::Cell;
use torvyn::streaming::types::{BackpressureSignal, ProcessError, StreamElement};

thread_local! {
    static PAUSE_EVERY: Cell<u64> = const { Cell::new(10) };
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        if let Some(at) = config.find("\"pause_every\"") {
            let rest = config[at + 13..].trim_start().trim_start_matches(':').trim_start();
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let n: u64 = digits
                .parse()
                .map_err(|_| ProcessError::Fatal("pause_every must be a number".into()))?;
            if n == 0 {
                return Err(ProcessError::Fatal("pause_every must be at least 1".into()));
            }
            PAUSE_EVERY.with(|p| p.set(n));
        }
        Ok(())
    }
    fn teardown() {
        println!("consumed {}", SEEN.with(|s| s.get()));
    }
}

impl sink::Guest for Component {
    fn push(element: StreamElement) -> Result<BackpressureSignal, ProcessError> {
        let _ = element.payload.read_all();
        let seen = SEEN.with(|s| {
            s.set(s.get() + 1);
            s.get()
        });
        if seen % PAUSE_EVERY.with(|p| p.get()) == 0 {
            Ok(BackpressureSignal::Pause)
        } else {
            Ok(BackpressureSignal::Ready)
        }
    }

    fn complete() -> Result<(), ProcessError> {
        Ok(())
    }
}

export!(Component);
