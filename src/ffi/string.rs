//! Strings Torvyn hands to C.

use std::collections::HashSet;
use std::ffi::{CString, c_char};
use std::sync::Mutex;

use super::ffi_guard;

/// Addresses of strings handed out and not yet freed, so a double or
/// foreign free is detected instead of corrupting the heap.
static OUTSTANDING: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

/// Hand `s` to C as an owned string (interior NULs become spaces).
pub(crate) fn give(s: String) -> *mut c_char {
    let raw = CString::new(s.replace('\0', " ")).unwrap_or_default().into_raw();
    OUTSTANDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(raw as usize);
    raw
}

/// Free a string returned by Torvyn (`torvyn_flow_summary_json`,
/// `torvyn_pipeline_flow_name`, …). `NULL` does nothing; a pointer Torvyn did
/// not hand out, or one already freed, is ignored. Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    ffi_guard!(or (), {
        let known = OUTSTANDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .is_some_and(|set| set.remove(&(s as usize)));
        if known {
            // SAFETY: `s` came from `CString::into_raw` in `give` and was not freed yet.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Hand `text` to the caller through out-parameter `out` (named `name` in
/// the error when it is null); free it with `torvyn_string_free`.
pub(crate) fn give_out(out: *mut *mut c_char, text: String, name: &'static str) -> Result<(), super::FfiError> {
    if out.is_null() {
        return Err(super::FfiError::invalid(format!("out-parameter `{name}` is null")));
    }
    unsafe { super::put(out, give(text), name) }
}
