//! Capabilities: a component that imports what needs a grant does not link
//! without it; with it, it gets exactly what was granted.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{N, capture, graph, lines_of};
use torvyn::{FlowState, Host};

fn probe(node: &str, config: &str, grants: &str) -> torvyn::PipelineDef {
    let extra = format!("capabilities = [{grants}]");
    graph(
        &[
            N(&format!("{node}_src"), "counting-source", r#"{"count": 2}"#, ""),
            N(node, "wasi-probe", config, &extra),
            N(&format!("{node}_sink"), "printing-sink", "{}", ""),
        ],
        &[(&format!("{node}_src"), node), (node, &format!("{node}_sink"))],
        "",
    )
}

#[test]
fn a_component_needing_ungranted_capabilities_is_refused_before_it_runs() {
    let p = probe("cap_none", "{}", "");
    let host = Host::builder().build().unwrap();
    let err = host.start_flow(&p, "main").err().expect("refused").to_string();
    assert_eq!(
        err,
        "2 problems:\n  - node `cap_none`: `wasi-probe.wasm` (torvyn:streaming/managed-transform) imports wasi:filesystem/types@0.2.12, wasi:filesystem/preopens@0.2.12 and so needs capability `filesystem`, which the node is not granted; add \"filesystem\" to its `capabilities` if it should have it, or rebuild the component without it\n  - node `cap_none`: `wasi-probe.wasm` (torvyn:streaming/managed-transform) imports wasi:sockets/network@0.2.12, wasi:sockets/instance-network@0.2.12, wasi:sockets/udp@0.2.12 and 4 more and so needs capability `network`, which the node is not granted; add \"network\" to its `capabilities` if it should have it, or rebuild the component without it"
    );
    assert!(host.list_flows().is_empty());
    // One grant is not enough.
    let p = probe("cap_half", "{}", r#""network""#);
    let err = host.start_flow(&p, "main").err().expect("refused").to_string();
    assert!(err.starts_with("node `cap_half`: `wasi-probe.wasm`") && err.contains("capability `filesystem`"), "{err}");
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
    let config = format!(r#"{{"dir": "{d}", "connect": "{addr}", "ask": "metrics,network,filesystem,admin"}}"#);
    let p = probe("cap_all", &config, &format!(r#""filesystem:{d}", "network", "metrics""#));
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
            "has metrics: true".to_string(),
            "has network: true".to_string(),
            "has filesystem: true".to_string(),
            "has admin: false".to_string(),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_filesystem_grant_without_a_directory_opens_nothing() {
    capture();
    let p = probe("cap_bare", r#"{"dir": "/tmp", "ask": "filesystem,network"}"#, r#""filesystem", "network""#);
    let host = Host::builder().build().unwrap();
    let s = host.start_flow(&p, "main").unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(s.state, FlowState::Completed, "{:?}", s.error);
    let lines: Vec<String> = lines_of("cap_bare").into_iter().map(|(_, l)| l).collect();
    assert_eq!(lines[0], "dir /tmp: Err(NotFound)");
    assert_eq!(lines[1], "root: Err(NotFound)");
    assert_eq!(&lines[3..], ["has filesystem: true", "has network: true"]);
}
