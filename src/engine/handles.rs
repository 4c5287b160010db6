//! The guest-visible handle space of one stage.
//!
//! wasmtime hands a host resource back to us as a 32-bit `rep`. Each rep we
//! give a component indexes this map, which holds the full slot + generation
//! [`BufferHandle`] and what the component may do with it. The table then
//! checks the generation, so a rep can never reach a recycled buffer.

use crate::types::BufferHandle;

/// What a component holds through one rep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    /// An owned `mutable-buffer` that may still be written.
    Mutable,
    /// A `mutable-buffer` that was frozen: every call on it traps.
    Spent,
    /// An owned (frozen) `buffer`.
    Owned,
    /// A `buffer` lent for the duration of one call.
    Borrowed,
}

/// Rep → (buffer, kind) for one stage. Reps are reused after removal;
/// wasmtime guarantees a component cannot name a rep it does not hold.
#[derive(Debug, Default)]
pub struct HandleMap {
    entries: Vec<Option<(BufferHandle, HandleKind)>>,
    free: Vec<u32>,
}

impl HandleMap {
    /// Register a handle and return the rep to give the component.
    pub fn insert(&mut self, handle: BufferHandle, kind: HandleKind) -> u32 {
        match self.free.pop() {
            Some(rep) => {
                self.entries[rep as usize] = Some((handle, kind));
                rep
            }
            None => {
                self.entries.push(Some((handle, kind)));
                (self.entries.len() - 1) as u32
            }
        }
    }

    /// The handle behind `rep`, if the rep is live.
    #[inline]
    pub fn get(&self, rep: u32) -> Option<(BufferHandle, HandleKind)> {
        self.entries.get(rep as usize).copied().flatten()
    }

    /// Change what the component may do through `rep`.
    pub fn set_kind(&mut self, rep: u32, kind: HandleKind) {
        if let Some(Some(entry)) = self.entries.get_mut(rep as usize) {
            entry.1 = kind;
        }
    }

    /// Forget `rep` (the component dropped or handed over the handle, or the
    /// borrow ended).
    pub fn remove(&mut self, rep: u32) -> Option<(BufferHandle, HandleKind)> {
        let entry = self.entries.get_mut(rep as usize)?.take();
        if entry.is_some() {
            self.free.push(rep);
        }
        entry
    }

    /// Every live entry (for reclaiming at teardown).
    pub fn drain(&mut self) -> Vec<(BufferHandle, HandleKind)> {
        self.free.clear();
        self.entries.drain(..).flatten().collect()
    }
}
