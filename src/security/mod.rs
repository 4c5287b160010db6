//! The security module: the capability vocabulary, a node's grants and
//! what they open, and the audit trail.
//!
//! A component gets nothing it was not given (deny-all). Its imports say
//! what it could reach for; the node's grants say what it may have. The
//! linker refuses a node whose component imports an interface no grant
//! allows, naming the import and the grant that would allow it, before
//! anything is instantiated. At run time the WASI context opens exactly
//! what the grants name: sockets only to granted peers, names looked up
//! only for granted hosts, files only under granted paths with the granted
//! mode, environment variables only by granted name. Every denial and the
//! first exercise of each grant per node is an audit event.

mod audit;
mod capability;
mod error;
mod grants;
mod scope;

pub use audit::{AuditCallback, AuditConfig, AuditDestination, AuditEvent, AuditKind, AuditLog, CapabilityCounts, CapabilityUse, NodeAudit, audit_events_dropped, flush_audit};
pub use capability::{Capability, Peer};
pub use error::SecurityError;
pub use grants::{Access, FsScope, GrantSet, Need, feature_kinds, needs};
pub use scope::PathScope;
