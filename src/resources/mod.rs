//! Host-owned byte buffers: tiered pools, the buffer table with its ownership
//! states, the per-flow copy ledger and per-component budgets.
//!
//! Every payload byte in a flow lives in a buffer owned by that flow's
//! [`BufferTable`]. Components reach the bytes only through counted copies;
//! moving a buffer from one stage to the next moves a handle.

mod budget;
mod error;
mod ledger;
mod pool;
mod state;
mod table;

pub use budget::Budget;
pub use error::BufferError;
pub use ledger::{CopyCount, CopyDirection, CopyLedger};
pub use pool::{BufferPool, PoolReserve, PoolStats, Tier, TierLimits, TierSnapshot, TIERS};
pub use state::{BufferState, Owner};
pub use table::{BufferTable, Bytes, DEFAULT_MAX_BUFFER_SIZE, POOL_DEPTH};
