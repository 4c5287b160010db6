//! For the hostile-guest suite: a processor that does one bad thing, chosen
//! by its config, at element `"at"` (default 0) or in `init` / `teardown`
//! (`"in": "init"` / `"in": "teardown"`). Every other element is passed on
//! as a copy, so a flow around it shows what got through.
//!
//! `"do"`:
//! - `loop`: spin forever in Wasm code;
//! - `grow-memory`: grow linear memory towards 4 GiB;
//! - `hoard`: allocate 16 MiB buffers in a loop, never returning them;
//! - `read-huge`: read the input at an offset and length near `u64::MAX`;
//! - `forge`: use a buffer handle it was never given;
//! - `keep-borrow`: keep the input's borrowed handle and use it in the next call;
//! - `write-after-freeze`, `freeze-twice`: use a mutable buffer after freezing it;
//! - `drop-borrowed`: drop the borrowed input buffer as if it owned it;
//! - `unreachable`: trap;
//! - `recurse`: recurse until the stack overflows;
//! - `recurse-to`: recurse `"depth"` levels, then go on normally;
//! - `stdout-flood`: print 4 MiB to stdout per element;
//! - `emit-forged`: return an output element whose buffer handle is forged.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/managed-transform",
});

use std::cell::{Cell, RefCell};

use exports::torvyn::streaming::{lifecycle, processor};
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{Buffer, MutableBuffer, OutputElement, ProcessError, ProcessResult, StreamElement};

thread_local! {
    static CONFIG: RefCell<String> = const { RefCell::new(String::new()) };
    static INDEX: Cell<u64> = const { Cell::new(0) };
    static KEPT: Cell<u32> = const { Cell::new(0) };
    static HOARD: RefCell<Vec<MutableBuffer>> = const { RefCell::new(Vec::new()) };
}

fn field(key: &str) -> Option<String> {
    CONFIG.with(|c| {
        let c = c.borrow();
        let pat = format!("\"{key}\"");
        let rest = c[c.find(&pat)? + pat.len()..].trim_start().strip_prefix(':')?.trim_start();
        match rest.strip_prefix('"') {
            Some(s) => s.find('"').map(|e| s[..e].to_string()),
            None => Some(rest.chars().take_while(|c| c.is_ascii_digit()).collect()),
        }
    })
}

fn action() -> String {
    field("do").unwrap_or_default()
}

/// Recursion that keeps everything in Wasm locals, so it exhausts the Wasm
/// call stack (not the guest's own data stack in linear memory).
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    core::hint::black_box(recurse(core::hint::black_box(depth + 1))).wrapping_add(depth)
}

/// Do the bad thing; `input` is the element being processed, if any.
fn misbehave(input: Option<&StreamElement>) -> Result<Option<ProcessResult>, ProcessError> {
    match action().as_str() {
        "loop" => {
            let mut x = 0u64;
            loop {
                x = core::hint::black_box(x.wrapping_add(1));
            }
        }
        "grow-memory" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for _ in 0..64 {
                blocks.push(vec![1u8; 64 << 20]);
            }
            Err(ProcessError::Internal(format!("grew {} blocks without being stopped", blocks.len())))
        }
        "hoard" => loop {
            match allocate(16 << 20) {
                Ok(b) => {
                    b.append(&[7u8; 4096]).map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
                    HOARD.with(|h| h.borrow_mut().push(b));
                }
                Err(e) => {
                    let n = HOARD.with(|h| h.borrow().len());
                    return Err(ProcessError::Fatal(format!("allocation refused after {n} buffers: {e:?}")));
                }
            }
        },
        "read-huge" => {
            let p = &input.expect("an input").payload;
            let got = p.read(u64::MAX - 5, u64::MAX).len() + p.read(3, u64::MAX - 1).len();
            Err(ProcessError::InvalidInput(format!("read {got} bytes")))
        }
        "forge" => {
            let b = unsafe { Buffer::from_handle(0x5eed) };
            Err(ProcessError::Internal(format!("forged buffer has {} bytes", b.size())))
        }
        "keep-borrow" => match KEPT.get() {
            0 => {
                KEPT.set(input.expect("an input").payload.handle());
                Ok(None)
            }
            h => {
                let b = unsafe { Buffer::from_handle(h) };
                let n = b.size();
                core::mem::forget(b);
                Err(ProcessError::Internal(format!("an old borrow still reads {n} bytes")))
            }
        },
        "write-after-freeze" | "freeze-twice" => {
            let m = allocate(16).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
            let h = m.handle();
            let frozen = m.freeze();
            let again = unsafe { MutableBuffer::from_handle(h) };
            if action() == "freeze-twice" {
                let _ = again.freeze();
            } else {
                let _ = again.append(b"late");
            }
            drop(frozen);
            Err(ProcessError::Internal("used a mutable buffer after freezing it".into()))
        }
        "drop-borrowed" => {
            let owned = unsafe { Buffer::from_handle(input.expect("an input").payload.handle()) };
            drop(owned);
            Err(ProcessError::Internal("dropped a borrowed buffer".into()))
        }
        "unreachable" => core::arch::wasm32::unreachable(),
        "recurse" => Err(ProcessError::Internal(format!("recursed to {}", recurse(0)))),
        "recurse-to" => {
            let depth = field("depth").and_then(|d| d.parse().ok()).unwrap_or(1000);
            core::hint::black_box(recurse_to(depth));
            Ok(None)
        }
        "stdout-flood" => {
            let line = "x".repeat(1023);
            for _ in 0..4096 {
                println!("{line}");
            }
            Ok(None)
        }
        "emit-forged" => Ok(Some(ProcessResult::Emit(OutputElement {
            meta: input.expect("an input").meta.clone(),
            payload: unsafe { Buffer::from_handle(0x0bad) },
        }))),
        _ => Ok(None),
    }
}

/// `depth` nested calls, all in Wasm locals.
#[inline(never)]
fn recurse_to(depth: u64) -> u64 {
    if core::hint::black_box(depth) == 0 {
        return 0;
    }
    core::hint::black_box(recurse_to(depth - 1)).wrapping_add(depth)
}

fn copy(input: &StreamElement) -> Result<ProcessResult, ProcessError> {
    let bytes = input.payload.read_all();
    let out = allocate(bytes.len() as u64).map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
    out.append(&bytes).map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
    Ok(ProcessResult::Emit(OutputElement { meta: input.meta.clone(), payload: out.freeze() }))
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        CONFIG.with(|c| *c.borrow_mut() = config);
        if field("in").as_deref() == Some("init") {
            misbehave(None)?;
        }
        Ok(())
    }

    fn teardown() {
        if field("in").as_deref() == Some("teardown") {
            let _ = misbehave(None);
        }
    }
}

impl processor::Guest for Component {
    fn process(input: StreamElement) -> Result<ProcessResult, ProcessError> {
        let index = INDEX.get();
        INDEX.set(index + 1);
        let at = field("at").and_then(|n| n.parse().ok()).unwrap_or(0);
        let keep_going = action() == "keep-borrow" && index > at;
        if field("in").is_none() && (index == at || keep_going || action() == "stdout-flood") {
            if let Some(r) = misbehave(Some(&input))? {
                return Ok(r);
            }
        }
        copy(&input)
    }
}

export!(Component);
