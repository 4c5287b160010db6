//! `torvyn init [name] [--template T]`: a new project with guest crates,
//! the contract WIT they build against, a manifest and a README. Template
//! names are the public Torvyn ones; `init`, `build`, `run` takes a new
//! project from nothing to a running pipeline.

mod guests;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::manifest::{FAILURE, USAGE};
use super::{Format, output};
use crate::contracts::wit;

/// What the new project's component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Template {
    /// A source (and an example sink to see its output).
    #[value(alias = "source-sink")]
    Source,
    /// A sink (fed by an example source).
    Sink,
    /// A processor that upper-cases (between an example source and sink).
    Transform,
    /// A filter that drops elements holding a keyword.
    Filter,
    /// A router that sends elements holding a keyword to a second port.
    Router,
    /// An aggregator that counts elements and bytes.
    Aggregator,
    /// A source, a filter, a processor and a sink.
    #[value(alias = "full")]
    FullPipeline,
    /// Only the manifest and the contract: add your own components.
    Empty,
}

/// The language of the component crates (only Rust templates exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Language {
    Rust,
    Go,
    Python,
    Zig,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project folder to create (its last part names the project;
    /// default: the current folder).
    pub name: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value = "transform")]
    pub template: Template,
    #[arg(short, long, value_enum, default_value = "rust")]
    pub language: Language,
    /// Do not run `git init`.
    #[arg(long)]
    pub no_git: bool,
    /// Only the template's own component: no example source or sink (`torvyn
    /// run` then feeds it from its built-in source and prints with its built-in sink).
    #[arg(long)]
    pub no_example: bool,
    /// The contract version the project targets.
    #[arg(long, value_name = "VERSION", default_value = "0.1.0")]
    pub contract_version: String,
    /// Write into a folder that exists and is not empty (files of the same
    /// name are replaced).
    #[arg(long)]
    pub force: bool,
}

/// One guest crate: name, source, config, and the port it leaves by.
#[derive(Clone, Copy)]
struct Stage {
    name: &'static str,
    source: &'static str,
    config: &'static str,
}

impl Template {
    /// The template's own crate.
    fn main(self) -> Option<Stage> {
        let (name, source, config) = match self {
            Template::Source => ("source", guests::SOURCE, "{ count = 5 }"),
            Template::Sink => ("sink", guests::SINK, ""),
            Template::Transform => ("transform", guests::TRANSFORM, ""),
            Template::Filter => ("filter", guests::FILTER, "{ drop = \"3\" }"),
            Template::Router => ("router", guests::ROUTER, ""),
            Template::Aggregator => ("aggregator", guests::AGGREGATOR, ""),
            Template::FullPipeline | Template::Empty => return None,
        };
        Some(Stage { name, source, config })
    }

    /// Every crate, upstream first.
    fn stages(self, examples: bool) -> Vec<Stage> {
        let source = Stage { name: "source", source: guests::SOURCE, config: "{ count = 5 }" };
        let sink = Stage { name: "sink", source: guests::SINK, config: "" };
        match (self, self.main()) {
            (Template::Empty, _) => Vec::new(),
            (Template::FullPipeline, _) => vec![
                source,
                Stage { name: "filter", source: guests::FILTER, config: "{ drop = \"3\" }" },
                Stage { name: "transform", source: guests::TRANSFORM, config: "" },
                sink,
            ],
            (_, Some(main)) if !examples => vec![main],
            (Template::Source, Some(main)) => vec![main, sink],
            (Template::Sink, Some(main)) => vec![source, main],
            (_, Some(main)) => vec![source, main, sink],
            (_, None) => Vec::new(),
        }
    }

    fn extra_wit(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Template::Filter | Template::Router | Template::FullPipeline => &[("wit/torvyn-filtering/filtering.wit", wit::FILTERING)],
            Template::Aggregator => &[("wit/torvyn-aggregation/aggregation.wit", wit::AGGREGATION)],
            _ => &[],
        }
    }
}

fn manifest(name: &str, contract: &str, template: Template, stages: &[Stage]) -> String {
    let mut t = format!(
        "# The pipeline of `{name}`. `torvyn build` builds the components, `torvyn run` runs flow `main`.\n[torvyn]\nname = \"{name}\"\nversion = \"0.1.0\"\ncontract_version = \"{contract}\"\n\n"
    );
    for s in stages {
        t += &format!("[[component]]\nname = \"{0}\"\npath = \"components/{0}\"\nlanguage = \"rust\"\n\n", s.name);
    }
    if stages.is_empty() {
        t += "# Add [[component]] entries and a [flow.main] table; see `torvyn schema` for every key.\n";
        return t;
    }
    t += "[flow.main]\ndescription = \"";
    t += match stages.len() {
        1 => "The component alone: `torvyn run` feeds and drains it with its built-in source and sink",
        _ => "From the source to the sink",
    };
    t += "\"\n\n";
    for s in stages {
        t += &format!("[flow.main.nodes.{0}]\ncomponent = \"{0}\"\n", s.name);
        if s.name == "router" && stages.len() > 1 {
            t += "config = { keyword = \"2\" }\n";
        }
        if !s.config.is_empty() {
            t += &format!("config = {}\n", s.config);
        }
        t += "\n";
    }
    for w in stages.windows(2) {
        t += &format!("[[flow.main.edges]]\nfrom = {{ node = \"{}\", port = \"output\" }}\nto = {{ node = \"{}\", port = \"input\" }}\n\n", w[0].name, w[1].name);
    }
    if template == Template::Router && stages.len() > 1 {
        t += "# Elements the router sends to its `matched` port also reach the sink.\n[[flow.main.edges]]\nfrom = { node = \"router\", port = \"matched\" }\nto = { node = \"sink\", port = \"input\" }\n\n";
    }
    t += "[runtime.backpressure]\ndefault_queue_depth = 64\n";
    t
}

fn readme(name: &str, stages: &[Stage]) -> String {
    let chain: Vec<&str> = stages.iter().map(|s| s.name).collect();
    let what = match chain.len() {
        0 => "no components yet".to_string(),
        1 => format!("the `{}` component alone (`torvyn run` feeds it numbered greetings and prints what it emits)", chain[0]),
        _ => chain.join(" → "),
    };
    format!(
        "# {name}\n\nA Torvyn pipeline: {what}. Each component is a WebAssembly component built from a\nRust crate in `components/`, against the Torvyn contract in `wit/`.\n\n\
## Build and run\n\n```sh\ntorvyn check        # manifest, WIT and (once built) every contract check\ntorvyn build        # cargo build --release --target wasm32-wasip2, for every component\ntorvyn run          # runs flow `main` of Torvyn.toml\ntorvyn run --limit 3 --input data.txt --output out.txt\n```\n\n\
`torvyn build` needs the wasm target once: `rustup target add wasm32-wasip2` (or `torvyn doctor --fix`).\n\
`torvyn link` shows the resolved graph; `torvyn inspect .torvyn/build/<component>.wasm` shows a\ncomponent's world, imports and exports.\n"
    )
}

/// Every file of the project, relative to its folder.
fn files(name: &str, args: &InitArgs) -> Vec<(PathBuf, String)> {
    let stages = args.template.stages(!args.no_example);
    let mut out = vec![
        (PathBuf::from("Torvyn.toml"), manifest(name, &args.contract_version, args.template, &stages)),
        (PathBuf::from("README.md"), readme(name, &stages)),
        (PathBuf::from(".gitignore"), "target/\n.torvyn/\n".to_string()),
        (PathBuf::from("wit/torvyn-streaming/streaming.wit"), wit::STREAMING.to_string()),
    ];
    if !stages.is_empty() {
        out.push((
            PathBuf::from("Cargo.toml"),
            "[workspace]\nmembers = [\"components/*\"]\nresolver = \"2\"\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\npanic = \"abort\"\n".to_string(),
        ));
    }
    for (path, text) in args.template.extra_wit() {
        out.push((PathBuf::from(path), text.to_string()));
    }
    for s in stages {
        let dir = Path::new("components").join(s.name);
        out.push((dir.join("Cargo.toml"), guests::cargo_toml(s.name)));
        out.push((dir.join("src/lib.rs"), s.source.to_string()));
    }
    out
}

pub fn init(args: InitArgs) -> i32 {
    if args.language != Language::Rust {
        output::error(format!(
            "--language {:?}: only Rust templates exist; a component in another language builds with its own toolchain (give its `build_command` in [[component]])",
            args.language
        ).to_lowercase());
        return USAGE;
    }
    if !crate::contracts::ContractVersion::parse(&args.contract_version).is_some_and(|v| v.compatible_with(crate::contracts::SUPPORTED)) {
        output::error(format!("--contract-version {}: this runtime speaks {}", args.contract_version, crate::contracts::SUPPORTED));
        return USAGE;
    }
    let folder = match &args.name {
        Some(n) => n.clone(),
        None => PathBuf::from("."),
    };
    let absolute = std::path::absolute(&folder).unwrap_or_else(|_| folder.clone());
    let Some(name) = absolute.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
        output::error(format!("`{}` is not a usable project name", folder.display()));
        return USAGE;
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        output::error(format!("project name `{name}` may contain only letters, digits, `-` and `_`"));
        return USAGE;
    }
    let occupied = folder.exists() && std::fs::read_dir(&folder).map_or(true, |mut d| d.next().is_some());
    if occupied && !args.force {
        output::error(format!("`{}` already exists and is not empty; choose another name, or pass --force", folder.display()));
        return USAGE;
    }
    let files = files(&name, &args);
    for (rel, text) in &files {
        let path = folder.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&path, text));
        if let Err(e) = written {
            output::error(format!("cannot write `{}`: {e}", path.display()));
            return FAILURE;
        }
    }
    let git = !args.no_git && !folder.join(".git").exists() && git_init(&folder);
    match output::format() {
        Format::Json => {
            let list: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
            output::result(json!({"project": folder.display().to_string(), "name": name, "files": list, "git_initialized": git}));
        }
        Format::Human => {
            println!("created `{}` ({} files)", folder.display(), files.len());
            println!("next:");
            if args.name.is_some() {
                println!("  cd {}", folder.display());
            }
            println!("  torvyn check");
            if args.template != Template::Empty {
                println!("  torvyn build");
                println!("  torvyn run");
            }
        }
    }
    0
}

/// `git init` in `folder`; false (and a warning) when git is not there.
fn git_init(folder: &Path) -> bool {
    match Command::new("git").args(["init", "-q"]).current_dir(folder).status() {
        Ok(s) if s.success() => true,
        _ => {
            output::warning("could not run `git init` (is git installed?); pass --no-git to skip it");
            false
        }
    }
}
