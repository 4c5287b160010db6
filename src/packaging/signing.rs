//! Ed25519 signatures over artifact manifests, carried the way cosign
//! carries them: a manifest tagged `sha256-<manifest hex>.sig` beside the
//! artifact (in the layout, and in the registry once published), whose one
//! layer is the simple-signing payload naming the signed manifest's digest,
//! with the signature (base64) in the layer's
//! `dev.cosignproject.cosign/signature` annotation.
//!
//! What a signature proves: a holder of the private key approved the
//! manifest with that digest, and the manifest names every layer by digest;
//! so one check of the manifest's digest and each layer's covers every byte
//! that runs. Keys are PEM files (PKCS#8 private, SPKI public), readable by
//! OpenSSL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::error::{io, PackagingError};
use super::oci::{self, Blob};

/// The annotation naming the key a signature was made with.
pub const KEY_ID: &str = "dev.torvyn.signature.key-id";
/// The payload field naming the tag the artifact was signed for.
pub const TAG: &str = "dev.torvyn.tag";

/// A public key Torvyn trusts, with the file it came from.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub key: VerifyingKey,
    pub id: String,
    pub path: PathBuf,
}

/// A key's short id: the first 16 hex digits of the SHA-256 of its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    crate::observability::hex(&Sha256::digest(key.as_bytes())[..8])
}

fn key_err(path: &Path, why: impl Into<String>) -> PackagingError {
    PackagingError::Key { path: path.to_path_buf(), why: why.into() }
}

/// Make a new key pair: `<out>` (private, mode 0600) and `<out>.pub`.
/// Refuses to overwrite an existing key unless `force`.
pub fn generate(out: &Path, force: bool) -> Result<(PathBuf, String), PackagingError> {
    let public = PathBuf::from(format!("{}.pub", out.display()));
    if !force && (out.exists() || public.exists()) {
        return Err(key_err(out, "already exists; pass --force to replace it (anything it signed then verifies only with the old public key)"));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| key_err(out, format!("no randomness from the OS: {e}")))?;
    let signing = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let private = signing.to_pkcs8_pem(LineEnding::LF).map_err(|e| key_err(out, e.to_string()))?;
    let public_pem = signing.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| key_err(out, e.to_string()))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    crate::engine::write_private(out, &[private.as_bytes()]).map_err(io("write", out))?;
    std::fs::write(&public, public_pem).map_err(io("write", &public))?;
    Ok((public, key_id(&signing.verifying_key())))
}

/// The private key in `path`.
pub fn load_private(path: &Path) -> Result<SigningKey, PackagingError> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| key_err(path, format!("not an Ed25519 private key in PKCS#8 PEM ({e}); make one with `torvyn key generate`")))
}

/// The public key in `path`.
pub fn load_public(path: &Path) -> Result<TrustedKey, PackagingError> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    let key = VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| key_err(path, format!("not an Ed25519 public key in PEM ({e}); give the `.pub` file `torvyn key generate` wrote")))?;
    Ok(TrustedKey { id: key_id(&key), key, path: path.to_path_buf() })
}

/// The simple-signing payload for `manifest_digest`: the component's name
/// as its identity, and the tag it was signed for, so a registry cannot
/// serve another component or another version under a signed tag.
fn payload(identity: &str, tag: &str, manifest_digest: &str, key: &str) -> Vec<u8> {
    oci::canonical_json(&serde_json::json!({
        "critical": {
            "identity": { "docker-reference": identity },
            "image": { "docker-manifest-digest": manifest_digest },
            "type": "cosign container image signature",
        },
        "optional": { KEY_ID: key, TAG: tag },
    }))
}

/// What a signature must say beside the digest: the component it names
/// (the last part of the repository it is pulled from, where `publish`
/// puts each component) and, when pulled by tag, that tag.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub identity: Option<String>,
    pub tag: Option<String>,
}

/// A signature manifest for the artifact manifest `manifest_digest`, and
/// its blobs (config and payload).
pub struct SignatureArtifact {
    pub manifest: Vec<u8>,
    pub blobs: Vec<Blob>,
    pub key_id: String,
}

pub fn sign(key: &SigningKey, identity: &str, tag: &str, manifest_digest: &str) -> Result<SignatureArtifact, PackagingError> {
    let id = key_id(&key.verifying_key());
    let body = payload(identity, tag, manifest_digest, &id);
    let signature: Signature = key.sign(&body);
    let mut layer = Blob::new(oci::COSIGN_PAYLOAD, body);
    layer.annotations.insert(oci::COSIGN_SIGNATURE.to_string(), base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()));
    layer.annotations.insert(KEY_ID.to_string(), id.clone());
    let config = Blob::new(oci::EMPTY_CONFIG, b"{}".to_vec());
    let manifest = oci::manifest(&config, std::slice::from_ref(&layer), &BTreeMap::new(), None)?;
    Ok(SignatureArtifact { manifest, blobs: vec![config, layer], key_id: id })
}

/// Check the signature manifest `sig_manifest` of artifact `reference` at
/// `digest` against `trusted`; `blob` fetches (and digest-checks) a blob.
/// Returns the id of the key that signed it.
pub fn verify(
    reference: &str,
    digest: &str,
    expect: &Expect,
    sig_manifest: &[u8],
    trusted: &[TrustedKey],
    mut blob: impl FnMut(&str) -> Result<Vec<u8>, PackagingError>,
) -> Result<String, PackagingError> {
    let names = trusted_names(trusted);
    let fail = |why: String| PackagingError::BadSignature { reference: reference.to_string(), digest: digest.to_string(), why, trusted: names.clone() };
    let manifest = oci::parse_manifest(&format!("signature of {reference}"), sig_manifest).map_err(|_| fail("is not a signature manifest".into()))?;
    let mut why = String::from("has no signature layer");
    for layer in manifest.layers() {
        if layer.media_type().to_string() != oci::COSIGN_PAYLOAD {
            continue;
        }
        let Some(sig) = oci::annotation(layer, oci::COSIGN_SIGNATURE) else { continue };
        let body = blob(&layer.digest().to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| fail("payload is not JSON".into()))?;
        let signed = v.pointer("/critical/image/docker-manifest-digest").and_then(|d| d.as_str()).unwrap_or_default();
        if signed != digest {
            why = format!("signs another artifact ({signed})");
            continue;
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            why = "is not base64".into();
            continue;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            why = "is not an Ed25519 signature".into();
            continue;
        };
        if let Some(k) = trusted.iter().find(|k| k.key.verify_strict(&body, &signature).is_ok()) {
            // Signed by a trusted key: now what it signed must be what was asked for.
            let identity = v.pointer("/critical/identity/docker-reference").and_then(|d| d.as_str()).unwrap_or_default();
            if let Some(want) = expect.identity.as_deref().filter(|w| *w != identity) {
                why = format!("is for component `{identity}`, but it is served as `{want}` (a swapped artifact)");
                continue;
            }
            let tag = v.pointer(&format!("/optional/{}", TAG.replace('/', "~1"))).and_then(|t| t.as_str());
            if let Some(want) = expect.tag.as_deref().filter(|w| tag != Some(*w)) {
                why = format!("was made for tag `{}`, but it is served as `{want}` (a rolled-back or moved tag)", tag.unwrap_or("(none)"));
                continue;
            }
            return Ok(k.id.clone());
        }
        let by = oci::annotation(layer, KEY_ID).or_else(|| v.pointer(&format!("/optional/{}", KEY_ID.replace('/', "~1"))).and_then(|k| k.as_str()));
        why = match by {
            Some(id) if !trusted.iter().any(|k| k.id == id) => format!("was made with key {id}, which is not trusted"),
            _ => "does not verify: the signature or what it signs was altered".into(),
        };
    }
    Err(fail(why))
}

/// The trusted keys as error messages name them.
pub fn trusted_names(trusted: &[TrustedKey]) -> String {
    if trusted.is_empty() {
        return "none: list public keys in `[security] trusted_keys`".into();
    }
    trusted.iter().map(|k| format!("{} ({})", k.id, k.path.display())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_refuse_the_wrong_key_or_digest() {
        let dir = std::env::temp_dir().join(format!("torvyn-keys-{}-{}", std::process::id(), fastrand::u64(..)));
        let (pub_a, id_a) = generate(&dir.join("a.key"), false).unwrap();
        let (pub_b, _) = generate(&dir.join("b.key"), false).unwrap();
        assert!(generate(&dir.join("a.key"), false).is_err(), "overwrote a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(dir.join("a.key")).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let a = load_private(&dir.join("a.key")).unwrap();
        let digest = oci::digest_of(b"manifest");
        let sig = sign(&a, "upper", "1.0", &digest).unwrap();
        let blobs: std::collections::HashMap<String, Vec<u8>> = sig.blobs.iter().map(|b| (b.digest(), b.bytes.clone())).collect();
        let fetch = |d: &str| blobs.get(d).cloned().ok_or_else(|| PackagingError::Other("missing".into()));
        let trusted_a = [load_public(&pub_a).unwrap()];
        let expect = Expect { identity: Some("upper".into()), tag: Some("1.0".into()) };
        assert_eq!(verify("r", &digest, &expect, &sig.manifest, &trusted_a, fetch).unwrap(), id_a);
        let moved = Expect { tag: Some("2.0".into()), ..expect.clone() };
        assert!(verify("r", &digest, &moved, &sig.manifest, &trusted_a, fetch).unwrap_err().to_string().contains("made for tag `1.0`"));
        let swapped = Expect { identity: Some("sink".into()), ..expect.clone() };
        assert!(verify("r", &digest, &swapped, &sig.manifest, &trusted_a, fetch).unwrap_err().to_string().contains("swapped"));
        let trusted_b = [load_public(&pub_b).unwrap()];
        let e = verify("r", &digest, &expect, &sig.manifest, &trusted_b, fetch).unwrap_err().to_string();
        assert!(e.contains(&format!("made with key {id_a}, which is not trusted")), "{e}");
        let other = oci::digest_of(b"another manifest");
        let e = verify("r", &other, &expect, &sig.manifest, &trusted_a, fetch).unwrap_err().to_string();
        assert!(e.contains("signs another artifact"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
