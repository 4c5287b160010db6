//! The `torvyn` binary, run as a user would.

mod common;

use std::process::Command;

fn torvyn(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_torvyn"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run torvyn");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_hello_world_prints_stage_output_and_a_summary() {
    let (code, out, err) = torvyn(&["run", "examples/hello-world"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let greetings: Vec<&str> = out.lines().filter(|l| l.contains("Hello, World!")).collect();
    let expected: Vec<String> = (0..5).map(|i| format!("[sink] [seq {i}] Hello, World! (message {})", i + 1)).collect();
    assert_eq!(greetings, expected);
    assert!(out.contains("flow `main` completed"), "{out}");
    assert!(out.contains("elements          5"), "{out}");
    assert!(out.contains("copies            10 (2.00 per element)"), "{out}");
    assert!(out.contains("peak queue depth  source -> sink: "), "{out}");
}

#[test]
fn a_failing_flow_exits_1_with_the_error() {
    let dir = std::env::temp_dir().join(format!("torvyn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("Torvyn.toml");
    std::fs::write(
        &manifest,
        common::linear(
            &[
                common::N("src", "counting-source", "{}", ""),
                common::N("broken", "faulty-processor", r#"{"trap_at": 1}"#, ""),
                common::N("sink", "printing-sink", "", ""),
            ],
            "",
        ),
    )
    .unwrap();
    let (code, out, err) = torvyn(&["run", manifest.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("error: node `broken` (component `faulty-processor.wasm`) process: trapped"), "{err}");
    assert!(out.contains("flow `main` failed"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_usage_and_missing_input_exit_2() {
    assert_eq!(torvyn(&[]).0, 2);
    assert_eq!(torvyn(&["run"]).0, 2);
    let (code, _, err) = torvyn(&["run", "no/such/folder"]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = torvyn(&["run", "examples/hello-world", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no flow named `nosuch`"), "{err}");
}

#[test]
fn inspect_shows_world_exports_imports_and_contract() {
    let (code, out, err) = torvyn(&["inspect", "examples/components/wasm/faulty-processor.wasm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("world      torvyn:streaming/managed-transform"), "{out}");
    assert!(out.contains("contract   torvyn:streaming@0.1.0"), "{out}");
    assert!(out.contains("  torvyn:streaming/processor@0.1.0\n  torvyn:streaming/lifecycle@0.1.0\nimports"), "{out}");
    assert!(out.contains("  torvyn:streaming/buffer-allocator@0.1.0"), "{out}");

    let (code, out, _) = torvyn(&["--format", "json", "inspect", "examples/components/wasm/printing-sink.wasm"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["contract"]["world"], "torvyn:streaming/data-sink");
    assert_eq!(v["size"], std::fs::metadata(common::wasm("printing-sink")).unwrap().len());
    assert!(v["imports"].as_array().unwrap().iter().any(|i| i == "torvyn:streaming/types@0.1.0"));

    let (code, _, err) = torvyn(&["inspect", "no/such.wasm"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read `no/such.wasm`"), "{err}");
}

#[test]
fn run_with_json_format_prints_only_the_summary_on_stdout() {
    let (code, out, err) = torvyn(&["--format", "json", "run", "examples/hello-world"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("stdout is one JSON document");
    assert_eq!(v["state"], "completed");
    assert_eq!(v["elements"], 5);
    assert!(err.contains("[sink] [seq 0] Hello, World! (message 1)"), "guest output goes to stderr: {err}");
}
