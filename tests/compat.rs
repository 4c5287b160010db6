//! Projects written for the public Torvyn 0.1 run unchanged: its manifest
//! shapes (with our guests), its spellings, its CLI forms and settings
//! layers, and components built against an unversioned copy of the WIT.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{temp_dir, torvyn_in};
use common::{capture, printed, wasm};
use torvyn::{FlowState, Host, PipelineDef};

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

/// A project folder holding `manifest` and the named guests under
/// `components/<name>.wasm`, so manifests can use relative `file://` paths.
fn project(tag: &str, manifest: &str, guests: &[&str]) -> PathBuf {
    let dir = temp_dir(tag);
    std::fs::create_dir_all(dir.join("components")).unwrap();
    for g in guests {
        std::fs::copy(wasm(g), dir.join("components").join(format!("{g}.wasm"))).unwrap();
    }
    std::fs::write(dir.join("Torvyn.toml"), manifest).unwrap();
    dir
}

fn run(dir: &Path) -> torvyn::FlowSummary {
    let p = PipelineDef::load(dir).unwrap_or_else(|e| panic!("{e}"));
    Host::builder().build().unwrap().start_default_flow(&p).unwrap().wait(WAIT).unwrap()
}

#[test]
fn source_processor_sink_with_file_urls_relative_and_absolute() {
    capture();
    let manifest = format!(
        r#"[torvyn]
name = "file-urls"
version = "0.1.0"
contract_version = "0.1.0"
description = "public shape: file:// components"
authors = ["Alice <alice@example.com>"]
license = "Apache-2.0"
repository = "https://example.com/repo"

[flow.main]
description = "Tokenize input, upper-case, print"

[flow.main.nodes.source]
component = "file://./components/counting-source.wasm"
interface = "torvyn:streaming/source"
config = '{{"count": 4}}'

[flow.main.nodes.transform]
component = "file://{}"
interface = "torvyn:streaming/processor"

[flow.main.nodes.fu_sink]
component = "file://components/printing-sink.wasm"
interface = "torvyn:streaming/sink"

[[flow.main.edges]]
from = {{ node = "source", port = "output" }}
to = {{ node = "transform", port = "input" }}

[[flow.main.edges]]
from = {{ node = "transform", port = "output" }}
to = {{ node = "fu_sink", port = "input" }}
"#,
        wasm("uppercase")
    );
    let dir = project("file-urls", &manifest, &["counting-source", "printing-sink"]);
    let s = run(&dir);
    assert_eq!((s.state, s.elements), (FlowState::Completed, 4), "{:?}", s.error);
    assert_eq!(printed("fu_sink").0[0].1, "HELLO, WORLD! (MESSAGE 1)");
    // No warnings for a manifest that uses only keys with an effect.
    let p = PipelineDef::load(&dir).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.tables.project.authors, ["Alice <alice@example.com>"]);
}

#[test]
fn fast_source_into_slow_sink_with_a_flow_level_default_queue_depth() {
    capture();
    let manifest = r#"[torvyn]
name = "backpressure-demo"
version = "0.1.0"
contract_version = "0.1.0"

[flow.main]
description = "fast producer, slow consumer"
default_queue_depth = 16

[flow.main.nodes.producer]
component = "file://./components/counting-source.wasm"
interface = "torvyn:streaming/source"
config = '{"count": 300}'
priority = 10

[flow.main.nodes.fq_consumer]
component = "file://./components/printing-sink.wasm"
interface = "torvyn:streaming/sink"
priority = 1

[[flow.main.edges]]
from = { node = "producer", port = "output" }
to = { node = "fq_consumer", port = "input" }

[runtime.backpressure]
backpressure_policy = "block-producer"
low_watermark_ratio = 0.25

[runtime.scheduling]
policy = "weighted-fair"
default_priority = 5
"#;
    let dir = project("flow-depth", manifest, &["counting-source", "printing-sink"]);
    let s = run(&dir);
    assert_eq!((s.state, s.elements), (FlowState::Completed, 300), "{:?}", s.error);
    let e = &s.edges[0];
    assert_eq!((e.capacity, e.peak_depth, e.dropped), (16, 16, 0), "the fast producer fills the flow's queue and waits");
    let p = PipelineDef::load(&dir).unwrap();
    assert_eq!(p.flows[0].queue(0, &p.runtime).low_watermark, 4);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn source_filter_aggregator_sink() {
    capture();
    let manifest = r#"[torvyn]
name = "sentences"
version = "0.1.0"
contract_version = "0.1.0"

[[component]]
name = "tokens"
path = "components/token-source.wasm"
language = "rust"
config = '{"text": "hello big world. drop me. bye now."}'

[[component]]
name = "joiner"
path = "file://./components/sentence-joiner.wasm"

[flow.main.nodes.tokens]
component = "tokens"
interface = "torvyn:streaming/source"

[flow.main.nodes.keep]
component = "file://./components/keyword-filter.wasm"
interface = "torvyn:filtering/filter"
config = '{"contains": "me", "invert": true}'

[flow.main.nodes.joiner]
component = "joiner"
interface = "torvyn:aggregation/aggregator"

[flow.main.nodes.sfa_sink]
component = "file://./components/printing-sink.wasm"
interface = "torvyn:streaming/sink"

[[flow.main.edges]]
from = { node = "tokens", port = "output" }
to = { node = "keep", port = "input" }

[[flow.main.edges]]
from = { node = "keep", port = "output" }
to = { node = "joiner", port = "input" }

[[flow.main.edges]]
from = { node = "joiner", port = "output" }
to = { node = "sfa_sink", port = "input" }
"#;
    let dir = project("filter-aggregate", manifest, &["token-source", "keyword-filter", "sentence-joiner", "printing-sink"]);
    let s = run(&dir);
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    let sentences: Vec<String> = printed("sfa_sink").0.into_iter().map(|(_, t)| t).collect();
    assert_eq!(sentences, ["hello big world.", "drop bye now."]);
}

/// The public reference's full example manifest, every table, pointed at our guests.
const FULL: &str = r#"# Torvyn.toml — full three-component pipeline project
[torvyn]
name = "token-pipeline"
version = "0.1.0"
description = "A streaming pipeline that tokenizes, filters, and writes tokens"
contract_version = "0.1.0"
authors = ["Alice <alice@example.com>"]
license = "Apache-2.0"

[[component]]
name = "tokenizer"
path = "components/token-source.wasm"
language = "rust"

[[component]]
name = "token-filter"
path = "components/keyword-filter.wasm"
language = "rust"

[[component]]
name = "token-writer"
path = "components/printing-sink.wasm"
language = "rust"

[flow.main]
description = "Tokenize input, filter by policy, write to output"

[flow.main.nodes.tokenizer]
component = "file://./components/token-source.wasm"
interface = "torvyn:streaming/source"
config = '{"text": "a b c"}'
fuel_budget = 50_000_000
max_memory = "32MiB"

[flow.main.nodes.token-filter]
component = "file://./components/keyword-filter.wasm"
interface = "torvyn:filtering/filter"
config = '{"contains": "b", "invert": true}'
priority = 8

[flow.main.nodes.full-writer]
component = "token-writer"
interface = "torvyn:streaming/sink"

[[flow.main.edges]]
from = { node = "tokenizer", port = "output" }
to = { node = "token-filter", port = "input" }
queue_depth = 128

[[flow.main.edges]]
from = { node = "token-filter", port = "output" }
to = { node = "full-writer", port = "input" }
queue_depth = 32
backpressure = { backpressure_policy = "drop-oldest" }

[runtime]
worker_threads = 2
max_memory_per_component = "8MiB"
fuel_per_invocation = 0
component_init_timeout_ms = 5000
component_teardown_timeout_ms = 2000

[runtime.scheduling]
policy = "weighted-fair"
default_priority = 5

[runtime.backpressure]
default_queue_depth = 64
backpressure_policy = "block-producer"

[runtime.pools]
small_pool_size = 4096
medium_pool_size = 1024
large_pool_size = 256
huge_pool_size = 32
exhaustion_policy = "fallback-alloc"

[security]
default_capability_policy = "deny-all"
audit_enabled = true
audit_target = "file"

[security.grants.token-writer]
capabilities = ["stdio:stdout"]

[observability]
level = "production"
tracing_enabled = true
tracing_exporter = "stdout"
sample_rate = 0.01
metrics_enabled = true
metrics_exporter = "none"

[registry]
default = "https://registry.example.com"
"#;

#[test]
fn the_full_reference_manifest_parses_runs_and_every_key_has_an_effect() {
    let dir = project("full", FULL, &["token-source", "keyword-filter", "printing-sink"]);
    let p = PipelineDef::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let rt = &p.runtime;
    assert_eq!((rt.worker_threads, rt.memory_limit, rt.fuel, rt.queue_depth), (2, 8 << 20, None, 64));
    assert_eq!((rt.init_timeout, rt.teardown_timeout), (Duration::from_secs(5), Duration::from_secs(2)));
    let f = &p.flows[0];
    assert_eq!(f.nodes[0].memory_limit, Some(32 << 20));
    assert_eq!((f.queue(0, rt).depth, f.queue(1, rt).depth), (128, 32));
    assert_eq!(f.queue(1, rt).policy, torvyn::config::BackpressurePolicy::DropOldest);
    // [security.grants.token-writer] reaches the node running component `token-writer`.
    assert!(f.nodes[2].capabilities.contains(&"stdio:stdout".to_string()), "{:?}", f.nodes[2].capabilities);
    let warned: Vec<&str> = p.warnings.iter().map(|w| w.key.as_str()).collect();
    assert!(warned.is_empty(), "every key of the reference has an effect now: {warned:?}");
    assert_eq!(p.tables.registry.default.as_deref(), Some("https://registry.example.com"));
    for key in [
        "registry.default",
        "security.audit_enabled",
        "security.audit_target",
        "runtime.pools.small_pool_size",
        "runtime.scheduling.policy",
        "flow.main.nodes.tokenizer.fuel_budget",
        "observability.level",
        "observability.metrics_enabled",
        "observability.tracing_enabled",
        "observability.tracing_exporter",
        "observability.sample_rate",
        "observability.metrics_exporter",
    ] {
        assert!(!warned.contains(&key), "{key} has an effect: {warned:?}");
    }

    // `torvyn check` agrees, and runs the flow's contract checks.
    let (code, out, err) = torvyn_in(&dir, &["check", "--strict"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("warning: "), "{err}");
    // With --format json the granted stdout goes to stderr: stdout is one JSON document.
    let (code, out, err) = torvyn_in(&dir, &["--format", "json", "run"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["exit_code"], 0);
    assert!(err.contains("[seq 0] a"), "{err}");
    // It runs: the filter drops "b", the writer prints on the host's stdout.
    let (code, out, err) = torvyn_in(&dir, &["run", "--manifest", "Torvyn.toml", "--flow", "main"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("[seq 0] a\n") && out.contains("[seq 1] c\n") && !out.contains("] b\n"), "{out}");
}

#[test]
fn both_spellings_of_a_setting_work_and_check_says_which_won() {
    let manifest = format!(
        "[flow.main.nodes.a]\ncomponent = \"{}\"\n[flow.main.nodes.b]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"a\"\nto = \"b\"\n\n[runtime]\nmemory_limit = \"16MiB\"\nmax_memory_per_component = \"32MiB\"\ninit_timeout_ms = 100\nfuel_per_invocation = 50_000_000\ndefault_fuel_per_invocation = 70_000_000\n",
        wasm("counting-source"),
        wasm("printing-sink")
    );
    let dir = project("spellings", &manifest, &[]);
    let p = PipelineDef::load(&dir).unwrap();
    assert_eq!((p.runtime.memory_limit, p.runtime.fuel), (32 << 20, Some(70_000_000)));
    assert_eq!(p.runtime.init_timeout, Duration::from_millis(100), "one spelling alone");
    let (code, _, err) = torvyn_in(&dir, &["check"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("`runtime.memory_limit` and `runtime.max_memory_per_component` name the same setting; `runtime.max_memory_per_component` wins"), "{err}");
    assert!(err.contains("`runtime.default_fuel_per_invocation` wins"), "{err}");
    // A command-line override of one spelling replaces both.
    let (code, out, err) = torvyn_in(&dir, &["--format", "json", "run", "--config", "memory_limit=20MiB"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["exit_code"], 0);
}

#[test]
fn settings_layers_flags_environment_manifest_user_file() {
    let manifest = format!(
        "[flow.main.nodes.a]\ncomponent = \"{}\"\nconfig = '{{\"count\": 3}}'\n[flow.main.nodes.b]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"a\"\nto = \"b\"\n\n[runtime.backpressure]\ndefault_queue_depth = 16\n",
        wasm("counting-source"),
        wasm("printing-sink")
    );
    let dir = project("layers", &manifest, &[]);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.toml"), "[runtime]\nqueue_depth = 4\ncall_timeout_ms = 7\n\n[runtime.backpressure]\nbackpressure_policy = \"drop-newest\"\n").unwrap();
    let env_home = [("TORVYN_HOME", home.to_str().unwrap())];
    let edge = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["--format", "json", "link"];
        args.extend_from_slice(extra);
        let (code, out, err) = torvyn_in(&dir, &args, env);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        (v["edges"][0]["capacity"].as_u64().unwrap(), v["edges"][0]["policy"].as_str().unwrap().to_string())
    };
    // The user file sits below the manifest: its depth loses (the manifest
    // sets the same setting), its policy applies (the manifest sets none).
    assert_eq!(edge(&env_home, &[]), (16, "drop-newest".into()));
    // Environment, by key path, beats the manifest and the user file.
    let env = [env_home[0], ("TORVYN_RUNTIME_BACKPRESSURE_DEFAULT_QUEUE_DEPTH", "8"), ("TORVYN_RUNTIME_BACKPRESSURE_BACKPRESSURE_POLICY", "block")];
    assert_eq!(edge(&env, &[]), (8, "block".into()));
    // A flag beats the environment.
    assert_eq!(edge(&env, &["--config", "runtime.backpressure.default_queue_depth=2"]), (2, "block".into()));
    // XDG_CONFIG_HOME/torvyn/config.toml when TORVYN_HOME is not set.
    let xdg = dir.join("xdg");
    std::fs::create_dir_all(xdg.join("torvyn")).unwrap();
    std::fs::write(xdg.join("torvyn/config.toml"), "[runtime.backpressure]\nbackpressure_policy = \"error\"\n").unwrap();
    assert_eq!(edge(&[("XDG_CONFIG_HOME", xdg.to_str().unwrap())], &[]), (16, "error".into()));
    // Grants never come from the user file, and its keys raise no manifest warnings.
    std::fs::write(home.join("config.toml"), "[security.grants.b]\ncapabilities = [\"network\"]\n\n[observability]\ntracing_enabled = true\n").unwrap();
    let (code, _, err) = torvyn_in(&dir, &["check", "--strict"], &env_home);
    assert_eq!(code, 0, "{err}");
    let p = torvyn::config::Overrides::default().with_user_file(&home.join("config.toml")).unwrap();
    let loaded = PipelineDef::load_with(&dir, &p).unwrap();
    assert!(loaded.flows[0].nodes[1].capabilities.is_empty(), "{:?}", loaded.flows[0].nodes[1].capabilities);
    // A bad value in the user file names the file, line and key.
    std::fs::write(home.join("config.toml"), "[runtime]\nworker_threads = \"many\"\n").unwrap();
    let (code, out, err) = torvyn_in(&dir, &["--format", "json", "check"], &env_home);
    assert_eq!(code, 2, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["exit_code"], 2);
    let e = v["errors"][0].as_str().unwrap();
    assert!(e.contains("config.toml:2:") && e.contains("`runtime.worker_threads`") && e.contains("expected a non-negative integer"), "{e}");
    // An unknown key path in the environment is refused with a suggestion.
    let (code, _, err) = torvyn_in(&dir, &["check"], &[("TORVYN_RUNTIME_WORKER_THREAD", "2")]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `runtime.worker_threads` (TORVYN_RUNTIME_WORKER_THREADS)?"), "{err}");
}

#[test]
fn cli_forms_of_the_public_reference() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let forms: &[&[&str]] = &[
        &["run", "flow.main", "--manifest", "examples/hello-world/Torvyn.toml"],
        &["run", "--manifest", "examples/hello-world", "--flow", "main", "--limit", "2", "--timeout", "30s"],
        &["run", "examples/hello-world", "flow.main", "--log-level", "info"],
        &["--quiet", "run", "examples/hello-world", "--limit", "2"],
    ];
    for args in forms {
        let (code, out, err) = torvyn_in(&dir, args, &[]);
        assert_eq!(code, 0, "{args:?}: {out}\n{err}");
        assert!(out.contains("Hello, World!"), "{args:?}: {out}");
    }
    let (_, out, _) = torvyn_in(&dir, &["run", "--manifest", "examples/hello-world", "--limit", "2"], &[]);
    assert_eq!(out.matches("Hello, World!").count(), 2, "--limit 2: {out}");
    let (_, out, _) = torvyn_in(&dir, &["--quiet", "run", "examples/hello-world"], &[]);
    assert!(!out.contains("flow `main` completed"), "--quiet leaves only the guests' output: {out}");
    let (code, _, err) = torvyn_in(&dir, &["run", "examples/hello-world", "--flow", "main", "flow.other"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("two different flows"), "{err}");
    let (code, out, _) = torvyn_in(&dir, &["--format", "json", "run", "examples/hello-world", "--flow", "nosuch"], &[]);
    assert_eq!(code, 2, "naming a flow the manifest lacks is bad usage");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["exit_code"], 2);
    assert!(v["errors"][0].as_str().unwrap().contains("no flow named `nosuch`"), "{v}");
    // Argument errors are JSON documents too when JSON was asked for.
    let (code, out, _) = torvyn_in(&dir, &["--format", "json", "run", "examples/hello-world", "--limit", "many"], &[]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["errors"][0], "invalid value 'many' for '--limit <N>': invalid digit found in string", "{v}");
    let (code, _, err) = torvyn_in(&dir, &["run", "examples/hello-world", "--log-level", "loud"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("`loud` is not a log level"), "{err}");
    let (code, out, _) = torvyn_in(&dir, &["--color", "always", "check", "examples/hello-world"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("\x1b[32mok"), "{out}");
    let (code, out, _) = torvyn_in(&dir, &["inspect", "examples/components/wasm/uppercase.wasm", "--show", "interfaces"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("exports\n  torvyn:streaming/processor@0.1.0") && !out.contains("sha256"), "{out}");
    let (code, out, _) = torvyn_in(&dir, &["--format", "json", "schema"], &[]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["schema"]["properties"]["runtime"].is_object() && v["schema"]["properties"]["flow"].is_object(), "{v}");
    let (code, _, err) = torvyn_in(&dir, &["link", "examples/hello-world", "--components", "examples/components/wasm"], &[]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn an_oci_reference_that_cannot_be_pulled_names_the_key_and_the_registry() {
    let text = "[flow.main.nodes.reader]\ncomponent = \"oci://127.0.0.1:1/file-reader:1.0\"\ninterface = \"torvyn:streaming/source\"\n";
    let e = PipelineDef::from_toml_str(text, ".").unwrap_err();
    assert_eq!((e.key(), e.line()), ("flow.main.nodes.reader.component", Some(2)));
    assert!(e.to_string().contains("registry `127.0.0.1:1` cannot be reached"), "{e}");
    let bad = "[flow.main.nodes.reader]\ncomponent = \"oci://registry.example.com/File:1.0\"\n";
    let e = PipelineDef::from_toml_str(bad, ".").unwrap_err();
    assert!(e.to_string().contains("is not a repository name"), "{e}");
}

#[test]
fn unversioned_contract_names_link_as_0_1_0_beside_versioned_ones() {
    capture();
    let manifest = format!(
        "[flow.main.nodes.src]\ncomponent = \"{}\"\nconfig = '{{\"count\": 3}}'\n[flow.main.nodes.old]\ncomponent = \"{}\"\n[flow.main.nodes.new]\ncomponent = \"{}\"\n[flow.main.nodes.uv_sink]\ncomponent = \"{}\"\n[[flow.main.edges]]\nfrom = \"src\"\nto = \"old\"\n[[flow.main.edges]]\nfrom = \"old\"\nto = \"new\"\n[[flow.main.edges]]\nfrom = \"new\"\nto = \"uv_sink\"\n",
        wasm("counting-source"),
        wasm("unversioned-upper"),
        wasm("uppercase"),
        wasm("printing-sink")
    );
    let dir = project("unversioned", &manifest, &[]);
    let s = run(&dir);
    assert_eq!((s.state, s.elements), (FlowState::Completed, 3), "{:?}", s.error);
    assert_eq!(printed("uv_sink").0[2].1, "HELLO, WORLD! (MESSAGE 3)");
    let (code, _, err) = torvyn_in(&dir, &["check"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("names the contract without a version").count(), 1, "warned once: {err}");
    assert!(err.contains("`unversioned-upper.wasm`") && err.contains("linked as 0.1.0"), "{err}");
}
