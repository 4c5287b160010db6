//! Many flows at once on one host: the instance pool is sized from settings
//! and overflows to on-demand instances.

mod common;

use std::time::{Duration, Instant};

use common::{rss_kib, three_stages};
use torvyn::{FlowState, Host};

#[test]
fn a_thousand_concurrent_flows_on_one_host_all_complete() {
    // 3,000 instances: the pool holds 1,000, the rest are allocated on demand.
    let host = Host::builder().worker_threads(2).build().unwrap();
    let p = three_stages(2_000);
    let before = rss_kib();
    let t0 = Instant::now();
    let flows: Vec<_> = (0..1_000).map(|_| host.start_flow(&p, "main").unwrap()).collect();
    let started = t0.elapsed();
    // Resident memory with every flow alive at once.
    let mut peak = rss_kib();
    while flows.iter().any(|f| f.summary().is_none()) && t0.elapsed() < Duration::from_secs(900) {
        peak = peak.max(rss_kib());
        std::thread::sleep(Duration::from_millis(100));
    }
    for f in &flows {
        let s = f.wait(Some(Duration::from_secs(60))).unwrap();
        assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
        assert_eq!(s.elements, 2_000);
    }
    eprintln!(
        "1,000 concurrent 3-stage flows: started in {started:?} ({:.0} flows/s), all done in {:?}; resident {} KiB before, peak {} KiB ({} KiB per concurrent flow)",
        1_000.0 / started.as_secs_f64(),
        t0.elapsed(),
        before,
        peak,
        peak.saturating_sub(before) / 1_000
    );
}
