//! End-to-end flows through real wasmtime and the committed guest components.

mod common;

use std::time::Duration;

use common::{N, capture, lines_of, pipeline};
use torvyn::{FlowState, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

#[test]
fn hello_world_prints_five_greetings_in_sequence_and_completes() {
    capture();
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello-world");
    let mut p = PipelineDef::load(manifest).unwrap();
    // Unique node name so captured lines belong to this test only.
    let flow = &mut p.flows[0];
    flow.nodes.iter_mut().find(|n| n.name == "sink").unwrap().name = "hello_sink".into();
    flow.edges[0].to.node = "hello_sink".into();
    let host = Host::builder().build().unwrap();
    let summary = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(summary.state, FlowState::Completed, "{:?}", summary.error);
    assert_eq!(summary.elements, 5);
    let lines: Vec<String> = lines_of("hello_sink").into_iter().map(|(_, l)| l).collect();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("[seq {i}] Hello, World! (message {})", i + 1))
        .chain(["complete".to_string()])
        .collect();
    assert_eq!(lines, expected);
}

#[test]
fn uppercase_processor_transforms_every_element() {
    capture();
    let p = pipeline(
        &[
            N("up_src", "counting-source", r#"{"count": 20, "message": "make me loud"}"#, ""),
            N("up_proc", "uppercase", "", ""),
            N("up_sink", "printing-sink", "", ""),
        ],
        "",
    );
    let host = Host::builder().build().unwrap();
    let summary = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(summary.state, FlowState::Completed, "{:?}", summary.error);
    assert_eq!(summary.elements, 20);
    let lines: Vec<String> = lines_of("up_sink").into_iter().map(|(_, l)| l).collect();
    assert_eq!(lines.len(), 21);
    for (i, line) in lines[..20].iter().enumerate() {
        assert_eq!(line, &format!("[seq {i}] MAKE ME LOUD (MESSAGE {})", i + 1));
    }
}

#[test]
fn three_stage_flow_of_ten_thousand_elements_copies_exactly_four_times_each() {
    let payload = 100u64;
    let n = 10_000u64;
    let p = pipeline(
        &[
            N("ledger_src", "counting-source", &format!(r#"{{"count": {n}, "payload_size": {payload}}}"#), ""),
            N("ledger_pass", "passthrough", "", ""),
            N("ledger_sink", "slow-sink", r#"{"pause_every": 1000000000}"#, ""),
        ],
        "",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, n);
    assert_eq!(s.copies, 4 * n, "source append, processor read-all + append, sink read-all");
    assert_eq!(s.bytes_copied, 4 * n * payload);
    // One copy guest->host at the source, two at the processor, one host->guest at the sink.
    let per_stage: Vec<u64> = s.stages.iter().map(|st| st.copies.copies).collect();
    assert_eq!(per_stage, vec![n, 2 * n, n]);
}

#[test]
fn slow_sink_bounds_queue_depth_and_pauses_then_resumes_the_source() {
    capture();
    let p = pipeline(
        &[
            N("slow_src", "counting-source", r#"{"count": 2000, "payload_size": 64}"#, ""),
            N("slow_sink", "slow-sink", r#"{"pause_every": 50}"#, "resume_after_ms = 2"),
        ],
        "queue_depth = 16\nlow_watermark = 0.5",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, 2000);
    assert_eq!(s.edges[0].capacity, 16);
    assert!(s.edges[0].peak_depth <= 16, "peak {} exceeds capacity", s.edges[0].peak_depth);
    assert!(s.edges[0].peak_depth >= 1);
    assert_eq!(s.stages[1].pauses, 40);
    assert!(s.pause_signals >= 1 && s.ready_signals >= 1, "{s:?}");
    let signals: Vec<String> = lines_of("slow_src").into_iter().map(|(_, l)| l).collect();
    let first_pause = signals.iter().position(|l| l == "backpressure: pause").unwrap_or_else(|| panic!("source saw pause: {signals:?}"));
    let ready_after = signals[first_pause..].iter().any(|l| l == "backpressure: ready");
    assert!(ready_after, "source saw ready after pause: {signals:?}");
}

#[test]
fn cancelling_a_running_flow_ends_cancelled_and_tears_components_down() {
    capture();
    let p = pipeline(
        &[
            N("cancel_src", "counting-source", r#"{"count": 1000000000}"#, ""),
            N("cancel_proc", "faulty-processor", "{}", ""),
            N("cancel_sink", "slow-sink", r#"{"pause_every": 1}"#, "resume_after_ms = 1"),
        ],
        "",
    );
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&p, "main").unwrap();
    let t0 = std::time::Instant::now();
    while flow.state() != FlowState::Running && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let canceller = {
        let flow = flow.clone();
        std::thread::spawn(move || flow.cancel())
    };
    let s = flow.wait(WAIT).unwrap();
    canceller.join().unwrap();
    assert_eq!(s.state, FlowState::Cancelled);
    assert!(s.error.is_none());
    assert!(s.elements > 0 && s.elements < 1_000_000_000);
    let teardown = lines_of("cancel_proc");
    assert_eq!(teardown.len(), 1, "{teardown:?}");
    assert!(teardown[0].1.starts_with("teardown after "), "{teardown:?}");
    let consumed = lines_of("cancel_sink");
    assert_eq!(consumed, vec![("stdout".to_string(), format!("consumed {}", s.elements))]);
}

#[test]
fn a_trap_fails_only_its_flow_and_names_the_node() {
    let host = Host::builder().worker_threads(1).build().unwrap();
    let bad = pipeline(
        &[
            N("trap_src", "counting-source", r#"{"count": 100}"#, ""),
            N("trap_node", "faulty-processor", r#"{"trap_at": 7}"#, ""),
            N("trap_sink", "slow-sink", "{}", ""),
        ],
        "",
    );
    let good = pipeline(
        &[
            N("healthy_src", "counting-source", r#"{"count": 5000}"#, ""),
            N("healthy_proc", "uppercase", "", ""),
            N("healthy_sink", "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        "",
    );
    // Same worker thread: the trap must not disturb the healthy flow.
    let healthy = host.start_flow(&good, "main").unwrap();
    let failing = host.start_flow(&bad, "main").unwrap();
    let f = failing.wait(WAIT).unwrap();
    assert_eq!(f.state, FlowState::Failed);
    let err = f.error.unwrap();
    assert!(err.contains("node `trap_node`"), "{err}");
    assert!(err.contains("faulty-processor"), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert_eq!(f.stages[1].elements_in, 7, "elements 0..7 went through before the trap");
    let h = healthy.wait(WAIT).unwrap();
    assert_eq!(h.state, FlowState::Completed, "{:?}", h.error);
    assert_eq!(h.elements, 5000);
}

#[test]
fn use_after_the_borrow_ended_is_rejected_and_fails_only_that_flow() {
    let p = pipeline(
        &[
            N("stale_src", "counting-source", r#"{"count": 10}"#, ""),
            N("stale_node", "faulty-processor", r#"{"stale_borrow_at": 2}"#, ""),
            N("stale_sink", "slow-sink", "{}", ""),
        ],
        "",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Failed);
    let err = s.error.unwrap();
    assert!(err.contains("node `stale_node`"), "{err}");
    assert!(err.contains("handle index"), "{err}");
    assert_eq!(s.elements, 3, "elements 0, 1 and 2 passed; the call for 3 used a dead borrow");
}

#[test]
fn writing_a_frozen_buffer_traps_with_a_clear_error() {
    let p = pipeline(
        &[
            N("frozen_src", "counting-source", r#"{"count": 10}"#, ""),
            N("frozen_node", "faulty-processor", r#"{"write_after_freeze_at": 4}"#, ""),
            N("frozen_sink", "slow-sink", "{}", ""),
        ],
        "",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Failed);
    let err = s.error.unwrap();
    assert!(err.contains("node `frozen_node`"), "{err}");
    assert!(err.contains("used after `freeze`"), "{err}");
}

#[test]
fn ended_flows_can_be_forgotten_and_limits_above_the_ceiling_are_refused() {
    let host = Host::builder().max_memory_bytes(32 << 20).build().unwrap();
    let short = pipeline(
        &[N("s", "counting-source", r#"{"count": 3}"#, ""), N("k", "slow-sink", "{}", "")],
        "memory_limit = \"16MiB\"",
    );
    let f = host.start_flow(&short, "main").unwrap();
    f.wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(host.remove_flow(f.id()).unwrap().elements, 3);
    assert!(host.list_flows().is_empty());
    let big = pipeline(
        &[N("s", "counting-source", "{}", ""), N("k", "slow-sink", "{}", "")],
        "memory_limit = \"64MiB\"",
    );
    let err = host.start_flow(&big, "main").err().unwrap().to_string();
    assert!(err.contains("exceeds this host's ceiling of 33554432 bytes"), "{err}");
}
