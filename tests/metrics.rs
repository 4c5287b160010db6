//! The metrics a flow records (per flow, node and edge), checked against
//! flows with known counts: plain, lossy, backpressured, failing, off.

mod common;

use std::time::Duration;

use common::{N, capture};
use torvyn::observability::Level;
use torvyn::{FlowState, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

fn run(text: &str) -> (torvyn::FlowSummary, torvyn::observability::MetricsSnapshot) {
    let p = PipelineDef::from_toml_str(text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&p, "main").unwrap();
    let s = flow.wait(WAIT).unwrap();
    (s, flow.metrics())
}

#[test]
fn a_plain_flow_counts_every_call_element_and_wait() {
    capture();
    let text = common::linear(
        &[N("m_src", "counting-source", r#"{"count": 100}"#, ""), N("m_up", "uppercase", "{}", ""), N("m_sink", "printing-sink", "{}", "")],
        "",
    );
    // Counts are exact at both levels; `production` times a sample: the
    // source's calls 0, S, 2S, … below 100 (S = TIMING_SAMPLE), followed
    // through every node.
    let sampled = 100u64.div_ceil(torvyn::observability::TIMING_SAMPLE);
    for (level, timed) in [(Level::Production, sampled), (Level::Diagnostic, 100)] {
        let (s, m) = run(&format!("{text}\n[observability]\nlevel = \"{level}\"\n"));
        assert_eq!((s.state, s.elements), (FlowState::Completed, 100));
        assert_eq!((m.level, m.elements, m.errors), (level, 100, 0));
        assert_eq!(m.latency_ns.count, timed, "{level}");
        assert!(m.latency_ns.p50 > 0 && m.latency_ns.p50 <= m.latency_ns.p99 && m.latency_ns.p99 <= m.latency_ns.max);
        let calls: Vec<(&str, u64)> = m.nodes.iter().map(|n| (n.node.as_str(), n.invocations)).collect();
        // 100 pulls and the one that found nothing; 100 process; 100 push and complete.
        assert_eq!(calls, [("m_src", 101), ("m_up", 100), ("m_sink", 101)]);
        for n in &m.nodes {
            let expected = if level == Level::Diagnostic { n.invocations } else { timed };
            assert_eq!(n.processing_ns.count, expected, "{level} {}", n.node);
            assert_eq!(n.errors, 0);
            // Whole 64 KiB Wasm pages, at least one.
            assert!(n.memory_bytes >= 65536 && n.memory_bytes % 65536 == 0, "{}: {}", n.node, n.memory_bytes);
        }
        for e in &m.edges {
            assert_eq!((e.elements, e.queue_wait_ns.count, e.dropped, e.depth), (100, timed, 0, 0), "{level} {e:?}");
            assert!(e.peak_depth >= 1);
        }
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["edges"][1]["from"], "m_up");
        assert_eq!(json["nodes"][1]["processing_ns"]["count"], timed);
    }
}

#[test]
fn drops_and_backpressure_are_counted_per_edge() {
    capture();
    let fast_slow = |sink: &str, edge: &str| {
        common::linear(
            &[
                N(&format!("{sink}_src"), "counting-source", r#"{"count": 100}"#, "priority = 10"),
                N(sink, "printing-sink", "{}", &format!("priority = 1\n{edge}")),
            ],
            "queue_depth = 4",
        )
    };
    let lossy = fast_slow("m_drop", "").replace("to = { node = ", "backpressure = \"drop-newest\"\nto = { node = ");
    let (s, m) = run(&lossy);
    assert_eq!(s.state, FlowState::Completed);
    assert_eq!((m.edges[0].dropped, m.edges[0].elements, m.elements), (87, 13, 13));
    assert_eq!(m.edges[0].backpressure_events, 0, "a lossy edge never stops its producer");
    // Only elements whose entry was timed have a latency: no zero samples
    // from a sink's own sample landing on untimed elements.
    assert!(m.latency_ns.count <= m.elements && m.latency_ns.buckets.iter().all(|b| b.0 >= 100), "{:?}", m.latency_ns);

    let (s, m) = run(&fast_slow("m_block", ""));
    assert_eq!(s.state, FlowState::Completed);
    let e = &m.edges[0];
    assert_eq!((e.elements, e.dropped, e.peak_depth), (100, 0, 4));
    assert!(e.backpressure_events >= 20, "the full queue stopped the source again and again: {e:?}");
    assert!(e.backpressure_ns > 0);
    assert!(e.queue_wait_ns.max >= e.queue_wait_ns.p50);
}

#[test]
fn errors_are_counted_on_the_node_and_the_flow() {
    capture();
    let text = common::linear(
        &[
            N("me_src", "counting-source", r#"{"count": 20}"#, ""),
            N("me_bad", "faulty-processor", r#"{"fail_at": 5, "error": "invalid-input"}"#, ""),
            N("me_sink", "printing-sink", "{}", ""),
        ],
        "",
    );
    let (s, m) = run(&text);
    assert_eq!((s.state, s.elements), (FlowState::Completed, 19));
    assert_eq!((m.errors, m.nodes[1].errors, m.nodes[1].invocations, m.elements), (1, 1, 20, 19));
}

#[test]
fn level_off_records_nothing_and_can_be_changed_while_running() {
    capture();
    let nodes = [N("mo_src", "counting-source", r#"{"count": 30}"#, ""), N("mo_sink", "printing-sink", "{}", "")];
    let off = format!("{}\n[observability]\nlevel = \"off\"\n", common::linear(&nodes, ""));
    let (s, m) = run(&off);
    assert_eq!(s.elements, 30);
    assert_eq!((m.level, m.elements, m.nodes[0].invocations, m.latency_ns.count, m.edges[0].queue_wait_ns.count), (Level::Off, 0, 0, 0, 0));
    // An edge's counts are its queue's own (the summary's too): exact at every level.
    assert_eq!((m.edges[0].elements, m.edges[0].depth), (30, 0));
    assert_eq!(m.edges[0].peak_depth, s.edges[0].peak_depth as u64);
    let disabled = format!("{}\n[observability]\nmetrics_enabled = false\n", common::linear(&nodes, ""));
    assert_eq!(run(&disabled).1.level, Level::Off);
    let p = PipelineDef::from_toml_str(&off, env!("CARGO_MANIFEST_DIR")).unwrap();
    assert!(!p.warnings.iter().any(|w| w.key == "observability.level"), "level has an effect: {:?}", p.warnings);

    // Switched on for a flow that started off: counted from then on.
    let slow = common::linear(
        &[N("mo2_src", "counting-source", r#"{"count": 40}"#, ""), N("mo2_sink", "slow-sink", r#"{"pause_every": 1}"#, "resume_after_ms = 20")],
        "",
    );
    let p = PipelineDef::from_toml_str(&format!("{slow}\n[observability]\nlevel = \"off\"\n"), env!("CARGO_MANIFEST_DIR")).unwrap();
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&p, "main").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    flow.set_observability_level(Level::Production);
    let s = flow.wait(WAIT).unwrap();
    let m = flow.metrics();
    assert_eq!(s.elements, 40);
    assert!(m.elements > 0 && m.elements < 40, "only what came after the switch: {}", m.elements);
}
