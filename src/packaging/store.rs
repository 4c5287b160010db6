//! Pulled artifacts on disk: `<cache root>/oci/`, content-addressed blobs
//! (`blobs/sha256/<hex>`, every read checked against its name), what each
//! pulled tag resolved to (`refs/<registry>/<repository>/<tag>`), and each
//! manifest's signature manifest (`signatures/<manifest hex>`). Private to
//! the user, like the compiled-component cache beside it.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{io, PackagingError};
use super::oci;
use super::reference::{is_digest, Reference};

/// The digest a file of a store names (`…/oci/blobs/sha256/<hex>`), if
/// `path` is one: what its bytes must hash to whenever they are read.
pub fn stored_digest(path: &Path) -> Option<String> {
    let hex = path.file_name()?.to_str()?;
    let sha = path.parent()?;
    let blobs = sha.parent()?;
    let ok = sha.file_name()? == "sha256" && blobs.file_name()? == "blobs" && blobs.parent()?.file_name()? == "oci";
    (ok && is_digest(&format!("sha256:{hex}"))).then(|| format!("sha256:{hex}"))
}

/// The pulled-artifact store of one cache root.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// One pulled reference, as `torvyn cache ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PulledEntry {
    pub reference: String,
    pub digest: String,
}

/// Write `bytes` to `path` through a temporary file beside it, renamed into
/// place: a reader sees the old file or the whole new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PackagingError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    let tmp = path.with_file_name(format!(".{}.{}.{:x}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), std::process::id(), fastrand::u64(..)));
    fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io("write", path)(e)
    })
}

impl Store {
    /// The store under cache root `root`, without creating it.
    pub fn at(root: &Path) -> Store {
        Store { dir: root.join("oci") }
    }

    /// The store under `root`, created private to this user.
    pub fn open(root: &Path) -> Result<Store, PackagingError> {
        let store = Store::at(root);
        for d in [root, store.dir.as_path()] {
            crate::engine::private_dir(d).map_err(|e| PackagingError::Other(e.to_string()))?;
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where blob `digest` is (whether or not it is there).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(oci::hex_of(digest))
    }

    /// Blob `digest`, if the store has a sound copy (a damaged one is removed).
    pub fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        if !is_digest(digest) {
            return None;
        }
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).ok()?;
        if oci::digest_of(&bytes) != digest {
            log::warn!("pulled blob `{}` does not match its digest (damaged on disk); removed, it will be pulled again", path.display());
            let _ = fs::remove_file(&path);
            return None;
        }
        Some(bytes)
    }

    /// Keep `bytes` (already checked against their digest by the caller).
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, PackagingError> {
        let digest = oci::digest_of(bytes);
        let path = self.blob_path(&digest);
        if !path.is_file() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    fn ref_path(&self, r: &Reference) -> Option<PathBuf> {
        let tag = r.tag.as_deref()?;
        Some(self.dir.join("refs").join(&r.registry).join(&r.repository).join(tag))
    }

    /// The manifest digest tag `r` resolved to when it was last pulled.
    pub fn resolved(&self, r: &Reference) -> Option<String> {
        let text = fs::read_to_string(self.ref_path(r)?).ok()?;
        let d = text.trim().to_string();
        is_digest(&d).then_some(d)
    }

    /// Remember that tag `r` resolved to `digest`.
    pub fn set_resolved(&self, r: &Reference, digest: &str) -> Result<(), PackagingError> {
        match self.ref_path(r) {
            Some(p) => write_atomic(&p, digest.as_bytes()),
            None => Ok(()),
        }
    }

    /// The signature manifest digest kept for manifest `digest`.
    pub fn signature(&self, digest: &str) -> Option<String> {
        let text = fs::read_to_string(self.dir.join("signatures").join(oci::hex_of(digest))).ok()?;
        let d = text.trim().to_string();
        is_digest(&d).then_some(d)
    }

    pub fn set_signature(&self, digest: &str, signature: &str) -> Result<(), PackagingError> {
        write_atomic(&self.dir.join("signatures").join(oci::hex_of(digest)), signature.as_bytes())
    }

    /// Every pulled tag and what it resolved to.
    pub fn list(&self) -> Result<Vec<PulledEntry>, PackagingError> {
        let refs = self.dir.join("refs");
        let mut out = Vec::new();
        fn walk(base: &Path, dir: &Path, out: &mut Vec<PulledEntry>) {
            let Ok(read) = fs::read_dir(dir) else { return };
            for e in read.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                    let rel = p.strip_prefix(base).unwrap_or(&p).to_string_lossy().into_owned();
                    let (repo, tag) = rel.rsplit_once('/').unwrap_or((&rel, ""));
                    let digest = fs::read_to_string(&p).unwrap_or_default().trim().to_string();
                    out.push(PulledEntry { reference: format!("oci://{repo}:{tag}"), digest });
                }
            }
        }
        walk(&refs, &refs, &mut out);
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }

    /// Remove everything pulled; returns how many files and bytes went.
    pub fn clear(&self) -> Result<(usize, u64), crate::engine::CacheError> {
        fn count(dir: &Path, n: &mut usize, bytes: &mut u64) {
            let Ok(read) = fs::read_dir(dir) else { return };
            for e in read.flatten() {
                let p = e.path();
                if p.is_dir() {
                    count(&p, n, bytes);
                } else {
                    *n += 1;
                    *bytes += e.metadata().map_or(0, |m| m.len());
                }
            }
        }
        // Only what the store writes.
        let (mut n, mut bytes) = (0, 0);
        for part in ["blobs", "refs", "signatures"] {
            let dir = self.dir.join(part);
            let (mut k, mut b) = (0, 0);
            count(&dir, &mut k, &mut b);
            match fs::remove_dir_all(&dir) {
                Ok(()) => {
                    n += k;
                    bytes += b;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(crate::engine::CacheError::Io { path: dir, source }),
            }
        }
        Ok((n, bytes))
    }
}
