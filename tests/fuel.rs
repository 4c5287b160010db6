//! Fuel metering: `fuel_budget` per node and `fuel_per_invocation` for the
//! runtime limit every call; running out is a deadline-class failure naming
//! node, call and budget; metered and unmetered code never mix.

mod common;

use std::time::{Duration, Instant};

use common::{N, capture, pipeline};
use torvyn::reactor::FailureKind;
use torvyn::{FlowState, Host};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

#[test]
fn a_spinning_call_runs_out_of_fuel_long_before_its_deadline() {
    capture();
    let p = pipeline(
        &[
            N("fuel_src", "counting-source", r#"{"count": 5}"#, ""),
            N("fuel_spin", "blocking-guest", r#"{"wait": "spin", "at": 2}"#, "fuel_budget = 2_000_000\ncapabilities = [\"clock:monotonic\"]"),
            N("fuel_sink", "printing-sink", "{}", ""),
        ],
        "call_timeout_ms = 60000",
    );
    assert!(p.warnings.is_empty(), "fuel_budget has an effect: {:?}", p.warnings);
    let host = Host::builder().build().unwrap();
    let began = Instant::now();
    let s = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Deadline), "a deadline-class failure");
    let e = s.error.unwrap();
    assert!(e.contains("node `fuel_spin`") && e.contains("process") && e.contains("ran out of fuel: its budget is 2000000 per call"), "{e}");
    assert!(began.elapsed() < Duration::from_secs(30), "stopped by fuel, not by the 60 s deadline");
    assert_eq!(s.stages[1].elements_out, 2, "the calls before it ran within budget");
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn a_runtime_budget_meters_every_node_and_reports_what_each_used() {
    capture();
    let nodes = [
        N("fm_src", "counting-source", r#"{"count": 50}"#, ""),
        N("fm_up", "uppercase", "{}", ""),
        N("fm_sink", "printing-sink", "{}", ""),
    ];
    let metered = pipeline(&nodes, "fuel_per_invocation = 10_000_000");
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&metered, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!((s.state, s.elements), (FlowState::Completed, 50), "{:?}", s.error);
    for stage in &s.stages {
        assert!(stage.fuel_consumed > 0, "{} consumed fuel", stage.node);
        assert!(stage.fuel_consumed < 50 * 10_000_000, "{} within its budgets", stage.node);
    }
    // The same components unmetered on the same host: compiled separately,
    // no fuel counted.
    let plain = pipeline(&nodes, "");
    let s = host.start_flow(&plain, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!((s.state, s.elements), (FlowState::Completed, 50), "{:?}", s.error);
    assert!(s.stages.iter().all(|st| st.fuel_consumed == 0));
    // And metered again after that.
    let s = host.start_flow(&metered, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Completed);
    assert!(s.stages.iter().all(|st| st.fuel_consumed > 0));

    // A budget of 0 is unlimited, per node: nothing metered, nothing warned.
    let zero = pipeline(&nodes, "default_fuel_per_invocation = 0");
    assert!(zero.runtime.fuel.is_none());
    let s = host.start_flow(&zero, "main").unwrap().wait(WAIT).unwrap();
    assert!(s.stages.iter().all(|st| st.fuel_consumed == 0));
}
