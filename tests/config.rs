//! Manifest errors name file, line and key; JSON manifests run like TOML ones.

mod common;

use std::time::Duration;

use common::wasm;
use torvyn::config::ConfigError;
use torvyn::{FlowState, Host, HostError, PipelineDef};

fn toml_err(text: &str) -> ConfigError {
    PipelineDef::from_toml_str(text, env!("CARGO_MANIFEST_DIR")).expect_err("manifest must be rejected")
}

fn two_nodes(extra_source: &str, runtime: &str) -> String {
    format!(
        "[flow.main.nodes.source]\ncomponent = \"{}\"\n{extra_source}\n\n[flow.main.nodes.sink]\ncomponent = \"{}\"\n\n[[flow.main.edges]]\nfrom = \"source\"\nto = \"sink\"\n\n{runtime}",
        wasm("counting-source"),
        wasm("printing-sink")
    )
}

#[test]
fn unknown_key_is_located_and_a_close_key_suggested() {
    let e = toml_err(&two_nodes("", "[runtime]\nqueue_dept = 8\n"));
    assert_eq!(e.key(), "runtime.queue_dept");
    assert_eq!(e.line(), Some(13));
    assert!(e.to_string().contains("did you mean `queue_depth`?"), "{e}");
}

#[test]
fn bad_size_says_which_units_work() {
    let e = toml_err(&two_nodes("", "[runtime]\nmemory_limit = \"64Mb\"\n"));
    assert_eq!(e.key(), "runtime.memory_limit");
    assert_eq!(e.line(), Some(13));
    assert!(e.to_string().contains("`Mb`") && e.to_string().contains("MiB"), "{e}");
}

#[test]
fn wrong_type_and_unknown_component_are_located() {
    let e = toml_err(&two_nodes("config = 5", ""));
    assert_eq!(e.key(), "flow.main.nodes.source.config");
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("expected a string or a table, found an integer"), "{e}");

    let e = toml_err("[flow.main.nodes.a]\ncomponent = \"nosuch\"\n");
    assert_eq!(e.key(), "flow.main.nodes.a.component");
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("neither a [[component]] name"), "{e}");
}

#[test]
fn errors_from_a_file_name_the_file() {
    let dir = std::env::temp_dir().join(format!("torvyn-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("Torvyn.toml");
    std::fs::write(&file, "[flow.main.nodes.a]\ncomponent = \"missing.wasm\"\n").unwrap();
    let e = PipelineDef::load(&dir).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}:2:13: `flow.main.nodes.a.component`", file.display())), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    let syntax = dir.join("bad.toml");
    std::fs::write(&syntax, "[flow.main\n").unwrap();
    let e = PipelineDef::load(&syntax).unwrap_err();
    assert!(e.to_string().contains("bad.toml:1:") && e.to_string().contains("syntax error"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_manifest_runs_like_toml() {
    let text = serde_json::json!({
        "torvyn": {"name": "json"},
        "flow": {"main": {
            "nodes": {
                "source": {"component": wasm("counting-source"), "config": {"count": 7}},
                "sink": {"component": wasm("slow-sink")}
            },
            "edges": [{"from": {"node": "source", "port": "output"}, "to": {"node": "sink", "port": "input"}}]
        }},
        "runtime": {"queue_depth": 4}
    })
    .to_string();
    let p = PipelineDef::from_json_str(&text, ".").unwrap();
    assert_eq!(p.runtime.queue_depth, 4);
    assert_eq!(p.runtime.low_watermark_ratio, 0.5);
    assert_eq!(p.flows[0].queue(0, &p.runtime).low_watermark, 2);
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(s.state, FlowState::Completed);
    assert_eq!(s.elements, 7);
    let bad = PipelineDef::from_json_str(r#"{"flow": {"main": {"nodes": {"a": {"component": 3}}}}}"#, ".").unwrap_err();
    assert_eq!(bad.key(), "flow.main.nodes.a.component");
}

#[test]
fn declared_interface_must_match_the_component() {
    let text = format!(
        "[flow.main.nodes.source]\ncomponent = \"{}\"\n[flow.main.nodes.transform]\ncomponent = \"{}\"\ninterface = \"torvyn:streaming/processor\"\n[flow.main.nodes.sink]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"source\"\nto = \"transform\"\n[[flow.main.edges]]\nfrom = \"transform\"\nto = \"sink\"\n",
        wasm("counting-source"),
        wasm("printing-sink"),
        wasm("slow-sink")
    );
    let p = PipelineDef::from_toml_str(&text, ".").unwrap();
    let host = Host::builder().build().unwrap();
    let err = host.start_flow(&p, "main").err().expect("mismatch rejected");
    assert!(matches!(err, HostError::Link(_)));
    assert_eq!(
        err.to_string(),
        "node `transform` is declared torvyn:streaming/processor but `printing-sink.wasm` exports torvyn:streaming/sink; point the node at a component that implements torvyn:streaming/processor, or change its `interface`"
    );
    assert!(host.list_flows().is_empty(), "nothing ran");
}

#[test]
fn a_core_module_is_rejected_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("torvyn-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The smallest core module: magic and version only.
    std::fs::write(dir.join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let text = format!(
        "[flow.main.nodes.source]\ncomponent = \"core.wasm\"\n[flow.main.nodes.sink]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"source\"\nto = \"sink\"\n",
        wasm("printing-sink")
    );
    let p = PipelineDef::from_toml_str(&text, &dir).unwrap();
    let host = Host::builder().build().unwrap();
    let err = host.start_flow(&p, "main").err().unwrap().to_string();
    assert!(err.contains("node `source`") && err.contains("core.wasm") && err.contains("not a valid WebAssembly component"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_component_crate_folder_resolves_to_its_release_build() {
    let dir = std::env::temp_dir().join(format!("torvyn-crate-{}", std::process::id()));
    let release = dir.join("my-source/target/wasm32-wasip2/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(dir.join("my-source/Cargo.toml"), "[package]\nname = \"my-source\"\nversion = \"0.1.0\"\n").unwrap();
    std::fs::copy(wasm("counting-source"), release.join("my_source.wasm")).unwrap();
    // A crate not built yet loads with a warning naming the build command;
    // starting a flow that runs it fails naming the same.
    let text = format!(
        "[[component]]\nname = \"mine\"\npath = \"my-source\"\n\n[[component]]\nname = \"unbuilt\"\npath = \"{}\"\n\n[flow.main.nodes.source]\ncomponent = \"unbuilt\"\n[flow.main.nodes.sink]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"source\"\nto = \"sink\"\n",
        dir.join("empty-crate").display(),
        wasm("slow-sink")
    );
    std::fs::create_dir_all(dir.join("empty-crate")).unwrap();
    std::fs::write(dir.join("empty-crate/Cargo.toml"), "[package]\nname = \"empty-crate\"\nversion = \"0.1.0\"\n").unwrap();
    let p = PipelineDef::from_toml_str(&text, &dir).unwrap();
    let w = &p.warnings[0];
    assert_eq!((w.key.as_str(), w.pos.map(|p| p.line)), ("component[1].path", Some(7)), "{w}");
    assert!(w.message.contains("torvyn build --target unbuilt") && w.message.contains("cargo build --release --target wasm32-wasip2"), "{w}");
    let e = Host::builder().build().unwrap().start_flow(&p, "main").err().expect("an unbuilt component cannot run").to_string();
    assert!(e.contains("node `source`") && e.contains("not built yet") && e.contains("torvyn build"), "{e}");

    let text = format!(
        "[[component]]\nname = \"mine\"\npath = \"my-source\"\n\n[flow.main.nodes.source]\ncomponent = \"mine\"\nconfig = '{{\"count\": 3}}'\n[flow.main.nodes.sink]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"source\"\nto = \"sink\"\n",
        wasm("slow-sink")
    );
    let p = PipelineDef::from_toml_str(&text, &dir).unwrap();
    assert_eq!(p.components[0].path, release.join("my_source.wasm"));
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!((s.state, s.elements), (FlowState::Completed, 3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_import_the_host_cannot_provide_is_named_before_instantiation() {
    let text = format!(
        "[flow.main.nodes.source]\ncomponent = \"{}\"\n[flow.main.nodes.sink]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"source\"\nto = \"sink\"\n",
        wasm("counting-source"),
        wasm("needs-unknown-import")
    );
    let p = PipelineDef::from_toml_str(&text, ".").unwrap();
    let host = Host::builder().build().unwrap();
    let err = host.start_flow(&p, "main").err().unwrap().to_string();
    assert!(
        err.starts_with("node `sink`: `needs-unknown-import.wasm` imports what no Torvyn host provides: acme:ledger/accounts, acme:ledger/audit;"),
        "{err}"
    );
    assert!(host.list_flows().is_empty(), "nothing ran");
}

#[test]
fn missing_fields_are_located_with_the_key_to_add() {
    let e = toml_err("[flow.main.nodes.a]\nconfig = {}\n");
    assert_eq!(e.to_string(), "manifest:1:1: `flow.main.nodes.a.component`: missing required key `component`");
    let e = toml_err("[flow.main.nodes.a]\nendpoint = \"ingress\"\n[flow.main.nodes.b]\nendpoint = \"egress\"\n[[flow.main.edges]]\nfrom = \"a\"\n");
    assert_eq!(e.to_string(), "manifest:5:1: `flow.main.edges[0].to`: missing required key `to`");
}

#[test]
fn odd_values_are_range_errors_not_silent_clamps() {
    for (extra, key, says) in [
        ("max_buffers = 0", "flow.main.nodes.source.max_buffers", "at least 1"),
        ("max_buffer_bytes = 0", "flow.main.nodes.source.max_buffer_bytes", "at least 1 byte"),
        ("[flow.main.nodes.source.on_error]\nmax_retries = 5000", "flow.main.nodes.source.on_error.max_retries", "at most 1000"),
    ] {
        let e = toml_err(&two_nodes(extra, ""));
        assert_eq!(e.key(), key, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    let e = toml_err(&two_nodes("", "[runtime.pools]\nhuge_pool_size = 1048576\nexhaustion_policy = \"error\""));
    assert_eq!(e.key(), "runtime.pools.exhaustion_policy");
    assert!(e.to_string().contains("more than `runtime.pool_max_bytes`"), "{e}");
    // An endpoint takes no component keys.
    let e = toml_err("[flow.main.nodes.a]\nendpoint = \"ingress\"\nmax_buffers = 3\n");
    assert_eq!(e.key(), "flow.main.nodes.a.max_buffers");
    // JSON null is as if the key were not written.
    let text = serde_json::json!({"flow": {"main": {"nodes": {
        "a": {"component": wasm("counting-source"), "config": null, "fuel_budget": null},
        "b": {"component": wasm("printing-sink")}},
        "edges": [{"from": "a", "to": "b"}]}}}).to_string();
    let p = PipelineDef::from_json_str(&text, ".").unwrap();
    assert_eq!((p.flows[0].nodes[0].config.as_str(), p.flows[0].nodes[0].fuel), ("", None));
    // file://localhost/ and percent escapes.
    let dir = std::env::temp_dir().join(format!("torvyn a b {}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(wasm("counting-source"), dir.join("src.wasm")).unwrap();
    let url = format!("file://localhost{}/src.wasm", dir.display().to_string().replace(' ', "%20"));
    let p = PipelineDef::from_toml_str(&format!("[flow.main.nodes.a]\ncomponent = \"{url}\"\n"), ".").unwrap();
    assert_eq!(p.flows[0].nodes[0].path, dir.join("src.wasm"));
    std::fs::remove_dir_all(&dir).unwrap();
}
