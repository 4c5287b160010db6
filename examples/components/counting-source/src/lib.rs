//! A source that emits `count` elements, then reports exhaustion.
//!
//! Config (JSON, every key optional): `{"count": 5, "payload_size": 0,
//! "message": "Hello, World!"}`. With `payload_size` 0 each element is
//! "<message> (message N)" for N = 1..=count; otherwise it is `payload_size`
//! bytes of a repeating pattern.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-source",
});

use exports::torvyn::streaming::{lifecycle, source};
use std::cell::RefCell;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{
    BackpressureSignal, BufferError, ElementMeta, OutputElement, ProcessError,
};

struct State {
    count: u64,
    emitted: u64,
    message: String,
    /// Fixed payload when `payload_size` > 0 (built once, appended each pull).
    fixed: Option<Vec<u8>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        count: 5,
        emitted: 0,
        message: "Hello, World!".to_string(),
        fixed: None,
    });
}

fn field<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\"");
    let at = config.find(&pat)? + pat.len();
    let rest = config[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return s.find('"').map(|end| &s[..end]);
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_digit()))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn buffer_error(e: BufferError) -> ProcessError {
    ProcessError::Internal(format!("buffer: {e:?}"))
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(v) = field(&config, "count") {
                s.count = v
                    .parse()
                    .map_err(|_| ProcessError::Fatal(format!("count must be a number, got {v}")))?;
            }
            if let Some(m) = field(&config, "message") {
                s.message = m.to_string();
            }
            if let Some(v) = field(&config, "payload_size") {
                let n: usize = v.parse().map_err(|_| {
                    ProcessError::Fatal(format!("payload_size must be a number, got {v}"))
                })?;
                if n > 0 {
                    s.fixed = Some((0..n).map(|i| b'a' + (i % 26) as u8).collect());
                }
            }
            Ok(())
        })
    }

    fn teardown() {}
}

impl source::Guest for Component {
    fn pull() -> Result<Option<OutputElement>, ProcessError> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.emitted >= s.count {
                return Ok(None);
            }
            s.emitted += 1;
            let text;
            let bytes: &[u8] = match &s.fixed {
                Some(b) => b,
                None => {
                    text = format!("{} (message {})", s.message, s.emitted);
                    text.as_bytes()
                }
            };
            let buf = allocate(bytes.len() as u64).map_err(buffer_error)?;
            buf.append(bytes).map_err(buffer_error)?;
            buf.set_content_type("text/plain");
            Ok(Some(OutputElement {
                meta: ElementMeta {
                    sequence: 0,
                    timestamp_ns: 0,
                    content_type: "text/plain".to_string(),
                },
                payload: buf.freeze(),
            }))
        })
    }

    fn notify_backpressure(signal: BackpressureSignal) {
        // Reported on stderr, which the runtime captures into its log, so a
        // user (and the tests) can see the signal arrive.
        let name = match signal {
            BackpressureSignal::Pause => "pause",
            BackpressureSignal::Ready => "ready",
        };
        eprintln!("backpressure: {name}");
    }
}

export!(Component);
