//! `torvyn_pipeline_*`: loading manifests.

use std::ffi::c_char;
use std::sync::Arc;

use super::registry::{self, Kind, Object, torvyn_pipeline};
use super::{FfiError, arg_opt_str, arg_str, ffi_guard, put, string, torvyn_error, torvyn_status};
use crate::config::PipelineDef;

fn hand_out(p: PipelineDef, out: *mut *mut torvyn_pipeline) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::invalid("out-parameter `out_pipeline` is null"));
    }
    let token = registry::insert(Object::Pipeline(Arc::new(p)));
    unsafe { put(out, token as *mut torvyn_pipeline, "out_pipeline") }
}

/// Load a manifest from `path`: a `Torvyn.toml`, a `.json` file, or a folder
/// holding `Torvyn.toml`. On success `*out_pipeline` owns a new pipeline:
/// free it with `torvyn_pipeline_free`. Component paths are resolved now:
/// an `oci://` component not yet in the user's cache is pulled now (network
/// I/O, up to the registry's timeouts; `[registry] offline = true` forbids
/// it), verified, and signature-checked when the manifest requires it.
/// Components are compiled when a flow starts. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_pipeline_load_file(
    path: *const c_char,
    out_pipeline: *mut *mut torvyn_pipeline,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let path = unsafe { arg_str(path, "path") }?;
        hand_out(PipelineDef::load(path)?, out_pipeline)
    })
}

/// Grant `capability` (e.g. "filesystem:read:/data/**"; see docs/security.md)
/// to the node named `target`, or to every node running `[[component]]`
/// `target`, in every flow of `pipeline`: as `[security.grants.<target>]`
/// would. Flows started before keep their grants. An unknown capability is
/// `TORVYN_STATUS_INVALID_ARGUMENT` naming the closest one; a target naming
/// nothing is `TORVYN_STATUS_NOT_FOUND`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_pipeline_grant(
    pipeline: *mut torvyn_pipeline,
    target: *const c_char,
    capability: *const c_char,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let target = unsafe { arg_str(target, "target") }?;
        let capability = unsafe { arg_str(capability, "capability") }?;
        registry::update_pipeline(pipeline as usize, |p| p.grant(target, capability).map(|_| ()).map_err(FfiError::from))
    })
}

/// Load a manifest from TOML text (borrowed for the call). Relative
/// component paths resolve against `base_dir` (NULL: the current directory).
/// Ownership as for `torvyn_pipeline_load_file`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_pipeline_load_toml(
    toml: *const c_char,
    base_dir: *const c_char,
    out_pipeline: *mut *mut torvyn_pipeline,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let text = unsafe { arg_str(toml, "toml") }?;
        let base = unsafe { arg_opt_str(base_dir, "base_dir") }?.unwrap_or(".");
        hand_out(PipelineDef::from_toml_str(text, base)?, out_pipeline)
    })
}

/// Load a manifest from JSON text with the same structure as the TOML.
/// Ownership as for `torvyn_pipeline_load_file`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_pipeline_load_json(
    json: *const c_char,
    base_dir: *const c_char,
    out_pipeline: *mut *mut torvyn_pipeline,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let text = unsafe { arg_str(json, "json") }?;
        let base = unsafe { arg_opt_str(base_dir, "base_dir") }?.unwrap_or(".");
        hand_out(PipelineDef::from_json_str(text, base)?, out_pipeline)
    })
}

/// Number of flows the manifest defines, in `*out_count`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_pipeline_flow_count(
    pipeline: *const torvyn_pipeline,
    out_count: *mut usize,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let p = registry::pipeline(pipeline as usize)?;
        unsafe { put(out_count, p.flows.len(), "out_count") }
    })
}

/// Name of flow number `index` (0-based, manifest order) in `*out_name`, a
/// new string the caller frees with `torvyn_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_pipeline_flow_name(
    pipeline: *const torvyn_pipeline,
    index: usize,
    out_name: *mut *mut c_char,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let p = registry::pipeline(pipeline as usize)?;
        let flow = p.flows.get(index).ok_or_else(|| {
            FfiError::new(
                torvyn_status::TORVYN_STATUS_NOT_FOUND,
                format!("flow index {index} is out of range; the manifest has {} flow(s)", p.flows.len()),
            )
        })?;
        if out_name.is_null() {
            return Err(FfiError::invalid("out-parameter `out_name` is null"));
        }
        unsafe { put(out_name, string::give(flow.name.clone()), "out_name") }
    })
}

/// Free a pipeline. Flows started from it keep running. NULL does nothing; a
/// stale handle is ignored. Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_pipeline_free(pipeline: *mut torvyn_pipeline) {
    if pipeline.is_null() {
        return;
    }
    ffi_guard!(or (), {
        let _ = registry::remove(pipeline as usize, Kind::Pipeline);
    })
}
