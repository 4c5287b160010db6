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
        let stages = if self.stages.is_empty() {
            self.names
                .iter()
                .enumerate()
                .map(|(i, (node, component, role))| StageSummary {
                    node: node.clone(),
                    component: component.clone(),
                    role: role.to_string(),
                    elements_in: 0,
                    elements_out: 0,
                    skipped: 0,
                    retries: 0,
                    pauses: 0,
                    copies: stage_copies(ledger, i),
                })
                .collect()
        } else {
            self.stages
                .iter()
                .enumerate()
                .map(|(i, s)| StageSummary {
                    node: s.node.name.clone(),
                    component: s.node.component.clone(),
                    role: s.role.to_string(),
                    elements_in: s.elements_in,
                    elements_out: s.elements_out,
                    skipped: s.skipped,
                    retries: s.retries,
                    pauses: s.pauses,
                    copies: stage_copies(ledger, i),
                })
                .collect()
        };
        let edges = self
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| EdgeSummary {
                from: self.names.get(i).map(|n| n.0.clone()).unwrap_or_default(),
                to: self.names.get(i + 1).map(|n| n.0.clone()).unwrap_or_default(),
                capacity: e.capacity(),
                peak_depth: e.peak(),
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

fn stage_copies(ledger: &CopyLedger, i: usize) -> CopyCount {
    let mut c = CopyCount::default();
    for d in [CopyDirection::GuestToHost, CopyDirection::HostToGuest, CopyDirection::HostToHost] {
        let x = ledger.stage(StageId::new(i as u32), d);
        c.copies += x.copies;
        c.bytes += x.bytes;
    }
    c
}
