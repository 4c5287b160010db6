//! `torvyn init <name> [--template source-sink|transform|full]`: a new
//! project with guest crates, the contract WIT they build against, a
//! manifest, and a README saying how to build and run it.

mod guests;

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::Format;
use super::manifest::{FAILURE, USAGE};
use crate::contracts::wit;

/// What the new project's flow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Template {
    /// A source and a sink.
    SourceSink,
    /// A source, a processor that upper-cases, and a sink.
    Transform,
    /// A source, a filter, a processor and a sink.
    Full,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project folder to create (its last part names the pipeline).
    pub name: PathBuf,
    #[arg(long, value_enum, default_value = "transform")]
    pub template: Template,
}

impl Template {
    /// The guest crates, upstream first: (crate name, source, config).
    fn stages(self) -> Vec<(&'static str, &'static str, &'static str)> {
        let source = ("source", guests::SOURCE, "{ count = 5 }");
        let transform = ("transform", guests::TRANSFORM, "");
        let filter = ("filter", guests::FILTER, "{ drop = \"3\" }");
        let sink = ("sink", guests::SINK, "");
        match self {
            Template::SourceSink => vec![source, sink],
            Template::Transform => vec![source, transform, sink],
            Template::Full => vec![source, filter, transform, sink],
        }
    }
}

fn manifest(name: &str, stages: &[(&str, &str, &str)]) -> String {
    let mut t = format!(
        "# The pipeline of `{name}`. Build the components first (see README.md).\n[torvyn]\nname = \"{name}\"\ncontract_version = \"0.1.0\"\n\n"
    );
    for (crate_name, _, config) in stages {
        t += &format!("[flow.main.nodes.{crate_name}]\ncomponent = \"target/wasm32-wasip2/release/{crate_name}.wasm\"\n");
        if !config.is_empty() {
            t += &format!("config = {config}\n");
        }
        t += "\n";
    }
    for w in stages.windows(2) {
        t += &format!("[[flow.main.edges]]\nfrom = \"{}\"\nto = \"{}\"\n\n", w[0].0, w[1].0);
    }
    t += "[runtime]\nqueue_depth = 64\n";
    t
}

fn readme(name: &str, stages: &[(&str, &str, &str)]) -> String {
    let chain: Vec<&str> = stages.iter().map(|s| s.0).collect();
    format!(
        "# {name}\n\nA Torvyn pipeline: {}. Each stage is a WebAssembly component built from a\nRust crate in `components/`, against the Torvyn contract in `wit/`.\n\n\
## Build\n\n```sh\nrustup target add wasm32-wasip2        # once\ncargo build --release --target wasm32-wasip2\n```\n\n\
## Run\n\n```sh\ntorvyn check        # every check, nothing runs\ntorvyn run          # runs flow `main` of Torvyn.toml\n```\n\n\
`torvyn link` shows the resolved graph; `torvyn inspect target/wasm32-wasip2/release/{}.wasm` shows\na component's world, imports and exports.\n",
        chain.join(" → "),
        chain[0]
    )
}

/// Every file of the project, relative to its folder.
fn files(name: &str, template: Template) -> Vec<(PathBuf, String)> {
    let stages = template.stages();
    let mut out = vec![
        (PathBuf::from("Torvyn.toml"), manifest(name, &stages)),
        (PathBuf::from("README.md"), readme(name, &stages)),
        (PathBuf::from(".gitignore"), "target/\n".to_string()),
        (
            PathBuf::from("Cargo.toml"),
            "[workspace]\nmembers = [\"components/*\"]\nresolver = \"2\"\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\npanic = \"abort\"\n".to_string(),
        ),
        (PathBuf::from("wit/torvyn-streaming/streaming.wit"), wit::STREAMING.to_string()),
    ];
    if template == Template::Full {
        out.push((PathBuf::from("wit/torvyn-filtering/filtering.wit"), wit::FILTERING.to_string()));
    }
    for (crate_name, source, _) in stages {
        let dir = Path::new("components").join(crate_name);
        out.push((dir.join("Cargo.toml"), guests::cargo_toml(crate_name)));
        out.push((dir.join("src/lib.rs"), source.to_string()));
    }
    out
}

pub fn init(args: InitArgs, format: Format) -> i32 {
    let Some(name) = args.name.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
        eprintln!("error: `{}` is not a usable project name", args.name.display());
        return USAGE;
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        eprintln!("error: project name `{name}` may contain only letters, digits, `-` and `_`");
        return USAGE;
    }
    if args.name.exists() && std::fs::read_dir(&args.name).map_or(true, |mut d| d.next().is_some()) {
        eprintln!("error: `{}` already exists and is not empty; choose another name", args.name.display());
        return USAGE;
    }
    let files = files(&name, args.template);
    for (rel, text) in &files {
        let path = args.name.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&path, text));
        if let Err(e) = written {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return FAILURE;
        }
    }
    match format {
        Format::Json => {
            let list: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
            println!("{}", json!({"project": args.name.display().to_string(), "files": list}));
        }
        Format::Human => {
            println!("created `{}` ({} files)", args.name.display(), files.len());
            println!("next:");
            println!("  cd {}", args.name.display());
            println!("  cargo build --release --target wasm32-wasip2");
            println!("  torvyn run");
        }
    }
    0
}
