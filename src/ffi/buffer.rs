//! `torvyn_buffer_*`: elements taken from an egress, read in place.

use std::ffi::{CString, c_char};

use parking_lot::Mutex;

use super::registry::{self, Kind, Object, torvyn_buffer};
use super::{FfiError, ffi_guard, put, torvyn_error, torvyn_status};
use crate::reactor::Element;

/// The object behind a `torvyn_buffer` token.
pub(crate) struct BufferObj {
    element: Mutex<Option<Element>>,
    content_type: CString,
}

impl BufferObj {
    pub(crate) fn new(element: Element) -> Self {
        let content_type = CString::new(element.content_type().replace('\0', " ")).unwrap_or_default();
        BufferObj {
            element: Mutex::new(Some(element)),
            content_type,
        }
    }
}

fn with_element<R>(buffer: *const torvyn_buffer, f: impl FnOnce(&Element) -> R) -> Result<R, FfiError> {
    let obj = registry::buffer(buffer as usize)?;
    let guard = obj.element.lock();
    let element = guard
        .as_ref()
        .ok_or_else(|| FfiError::stale("buffer was already released"))?;
    Ok(f(element))
}

/// A read-only view of the payload: `*out_data` points into the host buffer
/// itself (no copy) and `*out_len` is its length. The view is valid until
/// `torvyn_buffer_release(buffer)`; the bytes do not change meanwhile. Do
/// not write through it or free it. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_buffer_borrow(
    buffer: *const torvyn_buffer,
    out_data: *mut *const u8,
    out_len: *mut usize,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        if out_data.is_null() || out_len.is_null() {
            return Err(FfiError::invalid("out-parameters `out_data` and `out_len` must not be null"));
        }
        // The pointer stays valid after the lock: the element keeps the
        // pooled vector alive and unmodified until it is released.
        let (ptr, len) = with_element(buffer, |e| (e.payload().as_ptr(), e.payload().len()))?;
        unsafe {
            put(out_data, ptr, "out_data")?;
            put(out_len, len, "out_len")
        }
    })
}

/// The element's sequence number in its stream. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_buffer_sequence(buffer: *const torvyn_buffer, out_sequence: *mut u64, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let seq = with_element(buffer, Element::sequence)?;
        unsafe { put(out_sequence, seq, "out_sequence") }
    })
}

/// Wall-clock nanoseconds since the Unix epoch when the element entered the
/// flow. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_buffer_timestamp_ns(
    buffer: *const torvyn_buffer,
    out_timestamp_ns: *mut u64,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let ts = with_element(buffer, Element::timestamp_ns)?;
        unsafe { put(out_timestamp_ns, ts, "out_timestamp_ns") }
    })
}

/// The content type (possibly empty) in `*out_content_type`, a string owned
/// by the buffer: valid until `torvyn_buffer_release`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_buffer_content_type(
    buffer: *const torvyn_buffer,
    out_content_type: *mut *const c_char,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let obj = registry::buffer(buffer as usize)?;
        if obj.element.lock().is_none() {
            return Err(FfiError::stale("buffer was already released"));
        }
        // The registry keeps `obj` (and the string) alive until release.
        unsafe { put(out_content_type, obj.content_type.as_ptr(), "out_content_type") }
    })
}

/// End the borrow: the buffer returns to its pool and the handle becomes
/// invalid. Releasing twice, or a handle that was never issued, returns
/// `TORVYN_STATUS_STALE_HANDLE` and changes nothing. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_buffer_release(buffer: *mut torvyn_buffer, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let Object::Buffer(obj) = registry::remove(buffer as usize, Kind::Buffer)? else {
            return Err(FfiError::internal("registry kind mismatch"));
        };
        let element = obj.element.lock().take();
        match element {
            Some(mut e) => e.release().map_err(FfiError::from),
            None => Err(FfiError::stale("buffer was already released")),
        }
    })
}
