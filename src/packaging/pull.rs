//! Turning an `oci://` reference into a verified component file: from the
//! store when it has it, else pulled from the registry (every byte checked
//! against its digest before it is kept), and its signature checked against
//! the trusted keys when they are required (at every resolution, not only
//! the first pull, so a key removed from the list stops a cached artifact).

use std::path::PathBuf;

use super::artifact::component_layer;
use super::client::{Registry, MAX_BLOB};
use super::error::PackagingError;
use super::oci;
use super::reference::Reference;
use super::signing::{self, TrustedKey};
use super::store::Store;

/// How references are resolved: where the store is, whether the network
/// may be used, and which signatures are required.
#[derive(Debug, Clone, Default)]
pub struct PullPolicy {
    /// The cache root (`<root>/oci` holds the store).
    pub root: PathBuf,
    /// Use only the store (`--offline`, `[registry] offline`).
    pub offline: bool,
    /// Ask the registry what tags point to now, even if the store knows
    /// (`torvyn pull`).
    pub refresh: bool,
    /// Registries spoken to over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    /// Refuse artifacts not signed by one of `trusted`.
    pub require_signatures: bool,
    pub trusted: Vec<TrustedKey>,
}

/// A resolved component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Resolved {
    pub reference: String,
    /// The component's `.wasm` in the store.
    pub wasm: PathBuf,
    /// The artifact manifest's digest.
    pub digest: String,
    /// The component's own digest (`sha256:…`): what the `.wasm` must hash to
    /// when it is read again to be compiled.
    pub component: String,
    /// The trusted key that signed it, when signatures were checked.
    pub signed_by: Option<String>,
}

/// A signature manifest's payload layers: at most this many, each at most
/// this large (a hostile registry cannot fill the store through them).
const MAX_SIGNATURE_LAYERS: usize = 4;
const MAX_SIGNATURE_PAYLOAD: u64 = 64 << 10;

/// Resolve `reference` under `policy`. The store records what a tag
/// resolved to only once everything about it checked out.
pub fn resolve(reference: &Reference, policy: &PullPolicy) -> Result<Resolved, PackagingError> {
    let store = Store::open(&policy.root)?;
    let name = reference.to_string();
    // The registry, made on first need; an error when offline.
    let client = std::cell::OnceCell::new();
    let registry = || -> Result<&Registry, PackagingError> {
        if policy.offline {
            return Err(PackagingError::Offline { reference: reference.to_string() });
        }
        Ok(client.get_or_init(|| Registry::new(reference, &policy.insecure)))
    };

    // The manifest: by digest, or what the tag resolved to.
    let known = reference.digest.clone().or_else(|| if policy.refresh { None } else { store.resolved(reference) });
    let cached = known.as_ref().and_then(|d| store.blob(d).map(|b| (b, d.clone())));
    let (manifest_bytes, digest) = match cached {
        Some(found) => found,
        None => {
            let (bytes, digest) = registry()?.manifest(reference)?.ok_or_else(|| PackagingError::NotFound { reference: name.clone() })?;
            store.put_blob(&bytes)?;
            (bytes, digest)
        }
    };
    let manifest = oci::parse_manifest(&name, &manifest_bytes)?;
    let (layer, size) = component_layer(&name, &manifest)?;

    // The component itself.
    let wasm = match store.blob(&layer) {
        Some(bytes) => bytes,
        None => {
            let bytes = registry()?.blob(&reference.repository, &layer, size, MAX_BLOB)?;
            store.put_blob(&bytes)?;
            bytes
        }
    };
    if !wasm.starts_with(b"\0asm") || wasm.get(4..8) != Some(&[0x0d, 0x00, 0x01, 0x00]) {
        return Err(PackagingError::NotAComponent {
            reference: name,
            why: format!("its `{}` layer ({layer}) is not a Wasm component binary (a core module or another file)", oci::WASM_LAYER),
        });
    }

    // Its signature.
    let mut signed_by = None;
    if policy.require_signatures {
        let cached = store.signature(&digest).filter(|_| !policy.refresh).and_then(|d| store.blob(&d).map(|sig| (d, sig)));
        let (sig_digest, sig) = match cached {
            Some(found) => found,
            None => {
                let unsigned = || PackagingError::Unsigned { reference: name.clone(), digest: digest.clone(), trusted: signing::trusted_names(&policy.trusted) };
                let registry = registry()?;
                let sig_ref = Reference { tag: Some(oci::signature_tag(&digest)), digest: None, ..reference.clone() };
                let (sig, sig_digest) = registry.manifest(&sig_ref)?.ok_or_else(unsigned)?;
                let bad = |why: &str| PackagingError::BadSignature {
                    reference: name.clone(),
                    digest: digest.clone(),
                    why: why.to_string(),
                    trusted: signing::trusted_names(&policy.trusted),
                };
                let parsed = oci::parse_manifest(&sig_ref.to_string(), &sig).map_err(|_| bad("manifest is not an OCI image manifest"))?;
                let payloads: Vec<_> = parsed.layers().iter().filter(|l| l.media_type().to_string() == oci::COSIGN_PAYLOAD && oci::annotation(l, oci::COSIGN_SIGNATURE).is_some()).collect();
                if payloads.len() > MAX_SIGNATURE_LAYERS {
                    return Err(bad("manifest holds more signature layers than any signer writes"));
                }
                for l in payloads {
                    let d = l.digest().to_string();
                    if store.blob(&d).is_none() {
                        store.put_blob(&registry.blob(&reference.repository, &d, l.size(), MAX_SIGNATURE_PAYLOAD)?)?;
                    }
                }
                store.put_blob(&sig)?;
                (sig_digest, sig)
            }
        };
        let fetch = |d: &str| store.blob(d).ok_or_else(|| PackagingError::Other(format!("signature blob {d} of {name} is missing from the cache; run `torvyn pull` again")));
        let component = reference.repository.rsplit('/').next().map(String::from);
        let expect = signing::Expect { identity: component, tag: if reference.digest.is_none() { reference.tag.clone() } else { None } };
        signed_by = Some(signing::verify(&name, &digest, &expect, &sig, &policy.trusted, fetch)?);
        // Remembered only once it verified.
        store.set_signature(&digest, &sig_digest)?;
    }
    if reference.digest.is_none() {
        store.set_resolved(reference, &digest)?;
    }
    Ok(Resolved { reference: name, wasm: store.blob_path(&layer), digest, signed_by, component: layer })
}
