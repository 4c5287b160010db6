//! The capability names a manifest can grant and the imports that need them.
//!
//! | grant | gives the component |
//! |---|---|
//! | `stdout`, `stderr` | the host's stream instead of the captured log |
//! | `network` | outbound TCP/UDP and name lookup (`wasi:sockets`) |
//! | `filesystem` | may link `wasi:filesystem`; no directory is opened |
//! | `filesystem:<dir>` | also `<dir>` opened read-only, at the same path |
//! | anything else | only a `true` from `capability-query.has-capability` |

use std::path::PathBuf;

/// A capability that some imports need before a component may link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Network,
    Filesystem,
}

impl Capability {
    /// The grant name, as written in `capabilities = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Network => "network",
            Capability::Filesystem => "filesystem",
        }
    }

    /// The capability an import needs, if any. WASI cli, io, clocks and
    /// random are always linked (with an empty environment and no
    /// arguments), because every Rust guest imports them.
    pub fn needed_by(import: &str) -> Option<Capability> {
        let package = import.split('/').next().unwrap_or(import);
        match package {
            "wasi:sockets" => Some(Capability::Network),
            "wasi:filesystem" => Some(Capability::Filesystem),
            _ => None,
        }
    }
}

/// A node's grants.
#[derive(Debug, Clone, Copy)]
pub struct Grants<'a>(pub &'a [String]);

impl Grants<'_> {
    /// Whether the node may link imports that need `cap`.
    pub fn allows(&self, cap: Capability) -> bool {
        self.0.iter().any(|g| {
            g == cap.name() || (cap == Capability::Filesystem && g.starts_with("filesystem:"))
        })
    }

    /// Whether `has-capability(name)` answers true: the exact grant, or a
    /// capability that a more specific grant implies.
    pub fn answers(&self, name: &str) -> bool {
        self.0.iter().any(|g| g == name) || (name == "filesystem" && self.allows(Capability::Filesystem))
    }

    /// Whether stdout / stderr go to the host's stream.
    pub fn inherits(&self, stream: &str) -> bool {
        self.0.iter().any(|g| g == stream)
    }

    /// Directories granted read-only.
    pub fn directories(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.0.iter().filter_map(|g| g.strip_prefix("filesystem:")).map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_map_to_capabilities() {
        assert_eq!(Capability::needed_by("wasi:sockets/tcp@0.2.6"), Some(Capability::Network));
        assert_eq!(Capability::needed_by("wasi:filesystem/preopens@0.2.6"), Some(Capability::Filesystem));
        assert_eq!(Capability::needed_by("wasi:cli/stdout@0.2.6"), None);
        let g = ["filesystem:/tmp/x".to_string(), "metrics".to_string()];
        let g = Grants(&g);
        assert!(g.allows(Capability::Filesystem) && !g.allows(Capability::Network));
        assert!(g.answers("filesystem") && g.answers("metrics") && !g.answers("network"));
        assert_eq!(g.directories().collect::<Vec<_>>(), vec![PathBuf::from("/tmp/x")]);
    }
}
