//! Embedding endpoints: the program pushes its own records through a Wasm
//! processor and reads the results back from an egress, in place.

mod common;

use std::time::Duration;

use common::wasm;
use torvyn::reactor::EndpointError;
use torvyn::{FlowState, Host, PipelineDef};

fn manifest(depth: usize) -> PipelineDef {
    let text = format!(
        "[flow.main.nodes.input]\nendpoint = \"ingress\"\n[flow.main.nodes.upper]\ncomponent = \"{}\"\n[flow.main.nodes.output]\nendpoint = \"egress\"\n[[flow.main.edges]]\nfrom = \"input\"\nto = \"upper\"\n[[flow.main.edges]]\nfrom = \"upper\"\nto = \"output\"\n[runtime]\nqueue_depth = {depth}\n",
        wasm("uppercase")
    );
    PipelineDef::from_toml_str(&text, ".").unwrap()
}

const T: Option<Duration> = Some(Duration::from_secs(30));

#[test]
fn records_go_through_a_wasm_processor_and_come_back_in_place() {
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&manifest(8), "main").unwrap();
    let producer = {
        let flow = flow.clone();
        std::thread::spawn(move || {
            for i in 0..1000 {
                flow.push("input", format!("record {i}").as_bytes(), "text/plain", T).unwrap();
            }
            flow.close_input("input").unwrap();
        })
    };
    let mut seen = 0u64;
    while let Some(mut el) = flow.next("output", T).unwrap() {
        assert_eq!(el.payload(), format!("RECORD {seen}").as_bytes());
        assert_eq!(el.sequence(), seen);
        assert_eq!(el.content_type(), "text/plain");
        assert!(el.timestamp_ns() > 0);
        el.release().unwrap();
        assert!(el.release().is_err(), "a second release is an error");
        seen += 1;
    }
    producer.join().unwrap();
    assert_eq!(seen, 1000);
    let s = flow.wait(T).unwrap();
    assert_eq!(s.state, FlowState::Completed);
    assert_eq!(s.elements, 1000);
    // Push copies in (1), the processor reads (1) and writes (1); the
    // program reads the egress buffer in place (0).
    assert_eq!(s.copies, 3000);
    assert!(s.edges.iter().all(|e| e.peak_depth <= 8));
    assert_eq!(flow.next("output", T).unwrap().map(|e| e.sequence()), None, "end of stream stays");
}

#[test]
fn a_full_ingress_says_would_block_or_times_out() {
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&manifest(2), "main").unwrap();
    // Nobody takes from the egress: the flow fills up and pushes stop.
    let mut accepted = 0;
    let err = loop {
        match flow.push("input", b"x", "", Some(Duration::ZERO)) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        if accepted > 1000 {
            panic!("backpressure never reached the program");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    assert!(matches!(err, EndpointError::WouldBlock(ref p) if p == "input"), "{err}");
    // A busy machine may still be moving an element downstream: once it
    // settles, whatever room that made is filled too.
    std::thread::sleep(Duration::from_millis(200));
    while flow.push("input", b"x", "", Some(Duration::ZERO)).is_ok() {
        accepted += 1;
    }
    assert!(accepted <= 2 + 2 + 2 + 2, "bounded by the queues, accepted {accepted}");
    let err = flow.push("input", b"x", "", Some(Duration::from_millis(20))).unwrap_err();
    assert!(matches!(err, EndpointError::Timeout { .. }), "{err}");
    assert!(matches!(flow.push("nope", b"x", "", T), Err(EndpointError::UnknownPort { .. })));
    assert!(matches!(flow.next("input", T), Err(EndpointError::UnknownPort { .. })));
    // Taking one frees room again.
    let el = flow.next("output", T).unwrap().unwrap();
    drop(el);
    flow.close_input("input").unwrap();
    assert!(matches!(flow.push("input", b"x", "", T), Err(EndpointError::Closed(_))));
    flow.cancel();
    let s = flow.wait(T).unwrap();
    assert_eq!(s.state, FlowState::Cancelled);
    assert!(matches!(flow.next("output", T), Err(EndpointError::FlowEnded(FlowState::Cancelled))));
}
