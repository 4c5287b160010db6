//! `torvyn pack`: each component of a project as an OCI artifact (an image
//! layout directory, or a tar of one), optionally signed.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::manifest::{ManifestArgs, FAILURE, USAGE};
use super::{Format, output};
use crate::engine::{Engine, EngineSettings};
use crate::packaging::{self, PackInput};

#[derive(Args, Debug)]
pub struct PackArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Pack only this `[[component]]` (default: all of them).
    #[arg(long, value_name = "NAME")]
    pub component: Option<String>,
    /// Where to write: a directory (one layout per component inside,
    /// default `.torvyn/artifacts/` beside the manifest) or a `.tar` file
    /// (one component).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The tag (default: `[torvyn] version`, else `latest`).
    #[arg(long)]
    pub tag: Option<String>,
    /// Add the component's crate folder as a layer (without `target/`).
    #[arg(long)]
    pub include_source: bool,
    /// Sign each artifact (with `--key`, `TORVYN_SIGNING_KEY`, or the key
    /// `torvyn key generate` made).
    #[arg(long)]
    pub sign: bool,
    /// The private key to sign with.
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
}

/// Where `torvyn key generate` puts a key by default: `keys/torvyn.key` in
/// the user's Torvyn folder (`$TORVYN_HOME`, `~/.config/torvyn`).
pub fn default_key() -> Option<PathBuf> {
    crate::config::user_config_dir().map(|d| d.join("keys/torvyn.key"))
}

/// A component to pack: a `[[component]]`, or a `.wasm` a node names
/// directly (named after its file).
struct Packable {
    name: String,
    path: PathBuf,
    source: Option<PathBuf>,
}

fn components(pipeline: &crate::config::PipelineDef) -> Vec<Packable> {
    let mut out: Vec<Packable> = pipeline.components.iter().map(|c| Packable { name: c.name.clone(), path: c.path.clone(), source: c.source.clone() }).collect();
    for node in pipeline.flows.iter().flat_map(|f| f.nodes.iter()).filter(|n| n.endpoint.is_none()) {
        if out.iter().any(|c| c.path == node.path) {
            continue;
        }
        let stem = node.path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
        let name: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        out.push(Packable { name, path: node.path.clone(), source: None });
    }
    out
}

/// The folder of `.wit` files to ship with a component: its crate's
/// `wit/`, else the project's.
fn wit_dir(source: Option<&Path>, project: &Path) -> Option<PathBuf> {
    source.map(|s| s.join("wit")).filter(|d| d.is_dir()).or_else(|| Some(project.join("wit")).filter(|d| d.is_dir()))
}

pub fn pack(args: PackArgs) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let project = pipeline.file.as_deref().and_then(Path::parent).unwrap_or(Path::new(".")).to_path_buf();
    let all = components(&pipeline);
    let chosen: Vec<&Packable> = match &args.component {
        Some(name) => match all.iter().find(|c| &c.name == name) {
            Some(c) => vec![c],
            None => {
                let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
                output::error(format!("no component named `{name}`; the manifest uses: {}", names.join(", ")));
                return USAGE;
            }
        },
        None => all.iter().collect(),
    };
    if chosen.is_empty() {
        output::error("the manifest uses no component to pack");
        return USAGE;
    }
    let unbuilt: Vec<&str> = chosen.iter().filter(|c| !c.path.is_file()).map(|c| c.name.as_str()).collect();
    if !unbuilt.is_empty() {
        output::error(format!("not built yet: {}; run `torvyn build` first (nothing was packed)", unbuilt.join(", ")));
        return FAILURE;
    }
    let tar = args.output.as_ref().filter(|o| o.extension().is_some_and(|e| e == "tar")).cloned();
    if tar.is_some() && chosen.len() > 1 {
        output::error("a .tar output holds one component; pick it with --component NAME, or give a directory");
        return USAGE;
    }
    let key = if args.sign {
        let path = args.key.clone().or_else(|| std::env::var_os("TORVYN_SIGNING_KEY").map(PathBuf::from)).or_else(default_key);
        match path.map(|p| packaging::load_private(&p)) {
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                output::error(e);
                return FAILURE;
            }
            None => {
                output::error("--sign needs a key: pass --key PATH or make one with `torvyn key generate`");
                return USAGE;
            }
        }
    } else {
        if args.key.is_some() {
            output::warning("--key without --sign: the artifacts are not signed");
        }
        None
    };
    let engine = match Engine::new(EngineSettings { cache: pipeline.runtime.compilation_cache_dir.open(), ..EngineSettings::default() }) {
        Ok(e) => e,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let mut scratch = None;
    let out_dir = match (&tar, &args.output) {
        // A fresh folder nobody else could have prepared (created, not reused).
        (Some(t), _) => {
            let dir = std::env::temp_dir().join(format!("torvyn-pack-{}-{:016x}", std::process::id(), fastrand::u64(..)));
            if let Err(e) = std::fs::create_dir(&dir) {
                output::error(format!("cannot make a temporary folder for `{}`: {e}", t.display()));
                return FAILURE;
            }
            scratch = Some(dir.clone());
            dir.join("layout")
        }
        (None, Some(dir)) => dir.clone(),
        (None, None) => project.join(".torvyn/artifacts"),
    };
    let tag = args.tag.clone().or_else(|| pipeline.tables.project.version.clone()).unwrap_or_else(|| "latest".into());
    if let Err(e) = packaging::Reference::parse(&format!("x/y:{tag}")) {
        output::error(format!("--tag `{tag}`: {e}"));
        return USAGE;
    }
    let mut packed = Vec::new();
    for c in chosen {
        let wasm = match std::fs::read(&c.path) {
            Ok(b) => b,
            Err(e) => {
                output::error(format!("cannot read `{}` (component `{}`): {e}", c.path.display(), c.name));
                return FAILURE;
            }
        };
        let inspection = match engine.inspect(&c.name, &wasm) {
            Ok(i) => i,
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        };
        if let Err(e) = &inspection.contract {
            output::error(format!("component `{}` implements no Torvyn contract world, so it is not packed: {e}", c.name));
            return FAILURE;
        }
        if args.include_source && c.source.is_none() {
            output::error(format!("--include-source: component `{}` names a .wasm, not a crate folder, so there is no source to include", c.name));
            return USAGE;
        }
        let wit = wit_dir(c.source.as_deref(), &project);
        let layout = if tar.is_some() { out_dir.clone() } else { out_dir.join(&c.name) };
        let input = PackInput {
            name: &c.name,
            wasm: &wasm,
            inspection: &inspection,
            tag: &tag,
            version: pipeline.tables.project.version.as_deref(),
            source_url: pipeline.tables.project.repository.as_deref(),
            wit: wit.as_deref(),
            source: if args.include_source { c.source.as_deref() } else { None },
        };
        match packaging::pack(&layout, &input, key.as_ref()) {
            Ok(p) => packed.push(p),
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        }
    }
    if let Some(t) = &tar {
        let result = packaging::tar_dir(&out_dir, t);
        if let Some(dir) = &scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Err(e) = result {
            output::error(e);
            return FAILURE;
        }
        for p in &mut packed {
            p.layout = t.clone();
        }
    }
    match output::format() {
        Format::Json => output::result(json!({ "artifacts": packed })),
        Format::Human => {
            for p in &packed {
                let signed = p.signed_by.as_ref().map(|k| format!(", signed by key {k}")).unwrap_or_default();
                println!("packed {}:{} {} ({} bytes{signed}) -> {}", p.component, p.tag, p.digest, p.bytes, p.layout.display());
            }
        }
    }
    0
}
