//! Tracing and OTLP export: trace and span ids a guest sees through `flow-context`, a
//! `traceparent` continued, spans recorded per call with their parents,
//! head sampling and promotion, and export to a file and to an OTLP/HTTP
//! receiver that decodes with the official schema (protobuf and JSON); a
//! dead endpoint drops and counts, and never holds a flow up.

mod common;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{N, capture};
use serde_json::Value;
use torvyn::observability::TraceParent;
use torvyn::{FlowOptions, FlowState, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));
const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn pipeline(text: &str) -> PipelineDef {
    PipelineDef::from_toml_str(text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn probe_flow(extra: &str) -> String {
    format!(
        "{}\n{extra}",
        common::linear(&[N("t_src", "counting-source", r#"{"count": 5}"#, ""), N("t_probe", "context-probe", "{}", ""), N("t_sink", "printing-sink", "{}", "")], "")
    )
}

#[test]
fn a_guest_sees_the_trace_and_its_own_span_and_spans_form_a_tree() {
    capture();
    let host = Host::builder().build().unwrap();
    let p = pipeline(&probe_flow("[observability]\nlevel = \"diagnostic\"\n"));
    let options = FlowOptions { traceparent: Some(TP.parse().unwrap()) };
    let flow = host.start_flow_with(&p, "main", &options).unwrap();
    let s = flow.wait(WAIT).unwrap();
    assert_eq!(s.state, FlowState::Completed);
    assert_eq!(flow.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    let tp: TraceParent = flow.traceparent().parse().unwrap();
    assert_eq!((torvyn::observability::hex(&tp.trace_id), tp.sampled), ("4bf92f3577b34da6a3ce929d0e0e4736".to_string(), true));
    let spans = flow.spans();
    let of = |node: &str, call: &str| spans.iter().filter(|s| s.node == node && s.call == call).collect::<Vec<_>>();
    let (pulls, processes, pushes) = (of("t_src", "pull"), of("t_probe", "process"), of("t_sink", "push"));
    assert_eq!((pulls.len(), processes.len(), pushes.len()), (5, 5, 5), "{spans:#?}");
    for (k, proc_span) in processes.iter().enumerate() {
        // Each call's parent is the call that emitted its input.
        assert_eq!(proc_span.parent_id, pulls[k].span_id);
        assert_eq!(pushes[k].parent_id, proc_span.span_id);
        assert_eq!(pulls[k].parent_id, 0, "a source's calls hang off the flow's root span");
        assert!(proc_span.start_unix_ns >= pulls[k].start_unix_ns + pulls[k].duration_ns);
        assert!(proc_span.ok && proc_span.input_bytes > 0 && proc_span.input_buffer.is_some() && proc_span.output_buffer.is_some(), "{proc_span:?}");
        // The probe writes its answer (one copy out) and never reads the input.
        assert_eq!((proc_span.copies, proc_span.bytes_copied), (1, proc_span.bytes_copied.max(1)), "{proc_span:?}");
        assert_eq!(pushes[k].input_buffer, proc_span.output_buffer, "the sink got the probe's buffer");
    }
    let mut ids: Vec<u64> = spans.iter().map(|s| s.span_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "span ids are unique");
}

#[test]
fn the_guest_reads_trace_span_flow_and_deadline_through_flow_context() {
    capture();
    let dir = common::cli::temp_dir("trace-ctx");
    std::fs::write(
        dir.join("Torvyn.toml"),
        format!("[flow.main.nodes.probe]\ncomponent = \"{}\"\n\n[observability]\nlevel = \"diagnostic\"\n", common::wasm("context-probe")),
    )
    .unwrap();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let (code, out, err) = common::cli::torvyn_in(&dir, &["--quiet", "run", "--limit", "3", "--traceparent", TP], &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let mut spans = Vec::new();
    for l in &lines {
        let field = |k: &str| l.split(' ').find_map(|f| f.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("{k} in {l}")).to_string();
        assert_eq!(field("trace"), "4bf92f3577b34da6a3ce929d0e0e4736");
        let span = field("span");
        assert!(span.len() == 16 && span.bytes().all(|b| b.is_ascii_hexdigit()) && span != "0000000000000000", "{span}");
        spans.push(span);
        assert_eq!(field("flow"), "flow-1");
        let deadline: u64 = field("deadline").parse().unwrap();
        // The default per-call deadline is seconds ahead of the call.
        assert!(deadline > before && deadline < before + 600_000_000_000, "{deadline} vs {before}");
    }
    spans.dedup();
    assert_eq!(spans.len(), 3, "each call has its own span id");
    let (code, _, err) = common::cli::torvyn_in(&dir, &["run", "--traceparent", "00-xyz"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("traceparent `00-xyz` is not valid"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn read_lines(path: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn unsampled_flows_export_only_when_promoted_by_an_error_or_a_slow_element() {
    capture();
    let dir = common::cli::temp_dir("trace-file");
    let file = dir.join("spans.jsonl");
    let obs = |extra: &str| {
        format!(
            "[observability]\nlevel = \"diagnostic\"\ntracing_exporter = \"file\"\ntracing_endpoint = \"{}\"\nlatency_promote_threshold_ms = 10\n{extra}",
            file.display()
        )
    };
    let host = Host::builder().build().unwrap();
    let unsampled = Some("00-11111111111111111111111111111111-2222222222222222-00".parse().unwrap());
    let start = |text: &str, tp: Option<TraceParent>| {
        let f = host.start_flow_with(&pipeline(text), "main", &FlowOptions { traceparent: tp }).unwrap();
        f.wait(WAIT).unwrap();
        f
    };
    // Unsampled and healthy: nothing leaves the process.
    start(&probe_flow(&obs("")), unsampled);
    std::thread::sleep(Duration::from_millis(300));
    assert!(read_lines(&file).is_empty(), "an unsampled flow exported");
    // Unsampled but failing: promoted, its spans exported with the root.
    let failing = format!(
        "{}\n{}",
        common::linear(&[N("f_src", "counting-source", r#"{"count": 5}"#, ""), N("f_bad", "faulty-processor", r#"{"trap_at": 2}"#, ""), N("f_sink", "printing-sink", "{}", "")], ""),
        obs("")
    );
    let f = start(&failing, unsampled);
    assert_eq!(f.summary().unwrap().state, FlowState::Failed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_lines(&file).is_empty() {
        assert!(Instant::now() < deadline, "the failed flow's spans never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    let doc = &read_lines(&file)[0];
    let spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap();
    assert!(spans.iter().all(|s| s["traceId"] == "11111111111111111111111111111111"), "{doc}");
    let root = spans.iter().find(|s| s["name"] == "flow main").expect("a root span");
    assert_eq!(root["parentSpanId"], "2222222222222222");
    assert_eq!(root["status"]["code"], 2, "an error status");
    assert!(spans.iter().any(|s| s["name"] == "process f_bad" && s["status"]["code"] == 2), "{doc}");
    // Unsampled, healthy, but one element is slower than the threshold.
    std::fs::remove_file(&file).unwrap();
    let slow = format!(
        "{}\n{}",
        common::linear(&[N("s_src", "counting-source", r#"{"count": 5}"#, ""), N("s_wait", "blocking-guest", r#"{"wait": "sleep", "ms": 40, "at": 2}"#, r#"capabilities = ["clock:monotonic"]"#), N("s_sink", "printing-sink", "{}", "")], ""),
        obs("")
    );
    let f = start(&slow, unsampled);
    assert_eq!(f.summary().unwrap().state, FlowState::Completed);
    assert!(f.trace()["promoted"] == true);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_lines(&file).is_empty() {
        assert!(Instant::now() < deadline, "the slow flow's spans never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    // sample_rate 0 without a traceparent: unsampled; 1: sampled.
    let never = host.start_flow(&pipeline(&probe_flow(&obs("sample_rate = 0.0"))), "main").unwrap();
    never.wait(WAIT).unwrap();
    assert_eq!(never.trace()["sampled"], false);
    let always = host.start_flow(&pipeline(&probe_flow(&obs("sample_rate = 1.0"))), "main").unwrap();
    always.wait(WAIT).unwrap();
    assert_eq!(always.trace()["sampled"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    assert!(p.exists(), "{} is missing: run ./scripts/test-all, which creates it with opentelemetry-proto", p.display());
    p
}

struct Receiver {
    child: Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl Receiver {
    fn start() -> Receiver {
        let mut child = Command::new(python())
            .args([concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/otlp_receiver.py"), "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let port = first.trim().strip_prefix("port ").unwrap().parse().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(serde_json::from_str(&l).unwrap()).is_err() {
                    break;
                }
            }
        });
        Receiver { child, port, lines }
    }

    /// The spans received until `n` have come (or 30 s pass).
    fn take(&self, n: usize) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < n {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(v) => got.push(v),
                Err(_) => panic!("only {} of {n} spans arrived: {got:#?}", got.len()),
            }
        }
        got
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn otlp_http_delivers_protobuf_and_json_that_the_official_schema_decodes() {
    capture();
    let rx = Receiver::start();
    let host = Host::builder().build().unwrap();
    for (protocol, encoding) in [("http/protobuf", "protobuf"), ("http/json", "json")] {
        let obs = format!(
            "[observability]\nlevel = \"diagnostic\"\ntracing_exporter = \"otlp-http\"\ntracing_endpoint = \"http://127.0.0.1:{}\"\notlp_protocol = \"{protocol}\"\n",
            rx.port
        );
        let f = host.start_flow_with(&pipeline(&probe_flow(&obs)), "main", &FlowOptions { traceparent: Some(TP.parse().unwrap()) }).unwrap();
        assert_eq!(f.wait(WAIT).unwrap().state, FlowState::Completed);
        // 5 pulls, 5 processes, 5 pushes and the root.
        let spans = rx.take(16);
        assert!(spans.iter().all(|s| s["encoding"] == encoding && s["path"] == "/v1/traces" && s["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"), "{spans:#?}");
        let root = spans.iter().find(|s| s["name"] == "flow main").unwrap();
        assert_eq!(root["parent_span_id"], "00f067aa0ba902b7");
        let process: Vec<&Value> = spans.iter().filter(|s| s["name"] == "process t_probe").collect();
        assert_eq!(process.len(), 5);
        let a = &process[0]["attributes"];
        assert_eq!((a["messaging.system"].as_str(), a["messaging.operation.name"].as_str(), a["messaging.destination.name"].as_str()), (Some("torvyn"), Some("process"), Some("t_probe")));
        assert!(a["messaging.message.body.size"].as_i64().unwrap() > 0 || a["messaging.message.body.size"].as_str().is_some());
        let pull_ids: Vec<&Value> = spans.iter().filter(|s| s["name"] == "pull t_src").map(|s| &s["span_id"]).collect();
        assert!(process.iter().all(|p| pull_ids.contains(&&p["parent_span_id"])), "process spans are children of pull spans");
        assert!(spans.iter().all(|s| s["end"].as_u64() >= s["start"].as_u64()));
        assert_eq!(spans[0]["resource"]["service.name"], "torvyn");
        assert_eq!(f.trace()["spans"].as_array().unwrap().len(), 0, "handed over, not kept");
    }
}

#[test]
fn a_dead_endpoint_drops_and_counts_and_never_holds_a_flow_up() {
    capture();
    // A collector that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let obs = format!("[observability]\nlevel = \"diagnostic\"\ntracing_exporter = \"otlp-http\"\ntracing_endpoint = \"http://127.0.0.1:{port}/v1/traces\"\nring_buffer_capacity = 4\n");
    let host = Host::builder().build().unwrap();
    let before = host.metrics().spans_dropped;
    for _ in 0..3 {
        let started = Instant::now();
        let f = host.start_flow(&pipeline(&probe_flow(&obs)), "main").unwrap();
        assert_eq!(f.wait(WAIT).unwrap().state, FlowState::Completed);
        assert!(started.elapsed() < Duration::from_secs(3), "a flow waited for its exporter: {:?}", started.elapsed());
    }
    // The exporter gives up on each batch after its timeout; every span is
    // counted as dropped.
    let deadline = Instant::now() + Duration::from_secs(120);
    while host.metrics().spans_dropped < before + 48 {
        assert!(Instant::now() < deadline, "dropped spans were not counted: {}", host.metrics().spans_dropped - before);
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(silent);
}

#[test]
fn torvyn_run_writes_every_span_before_it_exits() {
    let dir = common::cli::temp_dir("trace-run-file");
    std::fs::write(
        dir.join("Torvyn.toml"),
        probe_flow("[observability]\nlevel = \"diagnostic\"\ntracing_exporter = \"file\"\ntracing_endpoint = \"spans.jsonl\"\n"),
    )
    .unwrap();
    let (code, _, err) = common::cli::torvyn_in(&dir, &["--quiet", "run"], &[]);
    assert_eq!(code, 0, "{err}");
    // Read as soon as the process is gone: 5 pulls, 5 processes, 5 pushes, the root.
    let spans: usize = read_lines(&dir.join("spans.jsonl")).iter().map(|d| d["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(spans, 16);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_tracing_settings_are_errors_naming_the_key() {
    for (extra, needle) in [
        ("tracing_exporter = \"otlp-grpc\"", "`otlp-grpc` is not built"),
        ("tracing_exporter = \"file\"", "writes to `tracing_endpoint`"),
        ("sample_rate = 1.5", "1.5 is not a probability"),
        ("ring_buffer_capacity = 0", "observability.ring_buffer_capacity"),
        ("tracing_exporter = \"otlp-http\"\ntracing_endpoint = \"https://x\"", "not an http:// URL"),
    ] {
        let text = probe_flow(&format!("[observability]\n{extra}\n"));
        let err = PipelineDef::from_toml_str(&text, env!("CARGO_MANIFEST_DIR")).unwrap_err().to_string();
        assert!(err.contains(needle), "{extra}: {err}");
    }
}

#[test]
fn otlp_metrics_reach_a_collector_under_the_public_names() {
    capture();
    let rx = Receiver::start();
    let dir = common::cli::temp_dir("otlp-metrics");
    std::fs::write(
        dir.join("Torvyn.toml"),
        format!(
            "{}\n[observability]\notlp_metrics_enabled = true\nmetrics_endpoint = \"http://127.0.0.1:{}\"\notlp_metrics_interval_s = 1\notlp_protocol = \"http/json\"\n",
            common::graph_text(
                &[
                    N("src", "counting-source", r#"{"count": 40}"#, ""),
                    N("up", "uppercase", "{}", ""),
                    N("sink", "printing-sink", "{}", ""),
                    // A branch whose connect no grant allows: one denial.
                    N("probe", "wasi-probe", r#"{"connect": "127.0.0.1:9"}"#, r#"capabilities = ["clock:monotonic", "clock:wall", "filesystem", "network:tcp-connect:192.0.2.1:9"]"#),
                    N("probe_sink", "printing-sink", "{}", ""),
                ],
                &[("src", "up"), ("up", "sink"), ("src", "probe"), ("probe", "probe_sink")],
                ""
            ),
            rx.port
        ),
    )
    .unwrap();
    let (code, _, err) = common::cli::torvyn_in(&dir, &["--quiet", "run"], &[]);
    assert_eq!(code, 0, "{err}");
    // The push at the end carries the final figures.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<Value> = Vec::new();
    let find = |seen: &[Value], name: &str, attr: Option<(&str, &str)>| {
        seen.iter().rev().find(|l| l["kind"] == "metric" && l["name"] == name && attr.is_none_or(|(k, v)| l["attributes"][k] == v)).cloned()
    };
    while find(&seen, "flow.elements.total", None).is_none_or(|l| l["value"] != 40) {
        match rx.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(v) => seen.push(v),
            Err(_) => panic!("no final flow.elements.total: {seen:#?}"),
        }
    }
    // The rest of that push.
    while let Ok(v) = rx.lines.recv_timeout(Duration::from_millis(300)) {
        seen.push(v);
    }
    let total = find(&seen, "flow.elements.total", None).unwrap();
    assert_eq!((total["type"].as_str(), total["monotonic"].as_bool()), (Some("sum"), Some(true)));
    assert_eq!(total["attributes"]["flow"], "main");
    assert_eq!(find(&seen, "component.invocations", Some(("component_id", "up"))).unwrap()["value"], 40);
    let latency = find(&seen, "flow.latency", None).unwrap();
    assert_eq!((latency["type"].as_str(), latency["unit"].as_str()), (Some("histogram"), Some("ns")));
    // The production sample of 40 elements: 0, S, 2S, … below 40.
    let sampled = 40u64.div_ceil(torvyn::observability::TIMING_SAMPLE);
    assert_eq!(latency["count"], sampled);
    assert_eq!(latency["buckets"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), sampled);
    assert_eq!(find(&seen, "stream.elements.transferred", Some(("stream_id", "up.output->sink"))).unwrap()["value"], 40);
    assert!(find(&seen, "pool.allocated", Some(("tier", "small"))).is_some());
    assert!(find(&seen, "system.scheduler.wakeups", None).is_some());
    let denials = find(&seen, "capability.denials", Some(("component_id", "probe"))).unwrap();
    assert_eq!((denials["attributes"]["capability"].as_str(), denials["value"].as_u64()), (Some("network:tcp-connect"), Some(1)), "{denials}");
    std::fs::remove_dir_all(&dir).unwrap();
}
