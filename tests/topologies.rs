//! Every flow shape against real components: fan-out, fan-in, filters,
//! routers, aggregators, several sources and sinks, with exact element and
//! copy counts.

mod common;

use std::time::Duration;

use common::{N, capture, graph, printed};
use torvyn::resources::CopyDirection;
use torvyn::{FlowState, FlowSummary, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

fn run(p: &PipelineDef) -> FlowSummary {
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    s
}

fn stage<'a>(s: &'a FlowSummary, node: &str) -> &'a torvyn::reactor::StageSummary {
    s.stages.iter().find(|st| st.node == node).unwrap_or_else(|| panic!("no stage {node}"))
}

fn copies(s: &FlowSummary, d: CopyDirection) -> u64 {
    s.copies_by_direction.iter().filter(|c| c.direction == d).map(|c| c.copies).sum()
}

#[test]
fn fan_out_lends_every_branch_the_same_buffer() {
    capture();
    let n = 500u64;
    let p = graph(
        &[
            N("fo_src", "counting-source", &format!(r#"{{"count": {n}}}"#), ""),
            N("fo_left", "printing-sink", r#"{"label": "left"}"#, ""),
            N("fo_right", "printing-sink", r#"{"label": "right"}"#, ""),
        ],
        &[("fo_src", "fo_left"), ("fo_src", "fo_right")],
        "queue_depth = 8",
    );
    let s = run(&p);
    assert_eq!(s.elements, 2 * n, "each sink got every element");
    let expected: Vec<(u64, String)> = (0..n).map(|i| (i, format!("Hello, World! (message {})", i + 1))).collect();
    for sink in ["fo_left", "fo_right"] {
        let (got, completed) = printed(sink);
        assert_eq!(got, expected, "{sink} saw every element once, in order, numbered 0..{n}");
        assert!(completed, "{sink} completed last");
        assert_eq!(stage(&s, sink).elements_in, n);
    }
    // One copy in (the source's append) and one out per reader; handing the
    // buffer to the second branch copies nothing.
    assert_eq!(copies(&s, CopyDirection::GuestToHost), n);
    assert_eq!(copies(&s, CopyDirection::HostToGuest), 2 * n);
    assert_eq!(copies(&s, CopyDirection::HostToHost), 0);
    assert_eq!(s.copies, 3 * n);
    assert_eq!(stage(&s, "fo_src").elements_out, n, "a fan-out emits each element once");
    // Buffers go back to the pool after the last reader: the pool never
    // needs more than the queues can hold.
    assert!(s.pool_allocations <= 2 * 8 + 4, "{} buffers created for {n} elements", s.pool_allocations);
    assert_eq!(s.pool_allocations + s.pool_reuses, n);
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn the_slowest_branch_of_a_fan_out_governs_its_producer() {
    capture();
    let n = 600u64;
    let p = graph(
        &[
            N("gov_src", "counting-source", &format!(r#"{{"count": {n}, "payload_size": 1024}}"#), ""),
            N("gov_fast", "slow-sink", r#"{"pause_every": 1000000000}"#, ""),
            N("gov_slow", "slow-sink", r#"{"pause_every": 20}"#, "resume_after_ms = 2"),
        ],
        &[("gov_src", "gov_fast"), ("gov_src", "gov_slow")],
        "queue_depth = 8\nlow_watermark = 0.5",
    );
    let s = run(&p);
    assert_eq!(stage(&s, "gov_fast").elements_in, n);
    assert_eq!(stage(&s, "gov_slow").elements_in, n);
    assert_eq!(stage(&s, "gov_slow").pauses, n / 20);
    assert!(s.pause_signals >= 1 && s.ready_signals >= 1, "the source was paused by the slow branch");
    for e in &s.edges {
        assert!(e.peak_depth <= e.capacity, "{e:?}");
    }
    // The fast branch never runs ahead of the slow one by more than a queue.
    assert!(s.pool_allocations <= 2 * 8 + 4, "{} buffers in flight", s.pool_allocations);
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn fan_in_merges_fairly_and_numbers_the_merged_stream_without_gaps() {
    capture();
    let a: Vec<String> = (0..60).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (0..60).map(|i| format!("b{i}")).collect();
    let p = graph(
        &[
            N("fi_a", "token-source", &format!(r#"{{"text": "{}"}}"#, a.join(" ")), ""),
            N("fi_b", "token-source", &format!(r#"{{"text": "{}"}}"#, b.join(" ")), ""),
            N("fi_sink", "printing-sink", "{}", ""),
        ],
        &[("fi_a", "fi_sink"), ("fi_b", "fi_sink")],
        "queue_depth = 4",
    );
    let s = run(&p);
    assert_eq!(s.elements, 120);
    let (got, completed) = printed("fi_sink");
    assert!(completed);
    let seqs: Vec<u64> = got.iter().map(|(q, _)| *q).collect();
    assert_eq!(seqs, (0..120).collect::<Vec<_>>(), "one gap-free sequence for the merged stream");
    // Each input keeps its own order...
    let from = |p: &str| got.iter().map(|(_, t)| t.clone()).filter(|t| t.starts_with(p)).collect::<Vec<_>>();
    assert_eq!(from("a"), a);
    assert_eq!(from("b"), b);
    // ...and while both have elements they take turns.
    let mut lead = 0i64;
    for (_, t) in &got[..100] {
        lead += if t.starts_with('a') { 1 } else { -1 };
        assert!(lead.abs() <= 1, "merge is not fair: {got:?}");
    }
}

#[test]
fn a_filter_passes_or_drops_without_allocating() {
    capture();
    let lines = ["ERROR disk full", "INFO started", "ERROR timeout", "WARN slow", "ERROR again", "INFO done"];
    let p = graph(
        &[
            N("flt_src", "token-source", &format!(r#"{{"text": "{}", "separator": "|", "repeat": 50}}"#, lines.join("|")), ""),
            N("flt_keep", "keyword-filter", r#"{"contains": "ERROR"}"#, ""),
            N("flt_sink", "printing-sink", "{}", ""),
        ],
        &[("flt_src", "flt_keep"), ("flt_keep", "flt_sink")],
        "",
    );
    let s = run(&p);
    let n = 6 * 50;
    let kept = 3 * 50;
    assert_eq!(s.elements, kept);
    let (got, completed) = printed("flt_sink");
    assert!(completed);
    let errors: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("ERROR")).collect();
    let expected: Vec<(u64, String)> = (0..kept).map(|i| (i, errors[(i % 3) as usize].to_string())).collect();
    assert_eq!(got, expected, "the sink's sequence has no gaps where elements were dropped");
    let f = stage(&s, "flt_keep");
    assert_eq!((f.elements_in, f.elements_out, f.dropped), (n, kept, n - kept));
    assert_eq!(f.buffers_allocated, 0, "a filter allocates nothing");
    assert_eq!(f.copies.copies, n, "one read per element, no write");
    assert_eq!(copies(&s, CopyDirection::GuestToHost), n, "only the source wrote");
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn a_router_sends_each_element_to_the_ports_it_names() {
    capture();
    let lines = ["ERROR disk full", "WARN slow disk", "INFO started", "DEBUG noise", "ERROR timeout"];
    let p = graph(
        &[
            N("rt_src", "token-source", &format!(r#"{{"text": "{}", "separator": "|", "repeat": 20}}"#, lines.join("|")), ""),
            N(
                "rt_route",
                "prefix-router",
                r#"{"routes": "ERROR=errors+alerts;WARN=warnings;INFO=info"}"#,
                "",
            ),
            N("rt_errors", "printing-sink", r#"{"label": "errors"}"#, ""),
            N("rt_alerts", "printing-sink", r#"{"label": "alerts"}"#, ""),
            N("rt_warnings", "printing-sink", r#"{"label": "warnings"}"#, ""),
            N("rt_info", "printing-sink", r#"{"label": "info"}"#, ""),
        ],
        &[
            ("rt_src", "rt_route"),
            ("rt_route.errors", "rt_errors"),
            ("rt_route.alerts", "rt_alerts"),
            ("rt_route.warnings", "rt_warnings"),
            ("rt_route.info", "rt_info"),
        ],
        "queue_depth = 8",
    );
    let s = run(&p);
    let payloads = |node: &str| {
        let (got, completed) = printed(node);
        assert!(completed, "{node} completed");
        let seqs: Vec<u64> = got.iter().map(|(q, _)| *q).collect();
        assert_eq!(seqs, (0..got.len() as u64).collect::<Vec<_>>(), "{node} numbered without gaps");
        got.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    let expect = |prefix: &str| -> Vec<String> {
        (0..20).flat_map(|_| lines.iter().filter(|l| l.starts_with(prefix)).map(|l| l.to_string())).collect()
    };
    assert_eq!(payloads("rt_errors"), expect("ERROR"));
    assert_eq!(payloads("rt_alerts"), expect("ERROR"), "two ports named at once: the same buffer to both");
    assert_eq!(payloads("rt_warnings"), expect("WARN"));
    assert_eq!(payloads("rt_info"), expect("INFO"));
    let r = stage(&s, "rt_route");
    assert_eq!((r.elements_in, r.elements_out, r.dropped), (100, 80, 20), "DEBUG goes nowhere: dropped");
    assert_eq!(r.buffers_allocated, 0);
    assert_eq!(s.elements, 40 + 40 + 20 + 20);
    assert_eq!(copies(&s, CopyDirection::GuestToHost), 100);
    assert_eq!(copies(&s, CopyDirection::HostToGuest), 100 + 120, "router reads each once, sinks once per delivery");
    assert_eq!(copies(&s, CopyDirection::HostToHost), 0);
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn a_router_naming_a_port_it_does_not_have_fails_its_flow_with_the_ports_it_has() {
    capture();
    let p = graph(
        &[
            N("rx_src", "token-source", r#"{"text": "ERROR x|INFO y", "separator": "|"}"#, ""),
            N("rx_route", "prefix-router", r#"{"routes": "ERROR=errors;INFO=nowhere"}"#, ""),
            N("rx_errors", "printing-sink", "{}", ""),
        ],
        &[("rx_src", "rx_route"), ("rx_route.errors", "rx_errors")],
        "",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(
        s.error.as_deref(),
        Some("node `rx_route` (component `prefix-router.wasm`) route: route returned port `nowhere`, which the node does not have (its ports: errors); add an edge from `rx_route.nowhere` or fix the component")
    );
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn an_aggregator_flushes_before_the_sink_completes() {
    capture();
    let text = "Tokens arrive one by one. The aggregator joins them! Does it flush the rest? yes it does";
    let p = graph(
        &[
            N("ag_src", "token-source", &format!(r#"{{"text": "{text}"}}"#), ""),
            N("ag_join", "sentence-joiner", "{}", ""),
            N("ag_sink", "printing-sink", "{}", ""),
        ],
        &[("ag_src", "ag_join"), ("ag_join", "ag_sink")],
        "",
    );
    let s = run(&p);
    let (got, completed) = printed("ag_sink");
    assert_eq!(
        got,
        vec![
            (0, "Tokens arrive one by one.".to_string()),
            (1, "The aggregator joins them!".to_string()),
            (2, "Does it flush the rest?".to_string()),
            (3, "yes it does".to_string()),
        ]
    );
    assert!(completed, "the flushed sentence came before complete");
    let a = stage(&s, "ag_join");
    assert_eq!((a.elements_in, a.elements_out, a.dropped), (17, 4, 0));
    assert_eq!(a.buffers_allocated, 4);
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn several_sources_and_sinks_complete_when_every_sink_has() {
    capture();
    let p = graph(
        &[
            N("ms_a", "counting-source", r#"{"count": 30, "message": "a"}"#, ""),
            N("ms_b", "counting-source", r#"{"count": 20, "message": "b"}"#, ""),
            N("ms_up", "uppercase", "", ""),
            N("ms_one", "printing-sink", r#"{"label": "one"}"#, ""),
            N("ms_two", "slow-sink", r#"{"pause_every": 7}"#, "resume_after_ms = 1"),
        ],
        &[("ms_a", "ms_up"), ("ms_b", "ms_up"), ("ms_up", "ms_one"), ("ms_up", "ms_two")],
        "queue_depth = 4",
    );
    let s = run(&p);
    assert_eq!(stage(&s, "ms_up").elements_in, 50);
    assert_eq!(stage(&s, "ms_one").elements_in, 50);
    assert_eq!(stage(&s, "ms_two").elements_in, 50);
    assert_eq!(s.elements, 100);
    let (got, completed) = printed("ms_one");
    assert!(completed);
    assert_eq!(got.iter().filter(|(_, t)| t.starts_with("A (MESSAGE")).count(), 30);
    assert_eq!(got.iter().filter(|(_, t)| t.starts_with("B (MESSAGE")).count(), 20);
    // Stages are listed producers first.
    let order: Vec<&str> = s.stages.iter().map(|st| st.node.as_str()).collect();
    assert_eq!(&order[..3], ["ms_a", "ms_b", "ms_up"]);
    assert_eq!(s.buffers_live, 0);
}
