//! `torvyn_host_*`: creating and shutting down hosts.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::registry::{self, Kind, Object, torvyn_host};
use super::{FfiError, arg_str, ffi_guard, put, torvyn_error, torvyn_status};
use crate::host::Host;

/// Options for `torvyn_host_new`. Set `struct_size = sizeof(torvyn_host_options)`
/// (or call `torvyn_host_options_init`), so later versions can add fields.
/// A zero field means "the default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct torvyn_host_options {
    /// `sizeof(torvyn_host_options)` as the caller compiled it.
    pub struct_size: u32,
    /// Reactor threads (default 1).
    pub worker_threads: u32,
    /// Ceiling on each component instance's linear memory, in bytes (default 256 MiB).
    pub memory_limit: u64,
    /// Capacity of every edge queue of flows on this host, overriding the
    /// manifest's `queue_depth` (default: the manifest's).
    pub queue_depth: u32,
    /// Log detail sent to the log callback: 0 warnings and errors, 1 info,
    /// 2 debug, 3 trace (default 0).
    pub observability_level: u32,
}

const OPTIONS_V1_SIZE: u32 = std::mem::size_of::<torvyn_host_options>() as u32;

/// Every field at its default (zero), with this version's `struct_size`.
const DEFAULT_OPTIONS: torvyn_host_options = torvyn_host_options {
    struct_size: OPTIONS_V1_SIZE,
    worker_threads: 0,
    memory_limit: 0,
    queue_depth: 0,
    observability_level: 0,
};

/// Fill `options` with defaults and the right `struct_size`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_options_init(options: *mut torvyn_host_options) -> torvyn_status {
    ffi_guard!(std::ptr::null_mut(), {
        unsafe {
            put(
                options,
                DEFAULT_OPTIONS,
                "options",
            )
        }
    })
}

/// Options only the JSON form carries.
#[derive(Default)]
struct Extra {
    max_instances: Option<u32>,
    pool_max_bytes: Option<u64>,
    cache: Option<crate::engine::CacheLocation>,
}

fn build(o: &torvyn_host_options) -> Result<Host, FfiError> {
    build_with(o, Extra::default())
}

fn build_with(o: &torvyn_host_options, extra: Extra) -> Result<Host, FfiError> {
    let mut b = Host::builder();
    if let Some(n) = extra.max_instances {
        b = b.max_instances(n);
    }
    if let Some(n) = extra.pool_max_bytes {
        b = b.pool_max_bytes(n);
    }
    if let Some(c) = extra.cache {
        b = b.compilation_cache(c);
    }
    if o.worker_threads > 0 {
        b = b.worker_threads(o.worker_threads as usize);
    }
    if o.memory_limit > 0 {
        b = b.max_memory_bytes(o.memory_limit);
    }
    if o.queue_depth > 0 {
        b = b.queue_depth(o.queue_depth as usize);
    }
    if o.observability_level > 3 {
        return Err(FfiError::invalid(format!(
            "host option `observability_level` is {}; allowed: 0 (warnings) to 3 (trace)",
            o.observability_level
        )));
    }
    let host = b.build().map_err(FfiError::from)?;
    super::log::set_level(o.observability_level);
    Ok(host)
}

/// Create a host. `options` may be NULL for defaults. On success `*out_host`
/// owns a new host: free it with `torvyn_host_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_new(
    options: *const torvyn_host_options,
    out_host: *mut *mut torvyn_host,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        if out_host.is_null() {
            return Err(FfiError::invalid("out-parameter `out_host` is null"));
        }
        let mut o = DEFAULT_OPTIONS;
        if !options.is_null() {
            // SAFETY: the caller promises at least `struct_size` readable bytes.
            let size = unsafe { std::ptr::addr_of!((*options).struct_size).read_unaligned() };
            if size < OPTIONS_V1_SIZE {
                return Err(FfiError::invalid(format!(
                    "options.struct_size is {size}, expected at least {OPTIONS_V1_SIZE}; set it to sizeof(torvyn_host_options)"
                )));
            }
            // SAFETY: as above; fields beyond what this version knows are ignored.
            o = unsafe { options.read_unaligned() };
        }
        let host = build(&o)?;
        let token = registry::insert(Object::Host(Arc::new(host)));
        unsafe { put(out_host, token as *mut torvyn_host, "out_host") }
    })
}

/// Create a host from JSON options, e.g.
/// `{"worker_threads": 2, "memory_limit": 268435456, "queue_depth": 64,
/// "observability_level": 1, "max_instances": 1000, "pool_max_bytes": 536870912,
/// "compilation_cache_dir": "/var/cache/myapp/torvyn"}` (every key optional;
/// `compilation_cache_dir` is a path, `""` for no disk cache; default the
/// user cache directory; unknown keys are an error; a value outside its
/// range is `TORVYN_STATUS_INVALID_ARGUMENT` naming the key and the range).
/// Ownership as for `torvyn_host_new`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_new_json(
    options_json: *const c_char,
    out_host: *mut *mut torvyn_host,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let text = unsafe { arg_str(options_json, "options_json") }?;
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| FfiError::invalid(format!("options_json: {e}")))?;
        let obj = v.as_object().ok_or_else(|| FfiError::invalid("options_json must be a JSON object"))?;
        let mut o = DEFAULT_OPTIONS;
        let mut extra = Extra::default();
        for (k, v) in obj {
            if k == "compilation_cache_dir" {
                let dir = v.as_str().ok_or_else(|| FfiError::invalid("options_json: `compilation_cache_dir` must be a string (a directory, or \"\" for no disk cache)"))?;
                extra.cache = Some(if dir.is_empty() { crate::engine::CacheLocation::Off } else { crate::engine::CacheLocation::At(dir.into()) });
                continue;
            }
            let n = v
                .as_u64()
                .ok_or_else(|| FfiError::invalid(format!("options_json: `{k}` must be a non-negative integer")))?;
            let small = || u32::try_from(n).map_err(|_| FfiError::invalid(format!("options_json: `{k}` is {n}, too large")));
            match k.as_str() {
                "worker_threads" => o.worker_threads = small()?,
                "memory_limit" => o.memory_limit = n,
                "queue_depth" => o.queue_depth = small()?,
                "observability_level" => o.observability_level = small()?,
                "max_instances" => extra.max_instances = Some(small()?),
                "pool_max_bytes" => extra.pool_max_bytes = Some(n),
                other => {
                    return Err(FfiError::invalid(format!(
                        "options_json: unknown key `{other}`; known keys: worker_threads, memory_limit, queue_depth, observability_level, max_instances, pool_max_bytes, compilation_cache_dir"
                    )))
                }
            }
        }
        let host = build_with(&o, extra)?;
        let token = registry::insert(Object::Host(Arc::new(host)));
        unsafe { put(out_host, token as *mut torvyn_host, "out_host") }
    })
}

/// Cancel every flow of `host`, tear its components down and stop its
/// threads, waiting up to `timeout_ms` (negative: no limit). The host handle
/// stays valid (it refuses new flows) until `torvyn_host_free`. Returns
/// `TORVYN_STATUS_TIMEOUT` if a worker did not stop in time. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn torvyn_host_shutdown(host: *mut torvyn_host, timeout_ms: i64, out_error: *mut *mut torvyn_error) -> torvyn_status {
    ffi_guard!(out_error, {
        let h = registry::host(host as usize)?;
        let timeout = super::timeout(timeout_ms).unwrap_or(Duration::MAX);
        let report = h.shutdown(timeout);
        if report.workers_still_running > 0 {
            return Err(FfiError::new(
                torvyn_status::TORVYN_STATUS_TIMEOUT,
                format!("{} worker thread(s) did not stop within {timeout_ms} ms", report.workers_still_running),
            ));
        }
        Ok(())
    })
}

/// Free a host: shuts it down first if needed (up to 10 s). Flows and
/// buffers obtained from it stay valid handles but report the host as shut
/// down. `torvyn_host_free(NULL)` does nothing; a stale handle is ignored.
/// Thread-safe, but must not race with other calls on the same host.
#[no_mangle]
pub extern "C" fn torvyn_host_free(host: *mut torvyn_host) {
    if host.is_null() {
        return;
    }
    ffi_guard!(or (), {
        if let Ok(Object::Host(h)) = registry::remove(host as usize, Kind::Host) {
            h.shutdown(Duration::from_secs(10));
        }
    })
}
