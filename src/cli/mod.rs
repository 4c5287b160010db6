//! The `torvyn` command: the command-line face of the library.
//!
//! Exit codes: 0 success, 1 the pipeline or a check failed (or `doctor`
//! found something missing), 2 bad usage or missing input.

mod check;
mod doctor;
mod init;
mod inspect;
mod link;
mod logger;
mod manifest;
mod run;
mod style;

use clap::{Parser, Subcommand, ValueEnum};

/// How commands print their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// One JSON document on stdout (guest output goes to stderr).
    Json,
}

/// Run sandboxed WebAssembly component pipelines.
#[derive(Parser, Debug)]
#[command(
    name = "torvyn",
    version,
    about,
    after_help = "Exit codes: 0 success; 1 the pipeline or a check failed; 2 bad usage or missing input.\nEnvironment: TORVYN_<SETTING> overrides a [runtime] setting (e.g. TORVYN_QUEUE_DEPTH=128); --set beats it. NO_COLOR turns colour off."
)]
struct Cli {
    /// More diagnostics on stderr (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Output format.
    #[arg(long, value_enum, default_value = "human", global = true)]
    format: Format,
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
    /// Report the toolchain, the wasm target and the cache, and how to fix what is missing.
    Doctor,
}

/// Parse the arguments, run the command, return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    logger::install(cli.verbose, cli.format == Format::Json);
    match cli.command {
        Command::Run(args) => run::run(args, cli.format),
        Command::Check(args) => check::check(args, cli.format),
        Command::Link(args) => link::link(args, cli.format),
        Command::Inspect(args) => inspect::inspect(args, cli.format),
        Command::Init(args) => init::init(args, cli.format),
        Command::Doctor => doctor::doctor(cli.format),
    }
}
