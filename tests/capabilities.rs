//! Capabilities: a component that imports what needs a grant does not link
//! without it; with it, it gets exactly what was granted.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{N, capture, lines_of, probe};
use torvyn::{FlowState, Host};

/// The clocks every probe imports.
const CLOCKS: &str = r#""clock:monotonic", "clock:wall""#;

#[test]
fn a_component_needing_ungranted_capabilities_is_refused_before_it_runs() {
    let p = probe("cap_none", "{}", "");
    let host = Host::builder().build().unwrap();
    let err = host.start_flow(&p, "main").err().expect("refused").to_string();
    assert!(err.starts_with("4 problems:"), "{err}");
    for (import, grant) in [
        ("wasi:clocks/monotonic-clock@0.2.12", "clock:monotonic"),
        ("wasi:clocks/wall-clock@0.2.12", "clock:wall"),
        ("wasi:filesystem/types@0.2.12, wasi:filesystem/preopens@0.2.12", "filesystem:read:<path or glob>"),
        ("wasi:sockets/network@0.2.12, wasi:sockets/instance-network@0.2.12, wasi:sockets/udp@0.2.12 and 4 more", "network:tcp-connect:<host>:<port>"),
    ] {
        let line = err.lines().find(|l| l.contains(import)).unwrap_or_else(|| panic!("{import}: {err}"));
        assert!(line.contains("node `cap_none`: `wasi-probe.wasm`") && line.contains(&format!("add e.g. \"{grant}\"")), "{line}");
    }
    assert!(host.list_flows().is_empty());
    // Some grants are not enough.
    let p = probe("cap_half", "{}", &format!(r#"{CLOCKS}, "network""#));
    let err = host.start_flow(&p, "main").err().expect("refused").to_string();
    assert!(err.starts_with("node `cap_half`: `wasi-probe.wasm`") && err.contains("wasi:filesystem/types"), "{err}");
    // A misspelt grant is refused by name, with the closest one.
    let text = common::graph_text(&[N("a", "counting-source", "{}", r#"capabilities = ["clock:wal"]"#), N("b", "printing-sink", "{}", "")], &[("a", "b")], "");
    let err = torvyn::PipelineDef::from_toml_str(&text, ".").unwrap_err().to_string();
    assert!(err.contains("flow.main.nodes.a.capabilities[0]") && err.contains("did you mean `clock:wall`"), "{err}");
}

#[test]
fn granted_capabilities_open_exactly_what_they_name() {
    capture();
    let dir = std::env::temp_dir().join(format!("torvyn-grant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(dir.join(f), f).unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let d = dir.display();
    let config = format!(r#"{{"dir": "{d}", "connect": "{addr}", "ask": "filesystem:read,network:tcp-connect,network:tcp-listen,wasi-filesystem-read,torvyn:custom-metrics,admin"}}"#);
    let p = probe("cap_all", &config, &format!(r#"{CLOCKS}, "filesystem:{d}", "network:tcp-connect:127.0.0.1:{}", "torvyn:custom-metrics""#, addr.port()));
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    let lines: Vec<String> = lines_of("cap_all").into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines,
        [
            format!("dir {d}: Ok(3)"),
            "root: Err(NotFound)".to_string(),
            "env vars: 0; args: 0".to_string(),
            format!("connect {addr}: Ok(())"),
            "has filesystem:read: true".to_string(),
            "has network:tcp-connect: true".to_string(),
            "has network:tcp-listen: false".to_string(),
            "has wasi-filesystem-read: true".to_string(),
            "has torvyn:custom-metrics: true".to_string(),
            "has admin: false".to_string(),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_filesystem_grant_without_a_directory_opens_nothing() {
    capture();
    let p = probe("cap_bare", r#"{"dir": "/tmp", "ask": "filesystem,network"}"#, &format!(r#"{CLOCKS}, "filesystem", "network""#));
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    let lines: Vec<String> = lines_of("cap_bare").into_iter().map(|(_, l)| l).collect();
    assert_eq!(lines[0], "dir /tmp: Err(NotFound)");
    assert_eq!(lines[1], "root: Err(NotFound)");
    assert_eq!(&lines[3..], ["has filesystem: true", "has network: true"]);
}
