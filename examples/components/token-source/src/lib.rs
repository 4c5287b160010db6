//! A source that splits a text into tokens and emits one element per token.
//!
//! Config (JSON, every key optional): `{"text": "…", "separator": " ",
//! "repeat": 1}`. The text is split on `separator` (empty pieces are
//! skipped) and emitted `repeat` times over; content type `text/plain`.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-source",
});

use exports::torvyn::streaming::{lifecycle, source};
use std::cell::RefCell;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{BackpressureSignal, ElementMeta, OutputElement, ProcessError};

struct State {
    tokens: Vec<String>,
    repeat: u64,
    next: usize,
    round: u64,
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State { tokens: Vec::new(), repeat: 1, next: 0, round: 0 }) };
}

/// The string or number after `"key":` in a flat JSON object (escapes `\"`
/// and `\\` are honoured in strings).
fn field(config: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\"");
    let at = config.find(&pat)? + pat.len();
    let rest = config[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        return None;
    }
    Some(rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect())
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        let text = field(&config, "text").unwrap_or_else(|| "hello from torvyn.".to_string());
        let sep = field(&config, "separator").unwrap_or_else(|| " ".to_string());
        if sep.is_empty() {
            return Err(ProcessError::Fatal("separator must not be empty".into()));
        }
        let repeat = match field(&config, "repeat") {
            Some(v) => v.parse().map_err(|_| ProcessError::Fatal(format!("repeat must be a number, got {v}")))?,
            None => 1,
        };
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.tokens = text.split(sep.as_str()).map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
            s.repeat = repeat;
        });
        Ok(())
    }

    fn teardown() {}
}

impl source::Guest for Component {
    fn pull() -> Result<Option<OutputElement>, ProcessError> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.next == s.tokens.len() {
                s.next = 0;
                s.round += 1;
            }
            if s.round >= s.repeat || s.tokens.is_empty() {
                return Ok(None);
            }
            let token = &s.tokens[s.next];
            let buf = allocate(token.len() as u64).map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
            buf.append(token.as_bytes()).map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
            s.next += 1;
            Ok(Some(OutputElement {
                meta: ElementMeta { sequence: 0, timestamp_ns: 0, content_type: "text/plain".to_string() },
                payload: buf.freeze(),
            }))
        })
    }

    fn notify_backpressure(_signal: BackpressureSignal) {}
}

export!(Component);
