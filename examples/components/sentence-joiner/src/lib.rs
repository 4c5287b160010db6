//! An aggregator that joins word tokens into sentences.
//!
//! Each ingested token is appended (space-separated) to the sentence being
//! built; a token ending in `.`, `!` or `?` completes it and the sentence is
//! emitted. `flush` emits whatever is left as a last, unterminated sentence.
wit_bindgen::generate!({
    path: ["../../../wit/torvyn-streaming", "../../../wit/torvyn-aggregation"],
    world: "torvyn:aggregation/stream-aggregator",
    generate_all,
});

use exports::torvyn::aggregation::aggregator;
use exports::torvyn::streaming::lifecycle;
use std::cell::RefCell;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{ElementMeta, OutputElement, ProcessError, StreamElement};

thread_local! {
    static SENTENCE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn element(bytes: &[u8]) -> Result<OutputElement, ProcessError> {
    let buf = allocate(bytes.len() as u64).map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
    buf.append(bytes).map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
    Ok(OutputElement {
        meta: ElementMeta { sequence: 0, timestamp_ns: 0, content_type: "text/plain".to_string() },
        payload: buf.freeze(),
    })
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(_config: String) -> Result<(), ProcessError> {
        Ok(())
    }
    fn teardown() {}
}

impl aggregator::Guest for Component {
    fn ingest(token: StreamElement) -> Result<Option<OutputElement>, ProcessError> {
        let word = token.payload.read_all();
        SENTENCE.with(|s| {
            let mut s = s.borrow_mut();
            if !s.is_empty() {
                s.push(b' ');
            }
            s.extend_from_slice(&word);
            if matches!(word.last(), Some(b'.' | b'!' | b'?')) {
                let out = element(&s)?;
                s.clear();
                return Ok(Some(out));
            }
            Ok(None)
        })
    }

    fn flush() -> Result<Vec<OutputElement>, ProcessError> {
        SENTENCE.with(|s| {
            let mut s = s.borrow_mut();
            if s.is_empty() {
                return Ok(Vec::new());
            }
            let out = element(&s)?;
            s.clear();
            Ok(vec![out])
        })
    }
}

export!(Component);
