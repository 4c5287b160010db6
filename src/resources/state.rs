//! Ownership states of one buffer and the only transitions between them.

use crate::types::StageId;

/// Who holds an owned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A component instance (a stage of the flow) holds an owned handle.
    Component(StageId),
    /// The runtime holds it (between stages, or handed to the embedder).
    Host,
}

/// Where a buffer is in its life.
///
/// ```text
/// Pooled --allocate--> Owned(c) --transfer--> Owned(Host) --enqueue--> Queued
/// Queued --dequeue--> Owned(Host) --lend--> Borrowed(1) --lend--> Borrowed(n+1)
/// Borrowed(n) --end borrow--> Borrowed(n-1) | Owned(Host) when n = 1
/// Owned(_) --release--> Released --recycle--> Pooled
/// ```
/// Anything else is an [`IllegalTransition`](super::BufferError::IllegalTransition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferState {
    /// The slot is free; its bytes are in the pool.
    Pooled,
    /// Exclusively held by one owner.
    Owned(Owner),
    /// Waiting on an edge queue.
    Queued,
    /// Lent read-only to `n` readers; the host keeps ownership.
    Borrowed(u32),
    /// Returned by its last owner; its handle is dead.
    Released,
}

/// An event that moves a buffer between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Allocate(Owner),
    Transfer(Owner),
    Enqueue,
    Dequeue,
    Lend,
    EndBorrow,
    Release,
    Recycle,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Transition::Allocate(_) => "allocate",
            Transition::Transfer(_) => "transfer",
            Transition::Enqueue => "enqueue",
            Transition::Dequeue => "dequeue",
            Transition::Lend => "lend",
            Transition::EndBorrow => "end borrow",
            Transition::Release => "release",
            Transition::Recycle => "recycle",
        }
    }
}

impl BufferState {
    /// The state after `event`, or `None` if the transition is illegal.
    pub fn apply(self, event: Transition) -> Option<BufferState> {
        use BufferState::*;
        use Transition::*;
        Some(match (self, event) {
            (Pooled, Allocate(owner)) => Owned(owner),
            (Owned(_), Transfer(owner)) => Owned(owner),
            (Owned(Owner::Host), Enqueue) => Queued,
            (Queued, Dequeue) => Owned(Owner::Host),
            (Owned(Owner::Host), Lend) => Borrowed(1),
            (Borrowed(n), Lend) => Borrowed(n.checked_add(1)?),
            (Borrowed(1), EndBorrow) => Owned(Owner::Host),
            (Borrowed(n), EndBorrow) if n > 1 => Borrowed(n - 1),
            (Owned(_), Release) => Released,
            (Released, Recycle) => Pooled,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrow_counting() {
        let s = BufferState::Owned(Owner::Host);
        let s = s.apply(Transition::Lend).unwrap().apply(Transition::Lend).unwrap();
        assert_eq!(s, BufferState::Borrowed(2));
        let s = s.apply(Transition::EndBorrow).unwrap();
        assert_eq!(s.apply(Transition::Release), None, "cannot release while borrowed");
        let s = s.apply(Transition::EndBorrow).unwrap();
        assert_eq!(s, BufferState::Owned(Owner::Host));
        assert_eq!(s.apply(Transition::EndBorrow), None);
    }
}
