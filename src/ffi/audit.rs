//! `torvyn_*_audit_*`: the audit trail from C.

use std::ffi::{CString, c_char, c_void};

use super::log::{UserData, torvyn_free_fn};
use super::registry::{self, torvyn_flow, torvyn_host};
use super::{FfiError, ffi_guard, string, torvyn_error, torvyn_status};

/// Receives one audit event as a JSON object (borrowed for the call; see
/// docs/security.md for its fields).
pub type torvyn_audit_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, event_json: *const c_char)>;

/// The C callback and its user data.
struct Sink {
    f: unsafe extern "C" fn(*mut c_void, *const c_char),
    data: UserData,
}

impl Sink {
    fn deliver(&self, event: &crate::security::AuditEvent) {
        if let Some(json) = serde_json::to_string(event).ok().and_then(|j| CString::new(j).ok()) {
            // SAFETY: `f` was given by the caller for this use; the text lives for the call.
            unsafe { (self.f)(self.data.ptr, json.as_ptr()) };
        }
    }
}

/// The flow's audit trail now as a JSON array in `*out_json` (its last
/// 4,096 events: every capability denial and each grant's first use per
/// node). Free with `torvyn_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_flow_audit_json(flow: *const torvyn_flow, out_json: *mut *mut c_char, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let f = registry::flow(flow as usize)?;
        let json = serde_json::to_string(&f.audit_events()).map_err(|e| FfiError::new(torvyn_status::TORVYN_STATUS_INTERNAL, e.to_string()))?;
        string::give_out(out_json, json, "out_json")
    })
}

/// Send the audit events of flows this host starts from now on to
/// `callback` (the manifest's `audit_target = "event-sink"`), replacing any
/// earlier one; NULL stops it. Flows whose manifest names a file or stdout
/// keep that destination.
///
/// Threads: the callback runs on an audit writer thread of its own, one event
/// at a time and in order, never on a worker; it may call any Torvyn
/// function. Events it cannot keep up with (4,096 queued) are dropped and
/// counted. `user_data_free` runs once the callback will not be called again
/// (the host and the flows that used it are gone). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_set_audit_callback(
    host: *const torvyn_host,
    callback: torvyn_audit_fn,
    user_data: *mut c_void,
    user_data_free: torvyn_free_fn,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        // Freed on any error, and at once when there is no callback.
        let data = UserData::new(user_data, user_data_free);
        let h = registry::host(host as usize)?;
        let sink = callback.map(|f| Sink { f, data });
        h.set_audit_sink(sink.map(|s| {
            Box::new(move |e: &crate::security::AuditEvent| s.deliver(e)) as Box<dyn Fn(&crate::security::AuditEvent) + Send + Sync>
        }));
        Ok(())
    })
}
