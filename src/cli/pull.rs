//! `torvyn pull`: fetch `oci://` components into the local cache ahead of
//! time (every one a manifest names, or the references given), asking the
//! registry what each tag points to now, and verifying signatures where
//! they are required.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::manifest::{ManifestArgs, FAILURE, USAGE};
use super::{Format, output};
use crate::packaging::{self, PullPolicy, Reference};

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Pull these references instead of a manifest's (`oci://host/repo:tag`).
    #[arg(long = "reference", value_name = "REFERENCE")]
    pub references: Vec<String>,
    /// With --reference: require a signature by this public key; repeatable.
    #[arg(long = "trusted-key", value_name = "PATH")]
    pub trusted_keys: Vec<PathBuf>,
}

pub fn pull(mut args: PullArgs) -> i32 {
    // A positional argument that is a reference rather than a manifest.
    let (refs, rest): (Vec<String>, Vec<String>) = args.manifest.targets.drain(..).partition(|t| t.starts_with("oci://"));
    args.manifest.targets = rest;
    args.references.extend(refs);
    if args.references.is_empty() {
        args.manifest.set.push("registry.pull_policy=always".into());
        let pipeline = match args.manifest.load() {
            Ok(p) => p,
            Err(code) => return code,
        };
        let n = pipeline.components.len();
        match output::format() {
            Format::Json => output::result(json!({ "components": pipeline.components.iter().map(|c| json!({"name": c.name, "path": c.path})).collect::<Vec<_>>() })),
            Format::Human => println!("{n} components resolved (every oci:// reference pulled and verified)"),
        }
        return 0;
    }
    let mut trusted = Vec::new();
    for k in &args.trusted_keys {
        match packaging::load_public(k) {
            Ok(t) => trusted.push(t),
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        }
    }
    let Some(root) = crate::engine::default_cache_root() else {
        output::error("no cache directory: set TORVYN_HOME, XDG_CACHE_HOME or HOME");
        return USAGE;
    };
    let policy = PullPolicy { root, offline: args.manifest.offline, refresh: true, insecure: Vec::new(), require_signatures: !trusted.is_empty(), trusted };
    let mut done = Vec::new();
    for text in &args.references {
        let reference = match Reference::parse(text) {
            Ok(r) => r,
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        };
        match packaging::resolve(&reference, &policy) {
            Ok(r) => done.push(r),
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        }
    }
    match output::format() {
        Format::Json => output::result(json!({ "pulled": done })),
        Format::Human => {
            for r in &done {
                let signed = r.signed_by.as_ref().map(|k| format!(", signed by key {k}")).unwrap_or_default();
                println!("pulled {} ({}{signed})", r.reference, r.digest);
            }
        }
    }
    0
}
