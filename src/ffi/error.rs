//! Status codes and owned error objects.

use std::any::Any;
use std::ffi::{CString, c_char};
use std::sync::Arc;

use super::ffi_guard;
use super::registry::{self, Kind, Object};
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::host::HostError;
use crate::linker::LinkError;
use crate::reactor::EndpointError;
use crate::resources::BufferError;
use crate::types::FlowState;

/// Result of every fallible call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum torvyn_status {
    /// Success.
    TORVYN_STATUS_OK = 0,
    /// A null, malformed or out-of-range argument, or a bad manifest.
    TORVYN_STATUS_INVALID_ARGUMENT = 1,
    /// No such flow, port or file.
    TORVYN_STATUS_NOT_FOUND = 2,
    /// The call would have to wait and was asked not to (timeout 0).
    TORVYN_STATUS_WOULD_BLOCK = 3,
    /// The timeout passed first.
    TORVYN_STATUS_TIMEOUT = 4,
    /// An egress has no more elements: the flow completed.
    TORVYN_STATUS_END_OF_STREAM = 5,
    /// The flow was cancelled.
    TORVYN_STATUS_CANCELLED = 6,
    /// A component trapped or overran its deadline; its flow failed.
    TORVYN_STATUS_TRAP = 7,
    /// A component does not implement what its node needs.
    TORVYN_STATUS_CONTRACT_MISMATCH = 8,
    /// A file could not be read.
    TORVYN_STATUS_IO = 9,
    /// A panic inside Torvyn was caught at the boundary (a bug; please report).
    TORVYN_STATUS_PANIC = 10,
    /// An internal error (a bug; please report).
    TORVYN_STATUS_INTERNAL = 11,
    /// The handle was freed or released already, or was never issued.
    TORVYN_STATUS_STALE_HANDLE = 12,
    /// The input was closed, or the host shut down.
    TORVYN_STATUS_CLOSED = 13,
    /// The flow failed for another reason (see the message).
    TORVYN_STATUS_FAILED = 14,
}

/// An error: a status and a message (opaque, owned by the caller).
pub struct torvyn_error {
    _private: [u8; 0],
}

pub(crate) struct ErrorObj {
    pub status: torvyn_status,
    pub message: CString,
}

/// An error on its way to C.
#[derive(Debug, Clone)]
pub struct FfiError {
    pub status: torvyn_status,
    pub message: String,
}

use torvyn_status::*;

impl FfiError {
    pub fn new(status: torvyn_status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        FfiError::new(TORVYN_STATUS_INVALID_ARGUMENT, message)
    }

    pub fn stale(message: impl Into<String>) -> Self {
        FfiError::new(TORVYN_STATUS_STALE_HANDLE, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        FfiError::new(TORVYN_STATUS_INTERNAL, message)
    }

    pub(crate) fn from_panic(panic: Box<dyn Any + Send>) -> Self {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        FfiError::new(TORVYN_STATUS_PANIC, format!("internal panic caught at the C boundary: {what}"))
    }

    /// Store this error in `*out` (when `out` is not null) and return its status.
    pub(crate) fn report(self, out: *mut *mut torvyn_error) -> torvyn_status {
        let status = self.status;
        if !out.is_null() {
            let message = CString::new(self.message.replace('\0', " ")).unwrap_or_default();
            let token = registry::insert(Object::Error(Arc::new(ErrorObj { status, message })));
            // SAFETY: non-null; the caller promises a writable `torvyn_error *`.
            unsafe { out.write(token as *mut torvyn_error) };
        }
        status
    }
}

/// On success, an `out_error` the caller passed is set to null.
pub(crate) fn clear(out: *mut *mut torvyn_error) {
    if !out.is_null() {
        // SAFETY: as in `report`.
        unsafe { out.write(std::ptr::null_mut()) };
    }
}

impl From<ConfigError> for FfiError {
    fn from(e: ConfigError) -> Self {
        let status = match &e {
            ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => TORVYN_STATUS_NOT_FOUND,
            ConfigError::Read { .. } => TORVYN_STATUS_IO,
            ConfigError::Invalid { .. } | ConfigError::Override { .. } => TORVYN_STATUS_INVALID_ARGUMENT,
        };
        FfiError::new(status, e.to_string())
    }
}

impl From<crate::security::SecurityError> for FfiError {
    fn from(e: crate::security::SecurityError) -> Self {
        let status = match e {
            crate::security::SecurityError::NoTarget { .. } => torvyn_status::TORVYN_STATUS_NOT_FOUND,
            _ => torvyn_status::TORVYN_STATUS_INVALID_ARGUMENT,
        };
        FfiError::new(status, e.to_string())
    }
}

impl From<HostError> for FfiError {
    fn from(e: HostError) -> Self {
        let status = match &e {
            HostError::UnknownFlow(_) | HostError::NoDefaultFlow { .. } => TORVYN_STATUS_NOT_FOUND,
            HostError::Link(l) => link_status(l),
            HostError::MemoryCeiling { .. } | HostError::InvalidOption { .. } => TORVYN_STATUS_INVALID_ARGUMENT,
            HostError::Timeout { .. } => TORVYN_STATUS_TIMEOUT,
            HostError::ShutDown => TORVYN_STATUS_CLOSED,
            HostError::StillRunning { .. } => TORVYN_STATUS_WOULD_BLOCK,
            HostError::Start(_) => TORVYN_STATUS_INTERNAL,
            HostError::Observability(_) => TORVYN_STATUS_IO,
        };
        FfiError::new(status, e.to_string())
    }
}

/// The status of a link failure (of its first problem, when there are several).
fn link_status(e: &LinkError) -> torvyn_status {
    match e {
        LinkError::UnknownFlow { .. } | LinkError::NotBuilt { .. } => TORVYN_STATUS_NOT_FOUND,
        LinkError::InterfaceMismatch { .. } | LinkError::MissingCapability { .. } | LinkError::MissingRequired { .. } => {
            TORVYN_STATUS_CONTRACT_MISMATCH
        }
        LinkError::Grant { .. } => TORVYN_STATUS_INVALID_ARGUMENT,
        LinkError::Altered { .. } => TORVYN_STATUS_IO,
        LinkError::Component { source, .. } => match source {
            EngineError::Read { .. } => TORVYN_STATUS_IO,
            EngineError::Contract(_) | EngineError::Compile { .. } | EngineError::Link { .. } | EngineError::MissingImports { .. } => {
                TORVYN_STATUS_CONTRACT_MISMATCH
            }
            _ => TORVYN_STATUS_FAILED,
        },
        LinkError::Pipeline(_) => TORVYN_STATUS_INVALID_ARGUMENT,
        LinkError::Several(all) => all.first().map_or(TORVYN_STATUS_INTERNAL, link_status),
        LinkError::Internal(_) => TORVYN_STATUS_INTERNAL,
    }
}

impl From<EndpointError> for FfiError {
    fn from(e: EndpointError) -> Self {
        let status = match &e {
            EndpointError::UnknownPort { .. } => TORVYN_STATUS_NOT_FOUND,
            EndpointError::WouldBlock(_) => TORVYN_STATUS_WOULD_BLOCK,
            EndpointError::Timeout { .. } | EndpointError::NothingYet { .. } => TORVYN_STATUS_TIMEOUT,
            EndpointError::Closed(_) | EndpointError::FlowEnded(FlowState::Completed) => TORVYN_STATUS_CLOSED,
            EndpointError::FlowEnded(FlowState::Cancelled) => TORVYN_STATUS_CANCELLED,
            EndpointError::FlowEnded(_) => TORVYN_STATUS_FAILED,
            EndpointError::Buffer(_) => TORVYN_STATUS_INVALID_ARGUMENT,
        };
        FfiError::new(status, e.to_string())
    }
}

impl From<BufferError> for FfiError {
    fn from(e: BufferError) -> Self {
        let status = match &e {
            BufferError::Stale(_) | BufferError::Unknown(_) => TORVYN_STATUS_STALE_HANDLE,
            _ => TORVYN_STATUS_INVALID_ARGUMENT,
        };
        FfiError::new(status, e.to_string())
    }
}

/// The status of `error`. A null or stale error gives `TORVYN_STATUS_INVALID_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_error_status(error: *const torvyn_error) -> torvyn_status {
    ffi_guard!(or TORVYN_STATUS_PANIC, {
        match registry::error(error as usize) {
            Ok(e) => e.status,
            Err(_) => TORVYN_STATUS_INVALID_ARGUMENT,
        }
    })
}

/// The message of `error`, UTF-8, owned by the error: valid until
/// `torvyn_error_free(error)`. A null or stale error gives a static message.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_error_message(error: *const torvyn_error) -> *const c_char {
    ffi_guard!(or c"panic while reading an error".as_ptr(), {
        match registry::error(error as usize) {
            // The registry keeps the `Arc` (and so the string) alive until freed.
            Ok(e) => e.message.as_ptr(),
            Err(_) => c"invalid torvyn_error handle (null, freed, or not an error)".as_ptr(),
        }
    })
}

/// Free an error. `torvyn_error_free(NULL)` does nothing; freeing twice is
/// detected and ignored. Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_error_free(error: *mut torvyn_error) {
    if error.is_null() {
        return;
    }
    ffi_guard!(or (), {
        let _ = registry::remove(error as usize, Kind::Error);
    })
}
