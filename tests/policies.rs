//! Error policies, deadlines and memory limits against misbehaving guests.

mod common;

use std::time::{Duration, Instant};

use common::{N, capture, pipeline};
use torvyn::reactor::FailureKind;
use torvyn::{FlowState, Host};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

fn run(proc_config: &str, proc_extra: &str, runtime: &str, node: &str) -> torvyn::FlowSummary {
    let p = pipeline(
        &[
            N(&format!("{node}_src"), "counting-source", r#"{"count": 20}"#, ""),
            N(node, "faulty-processor", proc_config, proc_extra),
            N(&format!("{node}_sink"), "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        runtime,
    );
    let host = Host::builder().build().unwrap();
    host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap()
}

#[test]
fn invalid_input_is_skipped_by_default() {
    let s = run(r#"{"fail_at": 5, "error": "invalid-input"}"#, "", "", "skip_node");
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.failure, None);
    assert_eq!(s.elements, 19);
    assert_eq!(s.stages[1].skipped, 1);
    assert_eq!(s.stages[1].elements_out, 19);
}

#[test]
fn unavailable_is_retried_and_then_succeeds() {
    let s = run(r#"{"fail_once_at": 5, "error": "unavailable"}"#, "", "", "retry_node");
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, 20, "nothing lost");
    assert_eq!(s.stages[1].retries, 1);
}

#[test]
fn retries_are_bounded_then_the_flow_fails() {
    let s = run(
        r#"{"fail_at": 3, "error": "internal"}"#,
        "[flow.main.nodes.bounded_node.on_error]\nmax_retries = 2",
        "",
        "bounded_node",
    );
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.stages[1].retries, 2);
    let err = s.error.unwrap();
    assert!(err.contains("node `bounded_node`") && err.contains("after 2 retries") && err.contains("internal: element 3"), "{err}");
}

#[test]
fn policy_can_skip_what_would_be_retried() {
    let s = run(
        r#"{"fail_at": 3, "error": "internal"}"#,
        "[flow.main.nodes.policy_node.on_error]\ninternal = \"skip\"",
        "",
        "policy_node",
    );
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, 19);
}

#[test]
fn fatal_fails_the_flow() {
    let s = run(r#"{"fail_at": 0, "error": "fatal"}"#, "", "", "fatal_node");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.elements, 0);
    assert_eq!(s.failure, Some(FailureKind::Component));
    assert!(s.error.unwrap().contains("failed: fatal: element 0 rejected on request"));
}

#[test]
fn an_endless_call_is_interrupted_at_its_deadline() {
    let t0 = Instant::now();
    let s = run(r#"{"spin_at": 2}"#, "", "call_timeout_ms = 100", "spin_node");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Deadline));
    let err = s.error.unwrap();
    assert!(err.contains("node `spin_node`") && err.contains("exceeded its 100ms deadline"), "{err}");
    assert_eq!(s.elements, 2);
    assert!(t0.elapsed() < Duration::from_secs(60));
}

#[test]
fn memory_beyond_the_limit_traps_that_flow_only() {
    capture();
    let s = run(r#"{"hog_at": 1}"#, "", "memory_limit = \"16MiB\"", "hog_node");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Trap));
    let err = s.error.unwrap();
    assert!(err.contains("node `hog_node`") && err.contains("trapped"), "{err}");
    assert!(err.contains("memory"), "{err}");
    // The host is fine: the next flow runs.
    let ok = run("{}", "", "", "after_hog");
    assert_eq!(ok.state, FlowState::Completed);
}

#[test]
fn a_node_max_memory_overrides_the_runtime_limit_for_that_node() {
    capture();
    // The node's own limit, below the runtime's default of 64 MiB.
    let s = run(r#"{"hog_at": 1}"#, "max_memory = \"16MiB\"", "", "node_hog_small");
    assert_eq!(s.state, FlowState::Failed);
    let err = s.error.unwrap();
    assert!(err.contains("node `node_hog_small`") && err.contains("memory limit of 16777216 bytes"), "{err}");
    // And above the runtime's: the node may grow to its own 32 MiB.
    let s = run(r#"{"hog_at": 1}"#, "max_memory = \"32MiB\"", "max_memory_per_component = \"8MiB\"", "node_hog_big");
    let err = s.error.unwrap();
    assert!(err.contains("memory limit of 33554432 bytes"), "{err}");
}

#[test]
fn a_component_budget_makes_allocate_fail_instead_of_growing() {
    capture();
    let s = run(
        r#"{"hoard_buffers_at": 0}"#,
        "max_buffers = 10",
        "",
        "hoard_node",
    );
    let lines = common::lines_of("hoard_node");
    let report = lines.iter().find(|(_, l)| l.starts_with("allocated ")).expect("hoarder printed");
    assert!(report.1.starts_with("allocated 10 buffers, then: BufferError::AllocationFailed("), "{report:?}");
    assert!(report.1.contains("stage budget exhausted: 10 live buffers"), "{report:?}");
    // The hoarded buffers went back when the guest dropped them; the flow goes on.
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, 20);
}

#[test]
fn a_failed_flow_reports_no_live_buffers_once_its_stages_released_them() {
    // The guest traps while it owns a buffer it allocated: the instance is
    // dropped at the end of the flow and its buffer goes back to the pool.
    let s = run(r#"{"write_after_freeze_at": 4}"#, "", "", "held_node");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.buffers_live, 0, "the summary is taken after every stage released what it held");
}
