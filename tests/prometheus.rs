//! The metrics endpoint: flows with known counts (plain, lossy,
//! backpressured, failing) on one host, `/metrics` scraped over HTTP and
//! parsed by the `prometheus_client` Python package's OpenMetrics parser;
//! and `torvyn run --metrics-addr` serving a flow that is still running.

mod common;

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{N, capture};
use serde_json::Value;
use torvyn::{FlowState, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

/// The virtualenv `scripts/test-all` makes, with `prometheus_client`.
fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    assert!(p.exists(), "{} is missing: run ./scripts/test-all, which creates it with prometheus_client", p.display());
    p
}

/// `GET path` on `addr`; returns (status line, headers, body).
fn get(addr: &str, path: &str) -> (String, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_lowercase(), body.to_string())
}

/// What the real parser understood of `text`.
fn parse(text: &str) -> Value {
    let mut child = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/parse_openmetrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser refused the exposition: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of sample `sample` of `family` whose labels include `want`.
fn value(m: &Value, family: &str, sample: &str, want: &[(&str, &str)]) -> f64 {
    let f = m.get(family).unwrap_or_else(|| panic!("no family {family}"));
    let found: Vec<f64> = f["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[0] == sample && want.iter().all(|(k, v)| s[1][*k] == *v))
        .map(|s| s[2].as_f64().unwrap_or(f64::INFINITY))
        .collect();
    assert_eq!(found.len(), 1, "{sample}{want:?}: {:?}", f["samples"]);
    found[0]
}

fn flow(host: &Host, text: &str) -> torvyn::Flow {
    let p = PipelineDef::from_toml_str(text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    host.start_flow(&p, "main").unwrap()
}

#[test]
fn every_metric_is_scraped_and_parsed_with_known_values() {
    capture();
    let host = Host::builder().build().unwrap();
    let plain = flow(
        &host,
        &common::linear(&[N("p_src", "counting-source", r#"{"count": 100}"#, ""), N("p_up", "uppercase", "{}", ""), N("p_sink", "printing-sink", "{}", "")], ""),
    );
    let fast_slow = |src: &str, sink: &str, policy: &str| {
        common::linear(
            &[
                N(src, "counting-source", r#"{"count": 100}"#, "priority = 10"),
                N(sink, "printing-sink", "{}", &format!("priority = 1\n{policy}")),
            ],
            "queue_depth = 4",
        )
    };
    let lossy = flow(&host, &fast_slow("d_src", "d_sink", "").replace("to = { node = ", "backpressure = \"drop-newest\"\nto = { node = "));
    let blocked = flow(&host, &fast_slow("b_src", "b_sink", ""));
    let failing = flow(
        &host,
        &common::linear(
            &[
                N("e_src", "counting-source", r#"{"count": 20}"#, ""),
                N("e_bad", "faulty-processor", r#"{"fail_at": 5, "error": "invalid-input"}"#, ""),
                N("e_sink", "printing-sink", "{}", ""),
            ],
            "",
        ),
    );
    for f in [&plain, &lossy, &blocked, &failing] {
        assert_eq!(f.wait(WAIT).unwrap().state, FlowState::Completed);
    }
    let server = host.serve_metrics("127.0.0.1:0").unwrap();
    let addr = server.addr().to_string();
    let (status, headers, text) = get(&addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    assert!(headers.contains("content-type: application/openmetrics-text"), "{headers}");
    let m = parse(&text);
    let id = |f: &torvyn::Flow| f.id().get().to_string();
    let (p, d, b, e) = (id(&plain), id(&lossy), id(&blocked), id(&failing));
    let fl = |id: &str| vec![("flow", "main"), ("flow_id", id)].into_iter().map(|(k, v)| (k, v.to_string())).collect::<Vec<_>>();
    let at = |family: &str, sample: &str, labels: &[(&str, String)]| {
        let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        value(&m, family, sample, &l)
    };
    let with = |base: Vec<(&'static str, String)>, more: &[(&'static str, &str)]| {
        let mut v = base;
        v.extend(more.iter().map(|(k, x)| (*k, x.to_string())));
        v
    };

    // Flow: elements, errors, latency, copies, state, active time.
    assert_eq!(m["torvyn_flow_elements"]["type"], "counter");
    assert_eq!(at("torvyn_flow_elements", "torvyn_flow_elements_total", &fl(&p)), 100.0);
    assert_eq!(at("torvyn_flow_elements", "torvyn_flow_elements_total", &fl(&d)), 13.0);
    assert_eq!(at("torvyn_flow_elements", "torvyn_flow_elements_total", &fl(&e)), 19.0);
    assert_eq!(at("torvyn_flow_errors", "torvyn_flow_errors_total", &fl(&e)), 1.0);
    assert_eq!(at("torvyn_flow_errors", "torvyn_flow_errors_total", &fl(&p)), 0.0);
    assert_eq!((m["torvyn_flow_latency_seconds"]["type"].as_str(), m["torvyn_flow_latency_seconds"]["unit"].as_str()), (Some("histogram"), Some("seconds")));
    // The production sample of 100 elements: 0, S, 2S, … below 100.
    let sampled = 100u64.div_ceil(torvyn::observability::TIMING_SAMPLE) as f64;
    assert_eq!(at("torvyn_flow_latency_seconds", "torvyn_flow_latency_seconds_count", &fl(&p)), sampled, "the production sample");
    assert_eq!(at("torvyn_flow_latency_seconds", "torvyn_flow_latency_seconds_bucket", &with(fl(&p), &[("le", "+Inf")])), sampled);
    assert!(at("torvyn_flow_latency_seconds", "torvyn_flow_latency_seconds_sum", &fl(&p)) > 0.0);
    let summary = plain.summary().unwrap();
    assert_eq!(at("torvyn_flow_copies", "torvyn_flow_copies_total", &fl(&p)), summary.copies as f64);
    assert_eq!(at("torvyn_flow_copied_bytes", "torvyn_flow_copied_bytes_total", &fl(&p)), summary.bytes_copied as f64);
    assert_eq!(at("torvyn_flow_state", "torvyn_flow_state", &with(fl(&p), &[("state", "completed")])), 1.0);
    let active = at("torvyn_flow_active_seconds", "torvyn_flow_active_seconds", &fl(&p));
    assert!((active - summary.duration.as_secs_f64()).abs() < 1e-6, "{active} vs {:?}", summary.duration);

    // Components.
    let node = |id: &str, n: &str| with(fl(id), &[("node", n)]);
    assert_eq!(at("torvyn_component_invocations", "torvyn_component_invocations_total", &node(&p, "p_up")), 100.0);
    assert_eq!(at("torvyn_component_invocations", "torvyn_component_invocations_total", &node(&e, "e_bad")), 20.0);
    assert_eq!(at("torvyn_component_errors", "torvyn_component_errors_total", &node(&e, "e_bad")), 1.0);
    assert_eq!(at("torvyn_component_processing_seconds", "torvyn_component_processing_seconds_count", &node(&p, "p_up")), sampled);
    assert!(at("torvyn_component_memory_bytes", "torvyn_component_memory_bytes", &node(&p, "p_up")) >= 65536.0);
    assert_eq!(at("torvyn_component_fuel_consumed", "torvyn_component_fuel_consumed_total", &node(&p, "p_up")), 0.0, "not metered");

    // Streams: drops, backpressure, depth, waits.
    let edge = |id: &str, from: &str, to: &str| with(fl(id), &[("from", from), ("port", "output"), ("to", to)]);
    assert_eq!(at("torvyn_stream_dropped", "torvyn_stream_dropped_total", &edge(&d, "d_src", "d_sink")), 87.0);
    assert_eq!(at("torvyn_stream_elements", "torvyn_stream_elements_total", &edge(&d, "d_src", "d_sink")), 13.0);
    assert_eq!(at("torvyn_stream_backpressure_events", "torvyn_stream_backpressure_events_total", &edge(&d, "d_src", "d_sink")), 0.0);
    let bp = at("torvyn_stream_backpressure_events", "torvyn_stream_backpressure_events_total", &edge(&b, "b_src", "b_sink"));
    assert!(bp >= 20.0, "the full queue stopped the source again and again: {bp}");
    assert!(at("torvyn_stream_backpressure_seconds", "torvyn_stream_backpressure_seconds_total", &edge(&b, "b_src", "b_sink")) > 0.0);
    assert_eq!(at("torvyn_stream_queue_peak_depth", "torvyn_stream_queue_peak_depth", &edge(&b, "b_src", "b_sink")), 4.0);
    assert_eq!(at("torvyn_stream_queue_depth", "torvyn_stream_queue_depth", &edge(&b, "b_src", "b_sink")), 0.0);
    assert_eq!(at("torvyn_stream_queue_wait_seconds", "torvyn_stream_queue_wait_seconds_count", &edge(&p, "p_up", "p_sink")), sampled);

    // Pool tiers: 64 B elements come from the small tier and go back to it.
    let tier = |id: &str, t: &str| with(fl(id), &[("tier", t)]);
    let allocated = at("torvyn_pool_allocated", "torvyn_pool_allocated_total", &tier(&p, "small"));
    let returned = at("torvyn_pool_returned", "torvyn_pool_returned_total", &tier(&p, "small"));
    assert!(allocated >= 200.0 && returned == allocated, "allocated {allocated}, returned {returned}");
    assert!(at("torvyn_pool_reuse_ratio", "torvyn_pool_reuse_ratio", &tier(&p, "small")) > 0.9);
    assert!(at("torvyn_pool_capacity", "torvyn_pool_capacity", &tier(&p, "small")) > 0.0);
    assert_eq!(at("torvyn_pool_exhaustion_events", "torvyn_pool_exhaustion_events_total", &tier(&p, "small")), 0.0);
    assert!(at("torvyn_pool_fallbacks", "torvyn_pool_fallbacks_total", &tier(&p, "small")) >= 1.0, "the first buffers are new");
    assert!(at("torvyn_pool_available", "torvyn_pool_available", &tier(&p, "small")) >= 1.0);

    // Host.
    assert_eq!(value(&m, "torvyn_flows_active", "torvyn_flows_active", &[]), 0.0, "all ended");
    assert_eq!(value(&m, "torvyn_components_active", "torvyn_components_active", &[]), 0.0);
    assert!(value(&m, "torvyn_scheduler_wakeups", "torvyn_scheduler_wakeups_total", &[]) >= 1.0);
    assert!(value(&m, "torvyn_scheduler_idle_seconds", "torvyn_scheduler_idle_seconds_total", &[]) > 0.0);
    assert_eq!(value(&m, "torvyn_spans_dropped", "torvyn_spans_dropped_total", &[]), 0.0);
    for family in ["torvyn_memory_total_bytes", "torvyn_memory_host_bytes", "torvyn_memory_linear_bytes"] {
        assert!(m.get(family).is_some(), "{family}");
    }

    // The same figures as JSON; anything else is a 404.
    let (status, _, json) = get(&addr, "/metrics.json");
    assert!(status.contains("200"));
    let j: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["flows"].as_array().unwrap().len(), 4);
    assert!(get(&addr, "/nope").0.contains("404"));
    // A client that connects and says nothing holds the endpoint for at most
    // its timeout: the next scrape is answered, and dropping the server
    // returns.
    let stalled = std::net::TcpStream::connect(&addr).unwrap();
    let started = std::time::Instant::now();
    assert!(get(&addr, "/metrics").0.contains("200"));
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    let _stalled_again = std::net::TcpStream::connect(&addr).unwrap();
    drop(stalled);
    // An address in use is a typed error naming it.
    let err = host.serve_metrics(&addr).unwrap_err().to_string();
    assert!(err.contains(&addr) && err.contains("cannot serve metrics"), "{err}");
    let dropping = std::time::Instant::now();
    drop(server);
    assert!(dropping.elapsed() < Duration::from_secs(15), "drop waited {:?}", dropping.elapsed());
    // Its listener is closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the server still listens after being dropped");
        std::thread::sleep(Duration::from_millis(20));
    }
    let again = host.serve_metrics(&addr).expect("the port is free again");
    drop(again);
}

#[test]
fn torvyn_run_serves_metrics_while_the_flow_runs() {
    let dir = common::cli::temp_dir("prom-run");
    std::fs::write(
        dir.join("Torvyn.toml"),
        format!("[flow.main.nodes.up]\ncomponent = \"{}\"\n", common::wasm("uppercase")),
    )
    .unwrap();
    let mut child = common::cli::command(&dir, &["run", "--input", "-", "--output", "-", "--metrics-addr", "127.0.0.1:0"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "torvyn run ended before naming its metrics address");
        if let Some(rest) = line.trim().strip_prefix("note: metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    stdin.write_all(b"a\nb\nc\n").unwrap();
    stdin.flush().unwrap();
    // The flow is still running (stdin is open); its three elements show.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let m = loop {
        let m = parse(&get(&addr, "/metrics").2);
        if m.get("torvyn_flow_elements").is_some() && value(&m, "torvyn_flow_elements", "torvyn_flow_elements_total", &[("flow", "main")]) == 3.0 {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "the running flow's elements never showed");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(value(&m, "torvyn_flows_active", "torvyn_flows_active", &[]), 1.0);
    assert_eq!(value(&m, "torvyn_components_active", "torvyn_components_active", &[]), 1.0);
    assert_eq!(value(&m, "torvyn_flow_state", "torvyn_flow_state", &[("flow", "main"), ("state", "running")]), 1.0);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A\nB\nC\n");

    // A bad address is a usage error naming it.
    let (code, _, err) = common::cli::torvyn_in(&dir, &["run", "--metrics-addr", "nowhere:x"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot serve metrics on `nowhere:x`"), "{err}");
    // The manifest's spelling of the same.
    std::fs::write(
        dir.join("Torvyn.toml"),
        format!("[flow.main.nodes.up]\ncomponent = \"{}\"\n\n[observability]\nprometheus_enabled = true\nmetrics_endpoint = \"http://localhost:99999/metrics\"\n", common::wasm("uppercase")),
    )
    .unwrap();
    let (code, _, err) = common::cli::torvyn_in(&dir, &["check"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("observability.metrics_endpoint") && err.contains("not an address"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
