//! For tests: a processor that waits inside WASI instead of computing, the
//! way a guest blocked on a clock, a socket or a pipe does. The runtime's
//! deadline and cancel must stop it whatever it waits on.
//!
//! Config (JSON, passed to `init`):
//! - `"wait"`: how to wait: `"sleep"` (`std::thread::sleep`), `"poll"`
//!   (`wasi:io/poll.poll` on a clock), `"block"` (`pollable.block`), or
//!   `"spin"` (a busy loop in Wasm code);
//! - `"ms"`: how long (default one hour);
//! - `"at"`: the element index whose `process` waits (default 0);
//! - `"every": true`: every element's `process` waits;
//! - `"in_init": true`: wait in `init` instead.
//!
//! Every other element is passed on as a copy.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/managed-transform",
});

use std::cell::{Cell, RefCell};
use std::time::Duration;

use exports::torvyn::streaming::{lifecycle, processor};
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{OutputElement, ProcessError, ProcessResult, StreamElement};

thread_local! {
    static CONFIG: RefCell<String> = const { RefCell::new(String::new()) };
    static INDEX: Cell<u64> = const { Cell::new(0) };
}

fn number(key: &str) -> Option<u64> {
    CONFIG.with(|c| {
        let c = c.borrow();
        let at = c.find(&format!("\"{key}\""))? + key.len() + 2;
        let rest = c[at..].trim_start_matches([' ', ':']);
        let end = rest.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

fn has(text: &str) -> bool {
    CONFIG.with(|c| c.borrow().contains(text))
}

fn in_init() -> bool {
    has("\"in_init\": true") || has("\"in_init\":true")
}

fn wait() {
    let ms = number("ms").unwrap_or(3_600_000);
    let ns = ms.saturating_mul(1_000_000);
    if has("\"sleep\"") {
        std::thread::sleep(Duration::from_millis(ms));
    } else if has("\"poll\"") {
        let p = wasip2::clocks::monotonic_clock::subscribe_duration(ns);
        let _ = wasip2::io::poll::poll(&[&p]);
    } else if has("\"block\"") {
        wasip2::clocks::monotonic_clock::subscribe_duration(ns).block();
    } else if has("\"spin\"") {
        let mut x = 0u64;
        loop {
            x = core::hint::black_box(x.wrapping_add(1));
        }
    }
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        CONFIG.with(|c| *c.borrow_mut() = config);
        if in_init() {
            wait();
        }
        Ok(())
    }

    fn teardown() {}
}

impl processor::Guest for Component {
    fn process(input: StreamElement) -> Result<ProcessResult, ProcessError> {
        let index = INDEX.with(|i| {
            let n = i.get();
            i.set(n + 1);
            n
        });
        let every = has("\"every\": true") || has("\"every\":true");
        if !in_init() && (every || number("at").unwrap_or(0) == index) {
            wait();
        }
        let bytes = input.payload.read_all();
        let out = allocate(bytes.len() as u64).map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
        out.append(&bytes).map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
        Ok(ProcessResult::Emit(OutputElement {
            meta: input.meta.clone(),
            payload: out.freeze(),
        }))
    }
}

export!(Component);
