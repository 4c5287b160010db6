//! Why a grant, a policy or an audit destination is refused.

/// A security setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error("capability `{name}`: {why}")]
    BadCapability { name: String, why: String },
    #[error("no node or component named `{target}` to grant to; the nodes are: {known}")]
    NoTarget { target: String, known: String },
    #[error("audit trail: {0}")]
    Audit(String),
}
