//! `torvyn check [manifest] [flow] [--strict]`: every check that
//! `start_flow` makes (manifest, WIT, components, contracts, capabilities,
//! graph), without running anything. Works before anything is built: a
//! component not built yet is a warning naming the command that builds it,
//! and its flow's contract checks wait for the build.

use clap::Args;
use serde_json::json;

use super::manifest::{FAILURE, ManifestArgs, USAGE};
use super::output;
use super::style::{Paint, paint};
use super::Format;
use crate::config::PipelineDef;
use crate::engine::{Engine, EngineSettings};
use crate::linker;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Treat warnings as errors (exit 2 when there are any).
    #[arg(long)]
    pub strict: bool,
}

/// One flow's verdict.
enum Verdict {
    Ok,
    /// Components not built yet: (node, command that builds it).
    Unbuilt(Vec<String>),
    Problems(Vec<String>),
}

pub fn check(args: CheckArgs) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut wit_ok = true;
    if let Some(dir) = pipeline.file.as_deref().and_then(|f| f.parent()) {
        for problem in wit_problems(dir) {
            output::error(problem);
            wit_ok = false;
        }
    }
    let engine = match Engine::new(EngineSettings { cache: pipeline.runtime.compilation_cache_dir.open(), ..EngineSettings::default() }) {
        Ok(e) => e,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let names: Vec<String> = match args.manifest.flow() {
        Some(_) => match args.manifest.pick_flow(&pipeline) {
            Ok(f) => vec![f],
            Err(code) => return code,
        },
        None => pipeline.flows.iter().map(|f| f.name.clone()).collect(),
    };
    let mut unversioned = Vec::new();
    let results: Vec<(String, Verdict)> = names.iter().map(|name| (name.clone(), verdict(&engine, &pipeline, name, &mut unversioned))).collect();
    let ok = wit_ok && results.iter().all(|(_, v)| !matches!(v, Verdict::Problems(_)));
    let flows: Vec<_> = results
        .iter()
        .map(|(f, v)| match v {
            Verdict::Ok => json!({"flow": f, "ok": true, "problems": [], "unbuilt": []}),
            Verdict::Unbuilt(u) => json!({"flow": f, "ok": true, "problems": [], "unbuilt": u}),
            Verdict::Problems(p) => json!({"flow": f, "ok": false, "problems": p, "unbuilt": []}),
        })
        .collect();
    for (flow, v) in &results {
        match v {
            Verdict::Ok => {}
            Verdict::Unbuilt(nodes) => {
                output::warning(format!("flow `{flow}`: contract checks wait until {} built (run `torvyn build`)", nodes.join(", ")))
            }
            // People read them under the flow's line below.
            Verdict::Problems(problems) if output::format() == Format::Json => {
                for p in problems {
                    output::error(format!("flow `{flow}`: {p}"));
                }
            }
            Verdict::Problems(_) => {}
        }
    }
    let warnings = output::warning_count();
    if output::format() == Format::Json {
        output::result(json!({"ok": ok && !(args.strict && warnings > 0), "flows": flows}));
    } else {
        for (flow, v) in &results {
            match v {
                Verdict::Ok => println!("{} flow `{flow}`", paint("ok", Paint::Good)),
                Verdict::Unbuilt(_) => println!("{} flow `{flow}` (not built yet)", paint("ok", Paint::Dim)),
                Verdict::Problems(p) => {
                    println!("{} flow `{flow}`: {} problem(s)", paint("error", Paint::Bad), p.len());
                    for problem in p {
                        println!("  - {problem}");
                    }
                }
            }
        }
    }
    if !ok {
        FAILURE
    } else if args.strict && warnings > 0 {
        if output::format() == Format::Human {
            eprintln!("{warnings} warning(s) and --strict: failing");
        }
        USAGE
    } else {
        0
    }
}

/// `warned`: components already warned about for unversioned contract names.
fn verdict(engine: &Engine, pipeline: &PipelineDef, flow: &str, warned: &mut Vec<String>) -> Verdict {
    let unbuilt: Vec<String> = pipeline
        .flow(flow)
        .into_iter()
        .flat_map(|f| f.nodes.iter())
        .filter(|n| n.needs_build())
        .map(|n| format!("`{}` ({})", n.name, n.component))
        .collect();
    if !unbuilt.is_empty() {
        return Verdict::Unbuilt(unbuilt);
    }
    // Checked as `torvyn run` runs it: a flow without a source or a sink
    // gets the built-in ones.
    let roles = match linker::node_roles(engine, pipeline, flow) {
        Ok(r) => r,
        Err(e) => return Verdict::Problems(e.messages()),
    };
    let mut wired = pipeline.clone();
    if let Some(def) = wired.flows.iter_mut().find(|f| f.name == flow) {
        match super::run_io::wire(def, &roles, None, None, false) {
            Ok(w) => {
                for note in w.notes {
                    output::note(format!("flow `{flow}`: {note} under `torvyn run`"));
                }
            }
            Err(e) => return Verdict::Problems(vec![e]),
        }
    }
    match linker::link(engine, &wired, flow) {
        Ok(linked) => {
            for c in linked.stages.iter().filter_map(|s| s.component.as_ref()) {
                if c.exports.unversioned && !warned.contains(&c.name) {
                    warned.push(c.name.clone());
                    output::warning(format!(
                        "component `{}` names the contract without a version (e.g. `{}`): it was built against a copy of the WIT without `@{}`, and is linked as {}",
                        c.name,
                        c.exports.role_export,
                        crate::contracts::SUPPORTED,
                        crate::contracts::SUPPORTED
                    ));
                }
            }
            Verdict::Ok
        }
        Err(e) => Verdict::Problems(e.messages()),
    }
}

/// The project's WIT files (`wit/**/*.wit` beside the manifest, and in each
/// component crate): each must parse as WIT.
pub(super) fn wit_problems(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    collect_wit(&dir.join("wit"), &mut files, 0);
    if let Ok(rd) = std::fs::read_dir(dir.join("components")) {
        for e in rd.flatten() {
            collect_wit(&e.path().join("wit"), &mut files, 0);
        }
    }
    files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            crate::contracts::check_wit_syntax(&f.display().to_string(), &text).err().map(|e| format!("{}: not valid WIT: {e}", f.display()))
        })
        .collect()
}

fn collect_wit(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 4 {
            collect_wit(&p, out, depth + 1);
        } else if p.extension().is_some_and(|x| x == "wit") {
            out.push(p);
        }
    }
}
