//! Reading the manifest a command names, with `TORVYN_*` and `--set`
//! overrides applied (command line > environment > manifest > defaults).

use std::path::PathBuf;

use clap::Args;

use crate::config::{Overrides, PipelineDef};

/// The manifest argument shared by `run`, `check` and `link`.
#[derive(Args, Debug, Clone)]
pub struct ManifestArgs {
    /// A Torvyn.toml (or .json) manifest, or a folder holding Torvyn.toml.
    #[arg(default_value = ".")]
    pub manifest: PathBuf,
    /// Override a [runtime] setting, e.g. `--set queue_depth=128` (repeatable;
    /// beats TORVYN_QUEUE_DEPTH and the manifest).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Exit code 2: the input is missing or the usage is wrong.
pub const USAGE: i32 = 2;
/// Exit code 1: the input is there but wrong, or the pipeline failed.
pub const FAILURE: i32 = 1;

impl ManifestArgs {
    /// The manifest, or the exit code after printing why not.
    pub fn load(&self) -> Result<PipelineDef, i32> {
        let file = if self.manifest.is_dir() { self.manifest.join("Torvyn.toml") } else { self.manifest.clone() };
        if !file.is_file() {
            eprintln!(
                "error: `{}` does not exist; give a Torvyn.toml, a folder holding one, or create a project with `torvyn init NAME`",
                file.display()
            );
            return Err(USAGE);
        }
        let overrides = Overrides::from_env().and_then(|env| {
            let mut cli = Overrides::default();
            for s in &self.set {
                cli.set(s, &format!("--set {s}"))?;
            }
            Ok(env.then(cli))
        });
        let overrides = match overrides {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return Err(USAGE);
            }
        };
        PipelineDef::load_with(&file, &overrides).map_err(|e| {
            eprintln!("error: {e}");
            FAILURE
        })
    }
}
