//! For the hostile-guest suite: a source that emits `"count"` numbered
//! elements (default 1000), but spins forever in `pull` once it has emitted
//! `"at"` of them (default 0).
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-source",
});

use std::cell::Cell;

use exports::torvyn::streaming::{lifecycle, source};
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{BackpressureSignal, ElementMeta, OutputElement, ProcessError};

thread_local! {
    static AT: Cell<u64> = const { Cell::new(0) };
    static COUNT: Cell<u64> = const { Cell::new(1000) };
    static SENT: Cell<u64> = const { Cell::new(0) };
}

fn number(config: &str, key: &str) -> Option<u64> {
    let rest = &config[config.find(&format!("\"{key}\""))? + key.len() + 2..];
    let rest = rest.trim_start_matches([' ', ':']);
    rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())].parse().ok()
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        AT.set(number(&config, "at").unwrap_or(0));
        COUNT.set(number(&config, "count").unwrap_or(1000));
        Ok(())
    }
    fn teardown() {}
}

impl source::Guest for Component {
    fn pull() -> Result<Option<OutputElement>, ProcessError> {
        let n = SENT.get();
        if n == AT.get() {
            let mut x = 0u64;
            loop {
                x = core::hint::black_box(x.wrapping_add(1));
            }
        }
        if n == COUNT.get() {
            return Ok(None);
        }
        SENT.set(n + 1);
        let b = allocate(16).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        b.append(format!("{n}").as_bytes()).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        Ok(Some(OutputElement { meta: ElementMeta { sequence: 0, timestamp_ns: 0, content_type: "text/plain".into() }, payload: b.freeze() }))
    }
    fn notify_backpressure(_signal: BackpressureSignal) {}
}

export!(Component);
