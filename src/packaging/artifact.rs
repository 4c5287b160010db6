//! A component as an OCI artifact, in the Wasm OCI artifact layout: an
//! image manifest whose config (`application/vnd.wasm.config.v0+json`)
//! lists the component's imports and exports, whose first layer is the
//! component (`application/wasm`), optionally followed by its WIT and its
//! source (tars), annotated with the `org.opencontainers.image.*` keys and
//! the Torvyn contract version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::PackagingError;
use super::layout::{Layout, LayoutWriter};
use super::oci::{self, Blob};
use super::signing;
use crate::engine::Inspection;

/// What goes into one component's artifact.
pub struct PackInput<'a> {
    pub name: &'a str,
    pub wasm: &'a [u8],
    pub inspection: &'a Inspection,
    /// The tag (default: the project's version).
    pub tag: &'a str,
    pub version: Option<&'a str>,
    /// Where the source lives (`org.opencontainers.image.source`).
    pub source_url: Option<&'a str>,
    /// A folder of `.wit` files to ship beside the component.
    pub wit: Option<&'a Path>,
    /// The component's crate folder (`--include-source`).
    pub source: Option<&'a Path>,
}

/// One packed artifact.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Packed {
    pub component: String,
    pub layout: PathBuf,
    pub tag: String,
    pub digest: String,
    pub bytes: u64,
    /// The id of the key that signed it.
    pub signed_by: Option<String>,
}

/// Files under `dir` as a tar, without `target/` and hidden entries, and
/// of the files only those `keep` accepts.
fn tar_of(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<u8>, PackagingError> {
    super::layout::tar_tree(dir, &|p, is_dir| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        name.starts_with('.') || name == "target" || (!is_dir && !keep(p))
    })
}

/// `processor` for `torvyn:streaming/processor`.
fn role_name(role: crate::contracts::Role) -> &'static str {
    let i = role.interface();
    &i[i.rfind('/').map_or(0, |p| p + 1)..]
}

/// The config blob for `input`.
fn config(input: &PackInput<'_>, created: &str, layers: &[String]) -> Blob {
    let i = input.inspection;
    let mut torvyn = serde_json::json!({ "component": input.name });
    if let Ok(e) = &i.contract {
        torvyn["contract"] = serde_json::json!(format!("{}@{}", e.role.package(), e.version));
        torvyn["role"] = serde_json::json!(role_name(e.role));
        torvyn["world"] = serde_json::json!(e.world());
    }
    let target = i.contract.as_ref().ok().map(|e| format!("{}@{}", e.world(), e.version));
    let body = serde_json::json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": layers,
        "component": { "exports": i.exports, "imports": i.imports, "target": target },
        "torvyn": torvyn,
    });
    Blob::new(oci::WASM_CONFIG, oci::canonical_json(&body))
}

/// Write `input` as an artifact into the layout directory `out`, tagged,
/// and signed with `key` when given (the signature manifest goes into the
/// same layout under cosign's tag).
pub fn pack(out: &Path, input: &PackInput<'_>, key: Option<&ed25519_dalek::SigningKey>) -> Result<Packed, PackagingError> {
    let created = oci::created_now();
    let mut wasm = Blob::new(oci::WASM_LAYER, input.wasm.to_vec());
    wasm.annotations.insert(oci::TITLE.into(), format!("{}.wasm", input.name));
    let mut layers = vec![wasm];
    if let Some(dir) = input.wit {
        let mut wit = Blob::new(oci::WIT_LAYER, tar_of(dir, |p| p.extension().is_some_and(|e| e == "wit"))?);
        wit.annotations.insert(oci::TITLE.into(), "wit.tar".into());
        layers.push(wit);
    }
    if let Some(dir) = input.source {
        let mut src = Blob::new(oci::SOURCE_LAYER, tar_of(dir, |_| true)?);
        src.annotations.insert(oci::TITLE.into(), "source.tar".into());
        layers.push(src);
    }
    let digests: Vec<String> = layers.iter().map(Blob::digest).collect();
    let config = config(input, &created, &digests);
    let mut annotations = BTreeMap::new();
    annotations.insert(oci::TITLE.to_string(), input.name.to_string());
    annotations.insert(oci::CREATED.to_string(), created);
    annotations.insert(oci::VERSION.to_string(), input.version.unwrap_or(input.tag).to_string());
    // The tag is part of the manifest, so each tag has its own digest (and
    // its own signature, which names it).
    annotations.insert(signing::TAG.to_string(), input.tag.to_string());
    if let Some(s) = input.source_url {
        annotations.insert(oci::SOURCE.to_string(), s.to_string());
    }
    if let Ok(e) = &input.inspection.contract {
        annotations.insert(oci::CONTRACT.to_string(), e.version.to_string());
        annotations.insert(oci::ROLE.to_string(), role_name(e.role).to_string());
    }
    let manifest = oci::manifest(&config, &layers, &annotations, None)?;
    let mut layout = LayoutWriter::create(out)?;
    layout.put(&config.bytes)?;
    for l in &layers {
        layout.put(&l.bytes)?;
    }
    let digest = layout.add_manifest(&manifest, Some(input.tag), Some(oci::WASM_CONFIG))?;
    let mut signed_by = None;
    if let Some(key) = key {
        let sig = signing::sign(key, input.name, input.tag, &digest)?;
        for b in &sig.blobs {
            layout.put(&b.bytes)?;
        }
        layout.add_manifest(&sig.manifest, Some(&oci::signature_tag(&digest)), None)?;
        signed_by = Some(sig.key_id);
    }
    let layout = layout.finish()?;
    let bytes = manifest.len() as u64 + config.bytes.len() as u64 + layers.iter().map(|l| l.bytes.len() as u64).sum::<u64>();
    Ok(Packed { component: input.name.to_string(), layout, tag: input.tag.to_string(), digest, bytes, signed_by })
}

/// The component layer of an artifact manifest: its digest and size, after
/// checking the manifest describes a Wasm component.
pub fn component_layer(reference: &str, manifest: &oci_spec::image::ImageManifest) -> Result<(String, u64), PackagingError> {
    let not = |why: String| PackagingError::NotAComponent { reference: reference.to_string(), why };
    let config = manifest.config().media_type().to_string();
    let wasm: Vec<_> = manifest.layers().iter().filter(|l| l.media_type().to_string() == oci::WASM_LAYER).collect();
    match wasm.as_slice() {
        [one] => Ok((one.digest().to_string(), one.size())),
        [] => Err(not(format!(
            "it has no `{}` layer (config `{config}`, layers: {}); push components with `torvyn publish`",
            oci::WASM_LAYER,
            manifest.layers().iter().map(|l| l.media_type().to_string()).collect::<Vec<_>>().join(", ")
        ))),
        _ => Err(not(format!("it has {} `{}` layers; a component artifact has one", wasm.len(), oci::WASM_LAYER))),
    }
}

/// If `bytes` is a component artifact's manifest: the component's name
/// (its title annotation) and its component layer's digest. `None` for any
/// other manifest (a signature).
fn component_manifest(what: &str, bytes: &[u8]) -> Result<Option<(String, String)>, PackagingError> {
    let Ok(manifest) = serde_json::from_slice::<oci_spec::image::ImageManifest>(bytes) else {
        return Ok(None);
    };
    if manifest.config().media_type().to_string() != oci::WASM_CONFIG {
        return Ok(None);
    }
    let (layer, _) = component_layer(what, &manifest)?;
    let title = manifest.annotations().as_ref().and_then(|a| a.get(oci::TITLE)).cloned();
    let title = title.ok_or_else(|| PackagingError::NotAComponent { reference: what.to_string(), why: format!("its manifest has no `{}` annotation naming the component", oci::TITLE) })?;
    Ok(Some((title, layer)))
}

/// A component artifact found in a layout.
pub struct LayoutComponent {
    /// The component's name (the manifest's title).
    pub name: String,
    /// Its tag in the layout (`org.opencontainers.image.ref.name`).
    pub tag: Option<String>,
    /// The manifest's digest and bytes.
    pub digest: String,
    pub manifest: Vec<u8>,
    /// The `application/wasm` layer's digest.
    pub layer: String,
}

/// The component artifacts of `layout` (signature manifests are skipped).
pub fn layout_components(layout: &Layout) -> Result<Vec<LayoutComponent>, PackagingError> {
    let what = layout.path().display().to_string();
    let mut out = Vec::new();
    for (d, tag) in layout.manifests()? {
        let digest = d.digest().to_string();
        let manifest = layout.blob(&digest)?;
        if let Some((name, layer)) = component_manifest(&what, &manifest)? {
            out.push(LayoutComponent { name, tag, digest, manifest, layer });
        }
    }
    Ok(out)
}

/// Every blob a manifest names: its config, then its layers.
pub fn manifest_blobs(bytes: &[u8]) -> Result<Vec<String>, PackagingError> {
    let m = oci::parse_manifest("manifest", bytes)?;
    Ok(std::iter::once(m.config().digest().to_string()).chain(m.layers().iter().map(|l| l.digest().to_string())).collect())
}
