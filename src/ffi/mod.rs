//! The C ABI: the only `extern "C"` code of the crate, one file per noun.
//!
//! Rules every function here follows (the header repeats them):
//! - Every entry point runs inside [`ffi_guard!`], which catches panics and
//!   turns them into `TORVYN_STATUS_PANIC`; no panic unwinds into C.
//! - Handles are opaque tokens looked up in a registry (slot + generation +
//!   type tag), never dereferenced: a null, stale, freed or foreign handle is
//!   an error status, never a crash.
//! - Fallible calls return a `torvyn_status` and, when `out_error` is not
//!   null, store an owned `torvyn_error` (free it with `torvyn_error_free`).
//!   Errors are objects, not thread-local state, so a caller that changes
//!   threads between calls (a Go goroutine) reads the right one.
//! - Memory Torvyn hands out is freed only through Torvyn.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

mod audit;
mod buffer;
mod error;
mod flow;
mod host;
mod log;
mod metrics;
mod pipeline;
mod registry;
mod string;
mod version;

use std::ffi::{CStr, c_char};
use std::time::Duration;

pub use error::{FfiError, torvyn_error, torvyn_status};
pub use registry::{torvyn_buffer, torvyn_flow, torvyn_host, torvyn_pipeline};

/// Run an entry point's body, catching panics. The body evaluates to
/// `Result<(), FfiError>`; the error (or panic) is stored in `$err` when it
/// is not null, and its status returned.
macro_rules! ffi_guard {
    // Entry points that return something other than a status (accessors,
    // `_free`): `$body` gives the value, a panic gives `$fallback`.
    (or $fallback:expr, $body:block) => {{
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)).unwrap_or($fallback)
    }};
    ($err:expr, $body:block) => {{
        let out_error: *mut *mut $crate::ffi::torvyn_error = $err;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), $crate::ffi::FfiError> { $body })) {
            Ok(Ok(())) => {
                $crate::ffi::error::clear(out_error);
                $crate::ffi::torvyn_status::TORVYN_STATUS_OK
            }
            Ok(Err(e)) => e.report(out_error),
            Err(panic) => $crate::ffi::FfiError::from_panic(panic).report(out_error),
        }
    }};
}
pub(crate) use ffi_guard;

/// A required C string argument.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("`{what}` is null")));
    }
    // SAFETY: the caller promises a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| FfiError::invalid(format!("`{what}` is not valid UTF-8")))
}

/// An optional C string argument (null means absent).
pub(crate) unsafe fn arg_opt_str<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, FfiError> {
    if p.is_null() { Ok(None) } else { unsafe { arg_str(p, what) }.map(Some) }
}

/// Store `value` through a required out-pointer.
pub(crate) unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::invalid(format!("out-parameter `{what}` is null")));
    }
    // SAFETY: non-null, and the caller promises it points to writable memory for a T.
    unsafe { out.write(value) };
    Ok(())
}

/// Timeouts in milliseconds: negative waits forever, 0 does not wait.
pub(crate) fn timeout(ms: i64) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}
