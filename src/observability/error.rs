//! What can go wrong exporting.

#[derive(Debug, thiserror::Error)]
pub enum ObservabilityError {
    #[error("cannot serve metrics on `{addr}`: {reason}; give another address (host:port, port 0 picks a free one)")]
    Bind { addr: String, reason: String },
}
