//! Torvyn runs pipelines of sandboxed WebAssembly components inside any
//! program. The runtime owns every byte buffer, moves buffers between stages
//! without copying, counts every copy that does happen, bounds memory with
//! backpressure, and grants each component nothing it was not given.
//!
//! ```no_run
//! use std::time::Duration;
//! use torvyn::{Host, PipelineDef};
//!
//! let pipeline = PipelineDef::load("examples/hello-world")?;
//! let host = Host::builder().build()?;
//! let flow = host.start_flow(&pipeline, "main")?;
//! let summary = flow.wait(Some(Duration::from_secs(10)))?;
//! println!("{} elements, {} copies", summary.elements, summary.copies);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod contracts;
pub mod engine;
pub mod ffi;
pub mod host;
pub mod linker;
pub mod observability;
pub mod packaging;
pub mod pipeline;
pub mod reactor;
pub mod resources;
pub mod security;
pub mod types;

#[cfg(feature = "cli")]
pub mod cli;

pub use config::PipelineDef;
pub use host::{Flow, FlowOptions, Host, HostBuilder, HostError, ShutdownReport};
pub use reactor::FlowSummary;
pub use types::{FlowId, FlowState};

/// The names most programs need.
pub mod prelude {
    pub use crate::config::PipelineDef;
    pub use crate::host::{Flow, Host, HostBuilder, HostError};
    pub use crate::reactor::FlowSummary;
    pub use crate::types::{FlowId, FlowState};
}
