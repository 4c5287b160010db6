//! The capability vocabulary: what a grant string means.
//!
//! Three spellings are accepted for the same capability: the public
//! Torvyn reference's (`filesystem:read:/data`, `clock:wall`), its WASI
//! spelling (`wasi:filesystem/read:/data`, `wasi:clocks/wall-clock`), and
//! the short names of earlier Torvyn versions here (`stdout`, `network`,
//! `filesystem:<dir>`). [`Capability`]'s `Display` writes the public one.
//!
//! Parsing never guesses: a string that is none of these is an error that
//! names the closest known capability.

use std::fmt;
use std::path::PathBuf;

use super::error::SecurityError;
use crate::config::edit_distance;

/// A network peer a grant names: a host (a DNS name, an IPv4 address or a
/// bracketed IPv6 address) and a port, either of which may be `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Lower-cased host name or address text; `None` = any host.
    pub host: Option<String>,
    /// `None` = any port.
    pub port: Option<u16>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(h) if h.contains(':') => write!(f, "[{h}]")?,
            Some(h) => f.write_str(h)?,
            None => f.write_str("*")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => f.write_str(":*"),
        }
    }
}

/// One capability a node can be granted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// The host's standard output instead of the captured log.
    Stdout,
    /// The host's standard error instead of the captured log.
    Stderr,
    /// The earlier short form: outbound TCP and UDP anywhere, and name
    /// lookup. No listening.
    Network,
    /// Outbound TCP, to one peer or (`None`) anywhere.
    TcpConnect(Option<Peer>),
    /// Listening for TCP, on one port or (`None`) any.
    TcpListen(Option<u16>),
    /// UDP to and from one peer or (`None`) anywhere.
    Udp(Option<Peer>),
    /// Outgoing HTTP (`wasi:http`), to one host or any.
    HttpOutgoing(Option<String>),
    /// May link `wasi:filesystem`; opens nothing by itself.
    Filesystem,
    /// Read files matching a path or glob.
    FsRead(String),
    /// Create, write and delete files matching a path or glob.
    FsWrite(String),
    ClockWall,
    ClockMonotonic,
    RandomCrypto,
    RandomInsecure,
    /// Environment variables: one name, or (`None`) all of the host's.
    EnvRead(Option<String>),
    ResourceAllocate(Option<String>),
    PoolAccess(String),
    EmitBackpressure,
    InspectFlowMeta,
    RuntimeInspect,
    CustomMetrics,
}

/// Every spelling without a parameter, for parsing and suggestions.
const PLAIN: &[(&str, Capability)] = &[
    ("stdout", Capability::Stdout),
    ("stdio:stdout", Capability::Stdout),
    ("wasi:cli/stdout", Capability::Stdout),
    ("stderr", Capability::Stderr),
    ("stdio:stderr", Capability::Stderr),
    ("wasi:cli/stderr", Capability::Stderr),
    ("network", Capability::Network),
    ("network:tcp-connect", Capability::TcpConnect(None)),
    ("wasi:sockets/tcp-connect", Capability::TcpConnect(None)),
    ("network:tcp-listen", Capability::TcpListen(None)),
    ("wasi:sockets/tcp-listen", Capability::TcpListen(None)),
    ("network:udp", Capability::Udp(None)),
    ("wasi:sockets/udp", Capability::Udp(None)),
    ("network:http-outgoing", Capability::HttpOutgoing(None)),
    ("wasi:http/outgoing-handler", Capability::HttpOutgoing(None)),
    ("filesystem", Capability::Filesystem),
    ("clock:wall", Capability::ClockWall),
    ("wasi:clocks/wall-clock", Capability::ClockWall),
    ("clock:monotonic", Capability::ClockMonotonic),
    ("wasi:clocks/monotonic-clock", Capability::ClockMonotonic),
    ("random:crypto", Capability::RandomCrypto),
    ("wasi:random/random", Capability::RandomCrypto),
    ("random:insecure", Capability::RandomInsecure),
    ("wasi:random/insecure", Capability::RandomInsecure),
    ("environment:read", Capability::EnvRead(None)),
    ("wasi:cli/environment", Capability::EnvRead(None)),
    ("torvyn:resource-allocate", Capability::ResourceAllocate(None)),
    ("torvyn:emit-backpressure", Capability::EmitBackpressure),
    ("torvyn:inspect-flow-meta", Capability::InspectFlowMeta),
    ("torvyn:runtime-inspect", Capability::RuntimeInspect),
    ("torvyn:custom-metrics", Capability::CustomMetrics),
];

/// Spellings that take a parameter after a colon, for suggestions.
const PARAMETRIC: &[&str] = &[
    "filesystem:read:<path or glob>",
    "filesystem:write:<path or glob>",
    "wasi:filesystem/read:<path or glob>",
    "wasi:filesystem/write:<path or glob>",
    "filesystem:<directory>",
    "network:tcp-connect:<host>:<port>",
    "network:egress:<host>:<port>",
    "network:tcp-listen:<port>",
    "network:udp:<host>:<port>",
    "network:http-outgoing:<host>",
    "environment:read:<NAME>",
    "torvyn:resource-allocate:<pool>",
    "torvyn:pool-access:<pool>",
];

impl Capability {
    /// Parse one grant string.
    pub fn parse(text: &str) -> Result<Capability, SecurityError> {
        let t = text.trim();
        let bad = |why: String| SecurityError::BadCapability { name: text.to_string(), why };
        if let Some((_, c)) = PLAIN.iter().find(|(n, _)| *n == t) {
            return Ok(c.clone());
        }
        let param = |prefixes: &[&str]| prefixes.iter().find_map(|p| t.strip_prefix(p)).map(str::trim);
        if let Some(p) = param(&["filesystem:read:", "wasi:filesystem/read:"]) {
            return path(p).map(Capability::FsRead).map_err(bad);
        }
        if let Some(p) = param(&["filesystem:write:", "wasi:filesystem/write:"]) {
            return path(p).map(Capability::FsWrite).map_err(bad);
        }
        if let Some(p) = param(&["network:tcp-connect:", "network:egress:", "wasi:sockets/tcp-connect:"]) {
            return peer(p).map(|p| Capability::TcpConnect(Some(p))).map_err(bad);
        }
        if let Some(p) = param(&["network:udp:", "wasi:sockets/udp:"]) {
            return peer(p).map(|p| Capability::Udp(Some(p))).map_err(bad);
        }
        if let Some(p) = param(&["network:tcp-listen:", "wasi:sockets/tcp-listen:"]) {
            return match p {
                "*" => Ok(Capability::TcpListen(None)),
                p => p.parse::<u16>().map(|p| Capability::TcpListen(Some(p))).map_err(|_| bad(format!("`{p}` is not a port (0–65535 or *)"))),
            };
        }
        if let Some(h) = param(&["network:http-outgoing:", "wasi:http/outgoing-handler:"]) {
            return host(h).map(Capability::HttpOutgoing).map_err(bad);
        }
        if let Some(n) = param(&["environment:read:", "wasi:cli/environment:"]) {
            return match n {
                "" => Err(bad("an empty variable name; write `environment:read` for every variable".into())),
                "*" => Ok(Capability::EnvRead(None)),
                n if n.contains('=') || n.contains('\0') => Err(bad(format!("`{n}` is not a variable name"))),
                n => Ok(Capability::EnvRead(Some(n.to_string()))),
            };
        }
        if let Some(p) = param(&["torvyn:resource-allocate:"]) {
            return pool(p).map(|p| Capability::ResourceAllocate(Some(p))).map_err(bad);
        }
        if let Some(p) = param(&["torvyn:pool-access:"]) {
            return pool(p).map(Capability::PoolAccess).map_err(bad);
        }
        // The earlier short form: a directory, read-only. Checked last so
        // `filesystem:read:` and `filesystem:write:` win.
        if let Some(d) = t.strip_prefix("filesystem:") {
            return path(d).map(Capability::FsRead).map_err(bad);
        }
        Err(bad(suggest(t)))
    }

    /// The public spelling.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// The capability with its parameter dropped: what metrics and
    /// `has-capability` group by (`filesystem:read`, `network:tcp-connect`).
    pub fn kind(&self) -> &'static str {
        match self {
            Capability::Stdout => "stdio:stdout",
            Capability::Stderr => "stdio:stderr",
            Capability::Network => "network",
            Capability::TcpConnect(_) => "network:tcp-connect",
            Capability::TcpListen(_) => "network:tcp-listen",
            Capability::Udp(_) => "network:udp",
            Capability::HttpOutgoing(_) => "network:http-outgoing",
            Capability::Filesystem => "filesystem",
            Capability::FsRead(_) => "filesystem:read",
            Capability::FsWrite(_) => "filesystem:write",
            Capability::ClockWall => "clock:wall",
            Capability::ClockMonotonic => "clock:monotonic",
            Capability::RandomCrypto => "random:crypto",
            Capability::RandomInsecure => "random:insecure",
            Capability::EnvRead(_) => "environment:read",
            Capability::ResourceAllocate(_) => "torvyn:resource-allocate",
            Capability::PoolAccess(_) => "torvyn:pool-access",
            Capability::EmitBackpressure => "torvyn:emit-backpressure",
            Capability::InspectFlowMeta => "torvyn:inspect-flow-meta",
            Capability::RuntimeInspect => "torvyn:runtime-inspect",
            Capability::CustomMetrics => "torvyn:custom-metrics",
        }
    }

    /// Whether holding `self` also grants `other` (a wider scope covers a
    /// narrower one of the same kind; `network` covers outbound TCP and UDP).
    pub fn covers(&self, other: &Capability) -> bool {
        use Capability::*;
        match (self, other) {
            (a, b) if a == b => true,
            (Network, TcpConnect(_) | Udp(_)) => true,
            (TcpConnect(None), TcpConnect(_)) | (Udp(None), Udp(_)) | (TcpListen(None), TcpListen(_)) => true,
            (TcpConnect(Some(a)), TcpConnect(Some(b))) | (Udp(Some(a)), Udp(Some(b))) => {
                a.host.as_ref().is_none_or(|h| Some(h) == b.host.as_ref()) && a.port.is_none_or(|p| Some(p) == b.port)
            }
            (HttpOutgoing(None), HttpOutgoing(_)) => true,
            (EnvRead(None), EnvRead(_)) => true,
            (ResourceAllocate(None), ResourceAllocate(_)) => true,
            (FsRead(_) | FsWrite(_), Filesystem) => true,
            (FsRead(a), FsRead(b)) | (FsWrite(a), FsWrite(b)) => super::scope::PathScope::new(a).matches_pattern(b),
            _ => false,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind();
        match self {
            Capability::TcpConnect(Some(p)) | Capability::Udp(Some(p)) => write!(f, "{kind}:{p}"),
            Capability::TcpListen(Some(p)) => write!(f, "{kind}:{p}"),
            Capability::HttpOutgoing(Some(h)) | Capability::EnvRead(Some(h)) => write!(f, "{kind}:{h}"),
            Capability::ResourceAllocate(Some(p)) | Capability::PoolAccess(p) => write!(f, "{kind}:{p}"),
            Capability::FsRead(p) | Capability::FsWrite(p) => write!(f, "{kind}:{p}"),
            _ => f.write_str(kind),
        }
    }
}

/// An absolute path or glob, normalised (no `.`/`..` components, no
/// trailing slash): scopes are compared as text, so `..` must not appear.
fn path(p: &str) -> Result<String, String> {
    if p.is_empty() {
        return Err("no path; write e.g. `filesystem:read:/data/**`".into());
    }
    if !p.starts_with('/') {
        return Err(format!("`{p}` is not an absolute path; grants name paths from the root, e.g. `/data/input`"));
    }
    let mut parts = Vec::new();
    for part in p.split('/').filter(|s| !s.is_empty()) {
        match part {
            "." => {}
            ".." => return Err(format!("`{p}` goes up with `..`; name the directory itself")),
            s => parts.push(s),
        }
    }
    let normal = format!("/{}", parts.join("/"));
    super::scope::PathScope::check(&normal)?;
    Ok(PathBuf::from(&normal).to_string_lossy().into_owned())
}

/// `host:port`, `[v6]:port`, `*:port`, `host:*`.
fn peer(p: &str) -> Result<Peer, String> {
    let (h, port) = if let Some(rest) = p.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| format!("`{p}`: an IPv6 address needs its closing `]`"))?;
        (h, after.strip_prefix(':').ok_or_else(|| format!("`{p}` has no port; write `[{h}]:<port>` or `[{h}]:*`"))?)
    } else {
        p.rsplit_once(':').ok_or_else(|| format!("`{p}` has no port; write `{p}:<port>` or `{p}:*`"))?
    };
    let port = match port {
        "*" => None,
        n => Some(n.parse::<u16>().map_err(|_| format!("`{n}` is not a port (0–65535 or *)"))?),
    };
    Ok(Peer { host: host(h)?, port })
}

/// A host name or address; `*` = any.
fn host(h: &str) -> Result<Option<String>, String> {
    if h == "*" {
        return Ok(None);
    }
    if h.parse::<std::net::IpAddr>().is_ok() {
        return Ok(Some(h.to_ascii_lowercase()));
    }
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(Some(h.trim_end_matches('.').to_ascii_lowercase()))
    } else {
        Err(format!("`{h}` is not a host name or IP address"))
    }
}

fn pool(p: &str) -> Result<String, String> {
    if !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(p.to_string())
    } else {
        Err(format!("`{p}` is not a pool name (letters, digits, `-`, `_`)"))
    }
}

/// "unknown capability; did you mean …" with the closest spelling.
fn suggest(t: &str) -> String {
    if t.len() > 256 {
        return "unknown capability; docs/security.md lists every capability".into();
    }
    let head = t.split(':').take(2).collect::<Vec<_>>().join(":");
    let best = PLAIN
        .iter()
        .map(|(n, _)| *n)
        .chain(PARAMETRIC.iter().copied())
        .map(|n| {
            let stem = n.split('<').next().unwrap_or(n).trim_end_matches(':');
            (edit_distance(&head, stem).min(edit_distance(t, stem)), n)
        })
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, n)) if d <= 4 || n.starts_with(&head) => format!("unknown capability; did you mean `{n}`? (docs/security.md lists them all)"),
        _ => "unknown capability; docs/security.md lists every capability".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Capability {
        Capability::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn every_spelling_parses_to_one_capability() {
        assert_eq!(p("stdio:stdout"), p("stdout"));
        assert_eq!(p("wasi:clocks/wall-clock"), Capability::ClockWall);
        assert_eq!(p("wasi:filesystem/read:/data/"), Capability::FsRead("/data".into()));
        assert_eq!(p("filesystem:/tmp/x"), Capability::FsRead("/tmp/x".into()));
        assert_eq!(p("filesystem:write:/out/*.csv"), Capability::FsWrite("/out/*.csv".into()));
        assert_eq!(p("network:egress:Example.com:443"), p("network:tcp-connect:example.com:443"));
        assert_eq!(p("network:tcp-connect:[::1]:8080").to_string(), "network:tcp-connect:[::1]:8080");
        assert_eq!(p("network:tcp-listen:*"), Capability::TcpListen(None));
        assert_eq!(p("environment:read:HOME"), Capability::EnvRead(Some("HOME".into())));
        assert_eq!(p("torvyn:pool-access:small").to_string(), "torvyn:pool-access:small");
        for c in PLAIN {
            assert_eq!(Capability::parse(&c.1.to_string()).unwrap(), c.1, "{} round-trips", c.0);
        }
    }

    #[test]
    fn bad_grants_are_refused_with_the_closest_name() {
        let e = |t: &str| Capability::parse(t).unwrap_err().to_string();
        assert!(e("clock:wal").contains("did you mean `clock:wall`"), "{}", e("clock:wal"));
        assert!(e("network:tcp-conect:a:1").contains("network:tcp-connect"), "{}", e("network:tcp-conect:a:1"));
        assert!(e("filesystem:read:data").contains("not an absolute path"));
        assert!(e("filesystem:read:/data/../etc").contains("`..`"));
        assert!(e("network:tcp-connect:example.com").contains("has no port"));
        assert!(e("network:tcp-connect:example.com:99999").contains("not a port"));
        assert!(e("network:udp:bad host:1").contains("not a host name"));
    }

    #[test]
    fn wider_grants_cover_narrower_ones() {
        assert!(p("network").covers(&p("network:tcp-connect:a.b:1")));
        assert!(!p("network").covers(&p("network:tcp-listen:80")));
        assert!(p("network:tcp-connect:*:443").covers(&p("network:tcp-connect:a.b:443")));
        assert!(!p("network:tcp-connect:*:443").covers(&p("network:tcp-connect:a.b:80")));
        assert!(p("filesystem:read:/data/**").covers(&p("filesystem:read:/data/x/y.csv")));
        assert!(!p("filesystem:read:/data/*").covers(&p("filesystem:write:/data/x")));
        assert!(p("filesystem:write:/x").covers(&Capability::Filesystem));
    }
}
