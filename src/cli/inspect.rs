//! `torvyn inspect <file.wasm>`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::Format;
use crate::engine::{Engine, EngineSettings};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A WebAssembly component (.wasm).
    pub file: PathBuf,
}

pub fn inspect(args: InspectArgs, format: Format) -> i32 {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", args.file.display());
            return 2;
        }
    };
    let name = args
        .file
        .file_name()
        .map_or_else(|| args.file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let engine = match Engine::new(EngineSettings::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let found = match engine.inspect(&name, &bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let digest: String = found.digest.iter().map(|b| format!("{b:02x}")).collect();
    match format {
        Format::Json => {
            let contract = match &found.contract {
                Ok(c) => json!({"world": c.world(), "role": c.role.interface(), "version": c.version.to_string()}),
                Err(e) => json!({"error": e.to_string()}),
            };
            println!(
                "{}",
                json!({
                    "component": found.name,
                    "size": found.size,
                    "sha256": digest,
                    "contract": contract,
                    "exports": found.exports,
                    "imports": found.imports,
                })
            );
        }
        Format::Human => {
            println!("component  {} ({} bytes)", found.name, found.size);
            println!("sha256     {digest}");
            match &found.contract {
                Ok(c) => {
                    println!("world      {}", c.world());
                    println!("contract   {}@{}", c.role.package(), c.version);
                }
                Err(e) => println!("world      none: {e}"),
            }
            println!("exports");
            for e in &found.exports {
                println!("  {e}");
            }
            println!("imports");
            for i in &found.imports {
                println!("  {i}");
            }
        }
    }
    i32::from(found.contract.is_err())
}
