//! The guest crates `torvyn init` writes: small, complete components that
//! build for `wasm32-wasip2` against the project's copy of the contract.

/// `Cargo.toml` of guest crate `name`.
pub fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen = "0.61"
"#
    )
}

pub const SOURCE: &str = r#"//! Emits `count` greetings (config: {"count": 5}), then reports exhaustion.
wit_bindgen::generate!({
    path: "../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-source",
});

use exports::torvyn::streaming::{lifecycle, source};
use std::cell::Cell;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{BackpressureSignal, ElementMeta, OutputElement, ProcessError};

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(5) };
    static SENT: Cell<u64> = const { Cell::new(0) };
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        // The node's `config` table arrives as JSON, e.g. {"count":5}.
        if let Some(at) = config.find("\"count\"") {
            let digits: String = config[at + 7..].chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
            let n = digits.parse().map_err(|_| ProcessError::Fatal(format!("count must be a number: {config}")))?;
            COUNT.with(|c| c.set(n));
        }
        Ok(())
    }
    fn teardown() {}
}

impl source::Guest for Component {
    fn pull() -> Result<Option<OutputElement>, ProcessError> {
        let sent = SENT.with(|s| s.get());
        if sent >= COUNT.with(|c| c.get()) {
            return Ok(None);
        }
        SENT.with(|s| s.set(sent + 1));
        let text = format!("hello number {}", sent + 1);
        let buf = allocate(text.len() as u64).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        buf.append(text.as_bytes()).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        Ok(Some(OutputElement {
            // The runtime assigns sequence and timestamp.
            meta: ElementMeta { sequence: 0, timestamp_ns: 0, content_type: "text/plain".into() },
            payload: buf.freeze(),
        }))
    }

    fn notify_backpressure(_signal: BackpressureSignal) {}
}

export!(Component);
"#;

pub const TRANSFORM: &str = r#"//! Upper-cases every element into a new buffer.
wit_bindgen::generate!({
    path: "../../wit/torvyn-streaming",
    world: "torvyn:streaming/transform",
});

use exports::torvyn::streaming::processor;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{ElementMeta, OutputElement, ProcessError, ProcessResult, StreamElement};

struct Component;

impl processor::Guest for Component {
    fn process(input: StreamElement) -> Result<ProcessResult, ProcessError> {
        // One copy in (read-all) and one copy out (append); the input buffer
        // is only borrowed for this call.
        let bytes = input.payload.read_all().to_ascii_uppercase();
        let out = allocate(bytes.len() as u64).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        out.append(&bytes).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        Ok(ProcessResult::Emit(OutputElement {
            meta: ElementMeta { sequence: 0, timestamp_ns: 0, content_type: input.meta.content_type },
            payload: out.freeze(),
        }))
    }
}

export!(Component);
"#;

pub const FILTER: &str = r#"//! Drops elements containing the `drop` keyword (config: {"drop": "3"}).
wit_bindgen::generate!({
    path: ["../../wit/torvyn-streaming", "../../wit/torvyn-filtering"],
    world: "torvyn:filtering/content-filter",
    generate_all,
});

use exports::torvyn::filtering::filter;
use exports::torvyn::streaming::lifecycle;
use std::cell::RefCell;
use torvyn::streaming::types::{ProcessError, StreamElement};

thread_local! {
    static DROP: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        if let Some(at) = config.find("\"drop\"") {
            let rest = &config[at + 6..];
            let start = rest.find('"').map(|i| i + 1).unwrap_or(0);
            let end = rest[start..].find('"').map(|i| start + i).unwrap_or(start);
            DROP.with(|d| *d.borrow_mut() = rest[start..end].to_string());
        }
        Ok(())
    }
    fn teardown() {}
}

impl filter::Guest for Component {
    fn evaluate(element: StreamElement) -> Result<bool, ProcessError> {
        let text = String::from_utf8_lossy(&element.payload.read_all()).into_owned();
        Ok(DROP.with(|d| d.borrow().is_empty() || !text.contains(d.borrow().as_str())))
    }
}

export!(Component);
"#;

pub const SINK: &str = r#"//! Prints every element with its sequence number.
wit_bindgen::generate!({
    path: "../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-sink",
});

use exports::torvyn::streaming::{lifecycle, sink};
use torvyn::streaming::types::{BackpressureSignal, ProcessError, StreamElement};

struct Component;

impl lifecycle::Guest for Component {
    fn init(_config: String) -> Result<(), ProcessError> {
        Ok(())
    }
    fn teardown() {}
}

impl sink::Guest for Component {
    fn push(element: StreamElement) -> Result<BackpressureSignal, ProcessError> {
        let bytes = element.payload.read_all();
        println!("[{}] {}", element.meta.sequence, String::from_utf8_lossy(&bytes));
        Ok(BackpressureSignal::Ready)
    }

    fn complete() -> Result<(), ProcessError> {
        println!("done");
        Ok(())
    }
}

export!(Component);
"#;

pub const ROUTER: &str = r#"//! Sends elements containing `keyword` (config: {"keyword": "5"}) to the
//! `matched` port and every other element to `output`. Ports without an
//! edge in the manifest do not exist: name only ports you wire.
wit_bindgen::generate!({
    path: ["../../wit/torvyn-streaming", "../../wit/torvyn-filtering"],
    world: "torvyn:filtering/content-router",
    generate_all,
});

use exports::torvyn::filtering::router;
use exports::torvyn::streaming::lifecycle;
use std::cell::RefCell;
use torvyn::streaming::types::{ProcessError, StreamElement};

thread_local! {
    static KEYWORD: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        if let Some(at) = config.find("\"keyword\"") {
            let rest = &config[at + 9..];
            let start = rest.find('"').map(|i| i + 1).unwrap_or(0);
            let end = rest[start..].find('"').map(|i| start + i).unwrap_or(start);
            KEYWORD.with(|k| *k.borrow_mut() = rest[start..end].to_string());
        }
        Ok(())
    }
    fn teardown() {}
}

impl router::Guest for Component {
    fn route(element: StreamElement) -> Result<Vec<String>, ProcessError> {
        let text = String::from_utf8_lossy(&element.payload.read_all()).into_owned();
        let matched = KEYWORD.with(|k| !k.borrow().is_empty() && text.contains(k.borrow().as_str()));
        Ok(vec![if matched { "matched".to_string() } else { "output".to_string() }])
    }
}

export!(Component);
"#;

pub const AGGREGATOR: &str = r#"//! Counts elements and bytes; when its upstream completes it emits one
//! summary element: "N elements, M bytes".
wit_bindgen::generate!({
    path: ["../../wit/torvyn-streaming", "../../wit/torvyn-aggregation"],
    world: "torvyn:aggregation/stream-aggregator",
    generate_all,
});

use exports::torvyn::aggregation::aggregator;
use exports::torvyn::streaming::lifecycle;
use std::cell::Cell;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{ElementMeta, OutputElement, ProcessError, StreamElement};

thread_local! {
    static ELEMENTS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(_config: String) -> Result<(), ProcessError> {
        Ok(())
    }
    fn teardown() {}
}

impl aggregator::Guest for Component {
    fn ingest(element: StreamElement) -> Result<Option<OutputElement>, ProcessError> {
        ELEMENTS.with(|n| n.set(n.get() + 1));
        BYTES.with(|b| b.set(b.get() + element.payload.size()));
        Ok(None)
    }

    fn flush() -> Result<Vec<OutputElement>, ProcessError> {
        let text = format!("{} elements, {} bytes", ELEMENTS.with(Cell::get), BYTES.with(Cell::get));
        let buf = allocate(text.len() as u64).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        buf.append(text.as_bytes()).map_err(|e| ProcessError::Internal(format!("{e:?}")))?;
        Ok(vec![OutputElement {
            meta: ElementMeta { sequence: 0, timestamp_ns: 0, content_type: "text/plain".into() },
            payload: buf.freeze(),
        }])
    }
}

export!(Component);
"#;
