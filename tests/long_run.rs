//! A host that runs flows one after another for a long time keeps only the
//! flows still alive: an ended flow is forgotten with its last handle, and
//! resident memory stays flat.

mod common;

use std::time::Duration;

use common::rss_kib;
use torvyn::{FlowState, Host, PipelineDef};

/// Whether `cond` holds within a few seconds (a flow's worker lets go of it
/// just after publishing its summary).
fn eventually(cond: impl Fn() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while !cond() {
        if t0.elapsed() > Duration::from_secs(10) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn ten_thousand_flows_on_one_host_leave_memory_flat() {
    let host = Host::builder().build().unwrap();
    let embed = PipelineDef::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed")).unwrap();
    let payload = vec![b'a'; 64 << 10];
    let run = |i: usize| {
        let flow = host.start_flow(&embed, "main").unwrap();
        flow.push("input", &payload, "", None).unwrap();
        flow.close_input("input").unwrap();
        let el = flow.next("output", Some(Duration::from_secs(30))).unwrap().unwrap();
        assert_eq!(el.payload().len(), payload.len());
        drop(el);
        assert!(flow.next("output", Some(Duration::from_secs(30))).unwrap().is_none());
        let s = flow.wait(Some(Duration::from_secs(30))).unwrap();
        assert_eq!(s.state, FlowState::Completed, "flow {i}: {:?}", s.error);
    };
    for i in 0..1_000 {
        run(i);
    }
    let warm = rss_kib();
    for i in 1_000..10_000 {
        run(i);
    }
    let end = rss_kib();
    eprintln!("10,000 flows on one host: resident {warm} KiB after 1,000, {end} KiB after 10,000");
    assert!(eventually(|| host.list_flows().is_empty()), "ended flows whose handles are gone are forgotten");
    assert!(end < warm + 16 * 1024, "resident memory grew from {warm} KiB to {end} KiB");
}

#[test]
fn a_flow_is_known_while_a_handle_or_its_worker_holds_it() {
    let host = Host::builder().build().unwrap();
    let embed = PipelineDef::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed")).unwrap();
    let flow = host.start_flow(&embed, "main").unwrap();
    let id = flow.id();
    drop(flow);
    // Still running (its worker holds it): listed, reachable, cancellable.
    assert_eq!(host.list_flows().len(), 1);
    let again = host.flow(id).unwrap();
    again.cancel();
    assert_eq!(again.wait(Some(Duration::from_secs(30))).unwrap().state, FlowState::Cancelled);
    // Ended, with a handle: still known.
    assert_eq!(host.flow_state(id).unwrap(), FlowState::Cancelled);
    drop(again);
    // Ended, no handle: forgotten.
    assert!(eventually(|| host.flow_state(id).is_err()));
    assert!(host.list_flows().is_empty());
}

#[test]
fn idle_pooled_memory_stays_within_the_host_bound() {
    // 1 MiB elements through a three-stage flow: without a byte bound its
    // pool would keep dozens of them; the host allows 4 MiB in all.
    let host = Host::builder().pool_max_bytes(4 << 20).build().unwrap();
    let p = common::pipeline(
        &[
            common::N("src", "counting-source", r#"{"count": 300, "payload_size": 1048576}"#, ""),
            common::N("pass", "passthrough", "", ""),
            common::N("sink", "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        "",
    );
    let flow = host.start_flow(&p, "main").unwrap();
    let mut peak = 0;
    while flow.summary().is_none() {
        peak = peak.max(host.pooled_bytes());
        std::thread::sleep(Duration::from_millis(1));
    }
    let s = flow.wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, 300);
    assert!(peak <= 4 << 20, "idle pooled bytes reached {peak}");
    drop(flow);
    assert!(eventually(|| host.pooled_bytes() == 0), "a forgotten flow's pool is freed");
}
