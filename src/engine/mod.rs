//! wasmtime set-up: one shared `Engine` per host, components compiled once
//! (cached by content hash) and instantiated per flow through `InstancePre`
//! with the pooling allocator, their machine code kept on disk between
//! processes (`disk_cache`); WASI linked with nothing granted; per-call
//! deadlines through epoch interruption; a linear-memory limit per instance.

mod abi;
mod blocking;
mod blocking_fs;
mod compile;
mod disk_cache;
mod error;
mod handles;
mod host_types;
mod interrupt;
mod limits;
mod scoped;
mod seal;
mod stage;
mod state;
mod ticker;
mod wasi;

pub use abi::{BackpressureSignal, ProcessError};
pub use compile::{
    CompiledComponent, DEFAULT_MAX_INSTANCES, DEFAULT_WASM_STACK, Engine, EngineSettings, Inspection, MAX_INSTANCES, MAX_LINEAR_MEMORY,
    MAX_WASM_STACK, MIN_WASM_STACK,
};
pub use disk_cache::{CacheError, CacheLocation, CompiledEntry, DiskCache, default_root as default_cache_root, private_dir, write_private};
pub use ticker::Busy;
pub use error::{CallError, EngineError};
pub use interrupt::CHECK_EVERY;
pub use stage::{Emitted, Lent, Stage, StageSpec};
pub use state::FlowContextInfo;
pub use wasi::GUEST_LOG_TARGET;
