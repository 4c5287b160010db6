//! The buffer table driven by arbitrary operation sequences: any stage, any
//! owner, real or forged handles, offsets and lengths up to `u64::MAX`.
//! Nothing panics; an operation that fails changes nothing the checks can
//! see; reads never return more than was written; and at the end, once
//! every borrow and queue hold is given back, everything is released and
//! every budget is empty.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use torvyn::resources::{Budget, BufferState, BufferTable, Owner};
use torvyn::types::{BufferHandle, StageId};

const STAGES: u32 = 3;

#[derive(Arbitrary, Debug)]
enum Op {
    Allocate { stage: u8, hint: u32 },
    Append { h: Pick, stage: u8, len: u16 },
    Write { h: Pick, stage: u8, offset: u64, len: u16 },
    Freeze { h: Pick, stage: u8 },
    Transfer { h: Pick, from: Who, to: Who },
    Enqueue(Pick),
    Dequeue(Pick),
    Lend(Pick),
    EndBorrow(Pick),
    Read { h: Pick, stage: u8, offset: u64, len: u64 },
    CloneIntoMutable { h: Pick, stage: u8 },
    Release { h: Pick, owner: Who },
    Reclaim(Who),
}

/// A handle: one handed out earlier (by index), or forged bits.
#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Forged(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Who {
    Stage(u8),
    Host,
}

fn owner(w: Who) -> Owner {
    match w {
        Who::Stage(s) => Owner::Component(StageId::new(u32::from(s) % STAGES)),
        Who::Host => Owner::Host,
    }
}

fn stage(s: u8) -> StageId {
    StageId::new(u32::from(s) % STAGES)
}

fuzz_target!(|ops: Vec<Op>| {
    let budgets = (0..STAGES).map(|_| Budget::new(64, 8 << 20)).collect();
    let mut t = BufferTable::new(budgets, 1 << 20);
    let mut handed: Vec<BufferHandle> = Vec::new();
    let pick = |handed: &Vec<BufferHandle>, p: &Pick| match p {
        Pick::Known(i) if !handed.is_empty() => handed[*i as usize % handed.len()],
        Pick::Known(i) => BufferHandle::from_bits(u64::from(*i)),
        Pick::Forged(bits) => BufferHandle::from_bits(*bits),
    };
    for op in ops.iter().take(512) {
        match op {
            Op::Allocate { stage: s, hint } => {
                if let Ok(h) = t.allocate(Owner::Component(stage(*s)), u64::from(*hint)) {
                    assert!(!handed.contains(&h), "a live handle handed out twice");
                    handed.push(h);
                }
            }
            Op::Append { h, stage: s, len } => {
                let h = pick(&handed, h);
                let before = t.size(h).ok();
                let r = t.append(h, stage(*s), &vec![7u8; usize::from(*len)]);
                if r.is_err() {
                    assert_eq!(t.size(h).ok(), before, "a failed append changes nothing");
                }
            }
            Op::Write { h, stage: s, offset, len } => {
                let h = pick(&handed, h);
                let _ = t.write(h, stage(*s), *offset, &vec![9u8; usize::from(*len)]);
            }
            Op::Freeze { h, stage: s } => {
                let _ = t.freeze(pick(&handed, h), stage(*s));
            }
            Op::Transfer { h, from, to } => {
                let _ = t.transfer(pick(&handed, h), owner(*from), owner(*to));
            }
            Op::Enqueue(h) => {
                let _ = t.enqueue(pick(&handed, h));
            }
            Op::Dequeue(h) => {
                let _ = t.dequeue(pick(&handed, h));
            }
            Op::Lend(h) => {
                let _ = t.lend(pick(&handed, h));
            }
            Op::EndBorrow(h) => {
                let _ = t.end_borrow(pick(&handed, h));
            }
            Op::Read { h, stage: s, offset, len } => {
                let h = pick(&handed, h);
                if let Ok(bytes) = t.read(h, stage(*s), *offset, *len) {
                    let size = t.size(h).expect("a readable buffer is live");
                    assert!(bytes.len() as u64 <= size.saturating_sub(*offset).min(*len), "read past the written bytes");
                }
            }
            Op::CloneIntoMutable { h, stage: s } => {
                if let Ok(c) = t.clone_into_mutable(pick(&handed, h), stage(*s)) {
                    handed.push(c);
                }
            }
            Op::Release { h, owner: w } => {
                let _ = t.release(pick(&handed, h), owner(*w));
            }
            Op::Reclaim(w) => {
                t.reclaim(owner(*w));
            }
        }
        assert!(t.live() <= handed.len());
    }
    // Give back every hold, then release everything: nothing may be left.
    for &h in &handed {
        while t.end_borrow(h).is_ok() {}
        while t.dequeue(h).is_ok() {}
        if let Ok(BufferState::Owned(o)) = t.state(h) {
            t.release(h, o).expect("an owned buffer with no holds releases");
        }
    }
    assert_eq!(t.live(), 0, "every buffer comes back");
    for s in 0..STAGES {
        assert_eq!(t.budget_held(StageId::new(s)), (0, 0), "every budget is empty");
    }
});
