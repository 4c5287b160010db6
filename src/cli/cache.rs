//! `torvyn cache ls|clear`: what the on-disk caches hold (compiled
//! components, pulled OCI artifacts), and emptying them.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Format, output};
use crate::engine::{default_cache_root, DiskCache};

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
    /// The cache directory (a manifest's `compilation_cache_dir`); default
    /// `$TORVYN_HOME/cache`, `$XDG_CACHE_HOME/torvyn` or `~/.cache/torvyn`.
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// List the compiled components and pulled artifacts kept on disk.
    Ls,
    /// Remove them (the next run compiles and pulls again).
    Clear,
}

fn root(args: &CacheArgs) -> Option<PathBuf> {
    args.dir.clone().or_else(default_cache_root)
}

pub fn cache(args: CacheArgs) -> i32 {
    let Some(root) = root(&args) else {
        output::error("no cache directory: HOME, XDG_CACHE_HOME and TORVYN_HOME are unset; pass --dir");
        return super::manifest::USAGE;
    };
    let compiled = DiskCache::at(&root);
    let pulled = crate::packaging::Store::at(&root);
    match args.action {
        CacheAction::Ls => {
            let entries = match compiled.entries() {
                Ok(e) => e,
                Err(e) => {
                    output::error(e);
                    return 1;
                }
            };
            let artifacts = match pulled.list() {
                Ok(a) => a,
                Err(e) => {
                    output::error(e);
                    return 1;
                }
            };
            match output::format() {
                Format::Json => output::result(json!({ "dir": root, "compiled": entries, "pulled": artifacts })),
                Format::Human => {
                    println!("compiled components in {} ({} entries, {} bytes)", compiled.dir().display(), entries.len(), entries.iter().map(|e| e.bytes).sum::<u64>());
                    for e in &entries {
                        let digest = e.digest.get(..12).unwrap_or("");
                        println!("  {:<28} sha256:{digest:<12} {:>10} bytes  {}", e.component, e.bytes, e.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
                    }
                    println!("pulled artifacts in {} ({} references)", pulled.dir().display(), artifacts.len());
                    for a in &artifacts {
                        println!("  {:<48} {}", a.reference, a.digest);
                    }
                }
            }
            0
        }
        CacheAction::Clear => {
            let a = compiled.clear();
            let b = pulled.clear();
            match (a, b) {
                (Ok((n, bytes)), Ok((m, pbytes))) => {
                    match output::format() {
                        Format::Json => output::result(json!({ "dir": root, "compiled_removed": n, "pulled_removed": m, "bytes": bytes + pbytes })),
                        Format::Human => println!("removed {n} compiled components and {m} pulled files ({} bytes) from {}", bytes + pbytes, root.display()),
                    }
                    0
                }
                (Err(e), _) | (_, Err(e)) => {
                    output::error(e);
                    1
                }
            }
        }
    }
}
