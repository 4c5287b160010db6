//! A bounded edge queue with credit and hysteresis.
//!
//! Invariant: `len() <= capacity` always. When a push fills the queue the
//! edge closes (no credit) until consumers drain it to the low watermark, so
//! a producer does not wake for every single free slot.

use std::collections::VecDeque;

use crate::engine::Lent;

/// Queue slots reserved when the queue is made.
const PREALLOCATED: usize = 256;

/// Elements waiting between two stages. The buffers are in the `Queued` state.
#[derive(Debug)]
pub struct EdgeQueue {
    items: VecDeque<Lent>,
    capacity: usize,
    low_watermark: usize,
    closed: bool,
    peak: usize,
}

impl EdgeQueue {
    pub fn new(capacity: usize, low_watermark: usize) -> Self {
        let capacity = capacity.max(1);
        EdgeQueue {
            // Deep queues grow as they fill instead of reserving up front.
            items: VecDeque::with_capacity(capacity.min(PREALLOCATED)),
            capacity,
            low_watermark: low_watermark.min(capacity - 1),
            closed: false,
            peak: 0,
        }
    }

    /// Whether a producer may push now.
    #[inline]
    pub fn has_credit(&self) -> bool {
        !self.closed
    }

    /// Append an element. The caller checked [`EdgeQueue::has_credit`].
    #[inline]
    pub fn push(&mut self, element: Lent) {
        debug_assert!(self.items.len() < self.capacity);
        self.items.push_back(element);
        let len = self.items.len();
        self.peak = self.peak.max(len);
        if len >= self.capacity {
            self.closed = true;
        }
    }

    /// The oldest element, left in place (it is removed only when consumed,
    /// so a retried element keeps its position).
    #[inline]
    pub fn front(&self) -> Option<&Lent> {
        self.items.front()
    }

    /// Remove the oldest element.
    #[inline]
    pub fn pop(&mut self) -> Option<Lent> {
        let item = self.items.pop_front();
        if self.closed && self.items.len() <= self.low_watermark {
            self.closed = false;
        }
        item
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Deepest the queue has been.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Every element still waiting (at the end of a flow).
    pub fn drain(&mut self) -> impl Iterator<Item = Lent> + '_ {
        self.items.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BufferHandle;
    use std::sync::Arc;

    fn el(i: u64) -> Lent {
        Lent {
            handle: BufferHandle::from_bits(i),
            sequence: i,
            timestamp_ns: 0,
            content_type: Arc::from(""),
        }
    }

    #[test]
    fn credit_closes_when_full_and_reopens_at_watermark() {
        let mut q = EdgeQueue::new(4, 2);
        for i in 0..4 {
            assert!(q.has_credit());
            q.push(el(i));
        }
        assert!(!q.has_credit());
        q.pop();
        assert!(!q.has_credit(), "3 > watermark 2");
        q.pop();
        assert!(q.has_credit());
        assert_eq!(q.peak(), 4);
    }
}
