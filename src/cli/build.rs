//! `torvyn build [manifest] [--component NAME] [--debug]`: builds every
//! component crate a manifest names (its `[[component]]` folders, and the
//! crates whose `target/` a node's `.wasm` path points into) for
//! `wasm32-wasip2`, or runs the component's `build_command`, then puts each
//! `[[component]]`'s `.wasm` in `.torvyn/build/<name>.wasm`, where the
//! manifest finds it. The manifest is checked first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};

use super::manifest::{FAILURE, ManifestArgs, USAGE};
use super::{Format, output};
use crate::config::schema::Language;
use crate::config::PipelineDef;

#[derive(Args, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Build only this [[component]] (repeatable; default: all).
    #[arg(long = "component", visible_alias = "target", value_name = "NAME")]
    pub components: Vec<String>,
    /// Build every component (the default).
    #[arg(long, conflicts_with = "components")]
    pub all: bool,
    /// Build with optimisations (the default, unless `[build] release = false`).
    #[arg(long, conflicts_with = "debug")]
    pub release: bool,
    /// Build without optimisations.
    #[arg(long)]
    pub debug: bool,
}

/// One thing to build.
struct Job {
    /// The `[[component]]` name, if the crate is one.
    name: Option<String>,
    dir: PathBuf,
    command: Option<String>,
    language: Option<Language>,
}

pub fn build(args: BuildArgs) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let base = pipeline.file.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    // What `check` can say before anything is built: the manifest (loaded
    // above, its warnings reported) and the project's WIT.
    let wit = super::check::wit_problems(&base);
    if !wit.is_empty() {
        wit.iter().for_each(output::error);
        return FAILURE;
    }
    let jobs = match jobs(&pipeline, &args.components) {
        Ok(j) => j,
        Err(e) => {
            output::error(e);
            return USAGE;
        }
    };
    let settings = &pipeline.tables.build;
    let release = !args.debug && (args.release || settings.release.unwrap_or(true));
    let target = settings.target.clone().unwrap_or_else(|| "wasm32-wasip2".into());
    if jobs.iter().any(|j| j.command.is_none()) && !target_installed(&target) {
        output::error(format!(
            "the `{target}` Rust target is not installed; run `rustup target add {target}` (or `torvyn doctor --fix`)"
        ));
        return USAGE;
    }
    let mut built = Vec::new();
    let started = Instant::now();
    for job in &jobs {
        let label = job.name.clone().unwrap_or_else(|| job.dir.display().to_string());
        if output::format() == Format::Human && !output::quiet() {
            eprintln!("building {label}");
        }
        let t = Instant::now();
        let artifact = match run_job(job, release, &target, &settings.extra_args) {
            Ok(a) => a,
            Err(e) => {
                output::error(format!("building `{label}`: {e}"));
                return FAILURE;
            }
        };
        let staged = match (&job.name, &artifact) {
            (Some(name), Some(wasm)) => match stage(&base, name, wasm) {
                Ok(p) => Some(p),
                Err(e) => {
                    output::error(format!("building `{label}`: {e}"));
                    return FAILURE;
                }
            },
            _ => None,
        };
        let shown = staged.clone().or(artifact.clone());
        let size = shown.as_ref().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
        if output::format() == Format::Human && !output::quiet() {
            match (&shown, size) {
                (Some(p), Some(s)) => println!("ok {label} -> {} ({:.1} KiB, {:.1} s)", p.display(), s as f64 / 1024.0, t.elapsed().as_secs_f64()),
                _ => println!("ok {label} ({:.1} s)", t.elapsed().as_secs_f64()),
            }
        }
        built.push(json!({
            "name": label,
            "source": job.dir.display().to_string(),
            "artifact": shown.map(|p| p.display().to_string()),
            "size_bytes": size,
            "elapsed_secs": t.elapsed().as_secs_f64(),
        }));
    }
    if output::format() == Format::Json {
        output::result(json!({"components": built, "output_dir": base.join(".torvyn/build").display().to_string(), "elapsed_secs": started.elapsed().as_secs_f64()}));
    } else if !output::quiet() {
        println!("built {} component(s) in {:.1} s", built.len(), started.elapsed().as_secs_f64());
    }
    0
}

/// The crates to build, each once: the `[[component]]` folders (those named,
/// or all), then crates found through node paths.
fn jobs(p: &PipelineDef, only: &[String]) -> Result<Vec<Job>, String> {
    for name in only {
        if !p.components.iter().any(|c| c.name == *name) {
            let known: Vec<&str> = p.components.iter().map(|c| c.name.as_str()).collect();
            return Err(format!("no [[component]] named `{name}`; the manifest has: {}", known.join(", ")));
        }
    }
    let mut jobs: Vec<Job> = Vec::new();
    for c in p.components.iter().filter(|c| only.is_empty() || only.contains(&c.name)) {
        let Some(dir) = c.source.clone() else { continue };
        jobs.push(Job { name: Some(c.name.clone()), dir, command: c.build_command.clone(), language: c.language });
    }
    if only.is_empty() {
        for n in p.flows.iter().flat_map(|f| f.nodes.iter()) {
            let Some(dir) = &n.unbuilt else { continue };
            if !jobs.iter().any(|j| j.dir == *dir) {
                jobs.push(Job { name: None, dir: dir.clone(), command: None, language: None });
            }
        }
    }
    if jobs.is_empty() {
        return Err("nothing to build: no [[component]] names a crate folder (components given as .wasm files are already built)".into());
    }
    Ok(jobs)
}

fn target_installed(target: &str) -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib").join(target))
        .is_some_and(|d| d.is_dir())
}

/// Build one crate; the `.wasm` it produced, when known.
fn run_job(job: &Job, release: bool, target: &str, extra: &[String]) -> Result<Option<PathBuf>, String> {
    if let Some(cmd) = &job.command {
        let status = Command::new("sh").args(["-c", cmd]).current_dir(&job.dir).status().map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
        if !status.success() {
            return Err(format!("`{cmd}` failed ({status})"));
        }
        return Ok(job.name.as_ref().and_then(|_| newest_wasm(&job.dir)));
    }
    if let Some(l) = job.language.filter(|l| *l != Language::Rust) {
        return Err(format!("no built-in build for language `{l:?}`; give the component a `build_command`").to_lowercase());
    }
    let mut cmd = Command::new("cargo");
    cmd.arg("build").arg("--target").arg(target).arg("--message-format=json-render-diagnostics");
    if release {
        cmd.arg("--release");
    }
    cmd.args(extra).current_dir(&job.dir).stderr(std::process::Stdio::inherit());
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build failed ({})", out.status));
    }
    // The component is the cdylib artifact of the crate in this folder.
    let manifest = std::fs::canonicalize(job.dir.join("Cargo.toml")).ok();
    let mut found = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let ours = msg["manifest_path"].as_str().map(PathBuf::from).and_then(|p| std::fs::canonicalize(p).ok()) == manifest;
        let wasm = msg["filenames"].as_array().into_iter().flatten().filter_map(Value::as_str).find(|f| f.ends_with(".wasm"));
        if let (true, Some(w)) = (ours, wasm) {
            found = Some(PathBuf::from(w));
        }
    }
    Ok(found)
}

/// The most recently written `.wasm` under `dir/target` (for build commands).
fn newest_wasm(dir: &Path) -> Option<PathBuf> {
    fn walk(d: &Path, depth: u32, best: &mut Option<(std::time::SystemTime, PathBuf)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 4 && !p.ends_with("deps") {
                walk(&p, depth + 1, best);
            } else if p.extension().is_some_and(|x| x == "wasm") {
                let t = e.metadata().and_then(|m| m.modified()).ok();
                if let Some(t) = t {
                    if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                        *best = Some((t, p));
                    }
                }
            }
        }
    }
    let mut best = None;
    walk(&dir.join("target"), 0, &mut best);
    best.map(|(_, p)| p)
}

/// Copy `wasm` to `.torvyn/build/<name>.wasm` (write then rename).
fn stage(base: &Path, name: &str, wasm: &Path) -> Result<PathBuf, String> {
    let dir = base.join(".torvyn/build");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dest = dir.join(format!("{name}.wasm"));
    let tmp = dir.join(format!(".{name}.wasm.tmp"));
    std::fs::copy(wasm, &tmp).and_then(|_| std::fs::rename(&tmp, &dest)).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    Ok(dest)
}
