//! The per-flow buffer table: every buffer of a flow, its owner and its state.
//!
//! Handles are slot + generation ([`BufferHandle`]). A slot's generation
//! advances whenever its buffer is released, so a stale handle is reported as
//! [`BufferError::Stale`] and never reaches another buffer. Every operation
//! checks the buffer's [`BufferState`]; an illegal transition is an error and
//! leaves the table unchanged. Copies are recorded in the flow's
//! [`CopyLedger`] by the operation that makes them.

use std::sync::Arc;

use super::state::Transition;
use super::{Budget, BufferError, BufferPool, BufferState, CopyDirection, CopyLedger, Owner};
use crate::types::{BufferHandle, StageId};

/// Largest buffer a component may build unless the host is configured otherwise.
pub const DEFAULT_MAX_BUFFER_SIZE: u64 = 16 << 20;

/// Idle buffers each pool tier keeps for reuse.
pub const POOL_DEPTH: usize = 256;

/// Bytes of a buffer. Uniquely referenced except during a host call that
/// lends them to wasmtime for lowering.
pub type Bytes = Arc<Vec<u8>>;

#[derive(Debug)]
struct Slot {
    generation: u32,
    state: BufferState,
    bytes: Option<Bytes>,
    content_type: Arc<str>,
    frozen: bool,
    /// The stage whose budget pays for this buffer while it owns it.
    charged: Option<StageId>,
}

/// All buffers of one flow. Not internally synchronised: the flow's stages
/// share it behind one mutex, held only for the duration of one operation.
#[derive(Debug)]
pub struct BufferTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    pool: BufferPool,
    ledger: CopyLedger,
    record_copies: bool,
    budgets: Vec<Budget>,
    max_buffer_size: u64,
    /// Staging vector for partial reads (a sub-range must be contiguous on
    /// its own to be lowered into the guest).
    scratch: Bytes,
    no_content_type: Arc<str>,
    live: usize,
}

impl BufferTable {
    /// A table for a flow of `budgets.len()` stages, with a pool bounded
    /// only by buffer count (tests and benchmarks).
    pub fn new(budgets: Vec<Budget>, max_buffer_size: u64) -> Self {
        Self::with_pool(budgets, max_buffer_size, BufferPool::new(POOL_DEPTH))
    }

    /// A table whose idle buffers go to `pool` (a flow's: bounded in bytes
    /// and counted against its host's reserve).
    pub fn with_pool(budgets: Vec<Budget>, max_buffer_size: u64, pool: BufferPool) -> Self {
        BufferTable {
            slots: Vec::new(),
            free: Vec::new(),
            pool,
            ledger: CopyLedger::new(budgets.len()),
            record_copies: true,
            budgets,
            max_buffer_size,
            scratch: Arc::new(Vec::new()),
            no_content_type: Arc::from(""),
            live: 0,
        }
    }

    /// Turn copy recording off (only the benchmark's floor does this, to
    /// measure the component calls alone).
    pub fn set_record_copies(&mut self, on: bool) {
        self.record_copies = on;
    }

    /// The flow's copy ledger.
    pub fn ledger(&self) -> &CopyLedger {
        &self.ledger
    }

    /// The pool's counters.
    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    /// Buffers currently alive (not pooled).
    pub fn live(&self) -> usize {
        self.live
    }

    /// The largest buffer this table hands out.
    pub fn max_buffer_size(&self) -> u64 {
        self.max_buffer_size
    }

    /// How many buffers `stage` has allocated so far.
    pub fn allocations(&self, stage: StageId) -> u64 {
        self.budgets.get(stage.index()).map_or(0, Budget::allocations)
    }

    /// Bytes of capacity the stages' live buffers hold (what their budgets
    /// are charged).
    pub fn held_bytes(&self) -> u64 {
        self.budgets.iter().map(|b| b.held().1).sum()
    }

    /// Buffers and bytes a stage currently holds.
    pub fn budget_held(&self, stage: StageId) -> (u64, u64) {
        self.budgets.get(stage.index()).map(Budget::held).unwrap_or((0, 0))
    }

    #[inline]
    fn record(&mut self, stage: Option<StageId>, direction: CopyDirection, bytes: usize) {
        if self.record_copies {
            self.ledger.record(stage, direction, bytes);
        }
    }

    /// Record a copy made outside the table (an embedder's bytes pushed in).
    pub fn record_copy(&mut self, stage: Option<StageId>, direction: CopyDirection, bytes: usize) {
        self.record(stage, direction, bytes);
    }

    fn slot(&self, h: BufferHandle) -> Result<&Slot, BufferError> {
        let slot = self
            .slots
            .get(h.slot as usize)
            .ok_or(BufferError::Unknown(h))?;
        if slot.generation != h.generation || matches!(slot.state, BufferState::Pooled | BufferState::Released) {
            return Err(BufferError::Stale(h));
        }
        Ok(slot)
    }

    fn slot_mut(&mut self, h: BufferHandle) -> Result<&mut Slot, BufferError> {
        self.slot(h)?;
        Ok(&mut self.slots[h.slot as usize])
    }

    fn step(&mut self, h: BufferHandle, event: Transition) -> Result<(), BufferError> {
        let slot = self.slot_mut(h)?;
        let next = slot
            .state
            .apply(event)
            .ok_or(BufferError::IllegalTransition {
                handle: h,
                from: slot.state,
                action: event.name(),
            })?;
        slot.state = next;
        Ok(())
    }

    fn check_size(&self, requested: u64) -> Result<(), BufferError> {
        if requested > self.max_buffer_size {
            return Err(BufferError::CapacityExceeded {
                requested,
                max: self.max_buffer_size,
            });
        }
        Ok(())
    }

    /// A new empty buffer of at least `hint` bytes of capacity, owned by `owner`.
    /// A component owner pays for it from its budget.
    pub fn allocate(&mut self, owner: Owner, hint: u64) -> Result<BufferHandle, BufferError> {
        self.check_size(hint)?;
        let bytes = match owner {
            // The exhaustion policy governs what components allocate; the
            // host's own buffers (ingress) always get one.
            Owner::Component(_) => self
                .pool
                .try_take(hint as usize)
                .ok_or(BufferError::PoolExhausted { tier: crate::resources::Tier::for_len(hint as usize).name() })?,
            Owner::Host => self.pool.take(hint as usize),
        };
        let capacity = bytes.capacity() as u64;
        let charged = match owner {
            Owner::Component(stage) => match self.budgets.get_mut(stage.index()) {
                Some(budget) => {
                    if let Err(e) = budget.charge(capacity) {
                        self.pool.give(bytes);
                        return Err(e);
                    }
                    Some(stage)
                }
                None => None,
            },
            Owner::Host => None,
        };
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    state: BufferState::Pooled,
                    bytes: None,
                    content_type: Arc::clone(&self.no_content_type),
                    frozen: false,
                    charged: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.state = BufferState::Pooled
            .apply(Transition::Allocate(owner))
            .expect("allocate from pooled is always legal");
        slot.bytes = Some(bytes);
        slot.frozen = false;
        slot.charged = charged;
        if !slot.content_type.is_empty() {
            slot.content_type = Arc::clone(&self.no_content_type);
        }
        self.live += 1;
        Ok(BufferHandle {
            slot: index,
            generation: slot.generation,
        })
    }

    /// The buffer's bytes, checked writable by `stage`.
    fn writable(&mut self, h: BufferHandle, stage: StageId) -> Result<&mut Slot, BufferError> {
        let slot = self.slot_mut(h)?;
        if slot.state != BufferState::Owned(Owner::Component(stage)) {
            return Err(BufferError::NotAccessible {
                handle: h,
                stage: Some(stage),
                state: slot.state,
            });
        }
        if slot.frozen {
            return Err(BufferError::Frozen(h));
        }
        Ok(slot)
    }

    /// Make room for `new_len` bytes, moving to a larger pooled vector if
    /// needed (a counted host-to-host copy of the bytes written so far).
    fn reserve(&mut self, h: BufferHandle, stage: StageId, new_len: u64) -> Result<(), BufferError> {
        self.check_size(new_len)?;
        let slot = self.writable(h, stage)?;
        let current = slot.bytes.as_ref().map_or(0, |b| b.capacity());
        if new_len as usize <= current {
            return Ok(());
        }
        // Growing a component's buffer is an allocation like any other: the
        // exhaustion policy applies.
        let mut bigger = self
            .pool
            .try_take(new_len as usize)
            .ok_or(BufferError::PoolExhausted { tier: crate::resources::Tier::for_len(new_len as usize).name() })?;
        let new_capacity = bigger.capacity() as u64;
        if let Some(budget) = self.budgets.get_mut(stage.index()) {
            if let Err(e) = budget.recharge(current as u64, new_capacity) {
                self.pool.give(bigger);
                return Err(e);
            }
        }
        let slot = &mut self.slots[h.slot as usize];
        let old = slot.bytes.take().unwrap_or_default();
        let moved = old.len();
        if let Some(v) = Arc::get_mut(&mut bigger) {
            v.extend_from_slice(&old);
        }
        slot.bytes = Some(bigger);
        self.pool.give(old);
        self.record(Some(stage), CopyDirection::HostToHost, moved);
        Ok(())
    }

    fn bytes_mut(slot: &mut Slot, h: BufferHandle) -> Result<&mut Vec<u8>, BufferError> {
        let state = slot.state;
        slot.bytes
            .as_mut()
            .and_then(Arc::get_mut)
            .ok_or(BufferError::NotAccessible {
                handle: h,
                stage: None,
                state,
            })
    }

    /// Copy `data` from the guest to the end of the buffer.
    pub fn append(&mut self, h: BufferHandle, stage: StageId, data: &[u8]) -> Result<(), BufferError> {
        let len = self.writable(h, stage)?.bytes.as_ref().map_or(0, |b| b.len());
        self.reserve(h, stage, len as u64 + data.len() as u64)?;
        let slot = &mut self.slots[h.slot as usize];
        Self::bytes_mut(slot, h)?.extend_from_slice(data);
        self.record(Some(stage), CopyDirection::GuestToHost, data.len());
        Ok(())
    }

    /// Copy `data` from the guest into the buffer at `offset` (at most the
    /// current length), extending it as needed.
    pub fn write(&mut self, h: BufferHandle, stage: StageId, offset: u64, data: &[u8]) -> Result<(), BufferError> {
        let len = self.writable(h, stage)?.bytes.as_ref().map_or(0, |b| b.len()) as u64;
        if offset > len {
            return Err(BufferError::OutOfBounds {
                handle: h,
                offset,
                size: len,
            });
        }
        let end = offset + data.len() as u64;
        self.reserve(h, stage, end.max(len))?;
        let slot = &mut self.slots[h.slot as usize];
        let bytes = Self::bytes_mut(slot, h)?;
        let offset = offset as usize;
        let overlap = (bytes.len() - offset).min(data.len());
        bytes[offset..offset + overlap].copy_from_slice(&data[..overlap]);
        bytes.extend_from_slice(&data[overlap..]);
        self.record(Some(stage), CopyDirection::GuestToHost, data.len());
        Ok(())
    }

    /// Set the content type (a writable buffer only).
    pub fn set_content_type(&mut self, h: BufferHandle, stage: StageId, content_type: &str) -> Result<(), BufferError> {
        let none = Arc::clone(&self.no_content_type);
        let slot = self.writable(h, stage)?;
        if &*slot.content_type != content_type {
            slot.content_type = if content_type.is_empty() { none } else { Arc::from(content_type) };
        }
        Ok(())
    }

    /// Set the content type on a buffer the host owns (from element metadata).
    pub fn set_host_content_type(&mut self, h: BufferHandle, content_type: &str) -> Result<(), BufferError> {
        let none = Arc::clone(&self.no_content_type);
        let slot = self.slot_mut(h)?;
        if &*slot.content_type != content_type {
            slot.content_type = if content_type.is_empty() { none } else { Arc::from(content_type) };
        }
        Ok(())
    }

    /// Mark a component's buffer immutable. Its bytes stay where they are.
    pub fn freeze(&mut self, h: BufferHandle, stage: StageId) -> Result<(), BufferError> {
        self.writable(h, stage)?.frozen = true;
        Ok(())
    }

    /// Whether the buffer was frozen.
    pub fn is_frozen(&self, h: BufferHandle) -> Result<bool, BufferError> {
        Ok(self.slot(h)?.frozen)
    }

    /// Bytes written so far.
    pub fn size(&self, h: BufferHandle) -> Result<u64, BufferError> {
        Ok(self.slot(h)?.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }

    /// Capacity before the buffer must grow.
    pub fn capacity(&self, h: BufferHandle) -> Result<u64, BufferError> {
        Ok(self.slot(h)?.bytes.as_ref().map_or(0, |b| b.capacity() as u64))
    }

    /// The content type (shared, no copy).
    pub fn content_type(&self, h: BufferHandle) -> Result<Arc<str>, BufferError> {
        Ok(Arc::clone(&self.slot(h)?.content_type))
    }

    /// Current ownership state.
    pub fn state(&self, h: BufferHandle) -> Result<BufferState, BufferError> {
        Ok(self.slot(h)?.state)
    }

    fn readable(&self, h: BufferHandle, reader: Option<StageId>) -> Result<&Slot, BufferError> {
        let slot = self.slot(h)?;
        let ok = match (slot.state, reader) {
            (state, _) if state.is_lent() => true,
            (BufferState::Owned(Owner::Component(owner)), Some(r)) => owner == r,
            (BufferState::Owned(Owner::Host), None) => true,
            _ => false,
        };
        if !ok {
            return Err(BufferError::NotAccessible {
                handle: h,
                stage: reader,
                state: slot.state,
            });
        }
        Ok(slot)
    }

    /// A second reference to a lent buffer's bytes, for an embedder reading
    /// them in place (no copy, nothing recorded). The buffer must be
    /// `Borrowed`; the reference must be dropped before the borrow ends so the
    /// vector can return to its pool.
    pub fn lent_bytes(&self, h: BufferHandle) -> Result<Bytes, BufferError> {
        let slot = self.slot(h)?;
        if !slot.state.is_lent() {
            return Err(BufferError::NotAccessible {
                handle: h,
                stage: None,
                state: slot.state,
            });
        }
        Ok(slot.bytes.as_ref().map(Arc::clone).unwrap_or_default())
    }

    /// Every byte, for lowering into `reader`'s memory. Returns a second
    /// reference to the pooled vector itself, so the only copy is wasmtime's
    /// store into guest memory, which this records.
    pub fn read_all(&mut self, h: BufferHandle, reader: StageId) -> Result<Bytes, BufferError> {
        let bytes = Arc::clone(self.readable(h, Some(reader))?.bytes.as_ref().unwrap_or(&self.scratch));
        self.record(Some(reader), CopyDirection::HostToGuest, bytes.len());
        Ok(bytes)
    }

    /// Up to `len` bytes from `offset`, for lowering into `reader`'s memory.
    /// A range past the end is cut short (possibly to nothing). A range that
    /// is not the whole buffer is staged first: a recorded host-to-host copy.
    pub fn read(&mut self, h: BufferHandle, reader: StageId, offset: u64, len: u64) -> Result<Bytes, BufferError> {
        let slot = self.readable(h, Some(reader))?;
        let size = slot.bytes.as_ref().map_or(0, |b| b.len()) as u64;
        if offset == 0 && len >= size {
            return self.read_all(h, reader);
        }
        let start = offset.min(size) as usize;
        let end = offset.saturating_add(len).min(size) as usize;
        let state = slot.state;
        let Some(src) = slot.bytes.as_ref().map(Arc::clone) else {
            return Ok(Arc::clone(&self.scratch));
        };
        let staged = Arc::get_mut(&mut self.scratch).ok_or(BufferError::NotAccessible {
            handle: h,
            stage: Some(reader),
            state,
        })?;
        staged.clear();
        staged.extend_from_slice(&src[start..end]);
        let n = end - start;
        if n == 0 {
            return Ok(Arc::clone(&self.scratch));
        }
        self.record(Some(reader), CopyDirection::HostToHost, n);
        self.record(Some(reader), CopyDirection::HostToGuest, n);
        Ok(Arc::clone(&self.scratch))
    }

    /// A new buffer owned by `stage` holding a copy of `source` (readable by `stage`).
    pub fn clone_into_mutable(&mut self, source: BufferHandle, stage: StageId) -> Result<BufferHandle, BufferError> {
        let slot = self.readable(source, Some(stage))?;
        let src = slot.bytes.as_ref().map(Arc::clone).unwrap_or_default();
        let content_type = Arc::clone(&slot.content_type);
        let h = self.allocate(Owner::Component(stage), src.len() as u64)?;
        let slot = &mut self.slots[h.slot as usize];
        Self::bytes_mut(slot, h)?.extend_from_slice(&src);
        slot.content_type = content_type;
        self.record(Some(stage), CopyDirection::HostToHost, src.len());
        Ok(h)
    }

    /// Copy an embedder's bytes into a new host-owned buffer (the one counted
    /// copy of an ingress push), recorded for `stage` (the ingress node).
    pub fn allocate_from(&mut self, stage: Option<StageId>, data: &[u8], content_type: &str) -> Result<BufferHandle, BufferError> {
        let h = self.allocate(Owner::Host, data.len() as u64)?;
        let slot = &mut self.slots[h.slot as usize];
        Self::bytes_mut(slot, h)?.extend_from_slice(data);
        self.set_host_content_type(h, content_type)?;
        self.record(stage, CopyDirection::HostToHost, data.len());
        Ok(h)
    }

    /// Move ownership from `from` to `to`, moving the budget charge with it.
    /// A component hands over only frozen buffers.
    pub fn transfer(&mut self, h: BufferHandle, from: Owner, to: Owner) -> Result<(), BufferError> {
        let slot = self.slot(h)?;
        if slot.state != BufferState::Owned(from) {
            return Err(BufferError::NotAccessible {
                handle: h,
                stage: match from {
                    Owner::Component(s) => Some(s),
                    Owner::Host => None,
                },
                state: slot.state,
            });
        }
        if matches!(from, Owner::Component(_)) && !slot.frozen {
            return Err(BufferError::IllegalTransition {
                handle: h,
                from: slot.state,
                action: "hand over an unfrozen buffer",
            });
        }
        let capacity = slot.bytes.as_ref().map_or(0, |b| b.capacity() as u64);
        if let Owner::Component(stage) = to {
            if let Some(budget) = self.budgets.get_mut(stage.index()) {
                budget.charge(capacity)?;
            }
        }
        self.step(h, Transition::Transfer(to))?;
        let slot = &mut self.slots[h.slot as usize];
        let previous = slot.charged.take();
        if let Owner::Component(stage) = to {
            slot.charged = Some(stage);
        }
        if let Some(stage) = previous {
            if let Some(budget) = self.budgets.get_mut(stage.index()) {
                budget.refund(capacity);
            }
        }
        Ok(())
    }

    /// Put a host-held buffer on one more queue.
    pub fn enqueue(&mut self, h: BufferHandle) -> Result<(), BufferError> {
        self.step(h, Transition::Enqueue)
    }

    /// Take one queue entry of a buffer off its queue.
    pub fn dequeue(&mut self, h: BufferHandle) -> Result<(), BufferError> {
        self.step(h, Transition::Dequeue)
    }

    /// Lend a host-owned (or already lent) buffer to one more reader.
    pub fn lend(&mut self, h: BufferHandle) -> Result<(), BufferError> {
        self.step(h, Transition::Lend)
    }

    /// One reader is done. Returns whether the host holds the buffer alone
    /// now (no queue, no reader), i.e. whether the caller should release it.
    pub fn end_borrow(&mut self, h: BufferHandle) -> Result<bool, BufferError> {
        self.step(h, Transition::EndBorrow)?;
        Ok(self.slot(h)?.state == BufferState::Owned(Owner::Host))
    }

    /// Drop one queue entry of a buffer that will not be delivered (the flow
    /// ended), releasing it if that was the last hold.
    pub fn discard_queued(&mut self, h: BufferHandle) -> Result<(), BufferError> {
        self.step(h, Transition::Dequeue)?;
        if self.slot(h)?.state == BufferState::Owned(Owner::Host) {
            self.release(h, Owner::Host)?;
        }
        Ok(())
    }

    /// `owner` gives the buffer up: its bytes return to the pool and every
    /// handle to it becomes stale.
    pub fn release(&mut self, h: BufferHandle, owner: Owner) -> Result<(), BufferError> {
        let slot = self.slot(h)?;
        if slot.state != BufferState::Owned(owner) {
            return Err(BufferError::IllegalTransition {
                handle: h,
                from: slot.state,
                action: "release",
            });
        }
        self.step(h, Transition::Release)?;
        let slot = &mut self.slots[h.slot as usize];
        let bytes = slot.bytes.take();
        let charged = slot.charged.take();
        slot.generation = slot.generation.wrapping_add(1);
        slot.state = BufferState::Released
            .apply(Transition::Recycle)
            .expect("recycle from released is always legal");
        let capacity = bytes.as_ref().map_or(0, |b| b.capacity() as u64);
        if let Some(stage) = charged {
            if let Some(budget) = self.budgets.get_mut(stage.index()) {
                budget.refund(capacity);
            }
        }
        if let Some(bytes) = bytes {
            self.pool.give(bytes);
        }
        self.free.push(h.slot);
        self.live -= 1;
        Ok(())
    }

    /// Release whatever `owner` still holds (a component instance that went
    /// away, or the end of a flow). Returns how many buffers were reclaimed.
    pub fn reclaim(&mut self, owner: Owner) -> usize {
        let handles: Vec<BufferHandle> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == BufferState::Owned(owner))
            .map(|(i, s)| BufferHandle {
                slot: i as u32,
                generation: s.generation,
            })
            .collect();
        handles.iter().filter(|h| self.release(**h, owner).is_ok()).count()
    }
}
