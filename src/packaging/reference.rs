//! OCI references: `oci://host[:port]/repo/path:tag`,
//! `oci://host[:port]/repo/path@sha256:<hex>` (or both, the digest
//! winning), as manifests write them and the commands take them (the
//! `oci://` prefix optional there).

use std::fmt;

use super::error::PackagingError;

/// Where an artifact lives in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host` or `host:port`.
    pub registry: String,
    /// `path/to/repo`, lower case.
    pub repository: String,
    /// The tag, if one was given (`latest` when neither tag nor digest was).
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, if one was given: what is pulled must hash to it.
    pub digest: Option<String>,
}

/// The longest tag the distribution spec allows.
const MAX_TAG: usize = 128;

fn bad(reference: &str, why: impl Into<String>) -> PackagingError {
    PackagingError::Reference { reference: reference.to_string(), why: why.into() }
}

/// Whether `d` is `sha256:` and 64 lower-case hex digits.
pub fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

impl Reference {
    /// Parse `text`, with or without the `oci://` prefix.
    pub fn parse(text: &str) -> Result<Reference, PackagingError> {
        let rest = text.strip_prefix("oci://").unwrap_or(text);
        let (name, digest) = match rest.split_once('@') {
            Some((n, d)) => {
                if !is_digest(d) {
                    return Err(bad(text, format!("`{d}` is not a digest; write `@sha256:` and 64 lower-case hex digits")));
                }
                (n, Some(d.to_string()))
            }
            None => (rest, None),
        };
        let Some((registry, path)) = name.split_once('/') else {
            return Err(bad(text, "no repository: write `oci://host[:port]/repository:tag`"));
        };
        let host_ok = !registry.is_empty()
            && registry.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            && (registry.as_bytes()[0].is_ascii_alphanumeric() || registry.as_bytes()[0] == b'[')
            && !registry.contains("..");
        if !host_ok {
            return Err(bad(text, format!("`{registry}` is not a registry host (`host` or `host:port`)")));
        }
        // A tag follows the last `:` after the last `/`.
        let last = path.rsplit('/').next().unwrap_or(path);
        let (repository, tag) = match last.rfind(':') {
            Some(i) => {
                let cut = path.len() - last.len() + i;
                (&path[..cut], Some(path[cut + 1..].to_string()))
            }
            None => (path, None),
        };
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        };
        if repository.is_empty() || !repository.split('/').all(valid_component) {
            return Err(bad(
                text,
                format!("`{repository}` is not a repository name: lower-case letters, digits and `._-`, in `/`-separated parts that start and end with a letter or digit"),
            ));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= MAX_TAG
                && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(bad(text, format!("`{t}` is not a tag: up to 128 letters, digits and `._-`, not starting with `.` or `-`")));
            }
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(Reference { registry: registry.to_string(), repository: repository.to_string(), tag, digest })
    }

    /// What to ask the registry for: the digest if known, else the tag.
    pub fn target(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The same repository at `digest`.
    pub fn at(&self, digest: &str) -> Reference {
        Reference { digest: Some(digest.to_string()), ..self.clone() }
    }

    /// Whether the registry is this machine (spoken to over plain HTTP).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
            _ => self.registry.as_str(),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_manifests_write() {
        let r = Reference::parse("oci://127.0.0.1:5000/torvyn/upper:1.0").unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref(), r.digest.as_deref()), ("127.0.0.1:5000", "torvyn/upper", Some("1.0"), None));
        assert!(r.is_loopback());
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("oci://ghcr.io/acme/tx@{d}")).unwrap();
        assert_eq!((r.tag.as_deref(), r.digest.as_deref(), r.target()), (None, Some(d.as_str()), d.as_str()));
        assert!(!Reference::parse("ghcr.io/acme/tx").unwrap().is_loopback());
        assert_eq!(Reference::parse("localhost:5000/a/b").unwrap().to_string(), "oci://localhost:5000/a/b:latest");
        for bad in ["oci://host", "oci://host/UPPER:1", "oci://host/a:-x", "oci://host/a@sha256:12", "oci:///a", "oci://host/a//b", "oci://ho st/a", "oci://../a:1", "oci://a..b/c:1", "oci://-x/a:1"] {
            assert!(Reference::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
