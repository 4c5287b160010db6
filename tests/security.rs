//! Scoped grants at run time: files only under the granted paths and globs
//! with the granted mode, sockets only to granted peers, name lookups only
//! for granted hosts, environment variables only by name; every denial and
//! each first exercise in the audit trail and the per-capability counts.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{N, capture, graph, lines_of};
use torvyn::security::AuditKind;
use torvyn::{FlowState, Host};

/// The probe with what every test here grants it: the clocks it imports,
/// `filesystem` (links, opens nothing) and a connect nobody listens at.
fn probe(node: &str, config: &str, grants: &str) -> torvyn::PipelineDef {
    common::probe(node, config, &format!(r#""clock:monotonic", "clock:wall", "filesystem", "network:tcp-connect:192.0.2.1:9", {grants}"#))
}

#[test]
fn files_only_under_granted_paths_and_globs_with_the_granted_mode() {
    capture();
    let dir = std::env::temp_dir().join(format!("torvyn-scope-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("in/a.csv"), "1,2,3").unwrap();
    std::fs::write(dir.join("in/b.txt"), "secret").unwrap();
    std::fs::write(dir.join("out/old.txt"), "old").unwrap();
    // A link that matches the glob but leads to a file that does not.
    std::os::unix::fs::symlink(dir.join("in/b.txt"), dir.join("in/link.csv")).unwrap();
    let d = dir.display();
    let config = format!(
        r#"{{"dir": "{d}/in", "read": "{d}/in/a.csv,{d}/in/b.txt,{d}/out/old.txt,{d}/in/../in/a.csv,{d}/in/link.csv", "write": "{d}/out/new.txt,{d}/in/evil.csv", "rw": "{d}/out/old.txt"}}"#
    );
    let p = probe("fs_scope", &config, &format!(r#""filesystem:read:{d}/in/*.csv", "wasi:filesystem/write:{d}/out""#));
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&p, "main").unwrap();
    let s = flow.wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    let lines: Vec<String> =
        lines_of("fs_scope").into_iter().map(|(_, l)| l).filter(|l| ["dir", "read", "write", "rw"].iter().any(|p| l.starts_with(p))).collect();
    assert_eq!(
        lines,
        [
            // Listing shows only what the glob names, and not the link
            // (looking at it is refused: links are not followed here).
            format!("dir {d}/in: Ok(1)"),
            format!("read {d}/in/a.csv: Ok(5)"),
            format!("read {d}/in/b.txt: Err(PermissionDenied)"),
            format!("read {d}/out/old.txt: Err(PermissionDenied)"),
            // Leaving a granted directory with `..` is refused by the
            // sandbox itself, even on the way back in.
            format!("read {d}/in/../in/a.csv: Err(PermissionDenied)"),
            // Not followed: it would read past the glob.
            format!("read {d}/in/link.csv: Err(PermissionDenied)"),
            format!("write {d}/out/new.txt: Ok(())"),
            format!("write {d}/in/evil.csv: Err(PermissionDenied)"),
            // Write-only stays write-only, however the file is opened.
            format!("rw {d}/out/old.txt: Err(PermissionDenied)"),
        ]
    );
    assert_eq!(std::fs::read_to_string(dir.join("out/new.txt")).unwrap(), "written by wasi-probe");
    assert!(!dir.join("in/evil.csv").exists());

    // The audit trail: the first exercise of each grant, every denial.
    let events = flow.audit_events();
    let of = |kind: AuditKind| events.iter().filter(|e| e.kind == kind && e.node == "fs_scope").collect::<Vec<_>>();
    let exercised = of(AuditKind::Exercised);
    assert_eq!(exercised.len(), 2, "{events:#?}");
    // The first use of the read grant was opening its directory to list it.
    assert!(exercised.iter().any(|e| e.capability == format!("filesystem:read:{d}/in/*.csv") && e.target == format!("{d}/in")));
    assert!(exercised.iter().any(|e| e.capability == format!("filesystem:write:{d}/out") && e.target == format!("{d}/out/new.txt")));
    let denied: Vec<(&str, &str)> =
        of(AuditKind::Denied).iter().filter(|e| e.capability.starts_with("filesystem")).map(|e| (e.capability.as_str(), e.target.as_str())).collect();
    let b = format!("{d}/in/b.txt");
    let old = format!("{d}/out/old.txt");
    let evil = format!("{d}/in/evil.csv");
    assert_eq!(
        denied,
        [
            // The listing's look at the link.
            ("filesystem:read", "link.csv"),
            ("filesystem:read", b.as_str()),
            ("filesystem:read", old.as_str()),
            ("filesystem:read", "../in/a.csv"),
            ("filesystem:read", "link.csv"),
            ("filesystem:write", evil.as_str()),
            ("filesystem:read", old.as_str()),
        ]
    );
    let e = of(AuditKind::Denied).into_iter().find(|e| e.target == b).unwrap();
    assert_eq!((e.flow.as_str(), e.flow_id, e.component.as_str(), e.digest.len()), ("main", flow.id().get(), "wasi-probe.wasm", 64));
    assert!(e.time_unix_ns > 0 && e.outcome.contains("outside every filesystem grant"));

    // The per-capability counts, in the snapshot and at /metrics.
    let m = flow.metrics();
    let count = |cap: &str| m.capabilities.iter().find(|c| c.node == "fs_scope" && c.capability == cap).map(|c| (c.exercises, c.denials));
    // Every allowed use counts (the listing's open and stats, the read);
    // every refused one: the listing's look at the link, b.txt, old.txt,
    // `..`, the link, the rw open.
    let (reads, refused) = count("filesystem:read").unwrap();
    assert!(reads >= 2 && refused == 6, "{reads} {refused}");
    assert_eq!(count("filesystem:write"), Some((1, 1)));
    let text = torvyn::observability::prometheus_text(&host.metrics());
    assert!(text.contains(r#"torvyn_capability_denials_total{flow="main",flow_id=""#), "{text}");
    assert!(text.lines().any(|l| l.starts_with("torvyn_capability_exercises_total") && l.contains(r#"capability="filesystem:read""#) && l.ends_with(&format!(" {reads}"))), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sockets_and_lookups_only_to_granted_peers() {
    capture();
    let granted = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (g, o) = (granted.local_addr().unwrap(), other.local_addr().unwrap());
    let host = Host::builder().build().unwrap();
    let run = |node: &str, config: String, grants: String| {
        let flow = host.start_flow(&probe(node, &config, &grants), "main").unwrap();
        let s = flow.wait(Some(Duration::from_secs(60))).unwrap();
        assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
        let lines: Vec<String> = lines_of(node).into_iter().map(|(_, l)| l).filter(|l| !l.starts_with("root") && !l.starts_with("env")).collect();
        (lines, flow.audit_events())
    };
    let tcp = format!(r#""network:tcp-connect:127.0.0.1:{}""#, g.port());
    let (lines, _) = run("net_ok", format!(r#"{{"connect": "{g}"}}"#), tcp.clone());
    assert_eq!(lines, [format!("connect {g}: Ok(())")]);
    // Listening where a grant allows it.
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (lines, _) = run("net_listen", format!(r#"{{"listen": "{free}"}}"#), format!(r#""network:tcp-listen:{}""#, free.port()));
    assert_eq!(lines, [format!("listen {free}: Ok(())")]);
    let (lines, events) = run("net_other", format!(r#"{{"connect": "{o}", "resolve": "localhost", "listen": "127.0.0.1:0", "udp": "127.0.0.1:9"}}"#), tcp);
    assert_eq!(
        lines,
        [
            format!("connect {o}: Err(PermissionDenied)"),
            "resolve localhost: Err(PermissionDenied)".to_string(),
            "listen 127.0.0.1:0: Err(PermissionDenied)".to_string(),
            "udp 127.0.0.1:9: Err(PermissionDenied)".to_string(),
        ],
    );
    let denied: Vec<&str> = events.iter().filter(|e| e.kind == AuditKind::Denied).map(|e| e.target.as_str()).collect();
    assert!(denied.contains(&o.to_string().as_str()) && denied.contains(&"localhost"), "{events:#?}");
    assert!(events.iter().any(|e| e.kind == AuditKind::Denied && e.capability == "network:tcp-listen"), "{events:#?}");
    // A named host: its lookup is allowed, and connecting to what it resolves to.
    let (lines, events) = run(
        "net_named",
        format!(r#"{{"connect": "localhost:{}", "resolve": "localhost"}}"#, g.port()),
        format!(r#""network:egress:localhost:{}""#, g.port()),
    );
    assert_eq!(lines[0], format!("connect localhost:{}: Ok(())", g.port()));
    assert!(lines[1].starts_with("resolve localhost: Ok("), "{lines:?}");
    assert!(events.iter().any(|e| e.kind == AuditKind::Exercised && e.capability == format!("network:tcp-connect:localhost:{}", g.port())), "{events:#?}");
}

#[test]
fn environment_variables_only_by_granted_name() {
    capture();
    // SAFETY: set before any flow of this test binary reads the environment.
    unsafe {
        std::env::set_var("TORVYN_PROBE_OK", "yes");
        std::env::set_var("TORVYN_PROBE_SECRET", "hunter2");
    }
    let host = Host::builder().build().unwrap();
    let flow = host
        .start_flow(&probe("env_scope", r#"{"env": "TORVYN_PROBE_OK,TORVYN_PROBE_SECRET"}"#, r#""environment:read:TORVYN_PROBE_OK""#), "main")
        .unwrap();
    assert_eq!(flow.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    let lines: Vec<String> = lines_of("env_scope").into_iter().map(|(_, l)| l).filter(|l| l.starts_with("env")).collect();
    assert_eq!(lines, ["env vars: 1; args: 0", r#"env TORVYN_PROBE_OK: Ok("yes")"#, r#"env TORVYN_PROBE_SECRET: Err("NotPresent")"#]);
    let events = flow.audit_events();
    assert!(
        events.iter().any(|e| e.kind == AuditKind::Exercised && e.capability == "environment:read:TORVYN_PROBE_OK" && e.target == "TORVYN_PROBE_OK"),
        "{events:#?}"
    );
    // Without a grant the environment is empty, and asking for it is a denial.
    let bare = host.start_flow(&probe("env_none", "{}", ""), "main").unwrap();
    assert_eq!(bare.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    let denied: Vec<(String, String)> = bare.audit_events().into_iter().filter(|e| e.kind == AuditKind::Denied).map(|e| (e.capability, e.target)).collect();
    assert!(denied.contains(&("environment:read".to_string(), "*".to_string())), "{denied:?}");
}

#[test]
fn the_embedders_audit_sink_gets_link_refusals_and_runtime_denials_in_order() {
    capture();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&got);
    let host = Host::builder().audit_sink(move |e| sink.lock().unwrap().push(e.clone())).build().unwrap();
    // No clock grants: refused at link time, and audited.
    let bare = graph(
        &[N("al_src", "counting-source", "{}", ""), N("al_probe", "wasi-probe", "{}", r#"capabilities = ["filesystem", "network"]"#), N("al_sink", "printing-sink", "{}", "")],
        &[("al_src", "al_probe"), ("al_probe", "al_sink")],
        "",
    );
    assert!(host.start_flow(&bare, "main").is_err());
    let flow = host.start_flow(&probe("al_run", r#"{"read": "/etc/hostname"}"#, r#""filesystem:read:/nonexistent-torvyn/x""#), "main");
    // The granted path's directory does not exist: the stage cannot open it.
    assert!(flow.is_err() || flow.unwrap().wait(Some(Duration::from_secs(60))).unwrap().state != FlowState::Completed);
    let flow = host.start_flow(&probe("al_ok", r#"{"connect": "127.0.0.1:1"}"#, ""), "main").unwrap();
    assert_eq!(flow.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = got.lock().unwrap().clone();
        let link: Vec<_> = events.iter().filter(|e| e.kind == AuditKind::DeniedAtLink).collect();
        let run = events.iter().any(|e| e.kind == AuditKind::Denied && e.node == "al_ok" && e.target == "127.0.0.1:1");
        if link.len() == 2 && run {
            assert!(link.iter().any(|e| e.node == "al_probe" && e.capability == "clock:wall" && e.target == "wasi:clocks/wall-clock@0.2.12"), "{link:#?}");
            assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence), "in order");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{events:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_components_declared_needs_are_checked_against_its_grants() {
    capture();
    let declared = "[capabilities.required]\nwasi-filesystem-read = true\nwasi-random = false\n\n[capabilities.optional]\n\"random:crypto\" = true\n";
    let text = |grant: &str| {
        let extra = format!("capabilities = [{grant}]");
        let t = common::graph_text(
            &[N("need_src", "counting-source", r#"{"count": 3}"#, &extra), N("need_sink", "printing-sink", "{}", &extra)],
            &[("need_src", "need_sink")],
            "",
        );
        format!("{t}\n{declared}")
    };
    let host = Host::builder().build().unwrap();
    let refused = torvyn::PipelineDef::from_toml_str(&text(""), env!("CARGO_MANIFEST_DIR")).unwrap();
    let err = host.start_flow(&refused, "main").err().expect("refused").to_string();
    assert!(err.starts_with("2 problems"), "{err}");
    assert!(err.contains("node `need_src`: component `counting-source.wasm` requires capability `wasi-filesystem-read` (its manifest's `[capabilities.required]`)"), "{err}");
    let ok = torvyn::PipelineDef::from_toml_str(&text(r#""filesystem:read:/tmp""#), env!("CARGO_MANIFEST_DIR")).unwrap();
    let flow = host.start_flow(&ok, "main").unwrap();
    assert_eq!(flow.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    let missing: Vec<(String, String)> =
        flow.audit_events().into_iter().filter(|e| e.kind == AuditKind::OptionalMissing).map(|e| (e.node, e.capability)).collect();
    assert_eq!(missing, [("need_src".to_string(), "random:crypto".to_string()), ("need_sink".to_string(), "random:crypto".to_string())]);
    // A declared need that is no capability is refused where it is written.
    let bad = format!("{}\n[capabilities.required]\nwasi-filesytem-read = true\n", common::graph_text(&[N("a", "counting-source", "{}", ""), N("b", "printing-sink", "{}", "")], &[("a", "b")], ""));
    let err = torvyn::PipelineDef::from_toml_str(&bad, ".").unwrap_err().to_string();
    assert!(err.contains("capabilities.required.wasi-filesytem-read"), "{err}");
}

#[test]
fn audit_events_reach_a_rotating_file_named_in_the_manifest() {
    capture();
    let dir = common::cli::temp_dir("audit-file");
    let text = format!(
        "{}\n[security]\naudit_target = \"file\"\naudit_file = \"logs/audit.jsonl\"\naudit_max_bytes = \"4KiB\"\naudit_max_files = 2\n",
        common::graph_text(
            &[
                N("af_src", "counting-source", r#"{"count": 2}"#, ""),
                N("af_probe", "wasi-probe", r#"{"connect": "127.0.0.1:9"}"#, r#"capabilities = ["clock:monotonic", "clock:wall", "filesystem", "network:tcp-connect:192.0.2.1:9"]"#),
                N("af_sink", "printing-sink", "{}", ""),
            ],
            &[("af_src", "af_probe"), ("af_probe", "af_sink")],
            "",
        )
    );
    std::fs::write(dir.join("Torvyn.toml"), text).unwrap();
    let p = torvyn::PipelineDef::load(&dir).unwrap();
    let host = Host::builder().build().unwrap();
    let log = dir.join("logs/audit.jsonl");
    // Enough flows that the 4 KiB file rotates.
    for _ in 0..8 {
        let f = host.start_flow(&p, "main").unwrap();
        assert_eq!(f.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let rotated = dir.join("logs/audit.jsonl.1");
    while !(rotated.is_file() && log.is_file()) {
        assert!(std::time::Instant::now() < deadline, "no rotation in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!dir.join("logs/audit.jsonl.3").exists(), "at most audit_max_files old files");
    let text = std::fs::read_to_string(&rotated).unwrap();
    let events: Vec<torvyn::security::AuditEvent> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().any(|e| e.kind == AuditKind::Denied && e.node == "af_probe" && e.target == "127.0.0.1:9"), "{text}");
    assert!(std::fs::metadata(&rotated).unwrap().len() <= 4096);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rename_cannot_make_a_write_only_file_readable() {
    capture();
    let dir = std::env::temp_dir().join(format!("torvyn-rename-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pub")).unwrap();
    std::fs::write(dir.join("secret"), "write-only").unwrap();
    let d = dir.display();
    let grants = format!(r#""filesystem:write:{d}", "filesystem:read:{d}/pub""#);
    let host = Host::builder().build().unwrap();
    let flow = host.start_flow(&probe("mv_probe", &format!(r#"{{"rename": "{d}/secret>{d}/pub/secret"}}"#), &grants), "main").unwrap();
    assert_eq!(flow.wait(Some(Duration::from_secs(60))).unwrap().state, FlowState::Completed);
    let lines: Vec<String> = lines_of("mv_probe").into_iter().map(|(_, l)| l).filter(|l| l.starts_with("rename")).collect();
    assert_eq!(lines, [format!("rename {d}/secret {d}/pub/secret: Err(PermissionDenied)")]);
    assert!(dir.join("secret").is_file() && !dir.join("pub/secret").exists());
    assert!(flow.audit_events().iter().any(|e| e.kind == AuditKind::Denied && e.outcome.contains("readable under a grant the old one is not")));
    std::fs::remove_dir_all(&dir).unwrap();
}
