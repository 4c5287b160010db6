//! The `torvyn` command: the command-line face of the library.
//!
//! Exit codes: 0 success, 1 the pipeline or a check failed (or `doctor`
//! found something missing), 2 bad usage or missing input (and `check
//! --strict` with warnings), 130 interrupted.

mod bench;
mod build;
mod cache;
mod check;
mod doctor;
mod init;
mod inspect;
mod key;
mod link;
mod logger;
mod manifest;
mod output;
mod pack;
mod picture;
mod publish;
mod pull;
mod run;
mod run_io;
mod style;
mod trace;

use clap::{Parser, Subcommand, ValueEnum};

/// How commands print their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// One JSON document on stdout (guest output goes to stderr).
    Json,
}

/// What `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CliFormat {
    Human,
    Json,
    /// A Graphviz picture of the flow (`torvyn link` only).
    Dot,
    /// A Mermaid flowchart of the flow (`torvyn link` only).
    Mermaid,
}

/// When to colour human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Only on a terminal, and never with NO_COLOR set.
    Auto,
    Always,
    Never,
}

/// Run sandboxed WebAssembly component pipelines.
#[derive(Parser, Debug)]
#[command(
    name = "torvyn",
    version,
    about,
    after_help = "Exit codes: 0 success; 1 the pipeline or a check failed; 2 bad usage, missing input, or warnings under check --strict; 3 bench --compare found a regression; 130 interrupted.\n\
Settings, highest first: --config KEY=VALUE; TORVYN_<KEY PATH> (e.g. TORVYN_RUNTIME_WORKER_THREADS=2, or TORVYN_QUEUE_DEPTH for a [runtime] key); the manifest; $XDG_CONFIG_HOME/torvyn/config.toml (or ~/.config/torvyn/config.toml, or $TORVYN_HOME/config.toml); defaults.\n\
TORVYN_LOG=error|warn|info|debug|trace sets Torvyn's log level; NO_COLOR turns colour off."
)]
struct Cli {
    /// More diagnostics on stderr (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    verbose: u8,
    /// Only errors and what the command exists to print.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Output format: human, json; `torvyn link` also draws the graph as
    /// dot (Graphviz) or mermaid.
    #[arg(long, value_enum, default_value = "human", global = true)]
    format: CliFormat,
    /// Colour: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a flow of a pipeline manifest and print a summary.
    Run(run::RunArgs),
    /// Check a manifest (components, contracts, capabilities, graph) without running it.
    Check(check::CheckArgs),
    /// Print the resolved graph of a flow: nodes, components, worlds, sizes, edges, queues.
    Link(link::LinkArgs),
    /// Show a component's world, imports, exports, size and contract version.
    Inspect(inspect::InspectArgs),
    /// Create a new project: guest crates, their WIT, a manifest and a README.
    Init(init::InitArgs),
    /// Build every component crate of a manifest for wasm32-wasip2 (after `check`).
    Build(build::BuildArgs),
    /// Report the toolchain, the wasm target and the cache, and how to fix what is missing.
    Doctor(doctor::DoctorArgs),
    /// Measure a flow: throughput, latency percentiles, copies, queues, pool
    /// reuse, time per node; save a baseline or compare with one (exit 3 on a
    /// regression).
    Bench(bench::BenchArgs),
    /// Run a flow at the diagnostic level and show each element's path:
    /// time per stage, queue waits, copies, buffers, backpressure.
    Trace(trace::TraceArgs),
    /// Pack components as OCI artifacts (an image layout or a tar), optionally signed.
    Pack(pack::PackArgs),
    /// Push packed artifacts and their signatures to an OCI registry.
    Publish(publish::PublishArgs),
    /// Fetch a manifest's oci:// components (or given references) into the cache.
    Pull(pull::PullArgs),
    /// Signing keys: `torvyn key generate`.
    Key(key::KeyArgs),
    /// The on-disk caches (compiled components, pulled artifacts): `ls`, `clear`.
    Cache(cache::CacheArgs),
    /// Print the JSON Schema of Torvyn.toml (for editors; JSON manifests may name it in "$schema").
    Schema,
}

/// Parse the arguments, run the command, return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let args: Vec<String> = std::env::args().collect();
            let json = args.windows(2).any(|w| w[0] == "--format" && w[1] == "json") || args.iter().any(|a| a == "--format=json");
            if json && code != 0 {
                output::configure(Format::Json, false);
                // clap's first line, without its own `error: ` and usage hints.
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                output::error(first.strip_prefix("error: ").unwrap_or(first));
                return output::finish(code);
            }
            let _ = e.print();
            return code;
        }
    };
    style::set(cli.color);
    let (format, picture) = match cli.format {
        CliFormat::Human => (Format::Human, None),
        CliFormat::Json => (Format::Json, None),
        CliFormat::Dot => (Format::Human, Some(link::Picture::Dot)),
        CliFormat::Mermaid => (Format::Human, Some(link::Picture::Mermaid)),
    };
    output::configure(format, cli.quiet);
    if picture.is_some() && !matches!(cli.command, Command::Link(_)) {
        output::error("--format dot and --format mermaid draw a flow's graph: only `torvyn link` takes them");
        return output::finish(manifest::USAGE);
    }
    let log_level = match &cli.command {
        Command::Run(args) => args.log_level.clone(),
        _ => None,
    };
    let guests = !matches!(cli.command, Command::Bench(_) | Command::Trace(_));
    if let Err(e) = logger::install(cli.verbose, cli.quiet, log_level.as_deref(), format == Format::Json, guests) {
        output::error(e);
        return output::finish(manifest::USAGE);
    }
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Link(args) => link::link(args, picture),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Init(args) => init::init(args),
        Command::Build(args) => build::build(args),
        Command::Bench(args) => bench::bench(args),
        Command::Trace(args) => trace::trace(args),
        Command::Doctor(args) => doctor::doctor(args),
        Command::Pack(args) => pack::pack(args),
        Command::Publish(args) => publish::publish(args),
        Command::Pull(args) => pull::pull(args),
        Command::Key(args) => key::key(args),
        Command::Cache(args) => cache::cache(args),
        Command::Schema => {
            let schema = crate::config::schema::json_schema();
            match format {
                Format::Json => output::result(serde_json::json!({ "schema": schema })),
                Format::Human => println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default()),
            }
            0
        }
    };
    output::finish(code)
}
