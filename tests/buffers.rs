//! The buffer table and pools under random operation sequences (proptest),
//! plus the stale-handle and borrow rules.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use torvyn::resources::{Budget, BufferError, BufferPool, BufferState, BufferTable, Owner};
use torvyn::types::{BufferHandle, StageId};

fn table(stages: usize) -> BufferTable {
    BufferTable::new(vec![Budget::new(64, 64 << 20); stages], 1 << 20)
}

#[test]
fn a_stale_handle_is_detected_never_aliased() {
    let mut t = table(1);
    let s = StageId::new(0);
    let old = t.allocate(Owner::Component(s), 10).unwrap();
    t.append(old, s, b"first").unwrap();
    t.release(old, Owner::Component(s)).unwrap();
    let new = t.allocate(Owner::Component(s), 10).unwrap();
    assert_eq!(new.to_bits() as u32, old.to_bits() as u32, "the slot is reused");
    assert_ne!(new, old);
    assert_eq!(t.append(old, s, b"x"), Err(BufferError::Stale(old)));
    assert_eq!(t.size(old), Err(BufferError::Stale(old)));
    assert!(matches!(t.release(old, Owner::Component(s)), Err(BufferError::Stale(_))));
    assert_eq!(t.size(new), Ok(0), "the new buffer is untouched by the stale handle");
    let forged = BufferHandle::from_bits(12345);
    assert_eq!(t.size(forged), Err(BufferError::Unknown(forged)));
}

#[test]
fn reading_needs_a_borrow_and_a_borrow_ends() {
    let mut t = table(2);
    let (a, b) = (StageId::new(0), StageId::new(1));
    let h = t.allocate(Owner::Component(a), 3).unwrap();
    t.append(h, a, b"abc").unwrap();
    assert!(matches!(t.transfer(h, Owner::Component(a), Owner::Host), Err(BufferError::IllegalTransition { .. })), "unfrozen hand-over");
    t.freeze(h, a).unwrap();
    assert_eq!(t.append(h, a, b"d"), Err(BufferError::Frozen(h)));
    t.transfer(h, Owner::Component(a), Owner::Host).unwrap();
    assert!(t.read_all(h, b).is_err(), "not lent to b yet");
    t.lend(h).unwrap();
    assert_eq!(&**t.read_all(h, b).unwrap(), b"abc");
    assert_eq!(&**t.read(h, b, 1, 100).unwrap(), b"bc");
    assert_eq!(&**t.read(h, b, 9, 1).unwrap(), b"", "past the end is empty, not an error");
    assert!(t.release(h, Owner::Host).is_err(), "cannot release while borrowed");
    assert_eq!(t.end_borrow(h), Ok(true), "the last hold ended");
    assert!(t.read_all(h, b).is_err(), "use after the borrow ended is rejected");
    assert!(t.end_borrow(h).is_err(), "a borrow ends once");
    t.release(h, Owner::Host).unwrap();
    assert_eq!(t.live(), 0);
    let c = t.ledger().total();
    assert_eq!((c.copies, c.bytes), (4, 3 + 3 + 2 + 2), "append, read-all, a partial read staged then lowered (2 copies); an empty read copies nothing");
}

#[test]
fn budget_makes_allocate_fail_instead_of_growing() {
    let mut t = BufferTable::new(vec![Budget::new(2, 1 << 20)], 16 << 20);
    let s = StageId::new(0);
    let a = t.allocate(Owner::Component(s), 10).unwrap();
    let _b = t.allocate(Owner::Component(s), 10).unwrap();
    assert!(matches!(t.allocate(Owner::Component(s), 10), Err(BufferError::BudgetExhausted { .. })));
    t.release(a, Owner::Component(s)).unwrap();
    assert!(t.allocate(Owner::Component(s), 10).is_ok(), "released capacity is available again");
    assert!(matches!(t.allocate(Owner::Component(s), 32 << 20), Err(BufferError::CapacityExceeded { .. })));
}

#[derive(Debug, Clone)]
enum Op {
    Allocate(usize),
    Append(usize, usize),
    Freeze(usize),
    HandOver(usize),
    Lend(usize),
    EndBorrow(usize),
    Release(usize),
    UseReleased(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..70_000).prop_map(Op::Allocate),
        (any::<usize>(), 0usize..5000).prop_map(|(i, n)| Op::Append(i, n)),
        any::<usize>().prop_map(Op::Freeze),
        any::<usize>().prop_map(Op::HandOver),
        any::<usize>().prop_map(Op::Lend),
        any::<usize>().prop_map(Op::EndBorrow),
        any::<usize>().prop_map(Op::Release),
        any::<usize>().prop_map(Op::UseReleased),
    ]
}

/// What the test believes about one live buffer.
#[derive(Debug, Clone)]
struct Model {
    handle: BufferHandle,
    owner: Owner,
    frozen: bool,
    borrows: u32,
    bytes: Vec<u8>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No buffer is handed out twice, every illegal transition is an error
    /// that changes nothing, contents never bleed between buffers, and every
    /// buffer comes back.
    #[test]
    fn table_state_machine(ops in proptest::collection::vec(op(), 1..200)) {
        let s = StageId::new(0);
        let mut t = BufferTable::new(vec![Budget::new(1 << 20, 1 << 40)], 1 << 20);
        let mut live: Vec<Model> = Vec::new();
        let mut released: Vec<BufferHandle> = Vec::new();
        let mut tag = 0u8;
        for op in ops {
            match op {
                Op::Allocate(n) => {
                    let h = t.allocate(Owner::Component(s), n as u64).unwrap();
                    prop_assert!(!live.iter().any(|m| m.handle == h || m.handle.to_bits() as u32 == h.to_bits() as u32), "slot handed out twice");
                    prop_assert!(t.capacity(h).unwrap() >= n as u64);
                    live.push(Model { handle: h, owner: Owner::Component(s), frozen: false, borrows: 0, bytes: Vec::new() });
                }
                Op::Append(i, n) if !live.is_empty() => {
                    let n_live = live.len();
                    let m = &mut live[i % n_live];
                    tag = tag.wrapping_add(1);
                    let data = vec![tag; n];
                    let r = t.append(m.handle, s, &data);
                    let allowed = m.owner == Owner::Component(s) && !m.frozen && m.bytes.len() + n <= 1 << 20;
                    prop_assert_eq!(r.is_ok(), allowed, "{:?}", r);
                    if allowed { m.bytes.extend_from_slice(&data); }
                }
                Op::Freeze(i) if !live.is_empty() => {
                    let n_live = live.len();
                    let m = &mut live[i % n_live];
                    let r = t.freeze(m.handle, s);
                    prop_assert_eq!(r.is_ok(), m.owner == Owner::Component(s) && !m.frozen);
                    if r.is_ok() { m.frozen = true; }
                }
                Op::HandOver(i) if !live.is_empty() => {
                    let n_live = live.len();
                    let m = &mut live[i % n_live];
                    let r = t.transfer(m.handle, Owner::Component(s), Owner::Host);
                    prop_assert_eq!(r.is_ok(), m.owner == Owner::Component(s) && m.frozen && m.borrows == 0);
                    if r.is_ok() { m.owner = Owner::Host; }
                }
                Op::Lend(i) if !live.is_empty() => {
                    let n_live = live.len();
                    let m = &mut live[i % n_live];
                    let r = t.lend(m.handle);
                    prop_assert_eq!(r.is_ok(), m.owner == Owner::Host);
                    if r.is_ok() {
                        m.borrows += 1;
                        let seen = t.read_all(m.handle, s).unwrap();
                        prop_assert_eq!(&**seen, &m.bytes[..], "contents are this buffer's own");
                    }
                }
                Op::EndBorrow(i) if !live.is_empty() => {
                    let n_live = live.len();
                    let m = &mut live[i % n_live];
                    let r = t.end_borrow(m.handle);
                    prop_assert_eq!(r.is_ok(), m.borrows > 0);
                    if r.is_ok() { m.borrows -= 1; }
                }
                Op::Release(i) if !live.is_empty() => {
                    let idx = i % live.len();
                    let m = &live[idx];
                    let r = t.release(m.handle, m.owner);
                    prop_assert_eq!(r.is_ok(), m.borrows == 0, "{:?}", r);
                    if r.is_ok() { released.push(live.swap_remove(idx).handle); }
                }
                Op::UseReleased(i) if !released.is_empty() => {
                    let h = released[i % released.len()];
                    prop_assert_eq!(t.size(h), Err(BufferError::Stale(h)));
                    prop_assert!(t.lend(h).is_err());
                }
                _ => {}
            }
            prop_assert_eq!(t.live(), live.len());
            let states: HashSet<u32> = live.iter().map(|m| m.handle.to_bits() as u32).collect();
            prop_assert_eq!(states.len(), live.len());
        }
        // Everything comes back.
        for m in live.drain(..) {
            for _ in 0..m.borrows { t.end_borrow(m.handle).unwrap(); }
            prop_assert_eq!(t.state(m.handle).unwrap(), BufferState::Owned(m.owner));
            t.release(m.handle, m.owner).unwrap();
        }
        prop_assert_eq!(t.live(), 0);
        prop_assert_eq!(t.budget_held(s), (0, 0));
        let stats = t.pool().stats();
        let idle: usize = t.pool().idle().iter().sum();
        prop_assert_eq!(idle as u64 + stats.discarded, stats.allocations);
    }

    /// The pool never hands out a vector that is still out.
    #[test]
    fn pool_never_hands_out_twice(ops in proptest::collection::vec((any::<bool>(), 1usize..2_000_000), 1..300)) {
        let mut pool = BufferPool::new(1024);
        let mut out: Vec<Arc<Vec<u8>>> = Vec::new();
        for (take, len) in ops {
            if take || out.is_empty() {
                let b = pool.take(len);
                prop_assert!(b.capacity() >= len);
                prop_assert!(b.is_empty());
                prop_assert!(!out.iter().any(|o| o.as_ptr() == b.as_ptr()), "handed out twice");
                out.push(b);
            } else {
                let b = out.swap_remove(len % out.len());
                pool.give(b);
            }
        }
        let n = out.len() as u64;
        for b in out { pool.give(b); }
        let stats = pool.stats();
        let idle: usize = pool.idle().iter().sum();
        prop_assert_eq!(idle as u64, stats.allocations, "every buffer came back ({} were out)", n);
    }
}

#[test]
fn steady_state_reuses_instead_of_allocating() {
    let mut t = table(1);
    let s = StageId::new(0);
    for _ in 0..10_000 {
        let h = t.allocate(Owner::Component(s), 1 << 20).unwrap();
        t.append(h, s, &[7u8; 1000]).unwrap();
        t.release(h, Owner::Component(s)).unwrap();
    }
    assert_eq!(t.pool().stats().allocations, 1);
    assert_eq!(t.pool().stats().reuses, 9_999);
}

#[test]
fn zero_byte_operations_are_not_copies() {
    let mut t = table(2);
    let (a, b) = (StageId::new(0), StageId::new(1));
    let h = t.allocate(Owner::Component(a), 0).unwrap();
    t.append(h, a, b"").unwrap();
    t.write(h, a, 0, b"").unwrap();
    // Growing a buffer that holds nothing moves nothing.
    t.append(h, a, &[1u8; 5000]).unwrap();
    let empty = t.allocate(Owner::Component(a), 0).unwrap();
    t.freeze(empty, a).unwrap();
    t.transfer(empty, Owner::Component(a), Owner::Host).unwrap();
    t.lend(empty).unwrap();
    assert_eq!(t.read_all(empty, b).unwrap().len(), 0);
    assert_eq!(t.read(empty, b, 0, 10).unwrap().len(), 0);
    let copy = t.clone_into_mutable(empty, b).unwrap();
    let pushed = t.allocate_from(None, b"", "").unwrap();
    let c = t.ledger().total();
    assert_eq!((c.copies, c.bytes), (1, 5000), "only the 5000-byte append moved bytes");
    t.release(copy, Owner::Component(b)).unwrap();
    t.release(pushed, Owner::Host).unwrap();
}
