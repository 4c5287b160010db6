//! Per-component limits on buffers held at once.

use super::BufferError;

/// How many buffers (and bytes of capacity) one stage may hold at once.
///
/// Only buffers the component itself owns count; buffers it handed to the
/// runtime count against the edge queues instead, which are bounded too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_buffers: u64,
    pub max_bytes: u64,
    live: u64,
    bytes: u64,
    /// Buffers ever charged (allocations the component made).
    charged: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(256, 256 << 20)
    }
}

impl Budget {
    pub fn new(max_buffers: u64, max_bytes: u64) -> Self {
        Budget {
            max_buffers,
            max_bytes,
            live: 0,
            bytes: 0,
            charged: 0,
        }
    }

    /// Reserve one buffer of `capacity` bytes, or say why not.
    pub fn charge(&mut self, capacity: u64) -> Result<(), BufferError> {
        let bytes = self.bytes.saturating_add(capacity);
        if self.live >= self.max_buffers || bytes > self.max_bytes {
            return Err(BufferError::BudgetExhausted {
                live: self.live,
                bytes: self.bytes,
                max_buffers: self.max_buffers,
                max_bytes: self.max_bytes,
            });
        }
        self.live += 1;
        self.bytes = bytes;
        self.charged += 1;
        Ok(())
    }

    /// How many buffers the component has allocated so far.
    pub fn allocations(&self) -> u64 {
        self.charged
    }

    /// Change the capacity charged for one held buffer (it grew).
    pub fn recharge(&mut self, old: u64, new: u64) -> Result<(), BufferError> {
        let bytes = self.bytes - old.min(self.bytes) + new;
        if bytes > self.max_bytes {
            return Err(BufferError::BudgetExhausted {
                live: self.live,
                bytes: self.bytes,
                max_buffers: self.max_buffers,
                max_bytes: self.max_bytes,
            });
        }
        self.bytes = bytes;
        Ok(())
    }

    /// Give back one buffer of `capacity` bytes.
    pub fn refund(&mut self, capacity: u64) {
        self.live = self.live.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(capacity);
    }

    /// Buffers and bytes currently held.
    pub fn held(&self) -> (u64, u64) {
        (self.live, self.bytes)
    }
}
