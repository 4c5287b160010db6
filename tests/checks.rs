//! Every check made before a flow runs, each with a deliberately broken
//! manifest or component and the exact error it gets.

mod common;

use common::{N, graph_text, wasm};
use torvyn::{Host, HostError, PipelineDef};

/// The problems `start_flow` reports for a manifest, as messages.
fn problems(text: &str) -> Vec<String> {
    let p = PipelineDef::from_toml_str(text, env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}"));
    let host = Host::builder().build().unwrap();
    let err = host.start_flow(&p, "main").err().expect("the flow is rejected");
    assert!(host.list_flows().is_empty(), "nothing ran");
    let HostError::Link(link) = err else { panic!("not a link error: {err}") };
    link.messages()
}

fn src(name: &str) -> N<'_> {
    N(name, "counting-source", r#"{"count": 3}"#, "")
}
fn up(name: &str) -> N<'_> {
    N(name, "uppercase", "", "")
}
fn sink(name: &str) -> N<'_> {
    N(name, "printing-sink", "", "")
}

#[test]
fn a_cycle_is_named_along_its_path() {
    let t = graph_text(&[src("s"), up("u1"), up("u2"), sink("k")], &[("s", "u1"), ("u1", "u2"), ("u2", "u1"), ("u2", "k")], "");
    assert_eq!(problems(&t), ["flow `main` has a cycle: `u1` → `u2` → `u1`; a flow must be acyclic"]);
}

#[test]
fn a_node_feeding_itself_is_a_cycle() {
    let t = graph_text(&[src("s"), up("u"), sink("k")], &[("s", "u"), ("u", "u"), ("u", "k")], "");
    assert_eq!(problems(&t), ["flow `main` has a cycle: `u` → `u`; a flow must be acyclic"]);
}

#[test]
fn an_edge_to_an_unknown_node_is_located_in_the_manifest() {
    let t = graph_text(&[src("s"), sink("sink")], &[("s", "sinc")], "");
    let err = PipelineDef::from_toml_str(&t, ".").unwrap_err();
    assert_eq!(err.key(), "flow.main.edges[0].to");
    assert!(err.line().is_some());
    assert!(
        err.to_string().ends_with("unknown node `sinc`; did you mean `sink`? this flow's nodes are: s, sink"),
        "{err}"
    );
}

#[test]
fn a_duplicate_edge_is_named() {
    let t = graph_text(&[src("s"), sink("k")], &[("s", "k"), ("s", "k")], "");
    assert_eq!(problems(&t), ["flow `main`: edge s.output → k.input is listed more than once; remove the duplicate"]);
}

#[test]
fn unknown_ports_are_named_with_the_ports_the_node_has() {
    let t = graph_text(&[src("s"), up("u"), sink("k")], &[("s", "u.in"), ("u.out", "k")], "");
    assert_eq!(
        problems(&t),
        [
            "flow `main`: edge s.output → u.in enters port `in` of node `u` (torvyn:streaming/processor), which has only the input port `input`",
            "flow `main`: edge u.out → k.input leaves port `out` of node `u` (torvyn:streaming/processor), which has only the output port `output`",
        ]
    );
}

#[test]
fn a_dangling_output_is_named() {
    let t = graph_text(&[src("s"), up("u"), sink("k")], &[("s", "u"), ("s", "k")], "");
    assert_eq!(
        problems(&t),
        ["flow `main`: output port `u.output` is connected to nothing, so what `u` produces would be lost; add an edge from it or remove the node"]
    );
}

#[test]
fn a_sink_without_input_is_named() {
    let t = graph_text(&[src("s"), sink("k"), sink("lonely")], &[("s", "k")], "");
    assert_eq!(problems(&t), ["flow `main`: sink `lonely` has no input; add an edge into `lonely.input` or remove the node"]);
}

#[test]
fn a_source_with_an_input_and_a_sink_with_an_output_are_named() {
    let t = graph_text(&[src("s"), src("s2"), sink("k")], &[("s", "s2"), ("s2", "k"), ("k", "s")], "");
    assert_eq!(
        problems(&t),
        [
            "flow `main`: edge s.output → s2.input enters node `s2`, a source (torvyn:streaming/source), which takes no input; remove the edge or use a processor",
            "flow `main`: edge k.output → s.input leaves node `k`, a sink (torvyn:streaming/sink), which has no output port; remove the edge",
            "flow `main`: edge k.output → s.input enters node `s`, a source (torvyn:streaming/source), which takes no input; remove the edge or use a processor",
            // `s` fed only the rejected edge into `s2`.
            "flow `main`: output port `s.output` is connected to nothing, so what `s` produces would be lost; add an edge from it or remove the node",
        ]
    );
}

#[test]
fn an_unreachable_node_is_named_with_the_sources() {
    let t = graph_text(&[src("s"), up("u1"), up("u2"), sink("k")], &[("s", "k"), ("u1", "u2"), ("u2", "k")], "");
    assert_eq!(
        problems(&t),
        [
            "flow `main`: node `u1` cannot be reached from any source (`s`); connect it downstream of one or remove it",
            "flow `main`: node `u2` cannot be reached from any source (`s`); connect it downstream of one or remove it",
        ]
    );
}

#[test]
fn a_flow_needs_a_source_and_a_sink() {
    let t = graph_text(&[up("u"), up("v")], &[("u", "v"), ("v", "u")], "");
    let got = problems(&t);
    assert!(got.contains(&"flow `main` has no source; add a node whose component exports torvyn:streaming/source (or an `endpoint = \"ingress\"` node)".to_string()), "{got:?}");
    assert!(got.contains(&"flow `main` has no sink; add a node whose component exports torvyn:streaming/sink (or an `endpoint = \"egress\"` node)".to_string()), "{got:?}");
}

#[test]
fn every_problem_of_a_flow_is_reported_at_once() {
    let t = graph_text(
        &[src("s"), up("u"), sink("k"), sink("lonely")],
        &[("s", "u"), ("s", "k"), ("s", "k")],
        "",
    );
    let got = problems(&t);
    assert_eq!(got.len(), 3, "{got:?}");
    let p = PipelineDef::from_toml_str(&t, ".").unwrap();
    let err = Host::builder().build().unwrap().start_flow(&p, "main").err().unwrap().to_string();
    assert!(err.starts_with("3 problems in the flow graph:\n  - "), "{err}");
}

/// A copy of a committed component whose contract export names carry
/// `version` instead of 0.1.0 (the names are the same length, so the
/// component stays valid).
fn with_export_version(stem: &str, interface: &str, version: &str) -> String {
    let bytes = std::fs::read(wasm(stem)).unwrap();
    let from = format!("{interface}@0.1.0");
    let to = format!("{interface}@{version}");
    assert_eq!(from.len(), to.len());
    let mut out = bytes.clone();
    let mut hits = 0;
    let mut i = 0;
    while let Some(at) = out[i..].windows(from.len()).position(|w| w == from.as_bytes()) {
        out[i + at..i + at + to.len()].copy_from_slice(to.as_bytes());
        i += at + to.len();
        hits += 1;
    }
    assert!(hits > 0, "{from} not found in {stem}");
    let dir = std::env::temp_dir().join(format!("torvyn-version-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{stem}-{version}.wasm"));
    std::fs::write(&path, out).unwrap();
    path.display().to_string()
}

#[test]
fn a_newer_patch_of_the_contract_runs_and_another_minor_is_rejected_naming_both() {
    let patched = with_export_version("printing-sink", "torvyn:streaming/sink", "0.1.9");
    let text = |sink_path: &str| {
        format!(
            "[flow.main.nodes.s]\ncomponent = \"{}\"\nconfig = {{ count = 2 }}\n[flow.main.nodes.k]\ncomponent = \"{sink_path}\"\n[[flow.main.edges]]\nfrom = \"s\"\nto = \"k\"\n",
            wasm("counting-source")
        )
    };
    let p = PipelineDef::from_toml_str(&text(&patched), ".").unwrap();
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(None).unwrap();
    assert_eq!(s.state, torvyn::FlowState::Completed, "0.1.9 runs on a 0.1.0 runtime: {:?}", s.error);
    assert_eq!(s.elements, 2);

    let newer = with_export_version("printing-sink", "torvyn:streaming/sink", "0.2.0");
    let p = PipelineDef::from_toml_str(&text(&newer), ".").unwrap();
    let err = host.start_flow(&p, "main").err().unwrap().to_string();
    assert_eq!(
        err,
        "node `k`: `printing-sink-0.2.0.wasm` exports torvyn:streaming/sink@0.2.0 (contract 0.2.0) but this runtime speaks 0.1.0; rebuild the component against torvyn:streaming@0.1.0"
    );
}
