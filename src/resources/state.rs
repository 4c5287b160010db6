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
/// A frozen buffer may sit on several edge queues and be lent to several
/// readers at once (fan-out hands every consumer the same bytes). The host
/// keeps ownership for as long as any queue or reader holds it; when the last
/// hold ends it is host-owned again and the driver releases it to its pool.
///
/// ```text
/// Pooled --allocate--> Owned(c) --transfer--> Owned(Host)
/// Owned(Host) --enqueue--> Shared{1,0}     Shared{q,b} --enqueue--> Shared{q+1,b}
/// Owned(Host) --lend-->    Shared{0,1}     Shared{q,b} --lend-->    Shared{q,b+1}
/// Shared{q,b} --dequeue--> Shared{q-1,b}   Shared{q,b} --end borrow--> Shared{q,b-1}
///   (a hold count that reaches Shared{0,0} is Owned(Host))
/// Owned(_) --release--> Released --recycle--> Pooled
/// ```
/// Anything else is an [`IllegalTransition`](super::BufferError::IllegalTransition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferState {
    /// The slot is free; its bytes are in the pool.
    Pooled,
    /// Exclusively held by one owner.
    Owned(Owner),
    /// Held by the host for `queued` queue entries and `borrowed` readers
    /// (never both zero).
    Shared { queued: u32, borrowed: u32 },
    /// Returned by its last owner; its handle is dead.
    Released,
}

impl BufferState {
    /// Whether at least one reader holds a borrow now.
    pub fn is_lent(self) -> bool {
        matches!(self, BufferState::Shared { borrowed, .. } if borrowed > 0)
    }
}

fn shared(queued: u32, borrowed: u32) -> BufferState {
    if queued == 0 && borrowed == 0 {
        BufferState::Owned(Owner::Host)
    } else {
        BufferState::Shared { queued, borrowed }
    }
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
            (Owned(Owner::Host), Enqueue) => shared(1, 0),
            (Owned(Owner::Host), Lend) => shared(0, 1),
            (Shared { queued, borrowed }, Enqueue) => shared(queued.checked_add(1)?, borrowed),
            (Shared { queued, borrowed }, Lend) => shared(queued, borrowed.checked_add(1)?),
            (Shared { queued, borrowed }, Dequeue) if queued > 0 => shared(queued - 1, borrowed),
            (Shared { queued, borrowed }, EndBorrow) if borrowed > 0 => shared(queued, borrowed - 1),
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
        assert_eq!(s, BufferState::Shared { queued: 0, borrowed: 2 });
        let s = s.apply(Transition::EndBorrow).unwrap();
        assert_eq!(s.apply(Transition::Release), None, "cannot release while borrowed");
        let s = s.apply(Transition::EndBorrow).unwrap();
        assert_eq!(s, BufferState::Owned(Owner::Host));
        assert_eq!(s.apply(Transition::EndBorrow), None);
    }

    #[test]
    fn fan_out_holds_until_the_last_reader() {
        // One buffer on two queues; each consumer takes it off its queue and borrows it.
        let s = BufferState::Owned(Owner::Host).apply(Transition::Enqueue).unwrap();
        let s = s.apply(Transition::Enqueue).unwrap();
        let s = s.apply(Transition::Dequeue).unwrap().apply(Transition::Lend).unwrap();
        assert_eq!(s, BufferState::Shared { queued: 1, borrowed: 1 });
        let s = s.apply(Transition::EndBorrow).unwrap();
        assert_eq!(s.apply(Transition::Release), None, "still queued for the second consumer");
        let s = s.apply(Transition::Dequeue).unwrap().apply(Transition::Lend).unwrap();
        let s = s.apply(Transition::EndBorrow).unwrap();
        assert_eq!(s, BufferState::Owned(Owner::Host));
        assert_eq!(s.apply(Transition::Dequeue), None);
    }
}
