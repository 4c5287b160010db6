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
use torvyn::security::{AuditEvent, AuditKind};
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
    /// How the bad flow ends; `None`: it is refused before it runs.
    state: Option<FlowState>,
    /// Text the flow's error (or, for a completed flow, a node's error
    /// count) must show.
    error: &'static str,
    /// The audit event (kind, capability) the bad node must leave.
    audit: Option<(AuditKind, &'static str)>,
}

/// The grants a probe needs to link, but for `without`.
const PROBE: &str = r#"["clock:monotonic", "clock:wall", "filesystem:read:/tmp/*.torvyn-nothing", "network:tcp-connect:192.0.2.1:9"]"#;

fn probe_grants(without: &str, extra: &str) -> &'static str {
    let list: Vec<&str> = PROBE.trim_matches(['[', ']']).split(", ").filter(|g| !g.contains(without) || without.is_empty()).chain((!extra.is_empty()).then_some(extra)).collect();
    Box::leak(format!("capabilities = [{}]", list.join(", ")).into_boxed_str())
}

fn cases() -> Vec<Case> {
    let deadline = "call_timeout_ms = 200\ninit_timeout_ms = 200\ncomponent_teardown_timeout_ms = 200";
    let failed = FlowState::Failed;
    vec![
        // The node's own deadline wins over the runtime's.
        Case { name: "loop-process", bad: N("bad", "hostile", r#"{"do": "loop", "at": 3}"#, "call_timeout_ms = 150"), runtime: deadline, state: Some(failed), error: "process: exceeded its 150ms deadline and was interrupted", audit: None },
        Case { name: "loop-init", bad: N("bad", "hostile", r#"{"do": "loop", "in": "init"}"#, ""), runtime: deadline, state: Some(failed), error: "init: exceeded its 200ms deadline and was interrupted", audit: None },
        Case { name: "loop-teardown", bad: N("bad", "hostile", r#"{"do": "loop", "in": "teardown"}"#, ""), runtime: deadline, state: Some(FlowState::Completed), error: "", audit: None },
        Case { name: "loop-pull", bad: N("bad", "hostile-source", r#"{"at": 3}"#, ""), runtime: deadline, state: Some(failed), error: "pull: exceeded its 200ms deadline and was interrupted", audit: None },
        Case { name: "loop-push", bad: N("bad", "hostile-sink", r#"{"at": 3}"#, ""), runtime: deadline, state: Some(failed), error: "push: exceeded its 200ms deadline and was interrupted", audit: None },
        Case { name: "grow-memory", bad: N("bad", "hostile", r#"{"do": "grow-memory"}"#, "max_memory = \"64MiB\""), runtime: "", state: Some(failed), error: "linear memory would grow to 68222976 bytes, over this node's memory limit of 67108864 bytes", audit: None },
        Case { name: "hoard", bad: N("bad", "hostile", r#"{"do": "hoard"}"#, ""), runtime: "", state: Some(failed), error: "allocation refused after 16 buffers", audit: None },
        Case { name: "hoard-few", bad: N("bad", "hostile", r#"{"do": "hoard"}"#, ""), runtime: "max_buffers = 8", state: Some(failed), error: "allocation refused after 8 buffers: BufferError::AllocationFailed(\"stage budget exhausted: 8 live buffers", audit: None },
        Case { name: "read-huge", bad: N("bad", "hostile", r#"{"do": "read-huge"}"#, ""), runtime: "", state: Some(FlowState::Completed), error: "read 0 bytes", audit: None },
        Case { name: "forge", bad: N("bad", "hostile", r#"{"do": "forge"}"#, ""), runtime: "", state: Some(failed), error: "unknown handle index 24301", audit: None },
        Case { name: "keep-borrow", bad: N("bad", "hostile", r#"{"do": "keep-borrow"}"#, ""), runtime: "", state: Some(failed), error: "handle index 1 used with the wrong type", audit: None },
        Case { name: "write-after-freeze", bad: N("bad", "hostile", r#"{"do": "write-after-freeze"}"#, ""), runtime: "", state: Some(failed), error: "mutable-buffer.append: mutable buffer used after `freeze`", audit: None },
        Case { name: "freeze-twice", bad: N("bad", "hostile", r#"{"do": "freeze-twice"}"#, ""), runtime: "", state: Some(failed), error: "mutable-buffer.freeze: mutable buffer used after `freeze`", audit: None },
        Case { name: "drop-borrowed", bad: N("bad", "hostile", r#"{"do": "drop-borrowed"}"#, ""), runtime: "", state: Some(failed), error: "unknown handle index 1", audit: None },
        Case { name: "unreachable", bad: N("bad", "hostile", r#"{"do": "unreachable"}"#, ""), runtime: "", state: Some(failed), error: "wasm `unreachable` instruction executed", audit: None },
        Case { name: "recurse", bad: N("bad", "hostile", r#"{"do": "recurse"}"#, ""), runtime: "", state: Some(failed), error: "call stack exhausted", audit: None },
        Case { name: "stdout-flood", bad: N("bad", "hostile", r#"{"do": "stdout-flood"}"#, ""), runtime: "", state: Some(failed), error: "wrote to stdout/stderr faster than its `max_output_rate` of 4194304 bytes per second", audit: None },
        Case { name: "emit-forged", bad: N("bad", "hostile", r#"{"do": "emit-forged"}"#, ""), runtime: "", state: Some(failed), error: "unknown handle index 2989", audit: None },
        // Reaching for what no grant gives: refused before it runs, or
        // refused by WASI at run time; audited either way.
        Case { name: "open-file-ungranted", bad: N("bad", "wasi-probe", r#"{"read": "/etc/hostname"}"#, probe_grants("filesystem", "")), runtime: "", state: None, error: "imports wasi:filesystem/types", audit: Some((AuditKind::DeniedAtLink, "filesystem:read:<path or glob>")) },
        Case { name: "wall-clock-ungranted", bad: N("bad", "wasi-probe", "{}", probe_grants("clock:wall", "")), runtime: "", state: None, error: "imports wasi:clocks/wall-clock", audit: Some((AuditKind::DeniedAtLink, "clock:wall")) },
        Case { name: "socket-ungranted", bad: N("bad", "wasi-probe", "{}", probe_grants("network", "")), runtime: "", state: None, error: "imports wasi:sockets/", audit: Some((AuditKind::DeniedAtLink, "network:tcp-connect:<host>:<port>")) },
        Case { name: "env-ungranted", bad: N("bad", "wasi-probe", r#"{"env": "HOME"}"#, probe_grants("", "")), runtime: "", state: Some(FlowState::Completed), error: "", audit: Some((AuditKind::Denied, "environment:read")) },
        Case { name: "read-outside-scope", bad: N("bad", "wasi-probe", r#"{"read": "/tmp/hostile-secret.txt"}"#, probe_grants("", "")), runtime: "", state: Some(FlowState::Completed), error: "", audit: Some((AuditKind::Denied, "filesystem:read")) },
        Case { name: "connect-outside-grant", bad: N("bad", "wasi-probe", r#"{"connect": "127.0.0.1:9"}"#, probe_grants("", "")), runtime: "", state: Some(FlowState::Completed), error: "", audit: Some((AuditKind::Denied, "network:tcp-connect")) },
        Case { name: "listen-ungranted", bad: N("bad", "wasi-probe", r#"{"listen": "127.0.0.1:0"}"#, probe_grants("", "")), runtime: "", state: Some(FlowState::Completed), error: "", audit: Some((AuditKind::Denied, "network:tcp-listen")) },
    ]
}

#[test]
fn every_hostile_guest_gets_its_error_and_nothing_else_suffers() {
    capture();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<AuditEvent>::new()));
    let sink = std::sync::Arc::clone(&events);
    let host = Host::builder().audit_sink(move |e| sink.lock().unwrap().push(e.clone())).build().unwrap();
    // A warm-up flow of each kind, so the baseline includes compiled code.
    let warm = host.start_flow(&healthy("warm"), "main").unwrap();
    assert_eq!(warm.wait(WAIT).unwrap().state, FlowState::Completed);
    drop(warm);
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    // Two passes: the first also compiles every bad component (kept by the
    // engine, as any component is); the baseline is taken after it.
    let (mut pooled_before, mut rss_before, mut rss_first) = (0, 0, 0);
    for (pass, (i, case)) in (0..2).flat_map(|p| cases().into_iter().enumerate().map(move |c| (p, c))) {
        if pass == 1 && i == 0 {
            pooled_before = host.pooled_bytes();
            rss_before = rss_kib();
            report.clear();
        }
        if pass == 0 && i == 0 {
            rss_first = rss_kib();
        }
        let tag = format!("{pass}-{i}");
        let neighbour = host.start_flow(&healthy(&tag), "main").unwrap();
        let t0 = Instant::now();
        let bad = host.start_flow(&bad_flow(N(case.bad.0, case.bad.1, case.bad.2, case.bad.3), case.runtime), "main");
        let (state, error, summary) = match bad {
            Ok(f) => {
                let s = f.wait(WAIT).unwrap();
                (Some(s.state), s.error.clone().unwrap_or_default(), Some(s))
            }
            Err(e) => (None, e.to_string(), None),
        };
        let took = t0.elapsed();
        assert_eq!(state, case.state, "{}: {error}", case.name);
        if state != Some(FlowState::Completed) {
            assert!(error.contains("`bad`"), "{}: the error names the node: {error}", case.name);
            if !error.contains(case.error) {
                wrong.push(format!("{}: expected `{}` in: {error}", case.name, case.error));
            }
        } else if !case.error.is_empty() {
            let node = summary.as_ref().and_then(|s| s.stages.iter().find(|s| s.node == "bad")).unwrap();
            assert!(node.skipped > 0, "{}: {summary:?}", case.name);
        }
        if let Some(s) = &summary {
            assert_eq!(s.buffers_live, 0, "{}: every buffer back", case.name);
        }
        // The audit trail holds what the bad node did.
        if let Some((kind, capability)) = case.audit {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !events.lock().unwrap().iter().any(|e| e.kind == kind && e.capability == capability && e.node == "bad") {
                assert!(Instant::now() < deadline, "{}: no {kind:?} {capability} event in {:#?}", case.name, events.lock().unwrap());
                std::thread::sleep(Duration::from_millis(10));
            }
            events.lock().unwrap().clear();
        }
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
        common::forget_lines(&["bad", "h_src", "h_sink", &format!("ok_sink_{tag}")]);
    }
    // Everything the bad flows held is back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.pooled_bytes() > pooled_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (pooled_after, rss_after) = (host.pooled_bytes(), rss_kib());
    eprintln!("hostile suite, {} cases:\n  {}", report.len(), report.join("\n  "));
    eprintln!(
        "pooled bytes: {pooled_before} before, {pooled_after} after; resident memory: {rss_first} KiB before the first pass, {rss_before} KiB before the second, {rss_after} KiB after it"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(pooled_after <= pooled_before, "pooled bytes {pooled_before} -> {pooled_after}");
    assert!(rss_after < rss_before + 4 * 1024, "resident memory {rss_before} KiB -> {rss_after} KiB");
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
