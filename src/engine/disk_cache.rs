//! Compiled components kept on disk, so a new process starts warm.
//!
//! An entry is the machine code wasmtime made for one component under one
//! engine configuration, keyed by the component's SHA-256, the engine's
//! compatibility hash (wasmtime version, target, and every setting that
//! changes code: fuel metering, memory layout, stack limits, features) and
//! this file format's version. Loading machine code runs it, so an entry is
//! trusted only because (1) it is sealed: an HMAC-SHA256, under a secret
//! that only this user's Torvyn holds (`<user cache root>/secret`, 0600),
//! over its key, its payload's SHA-256 and its component; a cache folder
//! that came with a project, another user's, or one edited by hand holds no
//! entry this user's Torvyn will load, whatever checksums it carries;
//! (2) the directory belongs to this user and nobody else may write to it
//! (checked when the cache is opened; otherwise the cache is not used);
//! (3) entries are written to a private temporary file and renamed into
//! place (a reader never sees half an entry); (4) the payload's SHA-256 is
//! checked before wasmtime sees a byte: a truncated, corrupted, misplaced
//! or foreign entry is removed and the component compiled again. wasmtime
//! then checks its own header (version, configuration) on top.
//!
//! Layout: `<root>/compiled/<key hex>.cwasm`, where `<root>` is the
//! `compilation_cache_dir` setting or the user cache directory.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::seal::{seal, secret};

/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"TORVYNCC";
/// This file format; part of the key, so a new format never reads an old one.
const FORMAT: u32 = 2;
/// Fixed part of the header: magic, format, key, component digest, payload
/// length, payload digest, seal, name length.
const HEADER: usize = 8 + 4 + 32 + 32 + 8 + 32 + 32 + 2;
/// The cache keeps at most this many bytes of entries; storing beyond it
/// removes the least recently used.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// Why the cache directory cannot be used (the host then compiles every
/// component in memory, as without a cache).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create the compiled-component cache `{path}`: {source}; set `compilation_cache_dir` to a writable directory or to \"\" to turn the cache off")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("the compiled-component cache `{path}` {why}; loading machine code from it would run whatever another user put there, so it is not used: fix its ownership and mode (`chmod 700`) or set `compilation_cache_dir` elsewhere")]
    NotPrivate { path: PathBuf, why: String },
    #[error("cannot read the compiled-component cache `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Where a host keeps compiled components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheLocation {
    /// The user cache directory ([`default_root`]).
    #[default]
    UserDefault,
    /// This directory (`compilation_cache_dir`).
    At(PathBuf),
    /// In memory only (`compilation_cache_dir = ""`).
    Off,
}

impl CacheLocation {
    /// The root directory this names, if any.
    pub fn root(&self) -> Option<PathBuf> {
        match self {
            CacheLocation::UserDefault => default_root(),
            CacheLocation::At(p) => Some(p.clone()),
            CacheLocation::Off => None,
        }
    }

    /// The cache to use: opened (created private) now; a directory that
    /// cannot be used is logged and the host compiles in memory.
    pub fn open(&self) -> Option<DiskCache> {
        let root = self.root()?;
        match DiskCache::open(&root) {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!("{e}");
                None
            }
        }
    }
}

/// Where caches live when no `compilation_cache_dir` is set:
/// `$TORVYN_HOME/cache`, else `$XDG_CACHE_HOME/torvyn`, else
/// `$HOME/.cache/torvyn`; `None` when none of those is set.
pub fn default_root() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    // Relative values would put the cache (and its secret) wherever the
    // process happens to run, a project's folder perhaps: ignored.
    if let Some(home) = var("TORVYN_HOME").filter(|p| p.is_absolute()) {
        return Some(home.join("cache"));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("torvyn"));
    }
    var("HOME").map(|h| h.join(".cache").join("torvyn"))
}

/// Create `dir` (and its parents) private to this user, or check that the
/// existing one is.
pub fn private_dir(dir: &Path) -> Result<(), CacheError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| CacheError::Create { path: dir.to_path_buf(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(dir).map_err(|source| CacheError::Io { path: dir.to_path_buf(), source })?;
        let not_private = |why: String| Err(CacheError::NotPrivate { path: dir.to_path_buf(), why });
        if !meta.is_dir() {
            return not_private("is not a directory (a symbolic link?)".into());
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return not_private(format!("belongs to user {} (this process runs as {me})", meta.uid()));
        }
        if meta.mode() & 0o022 != 0 {
            return not_private(format!("may be written by its group or others (mode {:o})", meta.mode() & 0o777));
        }
    }
    Ok(())
}

/// Write `parts` to `path` as a file private to this user: a new temporary
/// file beside it (0600 from creation, never an existing file's mode, never
/// through a link; named `.<file>.<pid>.<random>.tmp`), synced, then renamed
/// over `path`, so a reader sees the old file or the whole new one.
pub fn write_private(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file}.{}.{:016x}.tmp", std::process::id(), fastrand::u64(..)));
    let mut options = fs::File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut f = options.open(&tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// One entry, as `torvyn cache ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CompiledEntry {
    pub path: PathBuf,
    /// The component's name when it was compiled.
    pub component: String,
    /// SHA-256 of the component's `.wasm`, hex.
    pub digest: String,
    pub bytes: u64,
    /// Seconds since the Unix epoch of its last use.
    pub used_unix_s: u64,
}

/// The on-disk compiled-component cache of one root directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// A `Hasher` that feeds SHA-256, so a `Hash` value (wasmtime's engine
/// compatibility hash) gives the same key in every process of this build.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0
    }
}

impl DiskCache {
    /// The cache under `root` (its `compiled/` directory, created private).
    pub fn open(root: &Path) -> Result<DiskCache, CacheError> {
        private_dir(root)?;
        let dir = root.join("compiled");
        private_dir(&dir)?;
        Ok(DiskCache { dir, max_bytes: DEFAULT_MAX_BYTES })
    }

    /// The cache under `root` without creating anything (for listing and clearing).
    pub fn at(root: &Path) -> DiskCache {
        DiskCache { dir: root.join("compiled"), max_bytes: DEFAULT_MAX_BYTES }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of `component` (its SHA-256) compiled by `engine`.
    pub fn key(engine: &wasmtime::Engine, component: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256Hasher(Sha256::new());
        h.write(b"torvyn compiled component");
        h.write(&FORMAT.to_le_bytes());
        h.write(component);
        h.write(std::env::consts::ARCH.as_bytes());
        h.write(std::env::consts::OS.as_bytes());
        engine.precompile_compatibility_hash().hash(&mut h);
        h.0.finalize().into()
    }

    fn path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.cwasm", crate::observability::hex(key)))
    }

    /// The verified payload of entry `key`, if there is a sound one. A
    /// damaged entry is removed (and logged) so the caller compiles again.
    pub fn load(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        let path = self.path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                log::warn!("cannot read compiled-component cache entry `{}`: {e}; compiling instead", path.display());
                return None;
            }
        };
        let secret = secret()?;
        match parse(&bytes, Some(key), &secret) {
            Ok(entry) => {
                // Its modification time marks its last use (for eviction).
                let _ = fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(SystemTime::now()));
                Some(bytes[entry.payload_at..].to_vec())
            }
            Err(why) => {
                log::warn!("compiled-component cache entry `{}` is {why}; removed, compiling again", path.display());
                self.discard(key);
                None
            }
        }
    }

    /// Remove entry `key` (wasmtime refused it, or it is damaged).
    pub fn discard(&self, key: &[u8; 32]) {
        let _ = fs::remove_file(self.path(key));
    }

    /// Keep `payload` (the serialized component `name` with digest
    /// `digest`) as entry `key`: written to a private temporary file and
    /// renamed into place. Failures are logged, never fatal.
    pub fn store(&self, key: &[u8; 32], name: &str, digest: &[u8; 32], payload: &[u8]) {
        if let Err(e) = self.write(key, name, digest, payload) {
            log::warn!("cannot keep `{name}` in the compiled-component cache `{}`: {e}", self.dir.display());
            return;
        }
        self.evict();
    }

    fn write(&self, key: &[u8; 32], name: &str, digest: &[u8; 32], payload: &[u8]) -> std::io::Result<()> {
        let secret = secret().ok_or_else(|| std::io::Error::other("no sealing secret (no OS randomness)"))?;
        let name: String = name.chars().take(200).collect();
        let sum: [u8; 32] = Sha256::digest(payload).into();
        let mut header = Vec::with_capacity(HEADER + name.len());
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT.to_le_bytes());
        header.extend_from_slice(key);
        header.extend_from_slice(digest);
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        header.extend_from_slice(&sum);
        header.extend_from_slice(&seal(&secret, key, &sum, digest, name.as_bytes()));
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        write_private(&self.path(key), &[&header, payload])
    }

    /// Every sound entry (damaged ones are listed with what is wrong as
    /// their component name), most recently used first.
    pub fn entries(&self) -> Result<Vec<CompiledEntry>, CacheError> {
        let read = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(CacheError::Io { path: self.dir.clone(), source }),
        };
        let mut out = Vec::new();
        for item in read.flatten() {
            let path = item.path();
            if path.extension().is_none_or(|e| e != "cwasm") {
                continue;
            }
            let Ok(meta) = item.metadata() else { continue };
            let used_unix_s = meta.modified().ok().and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
            let sealed_by = secret().unwrap_or_default();
            let (component, digest) = match fs::read(&path).map_err(|e| e.to_string()).and_then(|b| parse(&b, None, &sealed_by).map_err(String::from)) {
                Ok(e) => (e.name, crate::observability::hex(&e.digest)),
                Err(why) => (format!("(damaged: {why})"), String::new()),
            };
            out.push(CompiledEntry { path, component, digest, bytes: meta.len(), used_unix_s });
        }
        out.sort_by(|a, b| b.used_unix_s.cmp(&a.used_unix_s).then_with(|| a.path.cmp(&b.path)));
        Ok(out)
    }

    /// Remove every entry (and stray temporary files); returns how many
    /// files and bytes went.
    pub fn clear(&self) -> Result<(usize, u64), CacheError> {
        let read = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(source) => return Err(CacheError::Io { path: self.dir.clone(), source }),
        };
        let (mut n, mut bytes) = (0, 0);
        for item in read.flatten() {
            let len = item.metadata().map_or(0, |m| m.len());
            let name = item.file_name().to_string_lossy().into_owned();
            // Only what the cache writes: entries and its temporary files.
            let ours = name.ends_with(".cwasm") || (name.starts_with('.') && name.ends_with(".tmp"));
            if ours && item.file_type().is_ok_and(|t| t.is_file()) && fs::remove_file(item.path()).is_ok() {
                n += 1;
                bytes += len;
            }
        }
        Ok((n, bytes))
    }

    /// Keep the cache within its byte bound: least recently used entries go;
    /// temporary files a crashed process left (older than an hour) go too.
    fn evict(&self) {
        let Ok(read) = fs::read_dir(&self.dir) else { return };
        let items: Vec<_> = read.flatten().collect();
        let stale = SystemTime::now() - std::time::Duration::from_secs(3600);
        for i in &items {
            let name = i.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") && i.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < stale) {
                let _ = fs::remove_file(i.path());
            }
        }
        let mut files: Vec<(SystemTime, u64, PathBuf)> = items
            .iter()
            .filter(|i| i.path().extension().is_some_and(|e| e == "cwasm"))
            .filter_map(|i| {
                let m = i.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), i.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= self.max_bytes {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                log::debug!("compiled-component cache over {} bytes: removed `{}`", self.max_bytes, path.display());
                total -= len;
            }
        }
    }
}

/// A parsed entry header.
#[derive(Debug)]
struct Parsed {
    name: String,
    digest: [u8; 32],
    payload_at: usize,
}

/// Check an entry: magic, format, key (when given), length, payload digest
/// and seal. The error says what is wrong.
fn parse(bytes: &[u8], key: Option<&[u8; 32]>, secret: &[u8; 32]) -> Result<Parsed, &'static str> {
    if bytes.len() < HEADER {
        return Err("truncated (shorter than its header)");
    }
    if &bytes[..8] != MAGIC {
        return Err("not a Torvyn cache entry");
    }
    let field = |at: usize| -> [u8; 32] { bytes[at..at + 32].try_into().unwrap_or([0; 32]) };
    if u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default()) != FORMAT {
        return Err("of another cache format");
    }
    if key.is_some_and(|k| *k != field(12)) {
        return Err("filed under another key");
    }
    let digest = field(44);
    let len = u64::from_le_bytes(bytes[76..84].try_into().unwrap_or_default());
    let sum = field(84);
    let sealed = field(116);
    let name_len = u16::from_le_bytes(bytes[148..150].try_into().unwrap_or_default()) as usize;
    let payload_at = HEADER + name_len;
    if bytes.len() < payload_at || (bytes.len() - payload_at) as u64 != len {
        return Err("truncated or overlong (its length does not match its header)");
    }
    let payload = &bytes[payload_at..];
    if <[u8; 32]>::from(Sha256::digest(payload)) != sum {
        return Err("corrupted (its checksum does not match)");
    }
    let name_bytes = &bytes[HEADER..payload_at];
    if seal(secret, &field(12), &sum, &digest, name_bytes) != sealed {
        return Err("not sealed by this user's Torvyn (copied from elsewhere, or written by another user or by hand)");
    }
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    Ok(Parsed { name, digest, payload_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("torvyn-cc-{}-{}", std::process::id(), fastrand::u64(..)));
        d
    }

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let root = temp();
        let cache = DiskCache::open(&root).unwrap();
        let key = [7u8; 32];
        assert!(cache.load(&key).is_none());
        cache.store(&key, "upper", &[1; 32], b"machine code");
        assert_eq!(cache.load(&key).as_deref(), Some(&b"machine code"[..]));
        let listed = cache.entries().unwrap();
        assert_eq!((listed.len(), listed[0].component.as_str()), (1, "upper"));

        // Each kind of damage: found, removed, reported as a miss.
        let path = cache.path(&key);
        let good = fs::read(&path).unwrap();
        let damage: [(&str, Vec<u8>); 4] = [
            ("truncated", good[..good.len() - 3].to_vec()),
            ("flipped", { let mut b = good.clone(); let n = b.len() - 1; b[n] ^= 1; b }),
            ("foreign", b"\x00asm\x0d\x00\x01\x00 not ours".to_vec()),
            ("empty", Vec::new()),
        ];
        for (what, bytes) in damage {
            fs::write(&path, bytes).unwrap();
            assert!(cache.load(&key).is_none(), "{what} entry loaded");
            assert!(!path.exists(), "{what} entry kept");
        }
        // An entry sealed under another secret (another user's, a project's) is refused.
        cache.store(&key, "upper", &[1; 32], b"machine code");
        let foreign = fs::read(&path).unwrap();
        assert!(parse(&foreign, Some(&key), &[9; 32]).unwrap_err().contains("not sealed by this user"));
        // An entry copied under another key is refused too.
        cache.store(&key, "upper", &[1; 32], b"machine code");
        let other = [8u8; 32];
        fs::copy(cache.path(&key), cache.path(&other)).unwrap();
        assert!(cache.load(&other).is_none());
        assert_eq!(cache.clear().unwrap().0, 1);
        assert!(cache.entries().unwrap().is_empty());
        let _ = fs::remove_dir_all(root);
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = temp();
        DiskCache::open(&root).unwrap();
        assert_eq!(fs::metadata(root.join("compiled")).unwrap().permissions().mode() & 0o777, 0o700);
        fs::set_permissions(root.join("compiled"), fs::Permissions::from_mode(0o777)).unwrap();
        let err = DiskCache::open(&root).unwrap_err();
        assert!(matches!(err, CacheError::NotPrivate { .. }), "{err}");
        assert!(err.to_string().contains("chmod 700"), "{err}");
        let _ = fs::remove_dir_all(root);
    }
}
