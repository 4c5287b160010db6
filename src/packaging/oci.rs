//! The OCI documents Torvyn writes and reads: media types, descriptors,
//! image manifests and indexes (through the `oci-spec` types), written as
//! canonical JSON so packing the same inputs twice gives the same digests.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{Descriptor, DescriptorBuilder, Digest, ImageIndex, ImageManifest, ImageManifestBuilder, MediaType};
use sha2::{Digest as _, Sha256};

use super::error::PackagingError;

/// A component, as the Wasm OCI artifact layout (CNCF TAG Runtime) stores it.
pub const WASM_LAYER: &str = "application/wasm";
/// That layout's config.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The component's WIT (a tar of `.wit` files), as the public Torvyn names it.
pub const WIT_LAYER: &str = "application/vnd.torvyn.component.wit.v1+tar";
/// The component's source crate (a tar), with `torvyn pack --include-source`.
pub const SOURCE_LAYER: &str = "application/vnd.torvyn.component.source.v1+tar";
/// cosign's signature payload (the simple-signing JSON).
pub const COSIGN_PAYLOAD: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation cosign keeps a signature in (base64).
pub const COSIGN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// The OCI empty config (`{}`), for manifests that need none.
pub const EMPTY_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Annotation keys.
pub const TITLE: &str = "org.opencontainers.image.title";
pub const VERSION: &str = "org.opencontainers.image.version";
pub const SOURCE: &str = "org.opencontainers.image.source";
pub const CREATED: &str = "org.opencontainers.image.created";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const CONTRACT: &str = "dev.torvyn.contract.version";
pub const ROLE: &str = "dev.torvyn.component.role";

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::observability::hex(&Sha256::digest(bytes)))
}

/// The hex part of a `sha256:` digest.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Check `bytes` against `expected` (naming `what` if they differ).
pub fn verify(what: &str, expected: &str, bytes: &[u8]) -> Result<(), PackagingError> {
    let actual = digest_of(bytes);
    if actual != expected {
        return Err(PackagingError::DigestMismatch { what: what.to_string(), expected: expected.to_string(), actual });
    }
    Ok(())
}

/// `value` as JSON with every object's keys sorted and no whitespace: the
/// same document always has the same bytes (and digest).
pub fn canonical_json(value: &impl serde::Serialize) -> Vec<u8> {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let ordered: BTreeMap<String, serde_json::Value> = map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(ordered.into_iter().collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    serde_json::to_vec(&sorted(v)).unwrap_or_default()
}

/// A blob to store, with its descriptor's media type and annotations.
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob { media_type: media_type.to_string(), bytes, annotations: BTreeMap::new() }
    }

    pub fn digest(&self) -> String {
        digest_of(&self.bytes)
    }

    pub fn descriptor(&self) -> Result<Descriptor, PackagingError> {
        descriptor(&self.media_type, &self.digest(), self.bytes.len() as u64, &self.annotations)
    }
}

fn spec(e: impl std::fmt::Display) -> PackagingError {
    PackagingError::Other(format!("OCI document: {e}"))
}

pub fn media(t: &str) -> MediaType {
    MediaType::from(t)
}

/// A descriptor of content `digest` (`sha256:…`) of `size` bytes.
pub fn descriptor(media_type: &str, digest: &str, size: u64, annotations: &BTreeMap<String, String>) -> Result<Descriptor, PackagingError> {
    let digest: Digest = digest.parse().map_err(spec)?;
    let mut b = DescriptorBuilder::default().media_type(media(media_type)).digest(digest).size(size);
    if !annotations.is_empty() {
        b = b.annotations(annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>());
    }
    b.build().map_err(spec)
}

/// An image manifest of `config` and `layers` (and `subject`, for a
/// referrer), as canonical JSON.
pub fn manifest(config: &Blob, layers: &[Blob], annotations: &BTreeMap<String, String>, subject: Option<Descriptor>) -> Result<Vec<u8>, PackagingError> {
    let mut b = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(media(MANIFEST))
        .config(config.descriptor()?)
        .layers(layers.iter().map(Blob::descriptor).collect::<Result<Vec<_>, _>>()?);
    if !annotations.is_empty() {
        b = b.annotations(annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>());
    }
    if let Some(s) = subject {
        b = b.subject(s);
    }
    Ok(canonical_json(&b.build().map_err(spec)?))
}

/// Parse an image manifest (`what` names it in errors).
pub fn parse_manifest(what: &str, bytes: &[u8]) -> Result<ImageManifest, PackagingError> {
    serde_json::from_slice(bytes).map_err(|e| PackagingError::NotAComponent { reference: what.to_string(), why: format!("its manifest is not an OCI image manifest ({e})") })
}

pub fn parse_index(what: &str, bytes: &[u8]) -> Result<ImageIndex, PackagingError> {
    serde_json::from_slice(bytes).map_err(|e| PackagingError::Other(format!("`{what}`: not an OCI image index ({e})")))
}

/// The annotation `key` of a descriptor, if any.
pub fn annotation<'a>(d: &'a Descriptor, key: &str) -> Option<&'a str> {
    d.annotations().as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

/// The tag cosign keeps the signature of manifest `digest` under.
pub fn signature_tag(digest: &str) -> String {
    format!("sha256-{}.sig", hex_of(digest))
}

/// Now (or `SOURCE_DATE_EPOCH`, for reproducible packs) as RFC 3339 UTC.
pub fn created_now() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    rfc3339(secs)
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_canonical_json() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        let v = serde_json::json!({"b": 1, "a": {"d": [ {"z": 1, "y": 2} ], "c": 2}});
        assert_eq!(String::from_utf8(canonical_json(&v)).unwrap(), r#"{"a":{"c":2,"d":[{"y":2,"z":1}]},"b":1}"#);
    }
}
