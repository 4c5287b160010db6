//! A misbehaving processor for tests. Passes elements through unchanged
//! except as its config asks:
//! - `{"trap_at": N}`: traps (wasm `unreachable`) on the element with index N;
//! - `{"stale_borrow_at": N}`: keeps the raw handle of element N's borrowed
//!   payload and uses it during the next call, after the borrow has ended;
//! - `{"write_after_freeze_at": N}`: appends to a mutable buffer it already froze;
//! - `{"fail_at": N, "error": "invalid-input|unavailable|internal|fatal"}`:
//!   returns that error for the element with sequence N, every time it is offered;
//! - `{"fail_once_at": N, "error": …}`: returns that error for call N only (a
//!   retry of the same element then succeeds);
//! - `{"spin_at": N}`: loops forever on element N (the runtime's deadline must stop it);
//! - `{"hog_at": N}`: keeps allocating memory on element N (the memory limit must stop it);
//! - `{"hoard_buffers_at": N}`: on element N allocates buffers without freeing them
//!   until `allocate` fails, and prints how many it got and the error.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/managed-transform",
});

use exports::torvyn::streaming::{lifecycle, processor};
use std::cell::{Cell, RefCell};
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{
    Buffer, OutputElement, ProcessError, ProcessResult, StreamElement,
};

thread_local! {
    static CONFIG: RefCell<String> = const { RefCell::new(String::new()) };
    static INDEX: Cell<u64> = const { Cell::new(0) };
    static STASHED: Cell<Option<u32>> = const { Cell::new(None) };
}

fn number(key: &str) -> Option<u64> {
    CONFIG.with(|c| {
        let c = c.borrow();
        let at = c.find(&format!("\"{key}\""))? + key.len() + 2;
        let rest = c[at..].trim_start().trim_start_matches(':').trim_start();
        rest.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .ok()
    })
}

fn error_kind() -> String {
    CONFIG.with(|c| {
        let c = c.borrow();
        for kind in ["invalid-input", "unavailable", "internal", "fatal"] {
            if c.contains(&format!("\"{kind}\"")) {
                return kind.to_string();
            }
        }
        "internal".to_string()
    })
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        CONFIG.with(|c| *c.borrow_mut() = config);
        Ok(())
    }
    fn teardown() {
        println!("teardown after {} elements", INDEX.with(|i| i.get()));
    }
}

impl processor::Guest for Component {
    fn process(input: StreamElement) -> Result<ProcessResult, ProcessError> {
        let index = INDEX.with(|i| {
            let v = i.get();
            i.set(v + 1);
            v
        });
        if let Some(handle) = STASHED.with(|s| s.take()) {
            // SAFETY (deliberately violated): this handle was a borrow that
            // ended with the previous call; the runtime must reject it.
            let stale = unsafe { Buffer::from_handle(handle) };
            let _ = stale.size();
            std::mem::forget(stale);
        }
        if number("spin_at") == Some(index) {
            let mut x = 0u64;
            loop {
                x = core::hint::black_box(x.wrapping_add(1));
            }
        }
        if number("hog_at") == Some(index) {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                core::hint::black_box(&hoard);
            }
        }
        if number("hoard_buffers_at") == Some(index) {
            let mut held = Vec::new();
            loop {
                match allocate(16) {
                    Ok(b) => held.push(b),
                    Err(e) => {
                        println!("allocated {} buffers, then: {e:?}", held.len());
                        break;
                    }
                }
                if held.len() > 100_000 {
                    println!("allocated {} buffers without a limit", held.len());
                    break;
                }
            }
        }
        if number("trap_at") == Some(index) {
            core::arch::wasm32::unreachable();
        }
        if number("stale_borrow_at") == Some(index) {
            STASHED.with(|s| s.set(Some(input.payload.handle())));
        }
        let persistent = number("fail_at") == Some(input.meta.sequence);
        if persistent || number("fail_once_at") == Some(index) {
            let msg = format!("element {} rejected on request", input.meta.sequence);
            return Err(match error_kind().as_str() {
                "invalid-input" => ProcessError::InvalidInput(msg),
                "unavailable" => ProcessError::Unavailable(msg),
                "fatal" => ProcessError::Fatal(msg),
                _ => ProcessError::Internal(msg),
            });
        }
        let bytes = input.payload.read_all();
        let out = allocate(bytes.len() as u64)
            .map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
        out.append(&bytes)
            .map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
        let frozen = out.freeze();
        if number("write_after_freeze_at") == Some(index) {
            let _ = out.append(b"after freeze");
        }
        Ok(ProcessResult::Emit(OutputElement {
            meta: input.meta.clone(),
            payload: frozen,
        }))
    }
}

export!(Component);
