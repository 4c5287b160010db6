//! Deadlines and cancel hold whatever a guest does: Wasm loops, and waits
//! inside WASI (a sleep, a poll on a clock, a blocking pollable). A flow
//! starting up holds no other flow back by more than one call.

mod common;

use std::time::{Duration, Instant};

use common::{N, capture, lines_of, pipeline};
use torvyn::reactor::FailureKind;
use torvyn::{Flow, FlowState, Host, PipelineDef};

const WAITS: [&str; 4] = ["sleep", "poll", "block", "spin"];

/// source → a guest that waits on element 1 → sink.
fn waiting_flow(node: &str, wait: &str, runtime: &str) -> PipelineDef {
    pipeline(
        &[
            N(&format!("{node}_src"), "counting-source", r#"{"count": 5}"#, ""),
            N(node, "blocking-guest", &format!(r#"{{"wait": "{wait}", "at": 1}}"#), r#"capabilities = ["clock:monotonic"]"#),
            N(&format!("{node}_sink"), "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        runtime,
    )
}

/// Wait until the guest is inside its long call (element 1 was delivered).
fn until_blocked(flow: &Flow) {
    let t0 = Instant::now();
    while flow.state() != FlowState::Running && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(flow.summary().is_none(), "the flow must still be blocked");
}

#[test]
fn a_deadline_stops_a_guest_whatever_it_waits_on() {
    let host = Host::builder().build().unwrap();
    for wait in WAITS {
        let node = format!("deadline_{wait}");
        let flow = host.start_flow(&waiting_flow(&node, wait, "call_timeout_ms = 200"), "main").unwrap();
        // The guest would wait an hour; its 200 ms deadline ends the call.
        let s = flow.wait(Some(Duration::from_secs(30))).unwrap_or_else(|e| panic!("{wait}: {e}"));
        assert_eq!(s.state, FlowState::Failed, "{wait}");
        assert_eq!(s.failure, Some(FailureKind::Deadline), "{wait}: {:?}", s.error);
        let err = s.error.unwrap();
        assert!(err.contains(&format!("node `{node}`")) && err.contains("200ms deadline"), "{wait}: {err}");
        assert_eq!(s.stages[1].elements_in, 1, "{wait}: element 0 went through, element 1 overran");
        assert_eq!(s.buffers_live, 0);
    }
}

#[test]
fn cancel_stops_a_blocked_guest_at_once_and_other_flows_go_on() {
    let host = Host::builder().build().unwrap();
    let mut latencies = Vec::new();
    for wait in WAITS {
        let node = format!("cancel_{wait}");
        let flow = host.start_flow(&waiting_flow(&node, wait, "call_timeout_ms = 600000"), "main").unwrap();
        until_blocked(&flow);
        let t0 = Instant::now();
        flow.cancel();
        let s = flow.wait(Some(Duration::from_secs(30))).unwrap_or_else(|e| panic!("{wait}: {e}"));
        latencies.push((wait, t0.elapsed()));
        assert_eq!(s.state, FlowState::Cancelled, "{wait}: {:?}", s.error);
        assert_eq!(s.error, None);
        assert_eq!(s.buffers_live, 0);
        // The worker is free again: another flow on it runs to completion.
        let next = host.start_flow(&waiting_flow(&format!("{node}_next"), "none", ""), "main").unwrap();
        assert_eq!(next.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    }
    eprintln!("cancel latency while blocked: {latencies:?}");
}

#[test]
fn shutdown_stops_workers_blocked_in_guests() {
    // One blocked guest per worker: one waiting in WASI, one looping in Wasm.
    let host = Host::builder().worker_threads(2).build().unwrap();
    let flows: Vec<Flow> = ["block", "spin"]
        .iter()
        .map(|w| host.start_flow(&waiting_flow(&format!("shut_{w}"), w, "call_timeout_ms = 600000"), "main").unwrap())
        .collect();
    for f in &flows {
        until_blocked(f);
    }
    let t0 = Instant::now();
    let report = host.shutdown(Duration::from_secs(30));
    eprintln!("shutdown with {} blocked guests took {:?}", flows.len(), t0.elapsed());
    assert_eq!(report.workers_still_running, 0);
    assert_eq!(report.cancelled.len(), flows.len());
    for f in &flows {
        assert_eq!(f.state(), FlowState::Cancelled);
    }
}

#[test]
fn an_init_that_overruns_fails_the_flow_and_uninitialised_stages_get_no_teardown() {
    capture();
    let p = pipeline(
        &[
            N("td_src", "counting-source", r#"{"count": 5}"#, ""),
            N("td_block", "blocking-guest", r#"{"wait": "sleep", "in_init": true}"#, r#"capabilities = ["clock:monotonic"]"#),
            N("td_after", "faulty-processor", "{}", ""),
            N("td_sink", "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        "init_timeout_ms = 300",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Deadline));
    let err = s.error.unwrap();
    assert!(err.contains("node `td_block`") && err.contains("init") && err.contains("300ms"), "{err}");
    // `td_after` was instantiated but its `init` never ran: no teardown.
    assert!(
        !lines_of("td_after").iter().any(|(_, l)| l.starts_with("teardown")),
        "{:?}",
        lines_of("td_after")
    );
}

#[test]
fn a_flow_starting_up_delays_another_by_at_most_one_call() {
    // One worker: a flow whose three nodes each take 300 ms in `init` starts
    // while another flow moves elements. Before, start-up ran inline (900 ms
    // of stall); now the worker serves the other flow between start-up calls.
    let host = Host::builder().build().unwrap();
    let embed = PipelineDef::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed")).unwrap();
    let busy = host.start_flow(&embed, "main").unwrap();
    let slow_init = r#"{"wait": "sleep", "ms": 300, "in_init": true}"#;
    let slow = pipeline(
        &[
            N("su_src", "counting-source", r#"{"count": 3}"#, ""),
            N("su_a", "blocking-guest", slow_init, r#"capabilities = ["clock:monotonic"]"#),
            N("su_b", "blocking-guest", slow_init, r#"capabilities = ["clock:monotonic"]"#),
            N("su_c", "blocking-guest", slow_init, r#"capabilities = ["clock:monotonic"]"#),
            N("su_sink", "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        "",
    );
    let round_trip = |i: u32| {
        let t0 = Instant::now();
        busy.push("input", format!("e{i}").as_bytes(), "", None).unwrap();
        let el = busy.next("output", Some(Duration::from_secs(30))).unwrap().unwrap();
        assert_eq!(el.payload(), format!("E{i}").as_bytes());
        t0.elapsed()
    };
    for i in 0..20 {
        round_trip(i);
    }
    let starting = host.start_flow(&slow, "main").unwrap();
    let mut worst = Duration::ZERO;
    let mut i = 100;
    while starting.state() != FlowState::Running && starting.summary().is_none() {
        worst = worst.max(round_trip(i));
        i += 1;
    }
    assert_eq!(starting.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    eprintln!("longest delay a starting flow caused another: {worst:?} ({} elements meanwhile)", i - 100);
    assert!(i - 100 >= 3, "the other flow kept moving during start-up");
    assert!(worst < Duration::from_millis(800), "one 300 ms init call at most, not all three: {worst:?}");
}

#[test]
fn a_cancel_waits_for_at_most_one_call_of_another_flow_on_the_worker() {
    // One worker. Flow `slow` takes 100 ms in every call; flow `quick` runs
    // beside it. Cancelling `quick` waits for the call in progress, not for
    // a whole turn of `slow` (64 rounds of 100 ms calls before turns were
    // time-sliced).
    let host = Host::builder().build().unwrap();
    let slow = pipeline(
        &[
            N("ts_src", "counting-source", r#"{"count": 1000}"#, ""),
            N("ts_slow", "blocking-guest", r#"{"wait": "sleep", "ms": 100, "every": true}"#, r#"capabilities = ["clock:monotonic"]"#),
            N("ts_sink", "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        "",
    );
    let quick = pipeline(
        &[
            N("tq_src", "counting-source", r#"{"count": 1000000000}"#, ""),
            N("tq_sink", "slow-sink", r#"{"pause_every": 1000000000}"#, ""),
        ],
        "",
    );
    let slow = host.start_flow(&slow, "main").unwrap();
    let quick = host.start_flow(&quick, "main").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(quick.summary().is_none() && slow.summary().is_none());
    let t0 = Instant::now();
    quick.cancel();
    let s = quick.wait(Some(Duration::from_secs(30))).unwrap();
    let latency = t0.elapsed();
    eprintln!("cancel latency beside a flow making 100 ms calls: {latency:?}");
    assert_eq!(s.state, FlowState::Cancelled);
    assert!(latency < Duration::from_millis(600), "waited {latency:?}, more than one 100 ms call and a slice");
    slow.cancel();
    assert_eq!(slow.wait(Some(Duration::from_secs(30))).unwrap().state, FlowState::Cancelled);
}

#[test]
fn a_guest_blocked_opening_a_named_pipe_is_stopped_by_its_deadline_and_by_cancel() {
    // A named pipe nobody writes to: `open` blocks in the kernel until a
    // writer comes. The guest's node is granted the pipe's directory.
    let dir = std::env::temp_dir().join(format!("torvyn-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let flow = |node: &str, runtime: &str| {
        pipeline(
            &[
                N(&format!("{node}_src"), "counting-source", r#"{"count": 3}"#, ""),
                N(
                    node,
                    "wasi-probe",
                    &format!(r#"{{"read": "{}"}}"#, fifo.display()),
                    &format!(r#"capabilities = ["network", "filesystem:{}", "clock:monotonic", "clock:wall"]"#, dir.display()),
                ),
                N(&format!("{node}_sink"), "slow-sink", r#"{"pause_every": 1000000}"#, ""),
            ],
            runtime,
        )
    };
    let host = Host::builder().build().unwrap();
    let s = host
        .start_flow(&flow("fifo_deadline", "call_timeout_ms = 300"), "main")
        .unwrap()
        .wait(Some(Duration::from_secs(30)))
        .expect("the deadline stops a guest blocked in open");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Deadline), "{:?}", s.error);
    assert!(s.error.unwrap().contains("node `fifo_deadline`"));

    let f = host.start_flow(&flow("fifo_cancel", "call_timeout_ms = 600000"), "main").unwrap();
    until_blocked(&f);
    let t0 = Instant::now();
    f.cancel();
    let s = f.wait(Some(Duration::from_secs(30))).expect("cancel stops a guest blocked in open");
    eprintln!("cancel latency while blocked in open: {:?}", t0.elapsed());
    assert_eq!(s.state, FlowState::Cancelled);
    // Let the abandoned `open` calls finish (a writer arrives; O_NONBLOCK,
    // so this never waits itself) and clean up.
    use std::os::unix::fs::OpenOptionsExt;
    for _ in 0..2 {
        let _ = std::fs::OpenOptions::new().write(true).custom_flags(0o4000).open(&fifo);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_guest_dropping_a_socket_stream_its_peer_never_reads_is_stopped_by_its_deadline() {
    // The peer accepts and never reads: once the kernel's buffers are full,
    // the stream's background write can never finish, and dropping the
    // stream waits for it.
    capture();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done, until_done) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let held = listener.accept().map(|(s, _)| s);
        let _ = until_done.recv_timeout(Duration::from_secs(120));
        drop(held);
    });
    let p = pipeline(
        &[
            N("flood_src", "counting-source", r#"{"count": 3}"#, ""),
            N("flood", "wasi-probe", &format!(r#"{{"flood": "{addr}"}}"#), r#"capabilities = ["network", "filesystem", "clock:monotonic", "clock:wall"]"#),
            N("flood_sink", "slow-sink", r#"{"pause_every": 1000000}"#, ""),
        ],
        "call_timeout_ms = 5000",
    );
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(60)));
    let _ = done.send(());
    peer.join().unwrap();
    let s = s.expect("the deadline stops a guest stuck dropping a stream");
    let printed: Vec<String> = lines_of("flood").into_iter().map(|(_, l)| l).collect();
    assert!(printed.iter().any(|l| l.starts_with("flood dropping the stream")), "the guest reached the drop: {printed:?}");
    assert_eq!(s.state, FlowState::Failed);
    assert_eq!(s.failure, Some(FailureKind::Deadline), "{:?}", s.error);
}
