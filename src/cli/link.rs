//! `torvyn link [manifest] [flow] [--components DIR]`: the resolved graph
//! of one flow, as the runtime will run it: nodes (in topological order)
//! with their components, worlds and sizes, and edges with their ports and
//! resolved queues (depth, watermark, policy: edge > flow >
//! `[runtime.backpressure]` > `[runtime]` > default).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::manifest::{FAILURE, ManifestArgs};
use super::{Format, output};
use crate::config::PipelineDef;
use crate::engine::{Engine, EngineSettings};
use crate::linker;

#[derive(Args, Debug)]
pub struct LinkArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Take each component from DIR/<component name>.wasm when it is there
    /// (instead of the manifest's path).
    #[arg(long, value_name = "DIR")]
    pub components: Option<PathBuf>,
}

/// Point every component (and node) named X at `dir/X.wasm` when it exists.
pub fn use_components_dir(pipeline: &mut PipelineDef, dir: &std::path::Path) {
    let found = |name: &str| Some(dir.join(format!("{name}.wasm"))).filter(|p| p.is_file());
    for c in &mut pipeline.components {
        if let Some(p) = found(&c.name) {
            c.path = p;
        }
    }
    for n in pipeline.flows.iter_mut().flat_map(|f| f.nodes.iter_mut()).filter(|n| n.endpoint.is_none()) {
        if let Some(p) = found(&n.component).or_else(|| found(&n.name)) {
            n.path = p;
            n.unbuilt = None;
        }
    }
}

pub use super::picture::Picture;

/// `picture`: draw the graph instead of listing it.
pub fn link(args: LinkArgs, picture: Option<Picture>) -> i32 {
    let mut pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(dir) = &args.components {
        if !dir.is_dir() {
            output::error(format!("--components `{}` is not a folder", dir.display()));
            return super::manifest::USAGE;
        }
        use_components_dir(&mut pipeline, dir);
    }
    let flow = match args.manifest.pick_flow(&pipeline) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let engine = match Engine::new(EngineSettings { cache: pipeline.runtime.compilation_cache_dir.open(), ..EngineSettings::default() }) {
        Ok(e) => e,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let linked = match linker::link(&engine, &pipeline, &flow) {
        Ok(l) => l,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let nodes: Vec<_> = linked
        .stages
        .iter()
        .map(|s| {
            let (world, size, sha) = match &s.component {
                Some(c) => (
                    c.exports.world().to_string(),
                    Some(c.size),
                    Some(crate::observability::hex(&c.digest)),
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
        .enumerate()
        .map(|(i, e)| {
            let q = linked.def.queue(i, &linked.runtime);
            json!({
                "from": linked.stages[e.from].node.name,
                "port": e.port,
                "to": linked.stages[e.to].node.name,
                "capacity": q.depth,
                "low_watermark": q.low_watermark,
                "policy": q.policy,
            })
        })
        .collect();
    if let Some(picture) = picture {
        print!("{}", super::picture::draw(picture, &linked.name, &nodes, &edges));
        return 0;
    }
    match output::format() {
        Format::Json => output::result(json!({"flow": linked.name, "nodes": nodes, "edges": edges})),
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
                    "  {}.{} -> {}.input  (queue {}, resumes at {}, {})",
                    e["from"].as_str().unwrap_or_default(),
                    e["port"].as_str().unwrap_or_default(),
                    e["to"].as_str().unwrap_or_default(),
                    e["capacity"],
                    e["low_watermark"],
                    e["policy"].as_str().unwrap_or_default()
                );
            }
        }
    }
    0
}
