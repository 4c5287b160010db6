//! `torvyn inspect <file.wasm> [--show SECTION]`: a component's world,
//! contract version, exports, imports, the capabilities those imports need,
//! size and digest.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::manifest::{FAILURE, USAGE};
use super::{Format, output};
use crate::engine::{Engine, EngineSettings};

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    All,
    /// Exports and imports.
    Interfaces,
    /// The world and contract version.
    Contracts,
    /// The grants the component's imports need.
    Capabilities,
    /// Name, size and digest.
    Metadata,
    /// Size in bytes.
    Size,
    /// Recorded benchmark figures.
    Benchmarks,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A WebAssembly component (.wasm).
    pub file: PathBuf,
    /// Show one section only.
    #[arg(long, value_enum, default_value = "all")]
    pub show: Section,
}

pub fn inspect(args: InspectArgs) -> i32 {
    if args.show == Section::Benchmarks {
        output::error("no benchmark figures are recorded for components: `torvyn bench` comes with the observability subsystem");
        return FAILURE;
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            output::error(format!("cannot read `{}`: {e}", args.file.display()));
            return USAGE;
        }
    };
    let name = args
        .file
        .file_name()
        .map_or_else(|| args.file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let engine = match Engine::new(EngineSettings { cache: crate::engine::CacheLocation::UserDefault.open(), ..EngineSettings::default() }) {
        Ok(e) => e,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let found = match engine.inspect(&name, &bytes) {
        Ok(i) => i,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let digest = crate::observability::hex(&found.digest);
    let contract = match &found.contract {
        Ok(c) => json!({"world": c.world(), "role": c.role.interface(), "package": c.role.package(), "version": c.version.to_string()}),
        Err(e) => json!({"error": e.to_string()}),
    };
    let mut needs: Vec<&str> = found.imports.iter().filter_map(|i| crate::security::needs(i)).map(|n| n.suggest).collect();
    needs.sort_unstable();
    needs.dedup();
    let all = json!({
        "component": found.name,
        "size": found.size,
        "sha256": digest,
        "contract": contract,
        "exports": found.exports,
        "imports": found.imports,
        "capabilities": needs,
    });
    let keys: &[&str] = match args.show {
        Section::All | Section::Benchmarks => &["component", "size", "sha256", "contract", "exports", "imports", "capabilities"],
        Section::Interfaces => &["component", "exports", "imports"],
        Section::Contracts => &["component", "contract"],
        Section::Capabilities => &["component", "capabilities"],
        Section::Metadata => &["component", "size", "sha256"],
        Section::Size => &["component", "size"],
    };
    let shown: serde_json::Map<String, Value> = keys.iter().map(|k| (k.to_string(), all[*k].clone())).collect();
    match output::format() {
        Format::Json => output::result(Value::Object(shown)),
        Format::Human => print(&shown),
    }
    i32::from(found.contract.is_err())
}

fn print(v: &serde_json::Map<String, Value>) {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let list = |k: &str| v.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(size) = v.get("size") {
        println!("component  {} ({size} bytes)", text("component"));
    } else {
        println!("component  {}", text("component"));
    }
    if v.contains_key("sha256") {
        println!("sha256     {}", text("sha256"));
    }
    if let Some(c) = v.get("contract") {
        match c.get("error").and_then(Value::as_str) {
            Some(e) => println!("world      none: {e}"),
            None => {
                println!("world      {}", c["world"].as_str().unwrap_or_default());
                println!("contract   {}@{}", c["package"].as_str().unwrap_or_default(), c["version"].as_str().unwrap_or_default());
            }
        }
    }
    for section in ["exports", "imports"] {
        if v.contains_key(section) {
            println!("{section}");
            for e in list(section) {
                println!("  {}", e.as_str().unwrap_or_default());
            }
        }
    }
    if v.contains_key("capabilities") {
        let caps: Vec<String> = list("capabilities").iter().filter_map(|c| c.as_str().map(str::to_string)).collect();
        println!("needs      {}", if caps.is_empty() { "no grant".to_string() } else { caps.join(", ") });
    }
}
