//! `torvyn link [manifest] [flow]`: the resolved graph of one flow, as the
//! runtime will run it: nodes (in topological order) with their components,
//! worlds and sizes, and edges with their ports and queue capacities.

use clap::Args;
use serde_json::json;

use super::Format;
use super::manifest::{FAILURE, ManifestArgs};
use crate::engine::{Engine, EngineSettings};
use crate::linker;

#[derive(Args, Debug)]
pub struct LinkArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// The flow (default: `main`, or the manifest's only flow).
    pub flow: Option<String>,
}

pub fn link(args: LinkArgs, format: Format) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let flow = match args.flow.clone().or_else(|| pipeline.default_flow().map(|f| f.name.clone())) {
        Some(f) => f,
        None => {
            let names: Vec<&str> = pipeline.flows.iter().map(|f| f.name.as_str()).collect();
            eprintln!("error: the manifest has several flows and none is called `main`; name one of: {}", names.join(", "));
            return super::manifest::USAGE;
        }
    };
    let engine = match Engine::new(EngineSettings::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILURE;
        }
    };
    let linked = match linker::link(&engine, &pipeline, &flow) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILURE;
        }
    };
    let depth = linked.runtime.queue_depth;
    let nodes: Vec<_> = linked
        .stages
        .iter()
        .map(|s| {
            let (world, size, sha) = match &s.component {
                Some(c) => (
                    c.exports.world().to_string(),
                    Some(c.size),
                    Some(c.digest.iter().map(|b| format!("{b:02x}")).collect::<String>()),
                ),
                None => (format!("host endpoint ({})", s.node.component), None, None),
            };
            json!({
                "node": s.node.name,
                "role": s.role.interface(),
                "component": s.node.component,
                "world": world,
                "size": size,
                "sha256": sha,
                "capabilities": s.node.capabilities,
            })
        })
        .collect();
    let edges: Vec<_> = linked
        .graph
        .edges
        .iter()
        .map(|e| {
            json!({
                "from": linked.stages[e.from].node.name,
                "port": e.port,
                "to": linked.stages[e.to].node.name,
                "capacity": depth,
            })
        })
        .collect();
    match format {
        Format::Json => println!("{}", json!({"flow": linked.name, "nodes": nodes, "edges": edges})),
        Format::Human => {
            println!("flow `{}`: {} node(s), {} edge(s)", linked.name, nodes.len(), edges.len());
            println!("nodes");
            for n in &nodes {
                let size = n["size"].as_u64().map_or(String::new(), |s| format!(", {s} bytes"));
                println!(
                    "  {:<16} {:<34} {}{size}",
                    n["node"].as_str().unwrap_or_default(),
                    n["world"].as_str().unwrap_or_default(),
                    n["component"].as_str().unwrap_or_default()
                );
            }
            println!("edges");
            for e in &edges {
                println!(
                    "  {}.{} -> {}.input  (queue {})",
                    e["from"].as_str().unwrap_or_default(),
                    e["port"].as_str().unwrap_or_default(),
                    e["to"].as_str().unwrap_or_default(),
                    depth
                );
            }
        }
    }
    0
}
