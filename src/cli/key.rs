//! `torvyn key generate`: an Ed25519 key pair for signing artifacts.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::manifest::{FAILURE, USAGE};
use super::{Format, output};

#[derive(Args, Debug)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub action: KeyAction,
}

#[derive(Subcommand, Debug)]
pub enum KeyAction {
    /// Make a key pair: the private key (mode 0600) and `<file>.pub`, the
    /// public key to list in `[security] trusted_keys`.
    Generate {
        /// The private key file (default `$TORVYN_HOME/keys/torvyn.key` or
        /// `~/.config/torvyn/keys/torvyn.key`, which `pack --sign` uses).
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
}

pub fn key(args: KeyArgs) -> i32 {
    match args.action {
        KeyAction::Generate { output: out, force } => {
            let Some(path) = out.or_else(super::pack::default_key) else {
                output::error("no place for the key: pass --output PATH (HOME and TORVYN_HOME are unset)");
                return USAGE;
            };
            match crate::packaging::generate_key(&path, force) {
                Ok((public, id)) => {
                    match output::format() {
                        Format::Json => output::result(json!({ "private": path, "public": public, "key_id": id })),
                        Format::Human => {
                            println!("key {id}");
                            println!("  private {} (keep it secret; `torvyn pack --sign --key` it)", path.display());
                            println!("  public  {} (list it in `[security] trusted_keys`)", public.display());
                        }
                    }
                    0
                }
                Err(e) => {
                    output::error(e);
                    FAILURE
                }
            }
        }
    }
}
