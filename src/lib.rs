//! Torvyn runs pipelines of sandboxed WebAssembly components inside any
//! program, moving host-owned buffers between stages without copying.

pub mod contracts;
pub mod engine;
pub mod resources;
pub mod types;
