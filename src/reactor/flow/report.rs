//! Building a flow's summary from the driver's counters and the ledger.

use super::FlowDriver;
use crate::reactor::summary::{DirectionCopies, EdgeSummary, FlowSummary, StageSummary};
use crate::resources::{CopyCount, CopyDirection, CopyLedger};
use crate::contracts::Role;
use crate::types::StageId;

impl FlowDriver {
    /// The flow's figures so far.
    pub fn summary(&self) -> FlowSummary {
        let t = self.table.lock();
        let ledger = t.ledger();
        let total = ledger.total();
        // `names` covers every stage of the flow; `stages` only those that
        // were instantiated (all of them, unless the flow failed to start).
        let stages = self
            .names
            .iter()
            .enumerate()
            .map(|(i, (node, component, role))| {
                let slot = self.stages.get(i);
                let count = |f: fn(&super::StageSlot) -> u64| slot.map_or(0, f);
                StageSummary {
                    node: node.clone(),
                    component: component.clone(),
                    role: role.to_string(),
                    elements_in: count(|s| s.elements_in),
                    elements_out: count(|s| s.elements_out),
                    dropped: count(|s| s.dropped),
                    skipped: count(|s| s.skipped),
                    retries: count(|s| s.retries),
                    pauses: count(|s| s.pauses),
                    buffers_allocated: t.allocations(StageId::new(i as u32)),
                    fuel_consumed: slot.and_then(|s| match &s.runner {
                        super::Runner::Wasm(stage) => Some(stage.fuel_used()),
                        _ => None,
                    }).unwrap_or(0),
                    copies: stage_copies(ledger, i),
                }
            })
            .collect();
        let edges = self
            .edges
            .iter()
            .zip(&self.links)
            .map(|(e, link)| EdgeSummary {
                from: self.names.get(link.from).map(|n| n.0.clone()).unwrap_or_default(),
                port: link.port.clone(),
                to: self.names.get(link.to).map(|n| n.0.clone()).unwrap_or_default(),
                capacity: e.capacity(),
                peak_depth: e.peak(),
                policy: e.policy(),
                dropped: e.dropped(),
            })
            .collect();
        FlowSummary {
            flow_id: self.shared.id,
            flow: self.shared.name.clone(),
            state: self.state,
            elements: self
                .stages
                .iter()
                .filter(|s| s.role == Role::Sink)
                .map(|s| s.elements_in)
                .sum(),
            copies: total.copies,
            bytes_copied: total.bytes,
            copies_by_direction: ledger
                .by_direction()
                .into_iter()
                .map(|(direction, c)| DirectionCopies {
                    direction,
                    copies: c.copies,
                    bytes: c.bytes,
                })
                .collect(),
            pool_allocations: t.pool().stats().allocations,
            pool_reuses: t.pool().stats().reuses,
            buffers_live: t.live() as u64,
            stages,
            edges,
            duration: self.started.elapsed(),
            pause_signals: self.pause_signals,
            ready_signals: self.ready_signals,
            error: self.error.clone(),
            failure: self.failure,
        }
    }
}

pub(super) fn stage_copies(ledger: &CopyLedger, i: usize) -> CopyCount {
    let mut c = CopyCount::default();
    for d in [CopyDirection::GuestToHost, CopyDirection::HostToGuest, CopyDirection::HostToHost] {
        let x = ledger.stage(StageId::new(i as u32), d);
        c.copies += x.copies;
        c.bytes += x.bytes;
    }
    c
}
