//! `torvyn_flow_*`: starting, watching, cancelling flows, and the embedding
//! endpoints (push into an ingress, take from an egress).

use std::ffi::c_char;
use std::sync::Arc;

use super::buffer::BufferObj;
use super::registry::{self, Kind, Object, torvyn_buffer, torvyn_flow, torvyn_host, torvyn_pipeline};
use super::{FfiError, arg_opt_str, arg_str, ffi_guard, put, string, timeout, torvyn_error, torvyn_status};
use crate::reactor::FailureKind;
use crate::types::FlowState;

/// Where a flow is in its life.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum torvyn_flow_state {
    TORVYN_FLOW_CREATED = 0,
    TORVYN_FLOW_INITIALIZING = 1,
    TORVYN_FLOW_RUNNING = 2,
    TORVYN_FLOW_DRAINING = 3,
    TORVYN_FLOW_COMPLETED = 4,
    TORVYN_FLOW_CANCELLED = 5,
    TORVYN_FLOW_FAILED = 6,
}

impl From<FlowState> for torvyn_flow_state {
    fn from(s: FlowState) -> Self {
        use torvyn_flow_state::*;
        match s {
            FlowState::Created => TORVYN_FLOW_CREATED,
            FlowState::Initializing => TORVYN_FLOW_INITIALIZING,
            FlowState::Running => TORVYN_FLOW_RUNNING,
            FlowState::Draining => TORVYN_FLOW_DRAINING,
            FlowState::Completed => TORVYN_FLOW_COMPLETED,
            FlowState::Cancelled => TORVYN_FLOW_CANCELLED,
            FlowState::Failed => TORVYN_FLOW_FAILED,
        }
    }
}

/// Start flow `flow_name` of `pipeline` on `host` (NULL name: `main`, or the
/// manifest's only flow). Components are compiled (cached per host) and
/// checked first; an error here means nothing ran. On success `*out_flow`
/// owns a new flow handle: free it with `torvyn_flow_free` (which does not
/// stop the flow). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_start(
    host: *mut torvyn_host,
    pipeline: *const torvyn_pipeline,
    flow_name: *const c_char,
    out_flow: *mut *mut torvyn_flow,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, { unsafe { start(host, pipeline, flow_name, std::ptr::null(), out_flow) } })
}

/// Both ways of starting a flow: arguments checked in order, nothing runs
/// unless all are valid.
unsafe fn start(
    host: *mut torvyn_host,
    pipeline: *const torvyn_pipeline,
    flow_name: *const c_char,
    traceparent: *const c_char,
    out_flow: *mut *mut torvyn_flow,
) -> Result<(), FfiError> {
    if out_flow.is_null() {
        return Err(FfiError::invalid("out-parameter `out_flow` is null"));
    }
    let h = registry::host(host as usize)?;
    let p = registry::pipeline(pipeline as usize)?;
    let traceparent = match unsafe { arg_opt_str(traceparent, "traceparent") }? {
        Some(t) => Some(t.parse::<crate::observability::TraceParent>().map_err(|e| FfiError::invalid(e.to_string()))?),
        None => None,
    };
    let name = match unsafe { arg_opt_str(flow_name, "flow_name") }? {
        Some(name) => name.to_string(),
        None => p.default_flow().map(|f| f.name.clone()).ok_or_else(|| crate::HostError::NoDefaultFlow {
            known: p.flows.iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", "),
        })?,
    };
    let flow = h.start_flow_with(&p, &name, &crate::FlowOptions { traceparent })?;
    let token = registry::insert(Object::Flow(flow));
    unsafe { put(out_flow, token as *mut torvyn_flow, "out_flow") }
}

/// `torvyn_flow_start`, continuing the W3C trace `traceparent`
/// (`00-<32 hex>-<16 hex>-<2 hex>`; NULL: a new trace). A malformed one is
/// `TORVYN_STATUS_INVALID_ARGUMENT` and nothing starts. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_start_traced(
    host: *mut torvyn_host,
    pipeline: *const torvyn_pipeline,
    flow_name: *const c_char,
    traceparent: *const c_char,
    out_flow: *mut *mut torvyn_flow,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, { unsafe { start(host, pipeline, flow_name, traceparent, out_flow) } })
}

/// The flow's trace as JSON in `*out_json`: `trace_id`, `traceparent` (its
/// root span, to pass on), `sampled`, `promoted`, and the `spans` it keeps
/// (recorded at the diagnostic level, or with `tracing_enabled`). Free with
/// `torvyn_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_trace_json(flow: *const torvyn_flow, out_json: *mut *mut c_char, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        if out_json.is_null() {
            return Err(FfiError::invalid("out-parameter `out_json` is null"));
        }
        unsafe { put(out_json, string::give(f.trace().to_string()), "out_json") }
    })
}

/// The flow's current state in `*out_state`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_get_state(
    flow: *const torvyn_flow,
    out_state: *mut torvyn_flow_state,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        unsafe { put(out_state, f.state().into(), "out_state") }
    })
}

/// Wait until the flow ends, up to `timeout_ms` (negative: no limit).
/// Returns OK when it completed, `TORVYN_STATUS_CANCELLED` when cancelled,
/// `TORVYN_STATUS_TRAP` when a component trapped or overran its deadline,
/// `TORVYN_STATUS_FAILED` for any other failure (with the message), and
/// `TORVYN_STATUS_TIMEOUT` if it is still running. Thread-safe; any number
/// of threads may wait while another cancels.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_wait(flow: *const torvyn_flow, timeout_ms: i64, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        let s = f.wait(timeout(timeout_ms))?;
        match s.state {
            FlowState::Completed => Ok(()),
            FlowState::Cancelled => Err(FfiError::new(torvyn_status::TORVYN_STATUS_CANCELLED, format!("flow `{}` was cancelled", s.flow))),
            _ => {
                let status = match s.failure {
                    Some(FailureKind::Trap | FailureKind::Deadline) => torvyn_status::TORVYN_STATUS_TRAP,
                    _ => torvyn_status::TORVYN_STATUS_FAILED,
                };
                Err(FfiError::new(status, s.error.unwrap_or_else(|| format!("flow `{}` failed", s.flow))))
            }
        }
    })
}

/// Ask the flow to stop. Returns at once; callable from any thread,
/// including while another thread waits on the flow.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_cancel(flow: *const torvyn_flow, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        registry::flow(flow as usize)?.cancel();
        Ok(())
    })
}

/// The flow's summary as JSON in `*out_json` (elements, copies, bytes
/// copied, per-stage and per-edge figures, duration_ms, error). While the
/// flow runs, only `flow_id`, `flow` and `state` are present. The caller
/// frees the string with `torvyn_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_summary_json(
    flow: *const torvyn_flow,
    out_json: *mut *mut c_char,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        if out_json.is_null() {
            return Err(FfiError::invalid("out-parameter `out_json` is null"));
        }
        let json = match f.summary() {
            Some(s) => s.to_json(),
            None => serde_json::json!({"flow_id": f.id().get(), "flow": f.name(), "state": f.state()}).to_string(),
        };
        unsafe { put(out_json, string::give(json), "out_json") }
    })
}

/// Push `len` bytes at `data` (borrowed for the call; may be NULL when len
/// is 0) into the ingress node `port`: they are copied once into a pooled
/// host buffer. `content_type` may be NULL. If the ingress is full, waits
/// up to `timeout_ms` (0: `TORVYN_STATUS_WOULD_BLOCK` at once; negative: no
/// limit; then `TORVYN_STATUS_TIMEOUT`). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_push(
    flow: *const torvyn_flow,
    port: *const c_char,
    data: *const u8,
    len: usize,
    content_type: *const c_char,
    timeout_ms: i64,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        let port = unsafe { arg_str(port, "port") }?;
        let content_type = unsafe { arg_opt_str(content_type, "content_type") }?.unwrap_or("");
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(FfiError::invalid("`data` is null but `len` is not 0"));
        } else {
            // SAFETY: the caller promises `len` readable bytes at `data` for the call.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        f.push(port, bytes, content_type, timeout(timeout_ms))?;
        Ok(())
    })
}

/// No more input on the ingress node `port`: the flow drains and completes.
/// Later pushes return `TORVYN_STATUS_CLOSED`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_close_input(flow: *const torvyn_flow, port: *const c_char, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        let port = unsafe { arg_str(port, "port") }?;
        f.close_input(port)?;
        Ok(())
    })
}

/// Take the next element from the egress node `port`, waiting up to
/// `timeout_ms` (0: do not wait; negative: no limit). On success
/// `*out_buffer` owns a borrow of the host buffer: read it in place with
/// `torvyn_buffer_borrow` and end it with `torvyn_buffer_release`. Returns
/// `TORVYN_STATUS_END_OF_STREAM` once the flow completed and every element
/// was taken, `TORVYN_STATUS_TIMEOUT` when nothing arrived in time.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_next(
    flow: *const torvyn_flow,
    port: *const c_char,
    timeout_ms: i64,
    out_buffer: *mut *mut torvyn_buffer,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        if out_buffer.is_null() {
            return Err(FfiError::invalid("out-parameter `out_buffer` is null"));
        }
        let f = registry::flow(flow as usize)?;
        let port = unsafe { arg_str(port, "port") }?;
        match f.next(port, timeout(timeout_ms))? {
            Some(element) => {
                let token = registry::insert(Object::Buffer(Arc::new(BufferObj::new(element))));
                unsafe { put(out_buffer, token as *mut torvyn_buffer, "out_buffer") }
            }
            None => Err(FfiError::new(
                torvyn_status::TORVYN_STATUS_END_OF_STREAM,
                format!("egress `{port}` is at the end of its stream"),
            )),
        }
    })
}

/// Free a flow handle. The flow itself keeps running (cancel it first to
/// stop it); once it has ended and no handle to it remains, its host forgets
/// it and frees everything it held. NULL does nothing; a stale handle is
/// ignored. Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_flow_free(flow: *mut torvyn_flow) {
    if flow.is_null() {
        return;
    }
    ffi_guard!(or (), {
        let _ = registry::remove(flow as usize, Kind::Flow);
    })
}
