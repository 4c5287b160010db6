use std::fmt;
use std::path::PathBuf;

use super::doc::Pos;

/// A manifest that cannot be used, and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read manifest `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Located(.file, .pos, .key, .message))]
    Invalid {
        file: Option<PathBuf>,
        pos: Option<Pos>,
        /// Dotted path of the offending key, e.g. `flow.main.nodes.sink.component`.
        key: String,
        message: String,
    },
    /// A setting from the environment or the command line is wrong.
    #[error("{origin}: `{key}`: {message}")]
    Override { origin: String, key: String, message: String },
}

struct Located<'a>(&'a Option<PathBuf>, &'a Option<Pos>, &'a String, &'a String);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Located(file, pos, key, message) = self;
        match file {
            Some(p) => write!(f, "{}", p.display())?,
            None => f.write_str("manifest")?,
        }
        if let Some(pos) = pos {
            write!(f, ":{pos}")?;
        }
        if key.is_empty() {
            write!(f, ": {message}")
        } else {
            write!(f, ": `{key}`: {message}")
        }
    }
}

impl ConfigError {
    /// The dotted key the error is about (empty for syntax errors).
    pub fn key(&self) -> &str {
        match self {
            ConfigError::Invalid { key, .. } | ConfigError::Override { key, .. } => key,
            ConfigError::Read { .. } => "",
        }
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { pos, .. } => pos.map(|p| p.line),
            ConfigError::Read { .. } | ConfigError::Override { .. } => None,
        }
    }
}

/// Something a manifest says that works but deserves attention: a key with
/// no effect yet, a spelling that lost to another, a component not built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: Option<PathBuf>,
    pub pos: Option<Pos>,
    /// Dotted key the warning is about.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Located(&self.file, &self.pos, &self.key, &self.message).fmt(f)
    }
}
