//! Many hosts in one process: they share one engine per settings (one
//! instance pool, one epoch ticker), and an idle process costs no CPU.
//! Alone in its test binary so the CPU it measures is its own.

mod common;

use std::time::{Duration, Instant};

use common::three_stages;
use torvyn::{FlowState, Host};

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = after.split(' ').skip(11).take(2).map(|x| x.parse().unwrap()).collect();
    let tick = 100; // USER_HZ
    Duration::from_millis((f[0] + f[1]) * 1000 / tick)
}

#[test]
fn two_hundred_hosts_alive_at_once_each_run_a_flow() {
    let p = three_stages(10);
    // Tenants differ in their memory ceilings; they still share one engine.
    let hosts: Vec<Host> = (0..200)
        .map(|i| {
            Host::builder()
                .max_memory_bytes((64 + i % 100) << 20)
                .build()
                .unwrap_or_else(|e| panic!("host {i}: {e}"))
        })
        .collect();
    let flows: Vec<_> = hosts.iter().map(|h| h.start_flow(&p, "main").unwrap()).collect();
    for f in &flows {
        let s = f.wait(Some(Duration::from_secs(120))).unwrap();
        assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
        assert_eq!(s.elements, 10);
    }
    // Idle: the hosts keep their threads, but nothing runs.
    std::thread::sleep(Duration::from_millis(300));
    let (cpu0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time() - cpu0;
    let share = used.as_secs_f64() / t0.elapsed().as_secs_f64();
    eprintln!("200 idle hosts: {:.2}% of a core", share * 100.0);
    assert!(share < 0.02, "an idle process should use ~0% CPU, used {:.2}%", share * 100.0);
}
