//! Library and ABI versions.

use std::ffi::c_char;

use super::ffi_guard;

/// Version of the C ABI. It changes whenever a signature, struct layout or
/// enum value of this header changes incompatibly; the Python and Go
/// wrappers refuse a library whose ABI version differs from theirs.
pub const TORVYN_ABI_VERSION: u32 = 1;

/// The library version as "MAJOR.MINOR.PATCH" (static; never free it).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_version() -> *const c_char {
    ffi_guard!(or std::ptr::null(), { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast() })
}

/// The C ABI version (see `TORVYN_ABI_VERSION`). Thread-safe.
#[no_mangle]
pub extern "C" fn torvyn_abi_version() -> u32 {
    ffi_guard!(or TORVYN_ABI_VERSION, { TORVYN_ABI_VERSION })
}
