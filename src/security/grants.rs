//! A node's grants, parsed once when its flow starts, and the questions
//! the linker, the WASI context and `has-capability` ask them.
//!
//! Deny-all: an empty set grants nothing. What each import of a component
//! needs is in [`needs`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::capability::{Capability, Peer};
use super::error::SecurityError;
use super::scope::PathScope;

/// The parsed grants of one node. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct GrantSet {
    caps: Arc<[Capability]>,
    /// The filesystem grants' scopes, parsed once: each path call is
    /// checked against them.
    scopes: Arc<[FsScope]>,
}

/// One filesystem grant: its scope, its mode, and its public name
/// (`filesystem:read:/data/*.csv`, what the audit trail shows).
#[derive(Debug, Clone)]
pub struct FsScope {
    pub scope: PathScope,
    pub access: Access,
    pub grant: String,
}

/// What a component's import asks for, when it asks for anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The capability kinds any one of which lets the import link.
    pub any_of: &'static [&'static str],
    /// The grant to suggest in an error.
    pub suggest: &'static str,
}

/// The need of an import (`wasi:clocks/wall-clock@0.2.6`), or `None` when
/// it is always linked: `wasi:io`, `wasi:cli` (the environment is scoped
/// at run time), and Torvyn's own interfaces.
pub fn needs(import: &str) -> Option<Need> {
    let iface = import.split('@').next().unwrap_or(import);
    const NET: &[&str] = &["network", "network:tcp-connect", "network:tcp-listen", "network:udp"];
    let need = |any_of, suggest| Some(Need { any_of, suggest });
    match iface {
        "wasi:clocks/wall-clock" | "wasi:clocks/timezone" => need(&["clock:wall"], "clock:wall"),
        "wasi:clocks/monotonic-clock" => need(&["clock:monotonic"], "clock:monotonic"),
        "wasi:random/random" => need(&["random:crypto"], "random:crypto"),
        "wasi:random/insecure" | "wasi:random/insecure-seed" => need(&["random:insecure"], "random:insecure"),
        // Any network grant links every socket interface (Rust's standard
        // library imports them together); each use is checked at run time.
        i if i.starts_with("wasi:sockets/") => need(NET, "network:tcp-connect:<host>:<port>"),
        i if i.starts_with("wasi:filesystem/") => {
            need(&["filesystem", "filesystem:read", "filesystem:write"], "filesystem:read:<path or glob>")
        }
        i if i.starts_with("wasi:http/") => need(&["network:http-outgoing"], "network:http-outgoing:<host>"),
        _ => None,
    }
}

/// The capability kinds behind a feature name of the public reference's
/// component manifests and `has-capability` queries (`wasi-filesystem-read`,
/// `wasi-clocks`, `wasi-network-egress`): any one of them provides it.
pub fn feature_kinds(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "wasi-filesystem-read" => &["filesystem:read"],
        "wasi-filesystem-write" => &["filesystem:write"],
        "wasi-filesystem" => &["filesystem", "filesystem:read", "filesystem:write"],
        "wasi-clocks" => &["clock:wall", "clock:monotonic"],
        "wasi-random" => &["random:crypto", "random:insecure"],
        "wasi-network-egress" | "wasi-network" => &["network", "network:tcp-connect", "network:udp"],
        "wasi-network-ingress" => &["network:tcp-listen"],
        "wasi-environment" => &["environment:read"],
        "wasi-stdout" => &["stdio:stdout"],
        "wasi-stderr" => &["stdio:stderr"],
        "wasi-http-outgoing" => &["network:http-outgoing"],
        _ => return None,
    })
}

/// How a filesystem grant may use what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    /// The capability kind of this mode (`filesystem:read`).
    pub fn kind(self) -> &'static str {
        match self {
            Access::Read => "filesystem:read",
            Access::Write => "filesystem:write",
        }
    }
}

impl GrantSet {
    /// Parse every grant; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<GrantSet, SecurityError> {
        let caps = names.iter().map(|n| Capability::parse(n.as_ref())).collect::<Result<Vec<_>, _>>()?;
        let scopes = caps
            .iter()
            .filter_map(|c| match c {
                Capability::FsRead(p) => Some((p, Access::Read)),
                Capability::FsWrite(p) => Some((p, Access::Write)),
                _ => None,
            })
            .map(|(p, access)| FsScope { scope: PathScope::new(p), access, grant: format!("{}:{p}", access.kind()) })
            .collect::<Vec<_>>();
        Ok(GrantSet { caps: caps.into(), scopes: scopes.into() })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.caps.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.caps.is_empty()
    }

    /// Whether some grant covers `cap`.
    pub fn has(&self, cap: &Capability) -> bool {
        self.caps.iter().any(|c| c.covers(cap))
    }

    /// Whether some grant is of `kind` (`filesystem:read`) or covers it.
    pub fn has_kind(&self, kind: &str) -> bool {
        self.caps.iter().any(|c| c.kind() == kind || (kind == "network:tcp-connect" || kind == "network:udp") && *c == Capability::Network)
    }

    /// Whether `import` may link, and if not what it needs.
    pub fn allows_import(&self, import: &str) -> Result<(), Need> {
        match needs(import) {
            Some(n) if !n.any_of.iter().any(|k| self.has_kind(k)) => Err(n),
            _ => Ok(()),
        }
    }

    /// `capability-query.has-capability(name)`: true when `name` is a
    /// capability some grant covers, or a bare kind some grant is of
    /// (`filesystem:read` for a `filesystem:read:/data` grant). Names that
    /// are not capabilities answer false.
    pub fn answers(&self, name: &str) -> bool {
        // A guest chooses the name: no capability is this long.
        if name.len() > 1024 {
            return false;
        }
        if let Some(kinds) = feature_kinds(name) {
            return kinds.iter().any(|k| self.has_kind(k));
        }
        if self.has_kind(name) {
            return true;
        }
        match Capability::parse(name) {
            Ok(c) => self.has(&c) || self.has_kind(c.kind()) && c.to_string() == c.kind(),
            Err(_) => false,
        }
    }

    pub fn stdout(&self) -> bool {
        self.has(&Capability::Stdout)
    }

    pub fn stderr(&self) -> bool {
        self.has(&Capability::Stderr)
    }

    /// Whether the guest may use TCP / UDP sockets at all (the per-address
    /// check is [`GrantSet::allows_socket`]).
    pub fn tcp(&self) -> bool {
        self.has_kind("network:tcp-connect") || self.has_kind("network:tcp-listen")
    }

    pub fn udp(&self) -> bool {
        self.has_kind("network:udp")
    }

    /// Whether the guest may look up `name` in DNS: a network grant that
    /// names that host, or one for any host.
    pub fn allows_lookup(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.caps.iter().any(|c| match c {
            Capability::Network | Capability::TcpConnect(None) | Capability::Udp(None) => true,
            Capability::TcpConnect(Some(p)) | Capability::Udp(Some(p)) => p.host.as_ref().is_none_or(|h| *h == name),
            _ => false,
        })
    }

    /// Whether any lookup could be allowed.
    pub fn lookup(&self) -> bool {
        self.caps.iter().any(|c| matches!(c, Capability::Network | Capability::TcpConnect(_) | Capability::Udp(_)))
    }

    /// The peers (or wildcards) a socket use is checked against.
    pub fn peers(&self, udp: bool) -> Vec<Option<Peer>> {
        self.caps
            .iter()
            .filter_map(|c| match (c, udp) {
                (Capability::Network, _) => Some(None),
                (Capability::TcpConnect(p), false) | (Capability::Udp(p), true) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Ports the guest may listen on (`None` = any).
    pub fn listen_ports(&self) -> Vec<Option<u16>> {
        self.caps.iter().filter_map(|c| if let Capability::TcpListen(p) = c { Some(*p) } else { None }).collect()
    }

    /// Environment variables to give the guest, from `env` (the host's).
    pub fn environment(&self, env: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
        let all = self.has(&Capability::EnvRead(None)) && self.caps.contains(&Capability::EnvRead(None));
        env.filter(|(k, _)| all || self.caps.iter().any(|c| matches!(c, Capability::EnvRead(Some(n)) if n == k))).collect()
    }

    /// Filesystem scopes with their access.
    pub fn path_scopes(&self) -> &[FsScope] {
        &self.scopes
    }

    /// Whether the grant for `addr` (already resolved to `ips` for named
    /// hosts) allows it (the socket address check asks).
    pub fn peer_matches(peer: &Option<Peer>, addr: SocketAddr, ips: &[IpAddr]) -> bool {
        match peer {
            None => true,
            Some(p) => {
                p.port.is_none_or(|port| port == addr.port())
                    && match &p.host {
                        None => true,
                        Some(h) => match h.parse::<IpAddr>() {
                            Ok(ip) => ip == addr.ip() || mapped(addr.ip()) == Some(ip),
                            Err(_) => ips.contains(&addr.ip()) || mapped(addr.ip()).is_some_and(|v4| ips.contains(&v4)),
                        },
                    }
            }
        }
    }
}

/// The IPv4 address inside an IPv4-mapped IPv6 address.
fn mapped(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(g: &[&str]) -> GrantSet {
        GrantSet::parse(g).unwrap()
    }

    #[test]
    fn imports_need_their_capability() {
        let none = set(&[]);
        assert_eq!(none.allows_import("wasi:clocks/wall-clock@0.2.6").unwrap_err().suggest, "clock:wall");
        assert!(none.allows_import("wasi:cli/environment@0.2.6").is_ok());
        assert!(none.allows_import("wasi:io/streams@0.2.6").is_ok());
        assert!(none.allows_import("torvyn:streaming/types@0.1.0").is_ok());
        let some = set(&["clock:monotonic", "network:tcp-connect:example.com:443", "filesystem:read:/data"]);
        assert!(some.allows_import("wasi:clocks/monotonic-clock@0.2.12").is_ok());
        assert!(some.allows_import("wasi:sockets/tcp@0.2.12").is_ok());
        assert!(some.allows_import("wasi:sockets/udp@0.2.12").is_ok());
        assert!(some.allows_import("wasi:filesystem/preopens@0.2.12").is_ok());
        assert!(some.allows_import("wasi:random/random@0.2.12").is_err());
    }

    #[test]
    fn lookups_and_peers_follow_the_grants() {
        let g = set(&["network:tcp-connect:example.com:443", "network:udp:10.0.0.1:53"]);
        assert!(g.allows_lookup("Example.COM.") && !g.allows_lookup("evil.example"));
        let ips = ["93.184.216.34".parse().unwrap()];
        let tcp = g.peers(false);
        assert!(tcp.iter().any(|p| GrantSet::peer_matches(p, "93.184.216.34:443".parse().unwrap(), &ips)));
        assert!(!tcp.iter().any(|p| GrantSet::peer_matches(p, "93.184.216.34:80".parse().unwrap(), &ips)));
        assert!(g.peers(true).iter().any(|p| GrantSet::peer_matches(p, "[::ffff:10.0.0.1]:53".parse().unwrap(), &[])));
        assert!(set(&["network"]).allows_lookup("anything.at.all"));
        assert!(set(&["network"]).listen_ports().is_empty());
    }

    #[test]
    fn answers_exact_and_kind() {
        let g = set(&["filesystem:read:/data/**", "stdout"]);
        assert!(g.answers("filesystem:read") && g.answers("filesystem:read:/data/x") && g.answers("stdio:stdout"));
        assert!(g.answers("filesystem"));
        assert!(!g.answers("filesystem:write") && !g.answers("network") && !g.answers("made-up"));
        assert!(g.answers("wasi-filesystem-read") && !g.answers("wasi-network-egress"));
    }

    #[test]
    fn environment_by_name() {
        let env = || vec![("HOME".to_string(), "/root".to_string()), ("SECRET".to_string(), "x".to_string())].into_iter();
        assert_eq!(set(&["environment:read:HOME"]).environment(env()).len(), 1);
        assert_eq!(set(&["environment:read"]).environment(env()).len(), 2);
        assert!(set(&[]).environment(env()).is_empty());
    }
}
