//! The soak test: ten minutes of mixed flows, healthy and hostile, on one
//! host, with flat memory. Not part of the normal run:
//!
//! ```sh
//! cargo test --release --test soak -- --ignored soak --nocapture
//! TORVYN_SOAK_SECS=60 cargo test --release --test soak -- --ignored soak --nocapture
//! ```
//!
//! It prints the flows run, the elements moved, resident memory at the start
//! (after warm-up) and at the end, the p99 cancel latency, and the longest
//! delay a starting flow caused an already running one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{N, pipeline, rss_kib};
use torvyn::{FlowState, Host, PipelineDef};

/// The kinds of flow the soak mixes, healthy and hostile.
fn kinds() -> Vec<(&'static str, PipelineDef)> {
    let linear = |name: &'static str, middle: N<'_>, runtime: &str| {
        (
            name,
            pipeline(
                &[
                    N("src", "counting-source", r#"{"count": 200, "payload_size": 1024}"#, ""),
                    middle,
                    N("sink", "slow-sink", r#"{"pause_every": 50}"#, ""),
                ],
                runtime,
            ),
        )
    };
    vec![
        linear("healthy", N("pass", "passthrough", "", ""), ""),
        linear("trap", N("mid", "faulty-processor", r#"{"trap_at": 50}"#, ""), ""),
        linear("hoard", N("mid", "faulty-processor", r#"{"hoard_buffers_at": 10}"#, "max_buffers = 64"), ""),
        linear("spin-deadline", N("mid", "blocking-guest", r#"{"wait": "spin", "at": 20}"#, r#"capabilities = ["clock:monotonic"]"#), "call_timeout_ms = 100"),
        linear("sleep-deadline", N("mid", "blocking-guest", r#"{"wait": "sleep", "at": 20}"#, r#"capabilities = ["clock:monotonic"]"#), "call_timeout_ms = 100"),
        linear("poll-cancelled", N("mid", "blocking-guest", r#"{"wait": "poll", "at": 20}"#, r#"capabilities = ["clock:monotonic"]"#), "call_timeout_ms = 600000"),
        linear("block-cancelled", N("mid", "blocking-guest", r#"{"wait": "block", "at": 20}"#, r#"capabilities = ["clock:monotonic"]"#), "call_timeout_ms = 600000"),
        linear(
            "slow-init",
            N("mid", "blocking-guest", r#"{"wait": "sleep", "ms": 50, "in_init": true}"#, r#"capabilities = ["clock:monotonic"]"#),
            "",
        ),
    ]
}

#[test]
#[ignore = "ten minutes; run with `cargo test --release --test soak -- --ignored soak`"]
fn soak() {
    let secs: u64 = std::env::var("TORVYN_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let host = Arc::new(Host::builder().worker_threads(2).build().unwrap());
    let kinds = Arc::new(kinds());
    let stop = Arc::new(AtomicBool::new(false));
    let flows_run = Arc::new(AtomicU64::new(0));
    let elements = Arc::new(AtomicU64::new(0));

    // A long-lived flow whose round trips show how much starting flows delay it.
    let embed = PipelineDef::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed")).unwrap();
    let probe = {
        let (host, stop) = (Arc::clone(&host), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut trips = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let flow = host.start_flow(&embed, "main").unwrap();
                for i in 0..1_000u32 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let t0 = Instant::now();
                    flow.push("input", format!("p{i}").as_bytes(), "", None).unwrap();
                    let el = flow.next("output", Some(Duration::from_secs(60))).unwrap().unwrap();
                    assert_eq!(el.payload(), format!("P{i}").as_bytes());
                    if trips > 100 {
                        worst = worst.max(t0.elapsed());
                    }
                    trips += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
                flow.close_input("input").unwrap();
                flow.wait(Some(Duration::from_secs(60))).unwrap();
            }
            (worst, trips)
        })
    };

    let drivers: Vec<_> = (0..4)
        .map(|t| {
            let (host, kinds, stop, flows_run, elements) =
                (Arc::clone(&host), Arc::clone(&kinds), Arc::clone(&stop), Arc::clone(&flows_run), Arc::clone(&elements));
            std::thread::spawn(move || {
                let mut cancel_latencies = Vec::new();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let (kind, p) = &kinds[i % kinds.len()];
                    i += 1;
                    let flow = host.start_flow(p, "main").unwrap();
                    let s = if kind.ends_with("cancelled") {
                        std::thread::sleep(Duration::from_millis(50));
                        let t0 = Instant::now();
                        flow.cancel();
                        let s = flow.wait(Some(Duration::from_secs(60))).unwrap();
                        cancel_latencies.push(t0.elapsed());
                        assert_eq!(s.state, FlowState::Cancelled, "{kind}: {:?}", s.error);
                        s
                    } else {
                        let s = flow.wait(Some(Duration::from_secs(120))).unwrap();
                        let want = if matches!(*kind, "healthy" | "hoard" | "slow-init") { FlowState::Completed } else { FlowState::Failed };
                        assert_eq!(s.state, want, "{kind}: {:?}", s.error);
                        s
                    };
                    assert_eq!(s.buffers_live, 0, "{kind}");
                    flows_run.fetch_add(1, Ordering::Relaxed);
                    elements.fetch_add(s.elements, Ordering::Relaxed);
                }
                cancel_latencies
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs((secs / 10).clamp(5, 60)));
    let start_rss = rss_kib();
    let t0 = Instant::now();
    let mut peak = start_rss;
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        peak = peak.max(rss_kib());
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = drivers.into_iter().flat_map(|d| d.join().unwrap()).collect();
    let (worst_delay, trips) = probe.join().unwrap();
    let end_rss = rss_kib();
    latencies.sort();
    let p99 = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or_default();
    println!(
        "soak {secs} s: {} flows, {} elements, {trips} probe round trips; resident {start_rss} KiB at start, {end_rss} KiB at end (peak {peak} KiB); \
         cancel latency p99 {p99:?} over {} cancels; longest delay a starting flow caused another: {worst_delay:?}; flows still known: {}",
        flows_run.load(Ordering::Relaxed),
        elements.load(Ordering::Relaxed),
        latencies.len(),
        host.list_flows().len()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(host.list_flows().is_empty());
    assert!(end_rss < start_rss + 64 * 1024, "resident memory grew from {start_rss} KiB to {end_rss} KiB");
}
