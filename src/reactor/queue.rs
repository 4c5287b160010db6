//! A bounded edge queue with credit and hysteresis, and a policy for when
//! it is full.
//!
//! Invariant: `len() <= capacity` always. Under `block` a push that fills
//! the queue closes the edge (no credit) until consumers drain it to the
//! low watermark, so a producer does not wake for every single free slot.
//! Under the lossy policies the producer always has credit and a full queue
//! drops an element instead ([`EdgeQueue::offer`]); every drop is counted
//! and becomes a gap in the sequence numbers the consumer sees.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::config::BackpressurePolicy;
use crate::engine::Lent;
use crate::observability::{QueueCounts, Tick};

/// One queued element and the drops just before it on this edge.
#[derive(Debug)]
struct Queued {
    lent: Lent,
    gap: u64,
    /// When it was queued (recorded only while metrics are on).
    at: Tick,
}

/// What a push into a full queue did.
#[derive(Debug)]
pub enum Offer {
    /// Queued; nothing dropped.
    Queued,
    /// Queued after dropping the oldest element, which the caller releases.
    DroppedOldest(Lent),
    /// Not queued (the newest element was dropped); the caller releases it.
    DroppedNewest(Lent),
    /// Not queued: the policy is `error`.
    Full(Lent),
}

/// Queue slots reserved when the queue is made.
const PREALLOCATED: usize = 256;

/// Elements waiting between two stages. The buffers are in the `Queued` state.
#[derive(Debug)]
pub struct EdgeQueue {
    items: VecDeque<Queued>,
    capacity: usize,
    low_watermark: usize,
    policy: BackpressurePolicy,
    closed: bool,
    /// Drops since the last queued element (become the next one's gap).
    pending_gap: u64,
    /// Taken, depth, peak and drops, shared with the flow's metrics.
    counts: Arc<QueueCounts>,
}

impl EdgeQueue {
    /// `counts`: where the queue keeps its counts (the edge's metrics).
    pub fn new(capacity: usize, low_watermark: usize, policy: BackpressurePolicy, counts: Arc<QueueCounts>) -> Self {
        let capacity = capacity.max(1);
        EdgeQueue {
            // Deep queues grow as they fill instead of reserving up front.
            items: VecDeque::with_capacity(capacity.min(PREALLOCATED)),
            capacity,
            low_watermark: low_watermark.min(capacity - 1),
            policy,
            closed: false,
            pending_gap: 0,
            counts,
        }
    }

    /// Whether a producer may push now (always, under a lossy or `error` policy).
    #[inline]
    pub fn has_credit(&self) -> bool {
        !self.closed
    }

    /// Append an element. Under `block` the caller checked
    /// [`EdgeQueue::has_credit`]; otherwise a full queue applies the policy.
    #[inline]
    pub fn offer(&mut self, element: Lent, at: Tick) -> Offer {
        let mut outcome = Offer::Queued;
        if self.items.len() >= self.capacity {
            match self.policy {
                BackpressurePolicy::Block => debug_assert!(false, "push without credit"),
                BackpressurePolicy::DropNewest => {
                    self.counts.dropped();
                    self.pending_gap += 1;
                    return Offer::DroppedNewest(element);
                }
                BackpressurePolicy::Error => return Offer::Full(element),
                BackpressurePolicy::DropOldest => {
                    if let Some(old) = self.items.pop_front() {
                        self.counts.dropped();
                        match self.items.front_mut() {
                            Some(next) => next.gap += old.gap + 1,
                            None => self.pending_gap += old.gap + 1,
                        }
                        outcome = Offer::DroppedOldest(old.lent);
                    }
                }
            }
        }
        let gap = std::mem::take(&mut self.pending_gap);
        self.items.push_back(Queued { lent: element, gap, at });
        let len = self.items.len();
        self.counts.queued(len);
        if len >= self.capacity && self.policy == BackpressurePolicy::Block {
            self.closed = true;
        }
        outcome
    }

    /// The oldest element, left in place (it is removed only when consumed,
    /// so a retried element keeps its position), and how many elements were
    /// dropped just before it.
    #[inline]
    pub fn front(&self) -> Option<(&Lent, u64)> {
        self.items.front().map(|q| (&q.lent, q.gap))
    }

    /// When the oldest element was queued, if that was recorded.
    pub fn front_queued_at(&self) -> Tick {
        self.items.front().map_or(Tick::NONE, |q| q.at)
    }

    /// Remove the oldest element.
    #[inline]
    pub fn pop(&mut self) -> Option<Lent> {
        let item = self.items.pop_front();
        self.counts.taken(self.items.len());
        if self.closed && self.items.len() <= self.low_watermark {
            self.closed = false;
        }
        item.map(|q| q.lent)
    }

    /// Elements this edge dropped under a lossy policy.
    pub fn dropped(&self) -> u64 {
        self.counts.drops()
    }

    pub fn policy(&self) -> BackpressurePolicy {
        self.policy
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
        self.counts.peak() as usize
    }

    /// Every element still waiting (at the end of a flow).
    pub fn drain(&mut self) -> impl Iterator<Item = Lent> + '_ {
        self.counts.emptied();
        self.items.drain(..).map(|q| q.lent)
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
            born: Tick::NONE,
            span: 0,
        }
    }

    #[test]
    fn credit_closes_when_full_and_reopens_at_watermark() {
        let mut q = EdgeQueue::new(4, 2, BackpressurePolicy::Block, Arc::default());
        for i in 0..4 {
            assert!(q.has_credit());
            assert!(matches!(q.offer(el(i), Tick::NONE), Offer::Queued));
        }
        assert!(!q.has_credit());
        q.pop();
        assert!(!q.has_credit(), "3 > watermark 2");
        q.pop();
        assert!(q.has_credit());
        assert_eq!(q.peak(), 4);
    }

    #[test]
    fn lossy_policies_drop_count_and_leave_gaps() {
        let mut q = EdgeQueue::new(2, 1, BackpressurePolicy::DropOldest, Arc::default());
        for i in 0..5 {
            assert!(q.has_credit());
            let out = q.offer(el(i), Tick::NONE);
            assert_eq!(matches!(out, Offer::DroppedOldest(ref old) if old.handle == BufferHandle::from_bits(i - 2)), i >= 2);
        }
        assert_eq!(q.dropped(), 3);
        let (head, gap) = q.front().unwrap();
        assert_eq!((head.handle, gap), (BufferHandle::from_bits(3), 3), "elements 0, 1, 2 were dropped before 3");

        let mut q = EdgeQueue::new(2, 1, BackpressurePolicy::DropNewest, Arc::default());
        for i in 0..4 {
            q.offer(el(i), Tick::NONE);
        }
        assert_eq!(q.dropped(), 2);
        q.pop();
        q.pop();
        q.offer(el(9), Tick::NONE);
        assert_eq!(q.front().map(|(l, g)| (l.handle, g)), Some((BufferHandle::from_bits(9), 2)));

        let mut q = EdgeQueue::new(1, 0, BackpressurePolicy::Error, Arc::default());
        q.offer(el(0), Tick::NONE);
        assert!(q.has_credit());
        assert!(matches!(q.offer(el(1), Tick::NONE), Offer::Full(_)));
    }
}
