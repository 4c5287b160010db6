//! `torvyn_*_metrics_*`: the metrics of a flow or of a whole host, as JSON
//! or Prometheus text, and a flow's observability level.

use std::ffi::c_char;

use super::registry::{self, torvyn_flow, torvyn_host};
use super::{FfiError, ffi_guard, string, torvyn_error, torvyn_status};
use crate::observability::Level;

/// `TORVYN_OBSERVABILITY_OFF`: nothing beyond the end-of-flow summary.
pub const TORVYN_OBSERVABILITY_OFF: u32 = 0;
/// `TORVYN_OBSERVABILITY_PRODUCTION`: counters and (sampled) histograms.
pub const TORVYN_OBSERVABILITY_PRODUCTION: u32 = 1;
/// `TORVYN_OBSERVABILITY_DIAGNOSTIC`: every call timed.
pub const TORVYN_OBSERVABILITY_DIAGNOSTIC: u32 = 2;

/// The flow's metrics now as JSON in `*out_json` (counts, histograms with
/// p50/p90/p99/p999/max, per node, edge and pool tier; see
/// docs/observability.md). Free with `torvyn_string_free`. Thread-safe;
/// takes the flow's buffer lock for a moment (as its worker does per buffer
/// operation).
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_metrics_json(flow: *const torvyn_flow, out_json: *mut *mut c_char, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        let json = serde_json::to_string(&f.metrics()).map_err(|e| FfiError::new(torvyn_status::TORVYN_STATUS_INTERNAL, e.to_string()))?;
        string::give_out(out_json, json, "out_json")
    })
}

/// What the flow records from now on: one of `TORVYN_OBSERVABILITY_OFF`,
/// `_PRODUCTION`, `_DIAGNOSTIC` (anything else is
/// `TORVYN_STATUS_INVALID_ARGUMENT`). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_set_observability_level(flow: *const torvyn_flow, level: u32, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        let level = match level {
            TORVYN_OBSERVABILITY_OFF => Level::Off,
            TORVYN_OBSERVABILITY_PRODUCTION => Level::Production,
            TORVYN_OBSERVABILITY_DIAGNOSTIC => Level::Diagnostic,
            other => {
                return Err(FfiError::invalid(format!(
                    "observability level {other} is not one of TORVYN_OBSERVABILITY_OFF (0), _PRODUCTION (1), _DIAGNOSTIC (2)"
                )))
            }
        };
        f.set_observability_level(level);
        Ok(())
    })
}

/// Every flow's metrics and the host's own (active flows and components,
/// memory, scheduler) as JSON in `*out_json`. Free with
/// `torvyn_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_metrics_json(host: *const torvyn_host, out_json: *mut *mut c_char, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let h = registry::host(host as usize)?;
        let json = serde_json::to_string(&h.metrics()).map_err(|e| FfiError::new(torvyn_status::TORVYN_STATUS_INTERNAL, e.to_string()))?;
        string::give_out(out_json, json, "out_json")
    })
}

/// The same as Prometheus (OpenMetrics) text in `*out_text`, ready to
/// serve from the embedder's own `/metrics` (content type
/// `application/openmetrics-text; version=1.0.0; charset=utf-8`). Free with
/// `torvyn_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_metrics_text(host: *const torvyn_host, out_text: *mut *mut c_char, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let h = registry::host(host as usize)?;
        string::give_out(out_text, crate::observability::prometheus_text(&h.metrics()), "out_text")
    })
}
