use std::path::PathBuf;

/// What went wrong packing, publishing, pulling or verifying an artifact.
/// Each names the artifact (reference, digest or path) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    #[error("`{reference}` is not an OCI reference: {why}")]
    Reference { reference: String, why: String },
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("`{}` is not an OCI image layout: {why}", path.display())]
    Layout { path: PathBuf, why: String },
    #[error("registry `{registry}` cannot be reached: {why}; check the address and that it is running (or pass --offline to use only the cache)")]
    Unreachable { registry: String, why: String },
    #[error("registry `{registry}` refused the credentials for `{repository}` ({status}); set TORVYN_REGISTRY_USERNAME and TORVYN_REGISTRY_PASSWORD with TORVYN_REGISTRY_HOST={registry}, or log in with `docker login {registry}`")]
    Unauthorized { registry: String, repository: String, status: u16 },
    #[error("`{reference}` does not exist in its registry (no such repository, tag or digest); publish it first or check the name")]
    NotFound { reference: String },
    #[error("registry `{registry}` answered {status} to {what}: {body}")]
    Registry { registry: String, what: String, status: u16, body: String },
    #[error("`{what}` should have digest {expected} but its bytes hash to {actual}: it was altered in transit or in storage; nothing of it is used")]
    DigestMismatch { what: String, expected: String, actual: String },
    #[error("{what} is larger than its descriptor says or than the {limit}-byte limit; the registry is misbehaving or the artifact is not a component")]
    TooLarge { what: String, limit: u64 },
    #[error("`{reference}` is not a Wasm component artifact: {why}")]
    NotAComponent { reference: String, why: String },
    #[error("`{reference}` is not in the local cache and --offline forbids pulling it; run `torvyn pull {reference}` while online")]
    Offline { reference: String },
    #[error("tag `{reference}` already exists with digest {existing}; pass --force to move it to {new}")]
    TagExists { reference: String, existing: String, new: String },
    #[error("signing key `{}`: {why}", path.display())]
    Key { path: PathBuf, why: String },
    #[error("artifact `{reference}` ({digest}) is not signed, and the manifest requires a signature by one of the trusted keys ({trusted}); sign it with `torvyn pack --sign --key KEY` and publish it again")]
    Unsigned { reference: String, digest: String, trusted: String },
    #[error("artifact `{reference}` ({digest}) is signed, but by no trusted key: its signature {why} (trusted: {trusted}); nothing of it runs")]
    BadSignature { reference: String, digest: String, why: String, trusted: String },
    #[error("{0}")]
    Other(String),
}

pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackagingError {
    let path = path.into();
    move |source| PackagingError::Io { action, path, source }
}
