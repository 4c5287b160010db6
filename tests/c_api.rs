//! The C face: the header is generated and in sync, compiles as C99 and C++,
//! and the C examples and tests, compiled with the system compiler against
//! the built `libtorvyn.so`, behave.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`, where cargo builds `libtorvyn.so` for this test
/// run (the copy one level up is refreshed only by `cargo build`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(dir.join("libtorvyn.so").exists(), "libtorvyn.so not found in {}", dir.display());
    dir
}

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("torvyn-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn compile(sources: &[&str], output: &str) -> PathBuf {
    let out = out_dir().join(output);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(cc)
        .args(["-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg(format!("-I{}", root().join("include").display()))
        .args(sources.iter().map(|s| root().join(s)))
        .arg(format!("-L{}", lib_dir().display()))
        .args(["-ltorvyn", "-lpthread", "-o"])
        .arg(&out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {sources:?} failed");
    out
}

fn run(exe: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .expect("run a C program");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn committed_header_matches_what_the_code_generates() {
    let generated = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("torvyn.h")).unwrap();
    let committed = Command::new("git")
        .args(["show", "HEAD:include/torvyn.h"])
        .current_dir(root())
        .output()
        .expect("git is needed to compare the header with the committed one");
    assert!(committed.status.success(), "include/torvyn.h is not committed");
    assert!(
        String::from_utf8_lossy(&committed.stdout) == generated,
        "include/torvyn.h differs from what src/ffi generates; commit the regenerated header"
    );
}

#[test]
fn header_compiles_cleanly_as_c99_and_cpp() {
    let probe = out_dir().join("probe.c");
    std::fs::write(&probe, "#include \"torvyn.h\"\nint main(void) { return (int)torvyn_abi_version() - TORVYN_ABI_VERSION; }\n").unwrap();
    for (compiler, std) in [("cc", "-std=c99"), ("c++", "-std=c++11")] {
        let mut cmd = Command::new(compiler);
        if compiler == "c++" {
            cmd.args(["-x", "c++"]);
        }
        let status = cmd
            .args([std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", "-o"])
            .arg(out_dir().join(format!("probe-{compiler}.o")))
            .arg(format!("-I{}", root().join("include").display()))
            .arg(&probe)
            .status()
            .expect("run the compiler");
        assert!(status.success(), "{compiler} {std} rejected the header");
    }
}

#[test]
fn run_pipeline_example_runs_hello_world() {
    let exe = compile(&["examples/c/run_pipeline.c"], "run_pipeline");
    let (code, out, err) = run(&exe, &[root().join("examples/hello-world").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("torvyn 0.1.0\n"), "{out}");
    let json: serde_json::Value = serde_json::from_str(out.lines().nth(1).unwrap()).unwrap();
    assert_eq!(json["state"], "completed");
    assert_eq!(json["elements"], 5);
    assert_eq!(json["copies"], 10);
    let (code, _, err) = run(&exe, &["/no/such/manifest"]);
    assert_eq!(code, 1);
    assert!(err.contains("torvyn_pipeline_load_file failed (status 2)"), "{err}");
}

#[test]
fn embed_example_pushes_through_wasm_and_reads_back_in_place() {
    let exe = compile(&["examples/c/embed.c"], "embed");
    let (code, out, err) = run(&exe, &[root().join("examples/embed").to_str().unwrap(), "200"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    for i in 0..200 {
        assert_eq!(lines[i], format!("{i} text/plain RECORD {i} FROM C"));
    }
    assert_eq!(lines[200], "received 200");
    let json: serde_json::Value = serde_json::from_str(lines[201].strip_prefix("summary ").unwrap()).unwrap();
    assert_eq!(json["state"], "completed");
    assert_eq!(json["elements"], 200);
    // Push (1) + the processor's read and write (2); the egress is read in place.
    assert_eq!(json["copies"], 600);
}

#[test]
fn grants_and_the_audit_trail_from_c() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let exe = compile(&["tests/c/audit.c"], "audit");
    let (code, out, err) = run(&exe, &[root().to_str().unwrap(), &port]);
    assert_eq!(code, 0, "{out}\n{err}");
    let line = |key: &str| out.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {out}")).to_string();
    let event: serde_json::Value = serde_json::from_str(&line("callback ")).unwrap();
    assert_eq!((event["node"].as_str(), event["capability"].as_str()), (Some("probe"), Some("network:tcp-connect")));
    assert_eq!(event["target"].as_str(), Some(format!("127.0.0.1:{port}").as_str()));
    let trail: serde_json::Value = serde_json::from_str(&line("trail ")).unwrap();
    assert!(trail.as_array().unwrap().iter().any(|e| e == &event), "{trail}");
    assert_eq!(line("denials "), "1");
}

#[test]
fn metrics_as_json_and_prometheus_text_and_the_level_from_c() {
    let exe = compile(&["tests/c/metrics.c"], "metrics");
    let (code, out, err) = run(&exe, &[root().to_str().unwrap(), "25"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let line = |key: &str| out.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {out}")).to_string();
    let running: serde_json::Value = serde_json::from_str(&line("host-running ")).unwrap();
    assert_eq!(running["flows_active"], 1);
    assert!(running["components_active"].as_u64().unwrap() >= 1);
    let flow: serde_json::Value = serde_json::from_str(&line("flow ")).unwrap();
    assert_eq!((flow["level"].as_str(), flow["elements"].as_u64(), flow["state"].as_str()), (Some("diagnostic"), Some(25), Some("completed")));
    // Diagnostic: every element timed.
    assert_eq!(flow["latency_ns"]["count"], 25);
    let processor = flow["nodes"].as_array().unwrap().iter().find(|n| n["instance"] == true).unwrap();
    assert_eq!((processor["invocations"].as_u64(), processor["processing_ns"]["count"].as_u64()), (Some(25), Some(25)));
    let trace: serde_json::Value = serde_json::from_str(&line("trace ")).unwrap();
    assert_eq!(trace["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(trace["spans"].as_array().unwrap().iter().filter(|s| s["call"] == "process").count(), 25, "diagnostic: a span per call");
    let text = line("text ").replace('|', "\n");
    assert!(text.contains(&format!("torvyn_flow_elements_total{{flow=\"main\",flow_id=\"{}\"}} 25", flow["flow_id"])), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn a_log_callback_may_call_torvyn_without_deadlocking_the_worker() {
    let exe = compile(&["tests/c/log_reentry.c"], "log_reentry");
    let (code, out, err) = run(&exe, &[root().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.trim(), "ok log callback calls torvyn");
}

#[test]
fn misuse_returns_the_right_status_with_a_message() {
    let exe = compile(&["tests/c/misuse.c"], "misuse");
    let (code, out, err) = run(&exe, &[root().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["ok null handles", "ok options", "ok manifests", "ok endpoints", "ok trap and cancel", "ok shutdown"]
    );
}

#[test]
fn a_thousand_hosts_flows_and_buffers_do_not_grow_resident_memory() {
    let exe = compile(&["tests/c/stress.c"], "stress");
    let (code, out, err) = run(&exe, &[root().to_str().unwrap(), "1000"]);
    assert_eq!(code, 0, "{out}\n{err}");
    println!("{out}");
    let figure = |key: &str| -> i64 {
        out.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {out}"))
    };
    assert_eq!(figure("iterations"), 1000);
    let growth = figure("growth_kib");
    assert!(growth < 2048, "resident memory grew by {growth} KiB over 800 create/free iterations");
}

#[test]
fn ten_thousand_flows_on_one_host_do_not_grow_resident_memory() {
    // Issue 9, item 4: a host used to keep every flow it started, so flows
    // run one after another on one host grew the process without bound.
    let exe = compile(&["tests/c/one_host.c"], "one_host");
    let (code, out, err) = run(&exe, &[root().to_str().unwrap(), "10000"]);
    eprintln!("{out}");
    assert_eq!(code, 0, "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("10000 flows on one host: "))
        .unwrap_or_else(|| panic!("no figures in {out}"));
    let kib = |key: &str| -> i64 {
        let (_, rest) = line.split_once(key).unwrap_or_else(|| panic!("no `{key}` in {line}"));
        rest.split(' ').next().unwrap().parse().unwrap_or_else(|e| panic!("`{key}` in {line}: {e}"))
    };
    let (before, after) = (kib("rss after 1000 = "), kib("after 10000 = "));
    assert!(before > 0 && after > 0, "{line}");
    assert!(after - before < 16 * 1024, "resident memory grew by {} KiB over 9000 flows on one host", after - before);
}
