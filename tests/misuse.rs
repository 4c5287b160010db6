//! Extreme and wrong values from an embedder: every one is an error naming
//! the option and its range, or saturates; none panics or reserves memory
//! it should not.

mod common;

use std::time::Duration;

use torvyn::host::HostError;
use torvyn::{FlowState, Host, PipelineDef};

fn embed() -> PipelineDef {
    PipelineDef::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed")).unwrap()
}

#[test]
fn host_options_are_checked_against_their_ranges() {
    let cases: [(torvyn::HostBuilder, &str); 5] = [
        (Host::builder().queue_depth(usize::MAX), "queue_depth"),
        (Host::builder().queue_depth(0), "queue_depth"),
        (Host::builder().max_memory_bytes(5 << 30), "memory_limit"),
        (Host::builder().max_memory_bytes(1000), "memory_limit"),
        (Host::builder().worker_threads(0), "worker_threads"),
    ];
    for (builder, option) in cases {
        match builder.build() {
            Err(e @ HostError::InvalidOption { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&format!("`{option}`")) && msg.contains("allowed:"), "{msg}");
            }
            Err(other) => panic!("{option}: wrong error {other}"),
            Ok(_) => panic!("{option}: an out-of-range value was accepted"),
        }
    }
    // The largest allowed queue depth works and does not reserve it all up front.
    let host = Host::builder().queue_depth(1 << 20).build().unwrap();
    let flow = host.start_flow(&embed(), "main").unwrap();
    flow.push("input", b"deep", "", None).unwrap();
    flow.close_input("input").unwrap();
    let el = flow.next("output", Some(Duration::from_secs(30))).unwrap().unwrap();
    assert_eq!(el.payload(), b"DEEP");
}

#[test]
fn a_manifest_memory_limit_above_4_gib_is_rejected_at_load() {
    let err = PipelineDef::from_toml_str("[runtime]\nmemory_limit = \"5GiB\"\n", ".").unwrap_err().to_string();
    assert!(err.contains("runtime.memory_limit") && err.contains("4GiB"), "{err}");
}

#[test]
fn the_longest_timeouts_wait_instead_of_panicking() {
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&embed(), "main").unwrap();
    flow.push("input", b"x", "", Some(Duration::MAX)).unwrap();
    let el = flow.next("output", Some(Duration::MAX)).unwrap().unwrap();
    assert_eq!(el.payload(), b"X");
    drop(el);
    flow.close_input("input").unwrap();
    assert!(flow.next("output", Some(Duration::MAX)).unwrap().is_none());
    let s = flow.wait(Some(Duration::MAX)).unwrap();
    assert_eq!(s.state, FlowState::Completed);
    let report = host.shutdown(Duration::MAX);
    assert_eq!(report.workers_still_running, 0);
}

#[test]
fn an_absurd_resume_after_holds_the_sink_without_panicking() {
    let p = common::pipeline(
        &[
            common::N("src", "counting-source", r#"{"count": 3}"#, ""),
            common::N("sink", "slow-sink", r#"{"pause_every": 1}"#, "resume_after_ms = 9223372036854775807"),
        ],
        "",
    );
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&p, "main").unwrap();
    assert!(flow.wait(Some(Duration::from_millis(300))).is_err(), "the sink is held, the flow waits");
    flow.cancel();
    let s = flow.wait(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(s.state, FlowState::Cancelled);
    assert_eq!(s.elements, 1);
}
