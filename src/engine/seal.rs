//! The per-user secret that seals compiled-component cache entries, and the
//! seal itself. Loading machine code runs it, so the disk cache loads only
//! entries this user's Torvyn wrote: the seal is an HMAC-SHA256 under a
//! secret kept in the user cache root (`secret`, 32 random bytes, 0600,
//! made on first use), which a project, another user or a hand edit cannot
//! produce.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::disk_cache::{default_root, private_dir};

/// This user's sealing secret: `<user cache root>/secret` (32 random bytes,
/// 0600, made on first use); without a user cache root, or when it cannot
/// be read safely, a secret of this process only (entries then serve this
/// process alone); `None` without OS randomness (nothing is cached on disk).
pub(super) fn secret() -> Option<[u8; 32]> {
    static SECRET: std::sync::OnceLock<Option<[u8; 32]>> = std::sync::OnceLock::new();
    *SECRET.get_or_init(|| match default_root().map(|r| user_secret(&r)) {
        Some(Ok(s)) => Some(s),
        Some(Err(why)) => {
            log::warn!("{why}; compiled components are kept on disk for this process only");
            random()
        }
        None => {
            log::debug!("no user cache directory (TORVYN_HOME, XDG_CACHE_HOME, HOME): compiled components are kept on disk for this process only");
            random()
        }
    })
}

/// 32 bytes from the OS; `None` (logged) when it has none to give.
fn random() -> Option<[u8; 32]> {
    let mut s = [0u8; 32];
    match getrandom::fill(&mut s) {
        Ok(()) => Some(s),
        Err(e) => {
            log::warn!("no randomness from the OS ({e}): compiled components are not kept on disk");
            None
        }
    }
}

/// Read (or make) the secret under `root`; it must be this user's, 32 bytes, 0600.
fn user_secret(root: &Path) -> Result<[u8; 32], String> {
    private_dir(root).map_err(|e| e.to_string())?;
    let path = root.join("secret");
    if !path.exists() {
        let tmp = root.join(format!(".secret.{}.{:016x}.tmp", std::process::id(), fastrand::u64(..)));
        let mut options = fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let made = random().ok_or("no randomness from the OS to make the cache secret")?;
        let written = options.open(&tmp).and_then(|mut f| f.write_all(&made).and_then(|_| f.sync_all()));
        // A hard link never replaces: when two processes race, one secret wins.
        let linked = written.and_then(|_| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        if let Err(e) = linked {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(format!("cannot make the cache secret `{}`: {e}", path.display()));
            }
        }
    }
    let meta = fs::symlink_metadata(&path).map_err(|e| format!("cannot read the cache secret `{}`: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
            return Err(format!("the cache secret `{}` is not a file private to this user (mode 0600); remove it", path.display()));
        }
    }
    let mut bytes = Vec::with_capacity(33);
    fs::File::open(&path)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 33), &mut bytes))
        .map_err(|e| format!("cannot read the cache secret `{}`: {e}", path.display()))?;
    bytes.try_into().map_err(|_| format!("the cache secret `{}` is not 32 bytes; remove it", path.display()))
}

/// The seal of an entry: HMAC-SHA256 under this user's secret.
pub(super) fn seal(secret: &[u8; 32], key: &[u8; 32], payload_sum: &[u8; 32], digest: &[u8; 32], name: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return [0; 32];
    };
    for part in [&key[..], payload_sum, digest, name] {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

