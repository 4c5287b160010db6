//! The `torvyn` command: the command-line face of the library.
//!
//! Exit codes: 0 success, 1 the pipeline or a check failed, 2 bad usage or
//! missing input.

mod inspect;
mod logger;
mod run;

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
#[command(name = "torvyn", version, about)]
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
    /// Show a component's world, imports, exports, size and contract version.
    Inspect(inspect::InspectArgs),
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
        Command::Inspect(args) => inspect::inspect(args, cli.format),
    }
}
