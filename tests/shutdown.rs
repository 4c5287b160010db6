//! Shutting a host down with flows in flight. Alone in its test binary so
//! the process's thread count belongs to this test.

mod common;

use std::time::{Duration, Instant};

use common::{N, pipeline};
use torvyn::{FlowState, Host};

fn threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

fn endless() -> torvyn::PipelineDef {
    pipeline(
        &[
            N("src", "counting-source", r#"{"count": 1000000000}"#, ""),
            N("pass", "passthrough", "", ""),
            N("sink", "printing-sink", "", ""),
        ],
        "",
    )
}

#[test]
fn shutdown_with_flows_in_flight_reports_and_leaves_no_thread_behind() {
    // Warm up once: process-wide pools that wasmtime creates lazily (its
    // compiler threads, WASI's I/O runtime) exist from here on.
    let warm = Host::builder().build().unwrap();
    let f = warm.start_flow(&endless(), "main").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    warm.shutdown(Duration::from_secs(30));
    assert_eq!(f.state(), FlowState::Cancelled);
    drop(warm);
    let before = threads();
    assert!(!before.iter().any(|n| n.starts_with("torvyn")), "{before:?}");

    let host = Host::builder().worker_threads(2).build().unwrap();
    let p = endless();
    let flows: Vec<_> = (0..4).map(|_| host.start_flow(&p, "main").unwrap()).collect();
    let t0 = Instant::now();
    while flows.iter().any(|f| f.state() != FlowState::Running) && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Running means started; give every flow time to move elements.
    std::thread::sleep(Duration::from_millis(100));
    let during = threads();
    assert_eq!(during.iter().filter(|n| n.starts_with("torvyn-worker")).count(), 2);
    assert_eq!(during.iter().filter(|n| *n == "torvyn-epoch").count(), 1);

    let report = host.shutdown(Duration::from_secs(30));
    assert_eq!(report.workers_still_running, 0);
    assert_eq!(report.cancelled.len(), 4);
    assert_eq!(report.flows.len(), 4);
    for s in &report.flows {
        assert_eq!(s.state, FlowState::Cancelled);
        assert!(s.elements > 0, "each flow made progress before shutdown");
    }
    assert!(host.start_flow(&p, "main").is_err(), "a stopped host accepts no flows");
    drop(host);
    assert_eq!(threads(), before, "threads after shutdown equal threads before the host");
}
