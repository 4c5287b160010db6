//! The uppercase processor built against a vendored copy of the contract
//! WIT without its version (`package torvyn:streaming;`), as guests that
//! copy the WIT files sometimes are: it imports and exports
//! `torvyn:streaming/types`, `…/processor` with no `@0.1.0`.
wit_bindgen::generate!({
    path: "wit",
    world: "torvyn:streaming/transform",
});

use exports::torvyn::streaming::processor;
use torvyn::streaming::buffer_allocator::allocate;
use torvyn::streaming::types::{OutputElement, ProcessError, ProcessResult, StreamElement};

struct Component;

impl processor::Guest for Component {
    fn process(input: StreamElement) -> Result<ProcessResult, ProcessError> {
        let mut bytes = input.payload.read_all();
        bytes.make_ascii_uppercase();
        let out = allocate(bytes.len() as u64)
            .map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
        out.append(&bytes)
            .map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
        out.set_content_type(&input.meta.content_type);
        Ok(ProcessResult::Emit(OutputElement {
            meta: input.meta.clone(),
            payload: out.freeze(),
        }))
    }
}

export!(Component);
