//! The `torvyn` binary, run as a user would.

mod common;

use std::process::Command;

use common::cli::{temp_dir, torvyn, torvyn_env};

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
    assert_eq!(code, 2, "a flow the manifest lacks is bad usage");
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

#[test]
fn check_passes_a_good_manifest_and_lists_every_problem_of_a_bad_one() {
    let (code, out, err) = torvyn(&["check", "examples/hello-world"]);
    assert_eq!((code, out.as_str()), (0, "ok flow `main`\n"), "{err}");

    let dir = temp_dir("check");
    let text = common::graph_text(
        &[
            common::N("src", "counting-source", "{}", ""),
            common::N("up", "uppercase", "", ""),
            common::N("sink", "printing-sink", "", ""),
        ],
        &[("src", "sink"), ("up", "sink")],
        "",
    );
    std::fs::write(dir.join("Torvyn.toml"), text).unwrap();
    let (code, out, _) = torvyn(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "error flow `main`: 1 problem(s)\n  - flow `main`: node `up` cannot be reached from any source (`src`); connect it downstream of one or remove it\n"
    );
    let (code, out, _) = torvyn(&["--format", "json", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["flows"][0]["problems"].as_array().unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn link_prints_the_resolved_graph() {
    let (code, out, err) = torvyn(&["link", "examples/fan-out"]);
    assert_eq!(code, 0, "{err}");
    let size = |stem: &str| std::fs::metadata(common::wasm(stem)).unwrap().len();
    assert!(out.starts_with("flow `main`: 7 node(s), 6 edge(s)\nnodes\n"), "{out}");
    let route = format!("  {:<16} {:<34} prefix-router.wasm, {} bytes\n", "route", "torvyn:filtering/content-router", size("prefix-router"));
    assert!(out.contains(&route), "{out}");
    assert!(out.contains("  route.errors -> errors.input  (queue 16, resumes at 8, block)\n"), "{out}");
    assert!(out.contains("  route.errors -> pager.input  (queue 16, resumes at 8, block)\n"), "{out}");

    let (code, out, _) = torvyn(&["--format", "json", "link", "examples/fan-out", "main"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["node"], "logs", "producers first");
    assert_eq!(nodes[0]["world"], "torvyn:streaming/data-source");
    assert_eq!(v["edges"].as_array().unwrap().len(), 6);
    assert_eq!(nodes.len(), 7);
    assert!(v["edges"].as_array().unwrap().iter().all(|e| e["capacity"] == 16));
}

#[test]
fn environment_overrides_the_manifest_and_set_overrides_both() {
    let capacity = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["--format", "json", "run", "examples/hello-world"];
        args.extend_from_slice(extra);
        let (code, out, err) = torvyn_env(&args, env);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["edges"][0]["capacity"].as_u64().unwrap()
    };
    assert_eq!(capacity(&[], &[]), 64, "the manifest's queue_depth");
    assert_eq!(capacity(&[("TORVYN_QUEUE_DEPTH", "8")], &[]), 8, "environment beats manifest");
    assert_eq!(capacity(&[("TORVYN_QUEUE_DEPTH", "8")], &["--set", "queue_depth=4"]), 4, "command line beats environment");

    let (code, _, err) = torvyn_env(&["check", "examples/hello-world"], &[("TORVYN_MEMORY_LIMIT", "64Mb")]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: environment variable TORVYN_MEMORY_LIMIT: `runtime.memory_limit`: "), "{err}");
    assert!(err.contains("(got `64Mb`)"), "{err}");
    let (code, _, err) = torvyn_env(&["check", "examples/hello-world"], &[("TORVYN_QUEUE_DEPHT", "8")]);
    assert_eq!(code, 2);
    assert!(err.contains("TORVYN_QUEUE_DEPHT: `TORVYN_QUEUE_DEPHT`: not a setting; did you mean `runtime.queue_depth` (TORVYN_RUNTIME_QUEUE_DEPTH)?"), "{err}");
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let (_, plain, _) = torvyn(&["check", "examples/hello-world"]);
    assert!(!plain.contains('\x1b'), "not a terminal: no colour");
    let (_, forced, _) = torvyn_env(&["check", "examples/hello-world"], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(forced, "\x1b[32mok\x1b[0m flow `main`\n");
    let (_, off, _) = torvyn_env(&["check", "examples/hello-world"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(off, plain, "NO_COLOR wins");
}

#[test]
fn doctor_reports_the_toolchain_and_how_to_fix_what_is_missing() {
    let (code, out, _) = torvyn(&["--format", "json", "doctor"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let rustc = checks.iter().find(|c| c["what"] == "rustc").unwrap();
    assert!(rustc["found"].as_str().unwrap().starts_with("rustc "), "{rustc}");
    let target = checks.iter().find(|c| c["what"] == "wasm32-wasip2 target").unwrap();
    match target["found"].as_str() {
        Some(path) => assert!(std::path::Path::new(path).is_dir()),
        None => assert_eq!(target["fix"], "rustup target add wasm32-wasip2"),
    }
    assert_eq!(code, i32::from(v["ok"] == false));
    // Without a toolchain on PATH, everything is reported missing with its fix.
    let (code, out, _) = torvyn_env(&["doctor"], &[("PATH", "/nonexistent")]);
    assert_eq!(code, 1);
    assert!(out.contains("missing rustc"), "{out}");
    assert!(out.contains("wasm32-wasip2 target   missing; fix: rustup target add wasm32-wasip2"), "{out}");
}

/// Whether this machine can build guests (CI sets REQUIRE_WASM32_WASIP2=1
/// after installing the target, so there the build always runs).
#[test]
fn the_bundled_graph_examples_print_what_their_readmes_show() {
    let (code, out, err) = torvyn(&["run", "examples/fan-out"]);
    assert_eq!(code, 0, "{err}");
    let mut lines: Vec<&str> = out.lines().filter(|l| l.starts_with('[')).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "[errors] [errors seq 0] ERROR disk full on /var",
            "[errors] [errors seq 1] ERROR upstream timeout",
            "[errors] errors complete",
            "[info] [info seq 0] INFO service started",
            "[info] [info seq 1] INFO request served",
            "[info] info complete",
            "[pager] [pager seq 0] ERROR disk full on /var",
            "[pager] [pager seq 1] ERROR upstream timeout",
            "[pager] pager complete",
            "[warnings] [warnings seq 0] WARN slow response 900ms",
            "[warnings] warnings complete",
        ]
    );
    assert!(out.contains("  copies            25 (3.57 per element)"), "{out}");
    let readme = std::fs::read_to_string("examples/fan-out/README.md").unwrap();
    assert!(lines.iter().all(|l| readme.contains(l)), "README shows the output");

    let (code, out, err) = torvyn(&["run", "examples/token-streaming"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("[print]")).collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[4], "[print] complete");
    let readme = std::fs::read_to_string("examples/token-streaming/README.md").unwrap();
    assert!(lines.iter().all(|l| readme.contains(l)), "README shows the output");
    assert!(out.contains("  copies            70 (17.50 per element)"), "{out}");
}

#[test]
fn the_longest_timeout_waits_instead_of_panicking() {
    let (code, out, err) = torvyn(&["run", "examples/hello-world", "--timeout", "18446744073709551615"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("flow `main` completed"), "{out}");
}

#[test]
fn ctrl_c_cancels_a_flow_blocked_in_a_guest_and_exits_130() {
    let dir = temp_dir("ctrl-c");
    let manifest = dir.join("Torvyn.toml");
    std::fs::write(
        &manifest,
        common::linear(
            &[
                common::N("src", "counting-source", r#"{"count": 5}"#, ""),
                common::N("stuck", "blocking-guest", r#"{"wait": "block", "at": 0}"#, r#"capabilities = ["clock:monotonic"]"#),
                common::N("sink", "printing-sink", "", ""),
            ],
            "call_timeout_ms = 600000",
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_torvyn"))
        .args(["run", manifest.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    // SAFETY: sends SIGINT to the child we spawned (and have not reaped).
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let t0 = std::time::Instant::now();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(30), "torvyn run ignored Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("flow `main` cancelled"), "the summary is printed: {stdout}\n{stderr}");
}

#[test]
fn link_draws_the_flow_graph_as_dot_and_mermaid() {
    let (code, dot, err) = torvyn(&["--format", "dot", "link", "examples/fan-out"]);
    assert_eq!(code, 0, "{err}");
    // Graphviz's language, read back by pydot's parser.
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    assert!(python.exists(), "run ./scripts/test-all, which makes target/py with pydot");
    let script = "import sys, json, pydot\n(g,) = pydot.graph_from_dot_data(sys.stdin.read())\nprint(json.dumps({'nodes': sorted(n.get_name().strip('\"') for n in g.get_nodes() if n.get_name() != 'node'), 'edges': sorted([e.get_source().strip('\"'), e.get_destination().strip('\"'), e.get_label().strip('\"')] for e in g.get_edges())}))";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), dot.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pydot refused:\n{dot}");
    let g: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(g["nodes"], serde_json::json!(["errors", "info", "logs", "pager", "quiet", "route", "warnings"]));
    assert_eq!(g["edges"].as_array().unwrap().len(), 6);
    assert!(g["edges"].as_array().unwrap().contains(&serde_json::json!(["route", "quiet", "other · queue 16 · block"])), "{}", g["edges"]);
    assert!(dot.contains("\"route\\nrouter · prefix-router.wasm\""), "{dot}");

    let (code, mermaid, err) = torvyn(&["--format", "mermaid", "link", "examples/fan-out"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = mermaid.lines().collect();
    assert_eq!(lines[1], "flowchart LR");
    assert!(lines.contains(&"  n1[\"route<br/>router · prefix-router.wasm\"]"), "{mermaid}");
    assert!(lines.contains(&"  n1 -->|\"warnings · queue 16 · block\"| n4"), "{mermaid}");
    assert_eq!(lines.iter().filter(|l| l.contains("-->")).count(), 6);

    let (code, _, err) = torvyn(&["--format", "dot", "check", "examples/fan-out"]);
    assert_eq!(code, 2);
    assert!(err.contains("only `torvyn link` takes them"), "{err}");
}

#[test]
fn run_audit_prints_the_trail_after_the_summary() {
    let dir = common::cli::temp_dir("run-audit");
    let text = common::graph_text(
        &[
            common::N("src", "counting-source", r#"{"count": 2}"#, ""),
            common::N("probe", "wasi-probe", r#"{"connect": "127.0.0.1:9"}"#, r#"capabilities = ["clock:monotonic", "clock:wall", "filesystem", "network:tcp-connect:192.0.2.1:9"]"#),
            common::N("sink", "printing-sink", "{}", ""),
        ],
        &[("src", "probe"), ("probe", "sink")],
        "",
    );
    std::fs::write(dir.join("Torvyn.toml"), text).unwrap();
    let (code, out, err) = common::cli::torvyn_in(&dir, &["run", "--audit"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let trail = out.split("audit trail: ").nth(1).unwrap_or_else(|| panic!("{out}"));
    assert!(trail.lines().any(|l| l.contains("cap_denied_runtime") && l.contains("probe") && l.contains("network:tcp-connect") && l.contains("127.0.0.1:9")), "{out}");
    // `audit_target = "stdout"`: one JSON object per line, as they happen.
    let manifest = std::fs::read_to_string(dir.join("Torvyn.toml")).unwrap();
    std::fs::write(dir.join("Torvyn.toml"), format!("{manifest}\n[security]\naudit_target = \"stdout\"\n")).unwrap();
    let (code, out, err) = common::cli::torvyn_in(&dir, &["run"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let event: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["kind"] == "cap_denied_runtime" && v["capability"] == "network:tcp-connect")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!((event["node"].as_str(), event["target"].as_str()), (Some("probe"), Some("127.0.0.1:9")));
    std::fs::write(dir.join("Torvyn.toml"), &manifest).unwrap();
    let (code, out, err) = common::cli::torvyn_in(&dir, &["--format", "json", "run", "--audit"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(v["audit"].as_array().unwrap().iter().any(|e| e["kind"] == "cap_denied_runtime" && e["target"] == "127.0.0.1:9"), "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}
