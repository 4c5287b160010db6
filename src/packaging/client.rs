//! A client of the OCI distribution API: manifests and blobs, pushed and
//! pulled, with HTTP basic and bearer-token authentication. Loopback
//! registries (and those listed in `[registry] insecure`) are spoken to over
//! plain HTTP, every other one over HTTPS.

use std::time::Duration;

use base64::Engine as _;
use parking_lot::Mutex;

use super::error::PackagingError;
use super::oci;
use super::reference::Reference;

/// The largest manifest read (the distribution spec suggests 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;
/// The largest blob read: a component, its WIT or its source.
pub const MAX_BLOB: u64 = 512 << 20;
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Registry credentials for `registry`: `TORVYN_REGISTRY_USERNAME` and
/// `TORVYN_REGISTRY_PASSWORD` when `TORVYN_REGISTRY_HOST` names this
/// registry (so a manifest naming another registry never receives them),
/// else the `auths` entry of docker's `config.json` (`$DOCKER_CONFIG` or
/// `~/.docker`) for the host.
fn credentials(registry: &str) -> Option<(String, String)> {
    if let (Ok(u), Ok(p)) = (std::env::var("TORVYN_REGISTRY_USERNAME"), std::env::var("TORVYN_REGISTRY_PASSWORD")) {
        match std::env::var("TORVYN_REGISTRY_HOST") {
            Ok(h) if h == registry => return Some((u, p)),
            Ok(_) => {}
            Err(_) => log::warn!("TORVYN_REGISTRY_USERNAME/PASSWORD are ignored: set TORVYN_REGISTRY_HOST to the registry they are for (`{registry}`?)"),
        }
    }
    let dir = std::env::var_os("DOCKER_CONFIG").map(std::path::PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let entry = auths.iter().find(|(k, _)| k.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/') == registry)?.1;
    let decoded = base64::engine::general_purpose::STANDARD.decode(entry.get("auth")?.as_str()?).ok()?;
    let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// One registry, with what it takes to talk to it.
pub struct Registry {
    registry: String,
    base: String,
    agent: ureq::Agent,
    credentials: Option<(String, String)>,
    /// The registry is this machine.
    loopback: bool,
    /// The `Authorization` header that worked last (per repository scope).
    authorization: Mutex<Option<(String, String)>>,
}

type Response = ureq::http::Response<ureq::Body>;

impl Registry {
    /// A client for `reference`'s registry; `insecure` lists hosts spoken to
    /// over plain HTTP besides loopback ones. Credentials come from the
    /// environment or docker's `config.json` (see [`Registry::with_credentials`]).
    pub fn new(reference: &Reference, insecure: &[String]) -> Registry {
        Registry::with_credentials(reference, insecure, credentials(&reference.registry))
    }

    /// A client with these credentials (user, password) for this registry only.
    pub fn with_credentials(reference: &Reference, insecure: &[String], credentials: Option<(String, String)>) -> Registry {
        let plain = reference.is_loopback() || insecure.iter().any(|h| h == &reference.registry);
        let scheme = if plain { "http" } else { "https" };
        let config = ureq::config::Config::builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(300)))
            .http_status_as_error(false)
            .max_redirects(5)
            .build();
        Registry {
            registry: reference.registry.clone(),
            base: format!("{scheme}://{}", reference.registry),
            agent: ureq::Agent::new_with_config(config),
            credentials,
            loopback: reference.is_loopback(),
            authorization: Mutex::new(None),
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> PackagingError {
        PackagingError::Unreachable { registry: self.registry.clone(), why: e.to_string() }
    }

    /// Send a request, answering one authentication challenge.
    fn send(&self, method: &str, url: &str, repository: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<Response, PackagingError> {
        let attempt = |auth: Option<&str>| -> Result<Response, PackagingError> {
            let mut b = ureq::http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            if let Some(a) = auth {
                b = b.header("Authorization", a);
            }
            let result = match body {
                Some(bytes) => self.agent.run(b.body(bytes.to_vec()).map_err(|e| self.unreachable(e))?),
                None => self.agent.run(b.body(()).map_err(|e| self.unreachable(e))?),
            };
            result.map_err(|e| self.unreachable(e))
        };
        let known = self.authorization.lock().clone().filter(|(scope, _)| scope == repository).map(|(_, a)| a);
        let response = attempt(known.as_deref())?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let auth = self.answer(&challenge, repository)?;
        let retried = attempt(Some(&auth))?;
        let status = retried.status().as_u16();
        if status == 401 || status == 403 {
            return Err(PackagingError::Unauthorized { registry: self.registry.clone(), repository: repository.to_string(), status });
        }
        *self.authorization.lock() = Some((repository.to_string(), auth));
        Ok(retried)
    }

    /// The `Authorization` value answering `challenge`.
    fn answer(&self, challenge: &str, repository: &str) -> Result<String, PackagingError> {
        let denied = || PackagingError::Unauthorized { registry: self.registry.clone(), repository: repository.to_string(), status: 401 };
        let basic = |(u, p): &(String, String)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        // Credentials cross plain HTTP only to this machine.
        if self.credentials.is_some() && self.base.starts_with("http://") && !self.loopback {
            return Err(PackagingError::Other(format!(
                "registry `{}` is spoken to over plain HTTP and asks for credentials; they are sent over plain HTTP only to this machine: use HTTPS",
                self.registry
            )));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            return self.credentials.as_ref().map(basic).ok_or_else(denied);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(denied());
        }
        let param = |name: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = param("realm").ok_or_else(denied)?;
        // Credentials go to the token service only over HTTPS, or over
        // plain HTTP to this very registry when it is spoken to that way.
        let same_plain = self.base.starts_with("http://") && realm.starts_with(&format!("{}/", self.base));
        if !realm.starts_with("https://") && !same_plain {
            return Err(PackagingError::Other(format!(
                "registry `{}` asks for credentials at `{realm}`, which is not HTTPS; refusing to send them",
                self.registry
            )));
        }
        let mut url = format!("{realm}?scope=repository:{repository}:pull,push");
        if let Some(service) = param("service") {
            let encoded: String = service
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            url.push_str(&format!("&service={encoded}"));
        }
        let mut req = self.agent.get(&url);
        if let Some(c) = &self.credentials {
            req = req.header("Authorization", &basic(c));
        }
        let mut resp = req.call().map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            401 | 403 => return Err(denied()),
            s if !(200..300).contains(&s) => return Err(self.failed(format!("GET token from {realm}"), resp)),
            _ => {}
        }
        let text = resp.body_mut().with_config().limit(1 << 20).read_to_string().map_err(|e| self.unreachable(e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| denied())?;
        let token = v.get("token").or_else(|| v.get("access_token")).and_then(|t| t.as_str()).ok_or_else(denied)?;
        Ok(format!("Bearer {token}"))
    }

    fn url(&self, repository: &str, kind: &str, target: &str) -> String {
        format!("{}/v2/{repository}/{kind}/{target}", self.base)
    }

    fn failed(&self, what: String, mut response: Response) -> PackagingError {
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
        PackagingError::Registry { registry: self.registry.clone(), what, status, body: body.trim().chars().take(300).collect() }
    }

    /// The manifest `reference` names (its bytes and digest), checked
    /// against the reference's digest when it has one; `None` if absent.
    pub fn manifest(&self, reference: &Reference) -> Result<Option<(Vec<u8>, String)>, PackagingError> {
        let url = self.url(&reference.repository, "manifests", reference.target());
        let mut response = self.send("GET", &url, &reference.repository, &[("Accept", ACCEPT)], None)?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.failed(format!("GET manifest {reference}"), response)),
        }
        let claimed = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(String::from);
        let bytes = response.body_mut().with_config().limit(MAX_MANIFEST).read_to_vec().map_err(|e| self.read_error(e, &reference.to_string(), MAX_MANIFEST))?;
        let digest = oci::digest_of(&bytes);
        // What was asked for by digest must hash to it; what the registry
        // says it sent must too.
        for expected in reference.digest.iter().chain(claimed.iter().filter(|c| c.starts_with("sha256:"))) {
            oci::verify(&format!("manifest of {reference}"), expected, &bytes)?;
        }
        Ok(Some((bytes, digest)))
    }

    /// Why reading a body failed: too large, or the connection.
    fn read_error(&self, e: ureq::Error, what: &str, limit: u64) -> PackagingError {
        match e {
            ureq::Error::BodyExceedsLimit(_) => PackagingError::TooLarge { what: what.to_string(), limit },
            other => self.unreachable(other),
        }
    }

    /// Blob `digest` of `repository` whose descriptor says it has `size`
    /// bytes (at most `limit`): checked against both.
    pub fn blob(&self, repository: &str, digest: &str, size: u64, limit: u64) -> Result<Vec<u8>, PackagingError> {
        let what = format!("blob {digest} of oci://{}/{repository}", self.registry);
        if size > limit {
            return Err(PackagingError::TooLarge { what, limit });
        }
        if !super::reference::is_digest(digest) {
            return Err(PackagingError::Other(format!("{what}: only sha256 digests are accepted")));
        }
        let url = self.url(repository, "blobs", digest);
        let mut response = self.send("GET", &url, repository, &[], None)?;
        if response.status().as_u16() == 404 {
            return Err(PackagingError::NotFound { reference: format!("oci://{}/{repository}@{digest}", self.registry) });
        }
        if !response.status().is_success() {
            return Err(self.failed(format!("GET blob {digest}"), response));
        }
        let bytes = response.body_mut().with_config().limit(size).read_to_vec().map_err(|e| self.read_error(e, &what, size))?;
        oci::verify(&what, digest, &bytes)?;
        Ok(bytes)
    }

    /// Upload `bytes` as a blob of `repository` (skipped if it is there).
    pub fn push_blob(&self, repository: &str, bytes: &[u8]) -> Result<String, PackagingError> {
        let digest = oci::digest_of(bytes);
        let head = self.send("HEAD", &self.url(repository, "blobs", &digest), repository, &[], None)?;
        if head.status().is_success() {
            return Ok(digest);
        }
        let start = self.send("POST", &format!("{}/v2/{repository}/blobs/uploads/", self.base), repository, &[("Content-Length", "0")], Some(&[]))?;
        if start.status().as_u16() != 202 {
            return Err(self.failed(format!("POST blob upload to {repository}"), start));
        }
        let location = start.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let location = if location.starts_with('/') { format!("{}{location}", self.base) } else { location };
        // The upload goes to this registry (and its credentials with it), nowhere else.
        if !location.starts_with(&format!("{}/", self.base)) {
            return Err(PackagingError::Other(format!("registry `{}` named an upload location on another host (`{location}`); refusing to send the blob there", self.registry)));
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self.send("PUT", &format!("{location}{sep}digest={digest}"), repository, &[("Content-Type", "application/octet-stream")], Some(bytes))?;
        if put.status().as_u16() != 201 {
            return Err(self.failed(format!("PUT blob {digest} to {repository}"), put));
        }
        Ok(digest)
    }

    /// Put `manifest` at `tag` (or its digest) of `repository`.
    pub fn push_manifest(&self, repository: &str, tag: &str, manifest: &[u8]) -> Result<String, PackagingError> {
        let put = self.send("PUT", &self.url(repository, "manifests", tag), repository, &[("Content-Type", oci::MANIFEST)], Some(manifest))?;
        if put.status().as_u16() != 201 {
            return Err(self.failed(format!("PUT manifest {repository}:{tag}"), put));
        }
        Ok(oci::digest_of(manifest))
    }
}
