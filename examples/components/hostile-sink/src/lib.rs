//! For the hostile-guest suite: a sink that spins forever in `push` on
//! element `"at"` (default 0), or in `complete` with `"in": "complete"`.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-sink",
});

use std::cell::Cell;

use exports::torvyn::streaming::{lifecycle, sink};
use torvyn::streaming::types::{BackpressureSignal, ProcessError, StreamElement};

thread_local! {
    static AT: Cell<u64> = const { Cell::new(0) };
    static IN_COMPLETE: Cell<bool> = const { Cell::new(false) };
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

fn spin() -> ! {
    let mut x = 0u64;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        if let Some(i) = config.find("\"at\"") {
            let rest = config[i + 4..].trim_start_matches([' ', ':']);
            AT.set(rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())].parse().unwrap_or(0));
        }
        IN_COMPLETE.set(config.contains("\"complete\""));
        Ok(())
    }
    fn teardown() {}
}

impl sink::Guest for Component {
    fn push(_element: StreamElement) -> Result<BackpressureSignal, ProcessError> {
        let n = SEEN.get();
        SEEN.set(n + 1);
        if !IN_COMPLETE.get() && n == AT.get() {
            spin();
        }
        Ok(BackpressureSignal::Ready)
    }
    fn complete() -> Result<(), ProcessError> {
        if IN_COMPLETE.get() {
            spin();
        }
        Ok(())
    }
}

export!(Component);
