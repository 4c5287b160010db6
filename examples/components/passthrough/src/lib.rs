//! A processor that reads every byte of its input and writes them into a new
//! buffer: the smallest processor that really touches the payload.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/transform",
});

use exports::torvyn::streaming::processor;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{OutputElement, ProcessError, ProcessResult, StreamElement};

struct Component;

impl processor::Guest for Component {
    fn process(input: StreamElement) -> Result<ProcessResult, ProcessError> {
        let bytes = input.payload.read_all();
        let out = allocate(bytes.len() as u64)
            .map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
        out.append(&bytes)
            .map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
        Ok(ProcessResult::Emit(OutputElement {
            meta: input.meta.clone(),
            payload: out.freeze(),
        }))
    }
}

export!(Component);
