//! The public quickstart, step by step: `torvyn init` with every template,
//! `torvyn check` before anything is built, `torvyn build`, `torvyn run`.

mod common;

use common::cli::{temp_dir, torvyn_in, wasm_target_installed};

const TEMPLATES: &[&str] = &["source", "sink", "transform", "filter", "router", "aggregator", "full-pipeline", "empty"];

#[test]
fn every_template_inits_checks_before_building_builds_and_runs() {
    let dir = temp_dir("quickstart");
    let target = dir.join("cargo-target");
    let here = |p: &std::path::Path, args: &[&str]| torvyn_in(p, args, &[("CARGO_TARGET_DIR", target.to_str().unwrap())]);
    for template in TEMPLATES.iter().chain(&["source-sink", "full"]) {
        let project = dir.join(format!("my-{template}"));
        let (code, out, err) = here(&dir, &["init", project.file_name().unwrap().to_str().unwrap(), "--template", template, "--no-git"]);
        assert_eq!(code, 0, "{template}: {err}");
        assert!(out.starts_with(&format!("created `my-{template}`")), "{out}");
        for f in ["Torvyn.toml", "README.md", ".gitignore", "wit/torvyn-streaming/streaming.wit"] {
            assert!(project.join(f).is_file(), "{template}: {f}");
        }
        // Before building: valid, with a warning naming the command that builds.
        let (code, _, err) = here(&project, &["check"]);
        assert_eq!(code, 0, "{template}: {err}");
        if *template == "empty" {
            assert!(err.contains("defines no flow yet"), "{err}");
        } else {
            assert!(err.contains("is not built yet; run `torvyn build"), "{template}: {err}");
            let (code, _, err) = here(&project, &["check", "--strict"]);
            assert_eq!(code, 2, "warnings fail under --strict: {err}");
        }
    }
    for (template, extra) in [("router", "components/router/src/lib.rs"), ("aggregator", "wit/torvyn-aggregation/aggregation.wit"), ("full-pipeline", "components/filter/src/lib.rs")] {
        assert!(dir.join(format!("my-{template}")).join(extra).is_file(), "{template}: {extra}");
    }
    assert!(!dir.join("my-empty/Cargo.toml").exists(), "an empty project has no crates");

    // An existing project is not overwritten without --force.
    let (code, _, err) = here(&dir, &["init", "my-transform"]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    let (code, _, err) = here(&dir, &["init", "other", "--language", "zig"]);
    assert_eq!(code, 2);
    assert!(err.contains("only rust templates exist"), "{err}");
    let (code, _, err) = here(&dir, &["init", "other", "--contract-version", "9.0.0"]);
    assert_eq!(code, 2);
    assert!(err.contains("this runtime speaks 0.1"), "{err}");

    // The one-component form: only the transform crate.
    let (code, _, err) = here(&dir, &["init", "solo", "--template", "transform", "--no-example", "--no-git"]);
    assert_eq!(code, 0, "{err}");
    assert!(!dir.join("solo/components/source").exists());

    if !wasm_target_installed() {
        eprintln!("wasm32-wasip2 is not installed: projects were checked but not built");
        return;
    }
    let expected: &[(&str, &[&str])] = &[
        ("source", &["[sink] [0] hello number 1", "[sink] [1] hello number 2", "[sink] [2] hello number 3", "[sink] done"]),
        ("sink", &["[sink] [0] hello number 1", "[sink] [1] hello number 2", "[sink] [2] hello number 3", "[sink] done"]),
        ("transform", &["[sink] [0] HELLO NUMBER 1", "[sink] [1] HELLO NUMBER 2", "[sink] [2] HELLO NUMBER 3", "[sink] done"]),
        ("filter", &["[sink] [0] hello number 1", "[sink] [1] hello number 2", "[sink] done"]),
        ("router", &["[sink] [0] hello number 1", "[sink] [1] hello number 2", "[sink] [2] hello number 3", "[sink] done"]),
        ("aggregator", &["[sink] [0] 3 elements, 42 bytes", "[sink] done"]),
        ("full-pipeline", &["[sink] [0] HELLO NUMBER 1", "[sink] [1] HELLO NUMBER 2", "[sink] done"]),
    ];
    for (template, lines) in expected {
        let project = dir.join(format!("my-{template}"));
        let (code, out, err) = here(&project, &["build"]);
        assert_eq!(code, 0, "{template}: {out}\n{err}");
        assert!(project.join(".torvyn/build").read_dir().unwrap().count() >= 2, "{template}: staged components");
        let (code, _, err) = here(&project, &["check", "--strict"]);
        assert_eq!(code, 0, "{template}: built, nothing to warn about: {err}");
        let (code, out, err) = here(&project, &["run", "--limit", "3"]);
        assert_eq!(code, 0, "{template}: {out}\n{err}");
        let got: Vec<&str> = out.lines().filter(|l| l.starts_with("[sink]")).collect();
        assert_eq!(&got, lines, "{template}: {out}");
        assert!(out.contains("flow `main` completed"), "{out}");
    }
    // The rest of the public quickstart, in its order: trace, then bench.
    let project = dir.join("my-transform");
    let (code, out, err) = here(&project, &["trace", "--limit", "3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("element ")).count(), 3, "{out}");
    for stage in ["source", "transform", "sink"] {
        assert_eq!(out.lines().filter(|l| l.trim_start().starts_with(stage)).count(), 3, "{stage}: {out}");
    }
    let (code, out, err) = here(&project, &["bench", "--duration", "1s", "--warmup", "0s"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("copies            4.00 per element"), "{out}");
    let rate: f64 = out.split("throughput").nth(1).and_then(|t| t.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0.0);
    assert!(rate > 0.0, "{out}");
    // The solo transform runs between the built-in source and sink.
    let solo = dir.join("solo");
    let (code, out, err) = here(&solo, &["build", "--component", "transform"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = here(&solo, &["run", "--limit", "2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("HELLO, TORVYN! (1)\nHELLO, TORVYN! (2)\n"), "{out}");
    let (code, _, err) = here(&solo, &["build", "--component", "nosuch"]);
    assert_eq!(code, 2);
    assert!(err.contains("no [[component]] named `nosuch`; the manifest has: transform"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_build_command_replaces_cargo() {
    let dir = temp_dir("build-command");
    std::fs::create_dir_all(dir.join("made")).unwrap();
    let manifest = format!(
        "[torvyn]\nname = \"made\"\n\n[[component]]\nname = \"upper\"\npath = \"made\"\nlanguage = \"zig\"\nbuild_command = \"mkdir -p target/out && cp {} target/out/upper.wasm\"\n\n[flow.main.nodes.u]\ncomponent = \"upper\"\n",
        common::wasm("uppercase")
    );
    std::fs::write(dir.join("Torvyn.toml"), manifest).unwrap();
    let (code, _, err) = torvyn_in(&dir, &["run", "--limit", "1"], &[]);
    assert_eq!(code, 1, "not built yet");
    assert!(err.contains("is not built yet") && err.contains("torvyn build"), "{err}");
    let (code, out, err) = torvyn_in(&dir, &["build"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(dir.join(".torvyn/build/upper.wasm").is_file(), "{out}");
    let (code, out, err) = torvyn_in(&dir, &["run", "--limit", "2"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("HELLO, TORVYN! (1)\nHELLO, TORVYN! (2)\n"), "{out}");
    // A failing command fails the build, naming it.
    let broken = std::fs::read_to_string(dir.join("Torvyn.toml")).unwrap().replace("mkdir -p", "false &&");
    std::fs::write(dir.join("Torvyn.toml"), broken).unwrap();
    let (code, _, err) = torvyn_in(&dir, &["build"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("building `upper`") && err.contains("failed"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
