//! Three-stage pipeline benchmark: source → pass-through processor → sink.
//!
//! For each payload size it prints three rows measured in the same run:
//! (a) Torvyn: the flow run by a `Host` (reactor, queues, ledger);
//! (b) floor: the same three components called directly in a loop, with the
//!     same engine and host buffer functions, but no reactor, queues or ledger;
//! (c) native: the same four copies done by plain Rust, no Wasm;
//! (a') Torvyn with fuel metering on (`fuel_per_invocation`), to show what
//!     metering costs;
//! plus four plain memcpys of the payload, and the ratios a/b, a/c, a/memcpy
//! and a'/a; then the 64 B pipeline at observability levels off,
//! production and diagnostic, and what each adds per element.
//! Each figure is the median of three runs. Run: `cargo bench --bench pipeline`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use torvyn::config::PipelineDef;
use torvyn::engine::{Busy, Engine, EngineSettings, FlowContextInfo, Lent, Stage, StageSpec};
use torvyn::resources::{Budget, BufferPool, BufferTable, Owner, DEFAULT_MAX_BUFFER_SIZE};
use torvyn::types::StageId;
use torvyn::Host;

const SIZES: [usize; 4] = [64, 4 << 10, 64 << 10, 1 << 20];

fn wasm(name: &str) -> String {
    format!("{}/examples/components/wasm/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

/// Elements per run, so each run takes roughly half a second.
fn count(size: usize) -> u64 {
    match size {
        s if s <= 4096 => 200_000,
        s if s <= 65536 => 40_000,
        _ => 4_000,
    }
}

fn manifest_at(n: u64, size: usize, fuel: bool, level: &str) -> PipelineDef {
    let fuel = if fuel { "[runtime]\nfuel_per_invocation = 1_000_000_000\n" } else { "" };
    let runtime = format!("{fuel}[observability]\nlevel = \"{level}\"\n");
    let text = format!(
        r#"
[flow.main.nodes.source]
component = "{}"
config = '{{"count": {n}, "payload_size": {size}}}'
[flow.main.nodes.pass]
component = "{}"
[flow.main.nodes.sink]
component = "{}"
config = '{{"pause_every": 1000000000000}}'
[[flow.main.edges]]
from = "source"
to = "pass"
[[flow.main.edges]]
from = "pass"
to = "sink"
{runtime}"#,
        wasm("counting-source"),
        wasm("passthrough"),
        wasm("slow-sink")
    );
    PipelineDef::from_toml_str(&text, ".").expect("bench manifest")
}

struct Row {
    ns_per_element: f64,
    copies_per_element: f64,
}

fn torvyn(host: &Host, size: usize, fuel: bool) -> Row {
    torvyn_at(host, size, fuel, "production")
}

fn torvyn_at(host: &Host, size: usize, fuel: bool, level: &str) -> Row {
    let n = count(size);
    let s = host
        .start_flow(&manifest_at(n, size, fuel, level), "main")
        .expect("start")
        .wait(Some(Duration::from_secs(600)))
        .expect("flow ends");
    assert_eq!(s.elements, n, "{:?}", s.error);
    Row {
        ns_per_element: s.duration.as_nanos() as f64 / n as f64,
        copies_per_element: s.copies_per_element(),
    }
}

/// The floor: the three components called directly. The timed run records
/// no copies (no ledger); a second, short run with the ledger on counts them.
fn floor(engine: &Engine, size: usize) -> Row {
    let n = count(size);
    let (elapsed, _) = floor_run(engine, size, n, false);
    let probe = 1_000;
    let (_, copies) = floor_run(engine, size, probe, true);
    Row {
        ns_per_element: elapsed.as_nanos() as f64 / n as f64,
        copies_per_element: copies as f64 / probe as f64,
    }
}

/// Run `n` elements through the floor; returns the time and the copies recorded.
fn floor_run(engine: &Engine, size: usize, n: u64, record: bool) -> (Duration, u64) {
    // The epoch ticker runs while a worker is busy; here the loop is the
    // worker, so (b) pays for ticks and deadline checks as (a) does.
    let _ticking = Busy::begin();
    let table = Arc::new(Mutex::new(BufferTable::new(vec![Budget::default(); 3], DEFAULT_MAX_BUFFER_SIZE)));
    table.lock().set_record_copies(record);
    let spec = |i: u32, config: String| StageSpec {
        stage: StageId::new(i),
        node: Arc::from(format!("floor-{i}")),
        config,
        grants: Default::default(),
        audit: None,
        memory_limit: 256 << 20,
        table_elements: torvyn::config::DEFAULT_MAX_TABLE_ELEMENTS,
        output_rate: torvyn::config::DEFAULT_MAX_OUTPUT_RATE,
        init_timeout: Duration::from_secs(10),
        teardown_timeout: Duration::from_secs(10),
        call_timeout: Duration::from_secs(10),
        fuel: None,
        metrics: None,
        context: FlowContextInfo::default(),
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let component = |name: &str| engine.compile_file(name, wasm(name).as_ref()).expect("compile");
    let mut source = Stage::instantiate(
        engine,
        &component("counting-source"),
        spec(0, format!(r#"{{"count": {n}, "payload_size": {size}}}"#)),
        Arc::clone(&table),
    )
    .expect("source");
    let mut pass = Stage::instantiate(engine, &component("passthrough"), spec(1, String::new()), Arc::clone(&table)).expect("pass");
    let mut sink = Stage::instantiate(
        engine,
        &component("slow-sink"),
        spec(2, r#"{"pause_every": 1000000000000}"#.into()),
        Arc::clone(&table),
    )
    .expect("sink");
    for s in [&mut source, &mut pass, &mut sink] {
        s.init().expect("init");
    }
    let started = Instant::now();
    let mut elements = 0u64;
    while let Some(out) = source.pull().expect("pull") {
        table.lock().lend(out.handle).expect("lend");
        let lent = Lent { handle: out.handle, sequence: elements, timestamp_ns: 0, content_type: out.content_type, born: Default::default(), span: 0 };
        let next = pass.process(&lent).expect("process").expect("emits");
        {
            let mut t = table.lock();
            t.end_borrow(out.handle).expect("end");
            t.release(out.handle, Owner::Host).expect("release");
            t.lend(next.handle).expect("lend");
        }
        let lent = Lent { handle: next.handle, sequence: elements, timestamp_ns: 0, content_type: next.content_type, born: Default::default(), span: 0 };
        sink.push(&lent).expect("push");
        let mut t = table.lock();
        t.end_borrow(next.handle).expect("end");
        t.release(next.handle, Owner::Host).expect("release");
        elements += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(elements, n);
    let copies = table.lock().ledger().total().copies;
    (elapsed, copies)
}

/// The same copies in plain Rust: payload into a pooled buffer, out into the
/// processor's memory, into a new pooled buffer, out into the sink's memory.
fn native(size: usize) -> Row {
    let n = count(size);
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let mut pool = BufferPool::new(16);
    let mut proc_mem: Vec<u8> = Vec::with_capacity(size);
    let mut sink_mem: Vec<u8> = Vec::with_capacity(size);
    let mut copies = 0u64;
    let mut copy = |into: &mut Vec<u8>, from: &[u8]| {
        into.extend_from_slice(from);
        copies += u64::from(!from.is_empty());
    };
    let started = Instant::now();
    for _ in 0..n {
        let mut a = pool.take(size);
        copy(Arc::get_mut(&mut a).expect("unique"), black_box(&payload));
        proc_mem.clear();
        copy(&mut proc_mem, &a);
        let mut b = pool.take(proc_mem.len());
        copy(Arc::get_mut(&mut b).expect("unique"), &proc_mem);
        pool.give(a);
        sink_mem.clear();
        copy(&mut sink_mem, &b);
        black_box(&sink_mem);
        pool.give(b);
    }
    let elapsed = started.elapsed();
    Row {
        ns_per_element: elapsed.as_nanos() as f64 / n as f64,
        copies_per_element: copies as f64 / n as f64,
    }
}

/// Four plain copies of the payload between preallocated buffers.
fn memcpy4(size: usize) -> f64 {
    let n = count(size);
    let src: Vec<u8> = vec![7; size];
    let mut bufs = [vec![0u8; size], vec![0u8; size], vec![0u8; size], vec![0u8; size]];
    let started = Instant::now();
    for _ in 0..n {
        bufs[0].copy_from_slice(black_box(&src));
        let (a, rest) = bufs.split_at_mut(1);
        rest[0].copy_from_slice(&a[0]);
        let (b, rest) = rest.split_at_mut(1);
        rest[0].copy_from_slice(&b[0]);
        let (c, d) = rest.split_at_mut(1);
        d[0].copy_from_slice(&c[0]);
        black_box(&bufs[3]);
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

fn median(mut runs: Vec<Row>) -> Row {
    runs.sort_by(|a, b| a.ns_per_element.total_cmp(&b.ns_per_element));
    runs.swap_remove(runs.len() / 2)
}

fn print(size: usize, label: &str, r: &Row) {
    println!(
        "{:>8}  {:<28} {:>14.0} {:>14.1} {:>10.2}",
        human(size),
        label,
        1e9 / r.ns_per_element,
        r.ns_per_element,
        r.copies_per_element
    );
}

fn human(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn main() {
    let host = Host::builder().build().expect("host");
    // The same engine a host gets, so (a) and (b) run identical machine code.
    let engine = Engine::shared(EngineSettings::default()).expect("engine");
    // Warm up: compile every component once in each engine.
    torvyn(&host, 64, false);
    torvyn(&host, 64, true);
    floor(&engine, 64);
    // `cargo bench --bench pipeline -- observability` runs that section alone.
    let only_observability = std::env::args().skip(1).any(|a| a == "observability");
    if !only_observability {
        sizes(&host, &engine);
    }
    observability(&host);
    host.shutdown(Duration::from_secs(10));
}

/// The payload-size table: (a), (a'), (b), (c) and the memcpy floor.
fn sizes(host: &Host, engine: &Engine) {
    println!(
        "{:>8}  {:<28} {:>14} {:>14} {:>10}",
        "payload", "row", "elements/s", "ns/element", "copies/el"
    );
    for size in SIZES {
        let a = median((0..3).map(|_| torvyn(host, size, false)).collect());
        let metered = median((0..3).map(|_| torvyn(host, size, true)).collect());
        let b = median((0..3).map(|_| floor(engine, size)).collect());
        let c = median((0..3).map(|_| native(size)).collect());
        let m = {
            let mut v: Vec<f64> = (0..3).map(|_| memcpy4(size)).collect();
            v.sort_by(f64::total_cmp);
            v[1]
        };
        print(size, "(a) torvyn", &a);
        print(size, "(a') torvyn, fuel metered", &metered);
        print(size, "(b) floor: direct calls", &b);
        print(size, "(c) native rust, same copies", &c);
        println!(
            "{:>8}  {:<28} {:>14.0} {:>14.1}",
            human(size),
            "    four plain memcpys",
            1e9 / m,
            m
        );
        println!(
            "{:>8}  a/b = {:.3}   a/c = {:.2}   a/memcpy4 = {:.2}   a'/a = {:.3}\n",
            "",
            a.ns_per_element / b.ns_per_element,
            a.ns_per_element / c.ns_per_element,
            a.ns_per_element / m,
            metered.ns_per_element / a.ns_per_element
        );
    }
}

/// What observability costs: the 64 B pipeline at each level, in one
/// running flow whose level is switched every few tens of milliseconds
/// (`Flow::set_observability_level`). Elements are counted by the copy
/// ledger, which counts at every level (four copies per element here). Each
/// cycle measures the three levels back to back in a rotating order, so
/// drift on a shared machine cancels out of the per-cycle differences; the
/// cost is their median, with the middle half of the cycles.
fn observability(host: &Host) {
    use torvyn::observability::Level;
    const CYCLES: usize = 240;
    const SETTLE: Duration = Duration::from_millis(5);
    const WINDOW: Duration = Duration::from_millis(40);
    let levels = [Level::Off, Level::Production, Level::Diagnostic];
    let flow = host.start_flow(&manifest_at(u64::MAX / 2, 64, false, "off"), "main").expect("start");
    let copies = || flow.metrics().copies;
    std::thread::sleep(Duration::from_secs(1));
    let per_element = {
        let (c0, t0) = (copies(), Instant::now());
        std::thread::sleep(Duration::from_millis(200));
        (copies() - c0) as f64 / (t0.elapsed().as_nanos() as f64 / 1e9)
    };
    assert!(per_element > 0.0, "the flow is moving");
    let mut ns = vec![[0f64; 3]; CYCLES];
    for (c, cycle) in ns.iter_mut().enumerate() {
        for k in 0..3 {
            let i = (c + k) % 3;
            flow.set_observability_level(levels[i]);
            std::thread::sleep(SETTLE);
            let (c0, t0) = (copies(), Instant::now());
            std::thread::sleep(WINDOW);
            let (c1, t1) = (copies(), Instant::now());
            // Four copies per element (source write, pass read and write, sink read).
            let elements = (c1 - c0) as f64 / 4.0;
            cycle[i] = t1.duration_since(t0).as_nanos() as f64 / elements;
        }
    }
    flow.cancel();
    let _ = flow.wait(Some(Duration::from_secs(30)));
    let quartiles = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4])
    };
    println!("observability, 64 B pipeline, one flow switched between levels ({CYCLES} cycles of {}ms per level; median, and the middle half):", WINDOW.as_millis());
    let (_, off, _) = quartiles(ns.iter().map(|r| r[0]).collect());
    println!("  off          {off:>8.1} ns/element");
    for i in 1..3 {
        let (_, level, _) = quartiles(ns.iter().map(|r| r[i]).collect());
        let (lo, mid, hi) = quartiles(ns.iter().map(|r| r[i] - r[0]).collect());
        println!("  {:<12} {level:>8.1} ns/element   {mid:+.1} ns over off (middle half {lo:+.1} .. {hi:+.1})", format!("{:?}", levels[i]).to_lowercase());
    }
}
