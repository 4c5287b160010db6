//! `torvyn inspect <file.wasm | layout | layout.tar | oci://…> [--show
//! SECTION]`: a component's world, contract version, exports, imports, the
//! capabilities those imports need, size and digest; for an artifact, also
//! its manifest digest and tag.

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
    /// A WebAssembly component (.wasm), a packed artifact (an OCI image
    /// layout folder or a tar of one), or a registry reference (`oci://…`,
    /// pulled into the cache).
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
    let (name, bytes, artifact) = match target(&args.file) {
        Ok(t) => t,
        Err((code, message)) => {
            output::error(message);
            return code;
        }
    };
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
        "artifact": artifact,
    });
    let keys: &[&str] = match args.show {
        Section::All | Section::Benchmarks => &["component", "size", "sha256", "artifact", "contract", "exports", "imports", "capabilities"],
        Section::Interfaces => &["component", "exports", "imports"],
        Section::Contracts => &["component", "contract"],
        Section::Capabilities => &["component", "capabilities"],
        Section::Metadata => &["component", "size", "sha256", "artifact"],
        Section::Size => &["component", "size"],
    };
    let shown: serde_json::Map<String, Value> = keys.iter().filter(|k| !all[**k].is_null()).map(|k| (k.to_string(), all[*k].clone())).collect();
    match output::format() {
        Format::Json => output::result(Value::Object(shown)),
        Format::Human => print(&shown),
    }
    i32::from(found.contract.is_err())
}

/// The component `target` names: its name, bytes, and the artifact it came
/// from (a layout, a tar of one, or a registry reference pulled into the
/// cache), or the exit code and message.
fn target(target: &std::path::Path) -> Result<(String, Vec<u8>, Value), (i32, String)> {
    let text = target.to_string_lossy();
    let failed = |e: crate::packaging::PackagingError| (FAILURE, e.to_string());
    if text.starts_with("oci://") {
        let reference = crate::packaging::Reference::parse(&text).map_err(|e| (USAGE, e.to_string()))?;
        let root = crate::engine::default_cache_root().ok_or((USAGE, "no cache directory to pull into: set TORVYN_HOME".to_string()))?;
        let resolved = crate::packaging::resolve(&reference, &crate::packaging::PullPolicy { root, ..Default::default() }).map_err(failed)?;
        let bytes = std::fs::read(&resolved.wasm).map_err(|e| (FAILURE, format!("cannot read `{}`: {e}", resolved.wasm.display())))?;
        let name = reference.repository.rsplit('/').next().unwrap_or_default().to_string();
        return Ok((name, bytes, json!({"reference": resolved.reference, "digest": resolved.digest})));
    }
    let is_layout = target.join("oci-layout").is_file() || target.extension().is_some_and(|e| e == "tar");
    if is_layout {
        let layout = crate::packaging::Layout::open(target).map_err(failed)?;
        let Some(c) = crate::packaging::layout_components(&layout).map_err(failed)?.into_iter().next() else {
            return Err((FAILURE, format!("`{text}` holds no Wasm component artifact")));
        };
        let wasm = layout.blob(&c.layer).map_err(failed)?;
        return Ok((c.name, wasm, json!({"layout": target, "tag": c.tag, "digest": c.digest})));
    }
    let bytes = std::fs::read(target).map_err(|e| (USAGE, format!("cannot read `{text}`: {e}")))?;
    let name = target.file_name().map_or_else(|| text.to_string(), |n| n.to_string_lossy().into_owned());
    Ok((name, bytes, Value::Null))
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
    if let Some(a) = v.get("artifact") {
        let from = a.get("reference").or_else(|| a.get("layout")).map(|f| f.as_str().map_or_else(|| f.to_string(), String::from)).unwrap_or_default();
        let tag = a.get("tag").and_then(Value::as_str).map(|t| format!(" tag {t}")).unwrap_or_default();
        println!("artifact   {from}{tag} ({})", a["digest"].as_str().unwrap_or_default());
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
