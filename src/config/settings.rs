//! `[runtime]` as written → [`RuntimeConfig`], with ranges checked, the two
//! spellings of a setting reconciled (the public Torvyn 0.1 one wins, and
//! a warning says so), and warnings for keys that are accepted but have no
//! effect yet.

use std::path::PathBuf;
use std::time::Duration;

use super::manifest::Cx;
use super::schema::runtime::RuntimeTable;
use super::schema::values::Watermark;
use super::{ConfigError, RuntimeConfig, MAX_QUEUE_DEPTH, MAX_WORKER_THREADS, MIN_MEMORY_LIMIT};
use crate::engine::{CacheLocation, MAX_INSTANCES, MAX_LINEAR_MEMORY};

/// One of two spellings of a setting: the public one wins.
pub(super) fn pick<T: Copy>(cx: &Cx<'_>, ours: (&str, Option<T>), public: (&str, Option<T>)) -> Option<(String, T)> {
    match (ours.1, public.1) {
        (Some(_), Some(p)) => {
            cx.warn(ours.0, format!("`{}` and `{}` name the same setting; `{}` wins", ours.0, public.0, public.0));
            Some((public.0.to_string(), p))
        }
        (Some(o), None) => Some((ours.0.to_string(), o)),
        (None, Some(p)) => Some((public.0.to_string(), p)),
        (None, None) => None,
    }
}

fn in_range(cx: &Cx<'_>, key: &str, value: u64, range: std::ops::RangeInclusive<u64>, what: &str) -> Result<u64, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(cx.err(key, format!("must be between {what}, found {value}")))
    }
}

pub(super) fn millis(cx: &Cx<'_>, key: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(cx.err(key, "must be at least 1 millisecond"));
    }
    Ok(Duration::from_millis(ms))
}

/// A low watermark ratio: strictly between 0 and 1.
pub(super) fn ratio(cx: &Cx<'_>, key: &str, r: f64) -> Result<f64, ConfigError> {
    if r > 0.0 && r < 1.0 {
        Ok(r)
    } else {
        Err(cx.err(key, format!("must be a fraction between 0 and 1 (e.g. 0.5), found {r}")))
    }
}

/// A queue depth: 1 to [`MAX_QUEUE_DEPTH`].
pub(super) fn depth(cx: &Cx<'_>, key: &str, d: usize) -> Result<usize, ConfigError> {
    in_range(cx, key, d as u64, 1..=MAX_QUEUE_DEPTH as u64, "1 and 1048576").map(|d| d as usize)
}

/// A linear-memory limit: 1 MiB to 4 GiB.
pub(super) fn memory(cx: &Cx<'_>, key: &str, bytes: u64) -> Result<u64, ConfigError> {
    if (MIN_MEMORY_LIMIT..=MAX_LINEAR_MEMORY).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(cx.err(key, "must be between 1MiB and 4GiB (a 32-bit linear memory holds at most 4GiB)"))
    }
}

/// A table-element limit.
pub(super) fn table_elements(cx: &Cx<'_>, key: &str, n: u64) -> Result<u64, ConfigError> {
    in_range(cx, key, n, 1..=super::runtime::MAX_TABLE_ELEMENTS, "1 and 10000000")
}

/// A stdout/stderr rate in bytes per second.
pub(super) fn output_rate(cx: &Cx<'_>, key: &str, n: u64) -> Result<u64, ConfigError> {
    // At least one 64 KiB write (WASI's write budget) must fit.
    in_range(cx, key, n, 64 << 10..=1 << 40, "64KiB and 1TiB per second")
}

/// A scheduling priority: 1 (lowest) to 10.
pub(super) fn priority(cx: &Cx<'_>, key: &str, p: u32) -> Result<u32, ConfigError> {
    in_range(cx, key, u64::from(p), 1..=10, "1 (lowest) and 10 (highest)").map(|p| p as u32)
}

pub(super) fn runtime(cx: &Cx<'_>, t: Option<&RuntimeTable>) -> Result<RuntimeConfig, ConfigError> {
    let mut rt = RuntimeConfig::default();
    let Some(t) = t else { return Ok(rt) };
    let bp = t.backpressure.clone().unwrap_or_default();
    if let Some(n) = t.worker_threads {
        rt.worker_threads = match n {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKER_THREADS),
            n => in_range(cx, "runtime.worker_threads", n as u64, 1..=MAX_WORKER_THREADS as u64, "1 and 256 (0 = one per CPU)")? as usize,
        };
    }
    if let Some((key, size)) = pick(cx, ("runtime.memory_limit", t.memory_limit), ("runtime.max_memory_per_component", t.max_memory_per_component)) {
        rt.memory_limit = memory(cx, &key, size.0)?;
    }
    if let Some((key, d)) = pick(cx, ("runtime.queue_depth", t.queue_depth), ("runtime.backpressure.default_queue_depth", bp.default_queue_depth)) {
        rt.queue_depth = depth(cx, &key, d)?;
    }
    let public_ratio = bp.low_watermark_ratio.map(Watermark::Ratio);
    if let Some((key, w)) = pick(cx, ("runtime.low_watermark", t.low_watermark), ("runtime.backpressure.low_watermark_ratio", public_ratio)) {
        rt.low_watermark_ratio = match w {
            Watermark::Ratio(r) => ratio(cx, &key, r)?,
            Watermark::Depth(n) if (n as usize) < rt.queue_depth => n as f64 / rt.queue_depth as f64,
            Watermark::Depth(n) => {
                return Err(cx.err(&key, format!("must be a fraction between 0 and 1 (e.g. 0.5) or a depth below the queue depth ({}), found {n}", rt.queue_depth)))
            }
        };
    }
    if let Some(p) = bp.backpressure_policy {
        rt.backpressure = p;
    }
    if let Some((key, ms)) = pick(cx, ("runtime.init_timeout_ms", t.init_timeout_ms), ("runtime.component_init_timeout_ms", t.component_init_timeout_ms)) {
        rt.init_timeout = millis(cx, &key, ms)?;
    }
    if let Some(ms) = t.component_teardown_timeout_ms {
        rt.teardown_timeout = millis(cx, "runtime.component_teardown_timeout_ms", ms)?;
    }
    if let Some(ms) = t.call_timeout_ms {
        rt.call_timeout = millis(cx, "runtime.call_timeout_ms", ms)?;
    }
    if let Some(s) = t.max_stack_size {
        let (lo, hi) = (crate::engine::MIN_WASM_STACK as u64, crate::engine::MAX_WASM_STACK as u64);
        rt.max_stack_bytes = Some(in_range(cx, "runtime.max_stack_size", s.0, lo..=hi, "64KiB and 8MiB")? as usize);
    }
    if let Some(n) = t.max_buffers {
        rt.max_buffers = in_range(cx, "runtime.max_buffers", n, 1..=1 << 32, "1 and 4294967296")?;
    }
    if let Some(b) = t.max_buffer_bytes {
        rt.max_buffer_bytes = in_range(cx, "runtime.max_buffer_bytes", b.0, 1..=u64::MAX, "1 byte and 16EiB")?;
    }
    if let Some(n) = t.max_table_elements {
        rt.max_table_elements = table_elements(cx, "runtime.max_table_elements", n)?;
    }
    if let Some(r) = t.max_output_rate {
        rt.max_output_rate = output_rate(cx, "runtime.max_output_rate", r.0)?;
    }
    if let Some(s) = t.max_buffer_size {
        rt.max_buffer_size = in_range(cx, "runtime.max_buffer_size", s.0, 1..=1 << 30, "1 byte and 1GiB")?;
    }
    if let Some(s) = t.pool_max_bytes {
        rt.pool_max_bytes = in_range(cx, "runtime.pool_max_bytes", s.0, 0..=1 << 40, "0 (keep no idle buffers) and 1TiB")?;
    }
    if let Some(n) = t.max_instances {
        rt.max_instances = in_range(cx, "runtime.max_instances", u64::from(n), 1..=u64::from(MAX_INSTANCES), "1 and 10000")? as u32;
    }
    if let Some((_, fuel)) = pick(cx, ("runtime.fuel_per_invocation", t.fuel_per_invocation), ("runtime.default_fuel_per_invocation", t.default_fuel_per_invocation)) {
        rt.fuel = (fuel > 0).then_some(fuel);
    }
    if let Some(s) = &t.scheduling {
        if let Some(p) = s.policy {
            rt.scheduling = p;
        }
        if let Some(p) = s.default_priority {
            rt.default_priority = priority(cx, "runtime.scheduling.default_priority", p)?;
        }
    }
    if let Some(p) = &t.pools {
        let pools = &mut rt.pools;
        for (key, value, slot) in [
            ("small_pool_size", p.small_pool_size, &mut pools.small),
            ("medium_pool_size", p.medium_pool_size, &mut pools.medium),
            ("large_pool_size", p.large_pool_size, &mut pools.large),
            ("huge_pool_size", p.huge_pool_size, &mut pools.huge),
        ] {
            if let Some(v) = value {
                *slot = in_range(cx, &format!("runtime.pools.{key}"), v as u64, 0..=1 << 20, "0 and 1048576 buffers")? as usize;
            }
        }
        if let Some(e) = p.exhaustion_policy {
            pools.exhaustion = e;
        }
        // Without fallback the tiers are allocated when each flow starts:
        // that must fit in what a flow may keep.
        if pools.exhaustion == super::ExhaustionPolicy::Error {
            let filled = [(pools.small, 256u64), (pools.medium, 4 << 10), (pools.large, 64 << 10), (pools.huge, 1 << 20)]
                .iter()
                .fold(0u64, |sum, (n, cap)| sum.saturating_add((*n as u64).saturating_mul(*cap)));
            if filled > rt.pool_max_bytes {
                return Err(cx.err(
                    "runtime.pools.exhaustion_policy",
                    format!(
                        "with \"error\" every flow allocates its pool tiers up front: {filled} bytes for these sizes, more than `runtime.pool_max_bytes` ({}); lower the `*_pool_size` keys or raise `pool_max_bytes`",
                        rt.pool_max_bytes
                    ),
                ));
            }
        }
    }
    if let Some(d) = &t.compilation_cache_dir {
        rt.compilation_cache_dir = if d.is_empty() { CacheLocation::Off } else { CacheLocation::At(PathBuf::from(cx.base.join(d))) };
    }
    Ok(rt)
}

/// Keys that are accepted (so Torvyn 0.1 projects load) but whose
/// subsystem does not exist yet: each gets a warning naming it.
const INERT: &[(&str, &str)] = &[
    ("capabilities.torvyn", "a component's requested buffer and memory sizes are not negotiated yet; set `max_memory` and `max_buffer_bytes` on its node"),
    ("test", "there is no `torvyn test` command"),
];

/// Warn about every key of the manifest that has no effect yet.
pub(super) fn warn_inert(cx: &Cx<'_>) {
    for (key, why) in INERT {
        let Some(node) = cx.root.get(key) else { continue };
        match &node.value {
            super::doc::Value::Table(entries) => {
                for (k, pos, _) in entries {
                    let full = format!("{key}.{k}");
                    // Keys from the user file or an override have no place in the manifest.
                    if pos.is_some() {
                        cx.warn(&full, format!("accepted but has no effect yet: {why}"));
                    }
                }
            }
            _ if cx.root.key_pos(key).is_some() => cx.warn(key, format!("accepted but has no effect yet: {why}")),
            _ => {}
        }
    }
}
