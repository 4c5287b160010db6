//! `torvyn check [manifest] [--flow NAME]`: every check that `start_flow`
//! makes (manifest, components, contracts, capabilities, graph), without
//! running anything.

use clap::Args;
use serde_json::json;

use super::Format;
use super::manifest::{FAILURE, ManifestArgs};
use super::style::{Paint, paint};
use crate::engine::{Engine, EngineSettings};
use crate::linker;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Check only this flow (default: every flow of the manifest).
    #[arg(long)]
    pub flow: Option<String>,
}

pub fn check(args: CheckArgs, format: Format) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let engine = match Engine::new(EngineSettings::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILURE;
        }
    };
    let names: Vec<String> = match &args.flow {
        Some(f) => vec![f.clone()],
        None => pipeline.flows.iter().map(|f| f.name.clone()).collect(),
    };
    let mut results = Vec::new();
    for name in &names {
        let problems = match linker::link(&engine, &pipeline, name) {
            Ok(_) => Vec::new(),
            Err(e) => e.messages(),
        };
        results.push((name.clone(), problems));
    }
    let ok = results.iter().all(|(_, p)| p.is_empty());
    match format {
        Format::Json => {
            let flows: Vec<_> = results
                .iter()
                .map(|(f, p)| json!({"flow": f, "ok": p.is_empty(), "problems": p}))
                .collect();
            println!("{}", json!({"ok": ok, "flows": flows}));
        }
        Format::Human => {
            for (flow, problems) in &results {
                if problems.is_empty() {
                    println!("{} flow `{flow}`", paint("ok", Paint::Good));
                } else {
                    println!("{} flow `{flow}`: {} problem(s)", paint("error", Paint::Bad), problems.len());
                    for p in problems {
                        println!("  - {p}");
                    }
                }
            }
        }
    }
    if ok { 0 } else { FAILURE }
}
