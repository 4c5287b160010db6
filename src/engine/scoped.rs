//! Grants checked where the guest uses them: socket addresses, name
//! lookups and filesystem paths. Each allowed use counts as an exercise of
//! the grant that allowed it (an audit event the first time per node);
//! each refused one is a denial (an audit event every time) and the guest
//! gets WASI's own refusal (`access-denied`, `access`).
//!
//! Paths: a granted directory is opened with wasmtime-wasi's read-only or
//! read-write permissions (which confine every path to it, symlinks
//! included); inside it, each `*-at` call is checked against the grants'
//! paths and globs, by the absolute path the guest names (the descriptor's
//! own path, recorded when it was opened, joined with the relative one).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wasmtime::component::{Linker, Resource};
use wasmtime::{Result, StoreContextMut};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{Host as _, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode as NetErrorCode, Host as _, Network};
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView};

use super::state::StageState;
use crate::security::{Access, Capability, GrantSet, NodeAudit};

pub(super) const LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";
pub(super) const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";
pub(super) const ENVIRONMENT: &str = "wasi:cli/environment@0.2.12";

/// How long a granted host name's addresses are trusted.
const RESOLVED_FOR: Duration = Duration::from_secs(30);

/// Addresses of the host names a node's grants name, looked up on demand.
#[derive(Default)]
pub struct Resolved {
    hosts: Mutex<HashMap<String, (Instant, Vec<IpAddr>)>>,
}

impl Resolved {
    async fn ips(&self, host: &str) -> Vec<IpAddr> {
        if let Some((at, ips)) = self.hosts.lock().get(host) {
            if at.elapsed() < RESOLVED_FOR {
                return ips.clone();
            }
        }
        let ips: Vec<IpAddr> = match tokio::net::lookup_host((host, 0)).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(e) => {
                log::debug!(target: "torvyn::security", "cannot resolve granted host `{host}`: {e}");
                Vec::new()
            }
        };
        let mut hosts = self.hosts.lock();
        if hosts.len() > 256 {
            hosts.clear();
        }
        hosts.insert(host.to_string(), (Instant::now(), ips.clone()));
        ips
    }
}

/// wasmtime-wasi's address check: whether `used` of `addr` is inside a grant.
pub async fn socket_allowed(grants: &GrantSet, audit: Option<&NodeAudit>, resolved: &Resolved, addr: SocketAddr, used: SocketAddrUse) -> bool {
    let (kind, allowed): (&'static str, Option<String>) = match used {
        // Binding the wildcard address before a connect or a send is part
        // of that use; binding a chosen port is listening's.
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind if addr.port() == 0 => return true,
        SocketAddrUse::TcpBind | SocketAddrUse::TcpListen => {
            let grant = grants.listen_ports().into_iter().find(|p| p.is_none_or(|p| p == addr.port()));
            ("network:tcp-listen", grant.map(|p| Capability::TcpListen(p).to_string()))
        }
        SocketAddrUse::TcpAccept => ("network:tcp-listen", (!grants.listen_ports().is_empty()).then(|| "network:tcp-listen".to_string())),
        // Binding a chosen UDP port is receiving from anyone: only an
        // unscoped `network:udp` allows it (not `network`, which never listens).
        SocketAddrUse::UdpBind => ("network:udp", grants.iter().any(|c| *c == Capability::Udp(None)).then(|| "network:udp".to_string())),
        SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
            let udp = !matches!(used, SocketAddrUse::TcpConnect);
            let kind = if udp { "network:udp" } else { "network:tcp-connect" };
            let mut found = None;
            for peer in grants.peers(udp) {
                let ips = match peer.as_ref().and_then(|p| p.host.as_deref()) {
                    Some(h) if h.parse::<IpAddr>().is_err() => resolved.ips(h).await,
                    _ => Vec::new(),
                };
                if GrantSet::peer_matches(&peer, addr, &ips) {
                    found = Some(peer.map_or_else(|| kind.to_string(), |p| format!("{kind}:{p}")));
                    break;
                }
            }
            (kind, found)
        }
    };
    if let Some(audit) = audit {
        match &allowed {
            Some(grant) => audit.exercised(kind, grant, &addr.to_string()),
            None => audit.denied(kind, &addr.to_string(), "no grant covers this address"),
        }
    }
    allowed.is_some()
}

/// The directories to open for filesystem grants, read-only unless a write
/// grant shares them. A plain path that names a file opens its directory
/// (the path checks then keep the guest to that file).
pub fn preopens(grants: &GrantSet) -> Vec<(String, FsPerms)> {
    let mut dirs: Vec<(String, FsPerms)> = Vec::new();
    for s in grants.path_scopes() {
        let mut base = s.scope.base();
        // A plain path that is not a directory (a file, or one not made yet)
        // opens its parent.
        if !s.scope.is_glob() && !std::path::Path::new(&base).is_dir() {
            base = std::path::Path::new(&base).parent().map_or("/".into(), |p| p.to_string_lossy().into_owned());
        }
        let perms = if s.access == Access::Write { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        match dirs.iter_mut().find(|(d, _)| *d == base) {
            Some((_, p)) if perms == FsPerms::ReadWrite => *p = perms,
            Some(_) => {}
            None => dirs.push((base, perms)),
        }
    }
    dirs
}

/// Whether a symbolic link could lead past a grant inside an opened
/// directory: some grant is narrower than its directory (a glob, a single
/// file), or there are several (one may sit inside another with another
/// mode). Then no path call follows a link.
pub(super) fn narrow_scopes(grants: &GrantSet) -> bool {
    let scopes = grants.path_scopes();
    scopes.len() > 1 || scopes.iter().any(|s| s.scope.is_glob() || !std::path::Path::new(&s.scope.base()).is_dir())
}

/// Whether moving or linking `old` to `new` keeps what the grants allow:
/// whatever can read the new name could already read the old one.
pub(super) fn move_allowed(grants: &GrantSet, old: &str, new: &str) -> bool {
    let readable = |p: &str| grants.path_scopes().iter().any(|s| s.access == Access::Read && s.scope.matches(p));
    !readable(new) || readable(old)
}

/// Whether entry `name` of directory `dir` is shown to the guest: a grant
/// covers it, or (for a directory) leads through it.
pub(super) fn listable(grants: &GrantSet, dir: &str, name: &str, is_dir: bool) -> bool {
    let path = format!("{}/{name}", dir.trim_end_matches('/'));
    grants.path_scopes().iter().any(|s| s.scope.matches(&path) || is_dir && s.scope.leads_to(&path))
}

/// Longest path a guest may name (Linux's `PATH_MAX`).
const MAX_PATH: usize = 4096;

/// `dir` joined with the guest's relative `path`, without `.`; `None` when
/// the path goes up with `..` (the check would compare a path the system
/// does not open: a symlink followed by `..` leads elsewhere).
fn join(dir: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = if path.starts_with('/') { Vec::new() } else { dir.split('/').filter(|s| !s.is_empty()).collect() };
    for p in path.split('/').filter(|s| !s.is_empty()) {
        match p {
            "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// What a path operation does with its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathUse {
    /// Looks at metadata only: allowed along the way to granted paths.
    Look,
    /// Creates, changes or removes.
    Write,
    /// `open-at`: what the descriptor will be able to do.
    Open { read: bool, write: bool, directory: bool },
}

/// Check the guest's use of `path` relative to descriptor `d`: `Ok(full
/// path)` or the error code to return. An open that can both read and write
/// needs both a read and a write scope.
pub(super) fn check_path(state: &StageState, d: u32, path: &str, used: PathUse) -> std::result::Result<String, fs::ErrorCode> {
    let Some(dir) = state.fs_paths.get(&d) else {
        // A descriptor we never saw opened (cannot happen for a guest that
        // got it from us): refuse rather than guess.
        return Err(fs::ErrorCode::BadDescriptor);
    };
    let deny = |full: &str, kind: &'static str, why: &str| {
        if let Some(a) = &state.audit {
            a.denied(kind, full, why);
        }
        fs::ErrorCode::Access
    };
    if path.len() > MAX_PATH {
        return Err(fs::ErrorCode::NameTooLong);
    }
    let Some(full) = join(dir, path) else {
        return Err(deny(path, "filesystem:read", "a path that goes up with `..` is not followed"));
    };
    let scopes = state.grants.path_scopes();
    // The grant that gives `access` to `full`.
    let find = |access: Access| scopes.iter().find(|s| s.access == access && s.scope.matches(&full)).map(|s| s.grant.as_str());
    // A directory on the way to a scope: the grant of the first such scope.
    let traversal = || scopes.iter().find(|s| s.scope.leads_to(&full)).map(|s| s.grant.as_str());
    let mut needs: Vec<(&'static str, Option<&str>)> = Vec::with_capacity(2);
    match used {
        PathUse::Write => needs.push(("filesystem:write", find(Access::Write))),
        PathUse::Look => needs.push(("filesystem:read", find(Access::Read).or_else(|| find(Access::Write)).or_else(traversal))),
        PathUse::Open { read, write, directory } => {
            if write {
                needs.push(("filesystem:write", find(Access::Write)));
            }
            if read && directory && !write {
                needs.push(("filesystem:read", find(Access::Read).or_else(|| find(Access::Write)).or_else(traversal)));
            } else if read {
                needs.push(("filesystem:read", find(Access::Read)));
            }
        }
    }
    for (kind, grant) in &needs {
        if grant.is_none() {
            return Err(deny(&full, kind, "outside every filesystem grant"));
        }
    }
    if let Some(a) = &state.audit {
        for (kind, grant) in needs {
            if let Some(g) = grant {
                a.exercised(kind, g, &full);
            }
        }
    }
    Ok(full)
}

type Cx<'a> = StoreContextMut<'a, StageState>;

/// Shadow name lookup and the preopened directories (after WASI was added).
pub(super) fn add_to_linker(linker: &mut Linker<StageState>) -> Result<()> {
    let mut lookup = linker.instance(LOOKUP)?;
    lookup.func_wrap("resolve-addresses", |mut cx: Cx<'_>, (network, name): (Resource<Network>, String)| {
        let state = cx.data_mut();
        if !state.grants.allows_lookup(&name) {
            if let Some(a) = &state.audit {
                a.denied("network:tcp-connect", &name, "name lookup of a host no grant names");
            }
            return Ok((Err(NetErrorCode::AccessDenied),));
        }
        let (ctx, table) = state.sockets_and_table();
        let mut view = WasiSocketsCtxView { ctx, table };
        let r: std::result::Result<Resource<ResolveAddressStream>, NetErrorCode> = match view.resolve_addresses(network, name) {
            Ok(s) => Ok(s),
            Err(e) => Err(view.convert_error_code(e)?),
        };
        Ok((r,))
    })?;
    // The environment holds only granted variables; asking for it is the
    // use of the grant (or, without one, a denial: the guest sees none).
    let mut env = linker.instance(ENVIRONMENT)?;
    env.func_wrap("get-environment", |mut cx: Cx<'_>, (): ()| {
        let state = cx.data_mut();
        let vars = wasmtime_wasi::p2::bindings::cli::environment::Host::get_environment(&mut state.cli_view())?;
        if let Some(a) = &state.audit {
            let grant = state.grants.iter().find(|c| c.kind() == "environment:read").map(|c| c.to_string());
            match grant {
                Some(g) => a.exercised("environment:read", &g, &vars.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(",")),
                None => a.denied("environment:read", "*", "no environment variable is granted: the guest sees none"),
            }
        }
        Ok((vars,))
    })?;
    let mut pre = linker.instance(PREOPENS)?;
    pre.func_wrap("get-directories", |mut cx: Cx<'_>, (): ()| {
        let state = cx.data_mut();
        let dirs = wasmtime_wasi::p2::bindings::filesystem::preopens::Host::get_directories(&mut state.filesystem_view())?;
        for (d, path) in &dirs {
            state.fs_paths.insert(d.rep(), path.clone());
        }
        Ok((dirs,))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_never_go_up() {
        assert_eq!(join("/data", "a/./b.csv").as_deref(), Some("/data/a/b.csv"));
        assert_eq!(join("/data", "../etc/passwd"), None);
        assert_eq!(join("/data", "link/../x"), None);
        assert_eq!(join("/data", "/abs").as_deref(), Some("/abs"));
    }
}
