//! Start-up: how long `torvyn run` of the three-stage example
//! (`examples/token-streaming`: source → joiner → sink) takes as a whole
//! process with an empty compiled-component cache and with a warm one,
//! and how long a flow takes to come up inside a running host whose
//! components are compiled. Medians of several runs (each cold run gets a
//! cache of its own). Run: `cargo bench --bench startup`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use torvyn::engine::CacheLocation;
use torvyn::{FlowState, Host, PipelineDef};

const EXAMPLE: &str = "examples/token-streaming";
const RUNS: usize = 15;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// One `torvyn run` process with cache root `home/cache`; its wall time.
fn process(home: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_torvyn"))
        .args(["run", EXAMPLE])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TORVYN_HOME", home)
        .env_remove("TORVYN_LOG")
        .output()
        .expect("run torvyn");
    let took = start.elapsed();
    assert!(out.status.success(), "torvyn run failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

fn main() {
    let base = std::env::temp_dir().join(format!("torvyn-startup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..RUNS {
        let home = base.join(format!("h{i}"));
        cold.push(process(&home));
        warm.push(process(&home));
    }
    println!("start-up of `torvyn run {EXAMPLE}` (3 stages), whole process, median of {RUNS}:");
    println!("  first run (empty compiled-component cache)  {}", ms(median(cold)));
    println!("  second run (warm cache)                     {}", ms(median(warm)));

    // In a host: the first flow loads its components from the disk cache
    // the processes above filled (this process has compiled nothing), then
    // each further flow start.
    // The same user home as that process: entries are sealed per user.
    std::env::set_var("TORVYN_HOME", base.join("h0"));
    let pipeline = PipelineDef::load(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).expect("example manifest");
    let host = Host::builder().compilation_cache(CacheLocation::At(base.join("h0/cache"))).build().expect("host");
    let first = Instant::now();
    host.start_flow(&pipeline, "main").expect("start").wait(Some(Duration::from_secs(30))).expect("wait");
    let first = first.elapsed();
    let mut up = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let flow = host.start_flow(&pipeline, "main").expect("start");
        while matches!(flow.state(), FlowState::Created | FlowState::Initializing) {
            std::hint::spin_loop();
        }
        up.push(start.elapsed());
        flow.wait(Some(Duration::from_secs(30))).expect("wait");
        whole.push(start.elapsed());
    }
    println!("in a host (components compiled), median of 200 flows:");
    println!("  flow start -> running (instances made, init called)  {}", ms(median(up)));
    println!("  flow start -> completed (the example's elements)     {}", ms(median(whole)));
    println!("  first flow of a new host, start -> completed, components loaded from the disk cache  {}", ms(first));
    let _ = std::fs::remove_dir_all(&base);
}
