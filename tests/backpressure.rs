//! Backpressure policies (block, drop-oldest, drop-newest, error) per edge
//! and global, queue-depth precedence, and weighted-fair scheduling, with
//! a fast source (priority 10) into a slow sink (priority 1).
//!
//! Under weighted-fair scheduling a node takes up to priority/lowest steps
//! per round (the sink first), so with 100 elements, depth 4: round 1 the
//! source pulls 10 (4 queued, 6 full); rounds 2-10 the sink takes 1 and the
//! source pulls 10 (1 queued, 9 full). Lossy policies therefore deliver
//! 4 + 9 = 13 and drop 87, exactly.

mod common;

use std::time::Duration;

use common::{N, capture, printed};
use torvyn::config::BackpressurePolicy;
use torvyn::{FlowState, FlowSummary, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

fn fast_into_slow(sink: &str, edge: &str, runtime: &str) -> String {
    common::linear(
        &[
            N(&format!("{sink}_src"), "counting-source", r#"{"count": 100, "message": "m"}"#, "priority = 10"),
            N(sink, "printing-sink", "{}", &format!("priority = 1\n{edge}")),
        ],
        runtime,
    )
}

fn run(p: &PipelineDef) -> FlowSummary {
    let host = Host::builder().build().unwrap();
    host.start_flow(p, "main").unwrap().wait(WAIT).unwrap()
}

fn parse(text: &str) -> PipelineDef {
    PipelineDef::from_toml_str(text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `backpressure` of the edge into the sink, written on the edge table.
fn with_edge_policy(text: &str, policy: &str) -> String {
    text.replace("to = { node = ", &format!("backpressure = \"{policy}\"\nto = {{ node = "))
}

#[test]
fn block_delivers_everything_and_drops_nothing() {
    capture();
    let p = parse(&fast_into_slow("bp_block", "", "queue_depth = 4"));
    let s = run(&p);
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!(s.elements, 100);
    assert_eq!((s.edges[0].policy, s.edges[0].dropped, s.edges[0].peak_depth), (BackpressurePolicy::Block, 0, 4));
    let (seen, complete) = printed("bp_block");
    assert!(complete);
    assert_eq!(seen.iter().map(|(q, _)| *q).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
}

#[test]
fn drop_newest_drops_what_does_not_fit_and_counts_it() {
    capture();
    let p = parse(&with_edge_policy(&fast_into_slow("bp_newest", "", "queue_depth = 4"), "drop-newest"));
    let s = run(&p);
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!((s.edges[0].policy, s.edges[0].dropped), (BackpressurePolicy::DropNewest, 87));
    assert_eq!(s.elements, 13);
    assert_eq!(s.buffers_live, 0, "every dropped buffer went back");
    let (seen, _) = printed("bp_newest");
    let payloads: Vec<&str> = seen.iter().map(|(_, p)| p.as_str()).collect();
    // Kept: the first four, then the first pulled of each later round.
    let kept: Vec<String> = [1, 2, 3, 4, 11, 21, 31, 41, 51, 61, 71, 81, 91].iter().map(|n| format!("m (message {n})")).collect();
    assert_eq!(payloads, kept);
    // The sink sees the gaps: 6 dropped before element 11, then 9 before each.
    let seqs: Vec<u64> = seen.iter().map(|(q, _)| *q).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
}

#[test]
fn drop_oldest_keeps_the_newest_and_the_sink_sees_the_gaps() {
    capture();
    // Global policy from [runtime.backpressure]; the depth from the flow.
    let text = fast_into_slow("bp_oldest", "", "[runtime.backpressure]\nbackpressure_policy = \"drop-oldest\"")
        .replace("[flow.main.nodes.bp_oldest_src]", "[flow.main]\ndefault_queue_depth = 4\n\n[flow.main.nodes.bp_oldest_src]");
    let p = parse(&text);
    let s = run(&p);
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    assert_eq!((s.edges[0].policy, s.edges[0].dropped, s.edges[0].capacity), (BackpressurePolicy::DropOldest, 87, 4));
    assert_eq!(s.elements, 13);
    assert_eq!(s.buffers_live, 0);
    let (seen, complete) = printed("bp_oldest");
    assert!(complete);
    let numbers: Vec<u64> = seen.iter().map(|(_, p)| p.trim_start_matches("m (message ").trim_end_matches(')').parse().unwrap()).collect();
    // Round 1 leaves 7..10 queued; the sink takes one per round while the
    // source pushes ten, so it sees the oldest survivor of each round, and
    // the newest four at the end.
    assert_eq!(numbers, [7, 17, 27, 37, 47, 57, 67, 77, 87, 97, 98, 99, 100]);
    let seqs: Vec<u64> = seen.iter().map(|(q, _)| *q).collect();
    assert_eq!(seqs, numbers.iter().map(|n| n - 1).collect::<Vec<_>>(), "sequence numbers count the dropped ones");
}

#[test]
fn error_policy_fails_the_flow_naming_the_edge() {
    capture();
    let p = parse(&with_edge_policy(&fast_into_slow("bp_error", "", "queue_depth = 4"), "error"));
    let s = run(&p);
    assert_eq!(s.state, FlowState::Failed);
    let e = s.error.unwrap();
    assert!(e.contains("edge `bp_error_src -> bp_error` is full (4 queued)") && e.contains("policy is `error`"), "{e}");
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn queue_depth_resolves_edge_then_flow_then_runtime_backpressure_then_runtime() {
    let nodes = |extra_edge: &str| {
        common::linear(
            &[N("a", "counting-source", r#"{"count": 1}"#, ""), N("b", "passthrough", "{}", ""), N("c", "printing-sink", "{}", extra_edge)],
            "queue_depth = 8\n[runtime.backpressure]\ndefault_queue_depth = 16",
        )
    };
    let p = parse(&nodes(""));
    let f = &p.flows[0];
    assert_eq!(p.runtime.queue_depth, 16, "[runtime.backpressure] beats [runtime]");
    assert!(p.warnings.iter().any(|w| w.key == "runtime.queue_depth" && w.message.contains("`runtime.backpressure.default_queue_depth` wins")), "{:?}", p.warnings);
    assert_eq!(f.queue(0, &p.runtime).depth, 16);
    let text = nodes("").replace("[flow.main.nodes.a]", "[flow.main]\ndefault_queue_depth = 32\nbackpressure = \"drop-newest\"\n\n[flow.main.nodes.a]");
    let text = text.replacen("to = { node = \"c\"", "queue_depth = 2\nto = { node = \"c\"", 1);
    let p = parse(&text);
    let f = &p.flows[0];
    assert_eq!((f.queue(0, &p.runtime).depth, f.queue(1, &p.runtime).depth), (32, 2), "flow, then edge");
    assert_eq!(f.queue(1, &p.runtime).low_watermark, 1);
    assert_eq!(f.queue(0, &p.runtime).policy, BackpressurePolicy::DropNewest, "the flow's policy");

    // `torvyn link` shows each edge's resolved queue.
    let dir = common::cli::temp_dir("queue-depths");
    std::fs::write(dir.join("Torvyn.toml"), &text).unwrap();
    let (code, out, err) = common::cli::torvyn_in(&dir, &["link"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  a.output -> b.input  (queue 32, resumes at 16, drop-newest)"), "{out}");
    assert!(out.contains("  b.output -> c.input  (queue 2, resumes at 1, drop-newest)"), "{out}");
    let plain = nodes("");
    std::fs::write(dir.join("Torvyn.toml"), &plain).unwrap();
    let (_, out, _) = common::cli::torvyn_in(&dir, &["link", "--config", "runtime.backpressure.backpressure_policy=drop-oldest"], &[]);
    assert!(out.contains("(queue 16, resumes at 8, drop-oldest)"), "{out}");
}

#[test]
fn weighted_fair_shares_turns_by_priority_and_round_robin_ignores_it() {
    capture();
    // Two branches on one worker: hi and lo, each a source into a sink, with
    // the given priorities. When hi's sink has printed everything, how far
    // has lo's got?
    let ratio = |tag: &str, policy: &str, hi_p: u32, lo_p: u32| {
        let (hi, lo) = (format!("hi_{tag}"), format!("lo_{tag}"));
        let t = common::graph_text(
            &[
                N("hi_src", "counting-source", r#"{"count": 420}"#, &format!("priority = {hi_p}")),
                N(&hi, "printing-sink", "{}", &format!("priority = {hi_p}")),
                N("lo_src", "counting-source", r#"{"count": 420}"#, &format!("priority = {lo_p}")),
                N(&lo, "printing-sink", "{}", &format!("priority = {lo_p}")),
            ],
            &[("hi_src", &hi), ("lo_src", &lo)],
            // Deeper than any node's steps per round, so queues never cap them.
            "queue_depth = 16",
        );
        // weighted-fair is the default; round-robin is set on the flow.
        let t = match policy {
            "round-robin" => t.replacen("[flow.main.nodes.hi_src]", "[flow.main]\nscheduling_policy = \"round-robin\"\n\n[flow.main.nodes.hi_src]", 1),
            _ => t,
        };
        assert_eq!(run(&parse(&t)).state, FlowState::Completed);
        assert_eq!(printed(&hi).0.len(), 420);
        let all = common::all_lines();
        let hi_done = all.iter().rposition(|(n, _, _)| *n == hi).unwrap();
        let lo_then = all[..hi_done].iter().filter(|(n, _, l)| *n == lo && l.starts_with('[')).count();
        420.0 / lo_then.max(1) as f64
    };
    let eight_two = ratio("w82", "weighted-fair", 8, 2);
    let seven_five = ratio("w75", "weighted-fair", 7, 5);
    let ten_nine = ratio("w109", "weighted-fair", 10, 9);
    let round_robin = ratio("rr", "round-robin", 8, 2);
    eprintln!("progress ratio hi:lo  8:2 {eight_two:.2}  7:5 {seven_five:.2}  10:9 {ten_nine:.2}  round-robin (8:2) {round_robin:.2}");
    assert!((3.8..=4.2).contains(&eight_two), "priority 8 vs 2: {eight_two}");
    assert!((1.33..=1.47).contains(&seven_five), "priority 7 vs 5: {seven_five}");
    assert!((1.07..=1.15).contains(&ten_nine), "priority 10 vs 9: {ten_nine}");
    assert!((0.97..=1.03).contains(&round_robin), "round-robin ignores priority: {round_robin}");
}

#[test]
fn an_error_edge_after_a_processor_fails_the_flow_and_frees_every_buffer() {
    capture();
    let text = common::linear(
        &[
            N("mid_src", "counting-source", r#"{"count": 50}"#, "priority = 10"),
            N("mid_upper", "uppercase", "{}", "priority = 10"),
            N("mid_sink", "printing-sink", "{}", "priority = 1"),
        ],
        "queue_depth = 2",
    )
    .replace("to = { node = \"mid_sink\"", "backpressure = { backpressure_policy = \"error\" }\nto = { node = \"mid_sink\"");
    let s = run(&parse(&text));
    assert_eq!(s.state, FlowState::Failed);
    assert!(s.error.as_deref().unwrap_or_default().contains("edge `mid_upper -> mid_sink` is full (2 queued)"), "{:?}", s.error);
    assert_eq!(s.buffers_live, 0);
}

#[test]
fn pool_tiers_bound_what_components_may_allocate_under_the_error_policy() {
    capture();
    let run_with = |node: &str, pools: &str| {
        let text = common::linear(
            &[
                N(&format!("{node}_src"), "counting-source", r#"{"count": 100, "payload_size": 1000}"#, ""),
                N(node, "slow-sink", r#"{"pause_every": 1000000}"#, ""),
            ],
            &format!("[runtime.pools]\n{pools}"),
        );
        run(&parse(&text))
    };
    // Two 4 KiB buffers, recycled, carry all 100 elements of 1000 bytes.
    let s = run_with("pool_two", "medium_pool_size = 2\nexhaustion_policy = \"error\"");
    assert_eq!((s.state, s.elements), (FlowState::Completed, 100), "{:?}", s.error);
    // None at all: the source's first allocation is refused, naming the tier.
    let s = run_with("pool_none", "medium_pool_size = 0\nexhaustion_policy = \"error\"");
    assert_eq!(s.state, FlowState::Failed);
    let e = s.error.unwrap();
    assert!(e.contains("the medium buffer pool is exhausted") && e.contains("runtime.pools.medium_pool_size"), "{e}");
    // The default policy allocates when a tier is empty.
    let s = run_with("pool_fallback", "medium_pool_size = 0");
    assert_eq!((s.state, s.elements), (FlowState::Completed, 100), "{:?}", s.error);
}

#[test]
fn drops_behind_a_processor_return_its_emitted_buffers() {
    capture();
    for (tag, policy) in [("behind_old", "drop-oldest"), ("behind_new", "drop-newest")] {
        let text = common::linear(
            &[
                N(&format!("{tag}_src"), "counting-source", r#"{"count": 100}"#, "priority = 10"),
                N(&format!("{tag}_up"), "uppercase", "{}", "priority = 10"),
                N(tag, "printing-sink", "{}", "priority = 1"),
            ],
            "queue_depth = 4",
        )
        .replace(&format!("to = {{ node = \"{tag}\""), &format!("backpressure = \"{policy}\"\nto = {{ node = \"{tag}\""));
        let s = run(&parse(&text));
        assert_eq!(s.state, FlowState::Completed, "{policy}: {:?}", s.error);
        let dropped = s.edges[1].dropped;
        assert!(dropped > 0, "{policy}: the slow sink made the edge drop");
        assert_eq!(s.elements + dropped, 100, "{policy}: every element delivered or counted as dropped");
        assert_eq!(s.buffers_live, 0, "{policy}: every dropped buffer went back");
    }
}
