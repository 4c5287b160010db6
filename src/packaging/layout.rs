//! OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`): as a
//! directory, or a tar of one, which `skopeo`, `oras`, `crane` and
//! containerd read too.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder};

use super::error::{io, PackagingError};
use super::oci::{self, REF_NAME};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// The largest tar `Layout::open` reads (it is held in memory).
const MAX_TAR: u64 = 1 << 30;

/// A layout being read: a directory, or a tar's files held in memory.
pub enum Layout {
    Dir(PathBuf),
    Tar { path: PathBuf, files: HashMap<String, Vec<u8>> },
}

fn bad(path: &Path, why: impl Into<String>) -> PackagingError {
    PackagingError::Layout { path: path.to_path_buf(), why: why.into() }
}

impl Layout {
    /// Open the layout at `path` (a directory, or a `.tar` of one).
    pub fn open(path: &Path) -> Result<Layout, PackagingError> {
        let layout = if path.is_dir() {
            Layout::Dir(path.to_path_buf())
        } else {
            let file = fs::File::open(path).map_err(io("open", path))?;
            let mut files = HashMap::new();
            let mut archive = tar::Archive::new(file.take(MAX_TAR));
            for entry in archive.entries().map_err(|e| bad(path, format!("not a tar: {e}")))? {
                let mut entry = entry.map_err(|e| bad(path, format!("damaged tar: {e}")))?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = entry.path().map_err(|e| bad(path, e.to_string()))?.to_string_lossy().trim_start_matches("./").to_string();
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| bad(path, format!("damaged tar: {e}")))?;
                files.insert(name, bytes);
            }
            Layout::Tar { path: path.to_path_buf(), files }
        };
        let marker = layout.file(LAYOUT_FILE).map_err(|_| bad(path, "it has no `oci-layout` file"))?;
        let v: serde_json::Value = serde_json::from_slice(&marker).map_err(|e| bad(path, format!("`oci-layout` is not JSON: {e}")))?;
        if v.get("imageLayoutVersion").and_then(|v| v.as_str()).is_none_or(|v| !v.starts_with("1.")) {
            return Err(bad(path, "`oci-layout` names no image layout version 1.x"));
        }
        Ok(layout)
    }

    pub fn path(&self) -> &Path {
        match self {
            Layout::Dir(p) | Layout::Tar { path: p, .. } => p,
        }
    }

    fn file(&self, rel: &str) -> Result<Vec<u8>, PackagingError> {
        match self {
            Layout::Dir(root) => fs::read(root.join(rel)).map_err(io("read", root.join(rel))),
            Layout::Tar { path, files } => files.get(rel).cloned().ok_or_else(|| bad(path, format!("it has no `{rel}`"))),
        }
    }

    pub fn index(&self) -> Result<ImageIndex, PackagingError> {
        oci::parse_index(&self.path().join("index.json").display().to_string(), &self.file("index.json")?)
    }

    /// Blob `digest`, checked against it.
    pub fn blob(&self, digest: &str) -> Result<Vec<u8>, PackagingError> {
        if !super::reference::is_digest(digest) {
            return Err(bad(self.path(), format!("`{digest}` is not a sha256 digest")));
        }
        let bytes = self.file(&format!("blobs/sha256/{}", oci::hex_of(digest)))?;
        oci::verify(&format!("{} blob {digest}", self.path().display()), digest, &bytes)?;
        Ok(bytes)
    }

    /// The manifests of `index.json` with their ref names (tags).
    pub fn manifests(&self) -> Result<Vec<(Descriptor, Option<String>)>, PackagingError> {
        Ok(self.index()?.manifests().iter().map(|d| (d.clone(), oci::annotation(d, REF_NAME).map(String::from))).collect())
    }
}

/// A layout being written, as a directory.
pub struct LayoutWriter {
    root: PathBuf,
    entries: Vec<Descriptor>,
}

impl LayoutWriter {
    /// Create the layout directory `root` afresh: an earlier layout there is
    /// replaced; any other non-empty folder is refused (nothing of it is
    /// touched).
    pub fn create(root: &Path) -> Result<LayoutWriter, PackagingError> {
        let holds = fs::read_dir(root).map(|mut r| r.next().is_some()).unwrap_or(false);
        if holds {
            if !root.join(LAYOUT_FILE).is_file() {
                return Err(bad(root, "the folder exists and holds other files; name an empty or new folder"));
            }
            fs::remove_dir_all(root).map_err(io("replace", root))?;
        }
        fs::create_dir_all(root.join("blobs/sha256")).map_err(io("create", root))?;
        fs::write(root.join(LAYOUT_FILE), LAYOUT_VERSION).map_err(io("write", root.join(LAYOUT_FILE)))?;
        Ok(LayoutWriter { root: root.to_path_buf(), entries: Vec::new() })
    }

    /// Store `bytes` as a blob; returns its digest.
    pub fn put(&self, bytes: &[u8]) -> Result<String, PackagingError> {
        let digest = oci::digest_of(bytes);
        let path = self.root.join("blobs/sha256").join(oci::hex_of(&digest));
        let sound = fs::read(&path).is_ok_and(|b| oci::digest_of(&b) == digest);
        if !sound {
            super::store::write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Store `manifest` (an image manifest) and list it in `index.json`
    /// under `tag` (replacing what had that tag).
    pub fn add_manifest(&mut self, manifest: &[u8], tag: Option<&str>, artifact_type: Option<&str>) -> Result<String, PackagingError> {
        let digest = self.put(manifest)?;
        let mut annotations = BTreeMap::new();
        if let Some(t) = tag {
            annotations.insert(REF_NAME.to_string(), t.to_string());
            self.entries.retain(|d| oci::annotation(d, REF_NAME) != Some(t));
        }
        self.entries.retain(|d| d.digest().to_string() != digest || tag.is_none());
        let mut d = oci::descriptor(oci::MANIFEST, &digest, manifest.len() as u64, &annotations)?;
        if let Some(t) = artifact_type {
            d.set_artifact_type(Some(oci::media(t)));
        }
        self.entries.push(d);
        Ok(digest)
    }

    /// Write `index.json`.
    pub fn finish(self) -> Result<PathBuf, PackagingError> {
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(oci::media(oci::INDEX))
            .manifests(self.entries)
            .build()
            .map_err(|e| PackagingError::Other(format!("OCI index: {e}")))?;
        let path = self.root.join("index.json");
        fs::write(&path, oci::canonical_json(&index)).map_err(io("write", &path))?;
        Ok(self.root)
    }
}

/// The files under `dir` as a tar: sorted, owner root, mode 0644, time 0
/// (the same tree gives the same bytes). Symbolic links are never followed
/// (nothing outside `dir` gets in); `skip(path, is_dir)` leaves an entry out.
pub(crate) fn tar_tree(dir: &Path, skip: &dyn Fn(&Path, bool) -> bool) -> Result<Vec<u8>, PackagingError> {
    fn walk(dir: &Path, skip: &dyn Fn(&Path, bool) -> bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in fs::read_dir(dir)? {
            let e = e?;
            let (p, kind) = (e.path(), e.file_type()?);
            if kind.is_symlink() || skip(&p, kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                walk(&p, skip, out)?;
            } else {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, skip, &mut files).map_err(io("read", dir))?;
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    for path in files {
        let bytes = fs::read(&path).map_err(io("read", &path))?;
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &rel, bytes.as_slice()).map_err(io("archive", &path))?;
    }
    builder.into_inner().map_err(io("archive", dir))
}

/// Write the layout directory `dir` as the tar `out` (see [`tar_tree`]).
pub fn tar_dir(dir: &Path, out: &Path) -> Result<(), PackagingError> {
    let bytes = tar_tree(dir, &|p, _| p.extension().is_some_and(|x| x == "tmp"))?;
    super::store::write_atomic(out, &bytes)
}
