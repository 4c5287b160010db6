//! A processor that answers what `flow-context` says during its call:
//! it emits `trace=<trace id> span=<span id> flow=<flow id> deadline=<ns>`
//! for every element (tests compare it with the host's trace records).
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
        let ctx = &input.context;
        let text = format!("trace={} span={} flow={} deadline={}", ctx.trace_id(), ctx.span_id(), ctx.flow_id(), ctx.deadline_ns());
        let out = allocate(text.len() as u64).map_err(|e| ProcessError::Internal(format!("allocate: {e:?}")))?;
        out.append(text.as_bytes()).map_err(|e| ProcessError::Internal(format!("append: {e:?}")))?;
        out.set_content_type("text/plain");
        Ok(ProcessResult::Emit(OutputElement {
            meta: input.meta.clone(),
            payload: out.freeze(),
        }))
    }
}

export!(Component);
