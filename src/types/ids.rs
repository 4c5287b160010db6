//! Identifiers. Each is a plain number with a display form users see in errors.

use std::fmt;

/// Identifies a flow within one `Host`. Never reused while the host lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub(crate) u64);

impl FlowId {
    /// The raw number (for FFI and logs).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow-{}", self.0)
    }
}

/// Index of a stage (a node bound to a component instance) within its flow.
/// Buffers, budgets and ledger rows are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageId(pub(crate) u32);

impl StageId {
    /// A stage id for index `i`.
    pub fn new(i: u32) -> Self {
        StageId(i)
    }

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// A host-side handle to a buffer in a flow's buffer table.
///
/// Invariant: a handle names exactly one buffer lifetime. When the buffer is
/// released its slot's generation advances, so an old handle is detected as
/// stale instead of aliasing whatever buffer reuses the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferHandle {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl BufferHandle {
    /// The handle as one number: generation in the high half, slot in the low half.
    pub fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    /// Inverse of [`BufferHandle::to_bits`]. Any number is accepted; the table
    /// decides whether it names a live buffer.
    pub fn from_bits(bits: u64) -> Self {
        BufferHandle {
            slot: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }
}

impl fmt::Display for BufferHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer {}#{}", self.slot, self.generation)
    }
}
