//! The C API driven by arbitrary call sequences with arbitrary handles:
//! real ones of every kind passed where any kind is expected, forged ones,
//! null pointers, odd strings and timeouts. Every call returns a status (an
//! error owns a message); nothing crashes, hangs or reads freed memory.
#![no_main]
// The handle types are opaque: only pointers to them cross the boundary.
#![allow(improper_ctypes)]

use std::ffi::{CString, c_char, c_void};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use torvyn::ffi::{torvyn_buffer, torvyn_error, torvyn_flow, torvyn_host, torvyn_pipeline, torvyn_status};

unsafe extern "C" {
    fn torvyn_host_new(options: *const c_void, out_host: *mut *mut torvyn_host, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_host_shutdown(host: *mut torvyn_host, timeout_ms: i64, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_host_free(host: *mut torvyn_host);
    fn torvyn_pipeline_load_file(path: *const c_char, out: *mut *mut torvyn_pipeline, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_pipeline_load_toml(toml: *const c_char, base: *const c_char, out: *mut *mut torvyn_pipeline, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_pipeline_grant(p: *mut torvyn_pipeline, target: *const c_char, cap: *const c_char, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_pipeline_free(p: *mut torvyn_pipeline);
    fn torvyn_flow_start(h: *mut torvyn_host, p: *const torvyn_pipeline, name: *const c_char, out: *mut *mut torvyn_flow, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_push(f: *const torvyn_flow, port: *const c_char, data: *const u8, len: usize, ct: *const c_char, timeout_ms: i64, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_next(f: *const torvyn_flow, port: *const c_char, timeout_ms: i64, out: *mut *mut torvyn_buffer, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_close_input(f: *const torvyn_flow, port: *const c_char, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_wait(f: *const torvyn_flow, timeout_ms: i64, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_cancel(f: *const torvyn_flow, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_metrics_json(f: *const torvyn_flow, out: *mut *mut c_char, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_audit_json(f: *const torvyn_flow, out: *mut *mut c_char, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_flow_free(f: *mut torvyn_flow);
    fn torvyn_buffer_borrow(b: *const torvyn_buffer, data: *mut *const u8, len: *mut usize, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_buffer_release(b: *mut torvyn_buffer, e: *mut *mut torvyn_error) -> torvyn_status;
    fn torvyn_error_message(e: *const torvyn_error) -> *const c_char;
    fn torvyn_error_free(e: *mut torvyn_error);
    fn torvyn_string_free(s: *mut c_char);
}

#[derive(Arbitrary, Debug)]
enum Call {
    HostNew,
    HostShutdown(Pick),
    HostFree(Pick),
    LoadEmbed,
    LoadToml(String),
    Grant(Pick, Text, Text),
    PipelineFree(Pick),
    Start(Pick, Pick, Text),
    Push(Pick, Text, Vec<u8>, Timeout),
    Next(Pick, Text, Timeout, bool),
    CloseInput(Pick, Text),
    Wait(Pick, Timeout),
    Cancel(Pick),
    Metrics(Pick, bool),
    FlowFree(Pick),
    Borrow(Pick, bool),
    Release(Pick),
}

/// A handle: one made earlier (of any kind), forged bits, or null.
#[derive(Arbitrary, Debug)]
enum Pick {
    Made(u8),
    Forged(u64),
    Null,
}

/// A string argument: a usual one, arbitrary text, or null.
#[derive(Arbitrary, Debug)]
enum Text {
    Input,
    Output,
    Main,
    Any(String),
    Null,
}

/// Timeouts stay short so a run never waits long; negative means forever,
/// which is only used where something is sure to come.
#[derive(Arbitrary, Debug)]
enum Timeout {
    Zero,
    Short(u8),
}

fn ms(t: &Timeout) -> i64 {
    match t {
        Timeout::Zero => 0,
        Timeout::Short(n) => i64::from(*n % 20),
    }
}

struct Args {
    strings: Vec<CString>,
}

impl Args {
    fn text(&mut self, t: &Text) -> *const c_char {
        let s = match t {
            Text::Input => "input",
            Text::Output => "output",
            Text::Main => "main",
            Text::Any(s) => s.as_str(),
            Text::Null => return std::ptr::null(),
        };
        let c = CString::new(s.replace('\0', "")).unwrap_or_default();
        self.strings.push(c);
        self.strings.last().map_or(std::ptr::null(), |c| c.as_ptr())
    }
}

fn check(status: torvyn_status, err: *mut torvyn_error) {
    if status != torvyn_status::TORVYN_STATUS_OK {
        assert!(!err.is_null(), "a failed call gives an error ({status:?})");
        let msg = unsafe { std::ffi::CStr::from_ptr(torvyn_error_message(err)) };
        assert!(!msg.to_bytes().is_empty(), "an error has a message");
    }
    if !err.is_null() {
        unsafe { torvyn_error_free(err) };
    }
}

fuzz_target!(|calls: Vec<Call>| {
    let embed = CString::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/embed")).unwrap();
    let mut made: Vec<usize> = Vec::new();
    let mut args = Args { strings: Vec::new() };
    let pick = |made: &Vec<usize>, p: &Pick| -> usize {
        match p {
            Pick::Made(i) if !made.is_empty() => made[*i as usize % made.len()],
            Pick::Made(_) | Pick::Null => 0,
            Pick::Forged(bits) => *bits as usize,
        }
    };
    let mut hosts = 0;
    for call in calls.iter().take(64) {
        let mut err: *mut torvyn_error = std::ptr::null_mut();
        let e = &mut err as *mut *mut torvyn_error;
        unsafe {
            let status = match call {
                Call::HostNew if hosts < 2 => {
                    hosts += 1;
                    let mut h = std::ptr::null_mut();
                    let s = torvyn_host_new(std::ptr::null(), &mut h, e);
                    made.push(h as usize);
                    s
                }
                Call::HostNew => continue,
                Call::HostShutdown(p) => torvyn_host_shutdown(pick(&made, p) as *mut _, 50, e),
                Call::HostFree(p) => {
                    torvyn_host_free(pick(&made, p) as *mut _);
                    continue;
                }
                Call::LoadEmbed => {
                    let mut p = std::ptr::null_mut();
                    let s = torvyn_pipeline_load_file(embed.as_ptr(), &mut p, e);
                    made.push(p as usize);
                    s
                }
                Call::LoadToml(text) => {
                    let mut p = std::ptr::null_mut();
                    let t = CString::new(text.replace('\0', "")).unwrap_or_default();
                    let s = torvyn_pipeline_load_toml(t.as_ptr(), embed.as_ptr(), &mut p, e);
                    made.push(p as usize);
                    s
                }
                Call::Grant(p, target, cap) => {
                    let (t, c) = (args.text(target), args.text(cap));
                    torvyn_pipeline_grant(pick(&made, p) as *mut _, t, c, e)
                }
                Call::PipelineFree(p) => {
                    torvyn_pipeline_free(pick(&made, p) as *mut _);
                    continue;
                }
                Call::Start(h, p, name) => {
                    let mut f = std::ptr::null_mut();
                    let n = args.text(name);
                    let s = torvyn_flow_start(pick(&made, h) as *mut _, pick(&made, p) as *const _, n, &mut f, e);
                    made.push(f as usize);
                    s
                }
                Call::Push(f, port, data, t) => {
                    let port = args.text(port);
                    torvyn_flow_push(pick(&made, f) as *const _, port, data.as_ptr(), data.len(), std::ptr::null(), ms(t), e)
                }
                Call::Next(f, port, t, null_out) => {
                    let port = args.text(port);
                    let mut b: *mut torvyn_buffer = std::ptr::null_mut();
                    let out = if *null_out { std::ptr::null_mut() } else { &mut b as *mut _ };
                    let s = torvyn_flow_next(pick(&made, f) as *const _, port, ms(t), out, e);
                    if !b.is_null() {
                        made.push(b as usize);
                    }
                    s
                }
                Call::CloseInput(f, port) => {
                    let port = args.text(port);
                    torvyn_flow_close_input(pick(&made, f) as *const _, port, e)
                }
                Call::Wait(f, t) => torvyn_flow_wait(pick(&made, f) as *const _, ms(t), e),
                Call::Cancel(f) => torvyn_flow_cancel(pick(&made, f) as *const _, e),
                Call::Metrics(f, audit) => {
                    let mut out = std::ptr::null_mut();
                    let s = if *audit {
                        torvyn_flow_audit_json(pick(&made, f) as *const _, &mut out, e)
                    } else {
                        torvyn_flow_metrics_json(pick(&made, f) as *const _, &mut out, e)
                    };
                    if !out.is_null() {
                        torvyn_string_free(out);
                    }
                    s
                }
                Call::FlowFree(f) => {
                    torvyn_flow_free(pick(&made, f) as *mut _);
                    continue;
                }
                Call::Borrow(b, null_out) => {
                    let (mut data, mut len): (*const u8, usize) = (std::ptr::null(), 0);
                    let out = if *null_out { std::ptr::null_mut() } else { &mut data as *mut _ };
                    let s = torvyn_buffer_borrow(pick(&made, b) as *const _, out, &mut len, e);
                    if s == torvyn_status::TORVYN_STATUS_OK && !data.is_null() {
                        // The view is readable for its whole length.
                        let bytes = std::slice::from_raw_parts(data, len);
                        std::hint::black_box(bytes.iter().fold(0u8, |a, b| a ^ b));
                    }
                    s
                }
                Call::Release(b) => torvyn_buffer_release(pick(&made, b) as *mut _, e),
            };
            check(status, err);
        }
    }
    // Everything made is freed (each free ignores stale and foreign handles).
    unsafe {
        for &h in &made {
            torvyn_buffer_release(h as *mut _, std::ptr::null_mut());
            torvyn_flow_free(h as *mut _);
            torvyn_pipeline_free(h as *mut _);
        }
        for &h in &made {
            torvyn_host_shutdown(h as *mut _, 100, std::ptr::null_mut());
            torvyn_host_free(h as *mut _);
        }
    }
});
