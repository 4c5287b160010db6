//! Capabilities: what a node is granted, and what a component needs.
//!
//! A component gets nothing it was not given. Its imports say what it could
//! reach for; the node's `capabilities` say what it may have. The linker
//! refuses a node whose component imports an interface that needs a
//! capability the node lacks (before anything is instantiated), and the
//! WASI context of a stage opens exactly what the grants name.

mod grants;

pub use grants::{Capability, Grants};
