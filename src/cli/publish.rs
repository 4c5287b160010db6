//! `torvyn publish`: push packed artifacts (and their signatures) to an OCI
//! registry over the distribution API.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::manifest::{FAILURE, USAGE};
use super::{Format, output};
use crate::packaging::{self, Layout, Reference, Registry};

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// A packed artifact: an image layout directory or a tar of one;
    /// repeatable (default: every artifact in `.torvyn/artifacts/`).
    #[arg(long, value_name = "PATH")]
    pub artifact: Vec<PathBuf>,
    /// Where to push: `host[:port][/namespace]` (`oci://` optional); each
    /// component goes to `<namespace>/<component>` (default: `[registry]
    /// default` of the manifest in the current folder).
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// The tag to push under (default: the tag it was packed with).
    #[arg(long)]
    pub tag: Option<String>,
    /// Show what would be pushed, and push nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Move a tag that already points to another artifact.
    #[arg(long)]
    pub force: bool,
    /// The manifest whose `[registry] default` and `.torvyn/artifacts/` to use.
    #[arg(long, value_name = "PATH", default_value = "Torvyn.toml")]
    pub manifest: PathBuf,
}

/// Exit code 3: the tag exists with other content (`--force` moves it).
const CONFLICT: i32 = 3;

/// One artifact of a layout: its manifest, tag, and signature (if packed signed).
struct Pending {
    component: String,
    manifest: Vec<u8>,
    digest: String,
    tag: String,
    signature: Option<(String, Vec<u8>)>,
}

/// The component artifacts of layout `layout` (and their signatures).
fn artifacts(layout: &Layout) -> Result<Vec<Pending>, packaging::PackagingError> {
    let entries = layout.manifests()?;
    let mut out = Vec::new();
    for c in packaging::layout_components(layout)? {
        let sig_tag = packaging::signature_tag(&c.digest);
        let signature = entries.iter().find(|(_, t)| t.as_deref() == Some(sig_tag.as_str())).map(|(s, _)| s.digest().to_string());
        let signature = match signature {
            Some(s) => Some((sig_tag, layout.blob(&s)?)),
            None => None,
        };
        out.push(Pending { component: c.name, manifest: c.manifest, digest: c.digest, tag: c.tag.unwrap_or_else(|| "latest".into()), signature });
    }
    Ok(out)
}

/// The registry host and namespace of `--registry` / `[registry] default`
/// (`oci://`, `https://` or `http://` optional), and whether it was named
/// with `http://` (spoken to over plain HTTP).
fn target(text: &str) -> Result<(String, String, bool), String> {
    let plain = text.starts_with("http://");
    let rest = ["oci://", "https://", "http://"].iter().find_map(|p| text.strip_prefix(p)).unwrap_or(text).trim_end_matches('/');
    let (host, ns) = rest.split_once('/').unwrap_or((rest, ""));
    let probe = if ns.is_empty() { format!("{host}/x") } else { format!("{host}/{ns}/x") };
    Reference::parse(&probe).map_err(|e| e.to_string())?;
    Ok((host.to_string(), ns.to_string(), plain))
}

/// `[registry] default` and `insecure` of the manifest, read without
/// resolving the rest of it (which would pull its `oci://` components).
fn registry_table(manifest: &Path) -> Result<(Option<String>, Vec<String>), String> {
    let text = std::fs::read_to_string(manifest).map_err(|e| format!("cannot read `{}`: {e}", manifest.display()))?;
    let doc: serde_json::Value = if manifest.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", manifest.display()))?
    } else {
        let t: toml::Table = toml::from_str(&text).map_err(|e| format!("`{}`: {e}", manifest.display()))?;
        serde_json::to_value(t).unwrap_or_default()
    };
    let registry = doc.get("registry");
    let default = registry.and_then(|r| r.get("default")).and_then(|d| d.as_str()).map(String::from);
    let insecure = registry
        .and_then(|r| r.get("insecure"))
        .and_then(|i| i.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    Ok((default, insecure))
}

fn default_artifacts(manifest: &Path) -> Vec<PathBuf> {
    let dir = manifest.parent().unwrap_or(Path::new(".")).join(".torvyn/artifacts");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.join("oci-layout").is_file()).collect();
    found.sort();
    found
}

pub fn publish(args: PublishArgs) -> i32 {
    let manifest = if args.manifest.is_dir() { args.manifest.join("Torvyn.toml") } else { args.manifest.clone() };
    let (default, mut insecure) = if manifest.is_file() {
        match registry_table(&manifest) {
            Ok(t) => t,
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        }
    } else {
        (None, Vec::new())
    };
    let registry_text = args.registry.clone().or(default);
    let Some(registry_text) = registry_text else {
        output::error("no registry to publish to: pass --registry HOST[:PORT][/NAMESPACE] or set `[registry] default` in the manifest");
        return USAGE;
    };
    let (host, namespace, plain) = match target(&registry_text) {
        Ok(t) => t,
        Err(e) => {
            output::error(format!("registry `{registry_text}`: {e}"));
            return USAGE;
        }
    };
    let paths = if args.artifact.is_empty() { default_artifacts(&manifest) } else { args.artifact.clone() };
    if paths.is_empty() {
        output::error("no artifact to publish: run `torvyn pack` first, or pass --artifact PATH");
        return USAGE;
    }
    if plain {
        insecure.push(host.clone());
    }
    let mut pushed = Vec::new();
    for path in &paths {
        let layout = match Layout::open(path) {
            Ok(l) => l,
            Err(e) => {
                output::error(e);
                return if path.exists() { FAILURE } else { USAGE };
            }
        };
        let pending = match artifacts(&layout) {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => {
                output::error(format!("`{}` holds no Wasm component artifact", path.display()));
                return FAILURE;
            }
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        };
        for p in pending {
            let repository = if namespace.is_empty() { p.component.clone() } else { format!("{namespace}/{}", p.component) };
            let tag = args.tag.clone().unwrap_or(p.tag.clone());
            if p.signature.is_some() && tag != p.tag {
                output::error(format!(
                    "`{}` was signed for tag `{}`; a signed artifact is published under that tag only (pull checks it): pack it again with --tag {tag}",
                    path.display(),
                    p.tag
                ));
                return USAGE;
            }
            let reference = match Reference::parse(&format!("{host}/{repository}:{tag}")) {
                Ok(r) => r,
                Err(e) => {
                    output::error(e);
                    return USAGE;
                }
            };
            if !args.dry_run {
                if let Err((code, e)) = push(&layout, &p, &reference, &insecure, args.force) {
                    output::error(e);
                    return code;
                }
            }
            pushed.push(json!({
                "reference": reference.to_string(),
                "digest": p.digest,
                "signature": p.signature.as_ref().map(|(t, _)| t.clone()),
                "dry_run": args.dry_run,
            }));
        }
    }
    match output::format() {
        Format::Json => output::result(json!({ "published": pushed })),
        Format::Human => {
            let verb = if args.dry_run { "would publish" } else { "published" };
            for p in &pushed {
                let sig = p["signature"].as_str().map(|s| format!(" with signature {s}")).unwrap_or_default();
                println!("{verb} {} ({}){sig}", p["reference"].as_str().unwrap_or_default(), p["digest"].as_str().unwrap_or_default());
            }
        }
    }
    0
}

/// Push one artifact: blobs, then the manifest at its tag, then its signature.
fn push(layout: &Layout, p: &Pending, reference: &Reference, insecure: &[String], force: bool) -> Result<(), (i32, String)> {
    let fail = |e: packaging::PackagingError| {
        let code = if matches!(e, packaging::PackagingError::TagExists { .. }) { CONFLICT } else { FAILURE };
        (code, e.to_string())
    };
    let client = Registry::new(reference, insecure);
    let repo = &reference.repository;
    let tag = reference.tag.as_deref().unwrap_or("latest");
    if !force {
        if let Some((_, existing)) = client.manifest(reference).map_err(fail)? {
            if existing != p.digest {
                return Err(fail(packaging::PackagingError::TagExists { reference: reference.to_string(), existing, new: p.digest.clone() }));
            }
        }
    }
    for digest in packaging::manifest_blobs(&p.manifest).map_err(fail)? {
        client.push_blob(repo, &layout.blob(&digest).map_err(fail)?).map_err(fail)?;
    }
    client.push_manifest(repo, tag, &p.manifest).map_err(fail)?;
    if let Some((sig_tag, sig)) = &p.signature {
        for digest in packaging::manifest_blobs(sig).map_err(fail)? {
            client.push_blob(repo, &layout.blob(&digest).map_err(fail)?).map_err(fail)?;
        }
        client.push_manifest(repo, sig_tag, sig).map_err(fail)?;
    }
    Ok(())
}
