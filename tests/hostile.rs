//! The hostile-guest suite: guests that each do one bad thing. For each, the
//! bad flow ends with its specific error; the host survives; a healthy flow
//! running at the same time on the same host (and the same worker) delivers
//! every element with its content; and once the bad flow is gone the host's
//! pooled buffers and the process's resident memory are back at their
//! baseline (the figures are printed).
//!
//! Capability misuse (files, environment, sockets, listening, name lookup,
//! the wall clock without a grant) is `tests/security.rs` and
//! `tests/capabilities.rs`; a router naming a port it lacks is
//! `tests/topologies.rs`; sleeping and blocking inside WASI is
//! `tests/deadlines.rs`.

mod common;

use std::time::{Duration, Instant};

use common::{N, capture, linear, printed, rss_kib};
use torvyn::{FlowState, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));
/// Elements the healthy neighbour sends.
const HEALTHY: u64 = 300;

/// source → `bad` → sink (`bad` → sink for a bad source, source → `bad`
/// for a bad sink), with `runtime` settings.
fn bad_flow(bad: N<'_>, runtime: &str) -> PipelineDef {
    let src = N("h_src", "counting-source", r#"{"count": 20}"#, "");
    let sink = N("h_sink", "printing-sink", "{}", "");
    let text = match bad.1 {
        "hostile-source" => linear(&[bad, sink], runtime),
        "hostile-sink" => linear(&[src, bad], runtime),
        _ => linear(&[src, bad, sink], runtime),
    };
    PipelineDef::from_toml_str(&text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The healthy neighbour: `HEALTHY` elements through a copying processor.
fn healthy(tag: &str) -> PipelineDef {
    let src = format!("ok_src_{tag}");
    let sink = format!("ok_sink_{tag}");
    let text = linear(
        &[
            N(&src, "counting-source", &format!(r#"{{"count": {HEALTHY}, "message": "healthy {tag}"}}"#), ""),
            N(&format!("ok_up_{tag}"), "uppercase", "{}", ""),
            N(&sink, "printing-sink", "{}", ""),
        ],
        "",
    );
    PipelineDef::from_toml_str(&text, env!("CARGO_MANIFEST_DIR")).unwrap()
}

/// One hostile case: the bad node, extra `[runtime]` settings, and what its
/// flow must end with.
struct Case {
    name: &'static str,
    bad: N<'static>,
    runtime: &'static str,
    state: FlowState,
    /// Text the flow's error (or, for a completed flow, a node's error
    /// count) must show.
    error: &'static str,
}

fn cases() -> Vec<Case> {
    let deadline = "call_timeout_ms = 200\ninit_timeout_ms = 200\ncomponent_teardown_timeout_ms = 200";
    let failed = FlowState::Failed;
    vec![
        // The node's own deadline wins over the runtime's.
        Case { name: "loop-process", bad: N("bad", "hostile", r#"{"do": "loop", "at": 3}"#, "call_timeout_ms = 150"), runtime: deadline, state: failed, error: "process: exceeded its 150ms deadline and was interrupted" },
        Case { name: "loop-init", bad: N("bad", "hostile", r#"{"do": "loop", "in": "init"}"#, ""), runtime: deadline, state: failed, error: "init: exceeded its 200ms deadline and was interrupted" },
        Case { name: "loop-teardown", bad: N("bad", "hostile", r#"{"do": "loop", "in": "teardown"}"#, ""), runtime: deadline, state: FlowState::Completed, error: "" },
        Case { name: "loop-pull", bad: N("bad", "hostile-source", r#"{"at": 3}"#, ""), runtime: deadline, state: failed, error: "pull: exceeded its 200ms deadline and was interrupted" },
        Case { name: "loop-push", bad: N("bad", "hostile-sink", r#"{"at": 3}"#, ""), runtime: deadline, state: failed, error: "push: exceeded its 200ms deadline and was interrupted" },
        Case { name: "grow-memory", bad: N("bad", "hostile", r#"{"do": "grow-memory"}"#, "max_memory = \"64MiB\""), runtime: "", state: failed, error: "linear memory would grow to 68222976 bytes, over this node's memory limit of 67108864 bytes" },
        Case { name: "hoard", bad: N("bad", "hostile", r#"{"do": "hoard"}"#, ""), runtime: "", state: failed, error: "allocation refused after 16 buffers" },
        Case { name: "hoard-few", bad: N("bad", "hostile", r#"{"do": "hoard"}"#, ""), runtime: "max_buffers = 8", state: failed, error: "allocation refused after 8 buffers: BufferError::AllocationFailed(\"stage budget exhausted: 8 live buffers" },
        Case { name: "read-huge", bad: N("bad", "hostile", r#"{"do": "read-huge"}"#, ""), runtime: "", state: FlowState::Completed, error: "read 0 bytes" },
        Case { name: "forge", bad: N("bad", "hostile", r#"{"do": "forge"}"#, ""), runtime: "", state: failed, error: "unknown handle index 24301" },
        Case { name: "keep-borrow", bad: N("bad", "hostile", r#"{"do": "keep-borrow"}"#, ""), runtime: "", state: failed, error: "handle index 1 used with the wrong type" },
        Case { name: "write-after-freeze", bad: N("bad", "hostile", r#"{"do": "write-after-freeze"}"#, ""), runtime: "", state: failed, error: "mutable-buffer.append: mutable buffer used after `freeze`" },
        Case { name: "freeze-twice", bad: N("bad", "hostile", r#"{"do": "freeze-twice"}"#, ""), runtime: "", state: failed, error: "mutable-buffer.freeze: mutable buffer used after `freeze`" },
        Case { name: "drop-borrowed", bad: N("bad", "hostile", r#"{"do": "drop-borrowed"}"#, ""), runtime: "", state: failed, error: "unknown handle index 1" },
        Case { name: "unreachable", bad: N("bad", "hostile", r#"{"do": "unreachable"}"#, ""), runtime: "", state: failed, error: "wasm `unreachable` instruction executed" },
        Case { name: "recurse", bad: N("bad", "hostile", r#"{"do": "recurse"}"#, ""), runtime: "", state: failed, error: "call stack exhausted" },
        Case { name: "stdout-flood", bad: N("bad", "hostile", r#"{"do": "stdout-flood"}"#, ""), runtime: "", state: failed, error: "wrote to stdout/stderr faster than its `max_output_rate` of 4194304 bytes per second" },
        Case { name: "emit-forged", bad: N("bad", "hostile", r#"{"do": "emit-forged"}"#, ""), runtime: "", state: failed, error: "unknown handle index 2989" },
    ]
}

#[test]
fn every_hostile_guest_gets_its_error_and_nothing_else_suffers() {
    capture();
    let host = Host::builder().build().unwrap();
    // A warm-up flow of each kind, so the baseline includes compiled code.
    let warm = host.start_flow(&healthy("warm"), "main").unwrap();
    assert_eq!(warm.wait(WAIT).unwrap().state, FlowState::Completed);
    drop(warm);
    let pooled_before = host.pooled_bytes();
    let rss_before = rss_kib();
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let tag = format!("{i}");
        let neighbour = host.start_flow(&healthy(&tag), "main").unwrap();
        let t0 = Instant::now();
        let bad = host.start_flow(&bad_flow(N(case.bad.0, case.bad.1, case.bad.2, case.bad.3), case.runtime), "main");
        let summary = match bad {
            Ok(f) => f.wait(WAIT).unwrap(),
            Err(e) => panic!("{}: refused to start: {e}", case.name),
        };
        let took = t0.elapsed();
        assert_eq!(summary.state, case.state, "{}: {:?}", case.name, summary.error);
        let error = summary.error.clone().unwrap_or_default();
        if case.state == FlowState::Failed {
            assert!(error.contains("`bad`"), "{}: the error names the node: {error}", case.name);
            if !error.contains(case.error) {
                wrong.push(format!("{}: expected `{}` in: {error}", case.name, case.error));
            }
        } else if !case.error.is_empty() {
            let node = summary.stages.iter().find(|s| s.node == "bad").unwrap();
            assert!(node.skipped > 0, "{}: {summary:?}", case.name);
        }
        assert_eq!(summary.buffers_live, 0, "{}: every buffer back", case.name);
        // The neighbour on the same worker got everything, in order, intact.
        let n = neighbour.wait(WAIT).unwrap();
        assert_eq!(n.state, FlowState::Completed, "{}: neighbour {:?}", case.name, n.error);
        let (got, completed) = printed(&format!("ok_sink_{tag}"));
        assert!(completed, "{}", case.name);
        assert_eq!(got.len() as u64, HEALTHY, "{}", case.name);
        for (k, (seq, payload)) in got.iter().enumerate() {
            assert_eq!((*seq, payload.as_str()), (k as u64, format!("HEALTHY {tag} (MESSAGE {})", k + 1).as_str()), "{}", case.name);
        }
        report.push(format!("{:<20} {:>7.0} ms  {}", case.name, took.as_secs_f64() * 1e3, error.lines().next().unwrap_or("completed")));
    }
    // Everything the bad flows held is back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.pooled_bytes() > pooled_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (pooled_after, rss_after) = (host.pooled_bytes(), rss_kib());
    eprintln!("hostile suite, {} cases:\n  {}", report.len(), report.join("\n  "));
    eprintln!("pooled bytes: {pooled_before} before, {pooled_after} after; resident memory: {rss_before} KiB before, {rss_after} KiB after");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(pooled_after <= pooled_before, "pooled bytes {pooled_before} -> {pooled_after}");
    assert!(rss_after < rss_before + 64 * 1024, "resident memory {rss_before} KiB -> {rss_after} KiB");
    assert!(host.list_flows().len() <= 1, "ended flows are forgotten");
}

#[test]
fn the_wasm_stack_limit_is_the_flows_to_set() {
    capture();
    let host = Host::builder().build().unwrap();
    let run = |depth: u64, stack: &str| {
        let runtime = if stack.is_empty() { String::new() } else { format!("max_stack_size = \"{stack}\"") };
        let p = bad_flow(N("bad", "hostile", &format!(r#"{{"do": "recurse-to", "depth": {depth}}}"#), ""), &runtime);
        host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap()
    };
    for depth in [1_000u64, 10_000] {
        for stack in ["64KiB", "", "8MiB"] {
            let s = run(depth, stack);
            eprintln!("depth {depth:>7} stack {stack:>6}: {}", s.error.as_deref().unwrap_or("completed"));
        }
    }
    assert_eq!(run(1_000, "64KiB").state, FlowState::Completed);
    for stack in ["64KiB", ""] {
        let small = run(10_000, stack);
        assert!(small.error.as_deref().is_some_and(|e| e.contains("call stack exhausted")), "{stack}: {small:?}");
    }
    assert_eq!(run(10_000, "8MiB").state, FlowState::Completed);
    let err = Host::builder().max_stack_bytes(1024).build().err().unwrap().to_string();
    assert!(err.contains("max_stack_bytes") && err.contains("64 KiB to 8 MiB"), "{err}");
}
