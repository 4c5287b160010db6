//! The copy ledger: every byte copy a flow performs, by stage and direction.
//!
//! The invariant the tests hold us to: the ledger's count equals the number of
//! real copies. A copy is recorded where it happens, by the code doing it.

use crate::types::StageId;
use serde::Serialize;

/// Which way bytes moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyDirection {
    /// From guest linear memory into a host buffer (`write`, `append`).
    GuestToHost,
    /// From a host buffer into guest linear memory (`read`, `read-all`).
    HostToGuest,
    /// Between host buffers (`clone-into-mutable`, growth, partial reads,
    /// an embedder pushing bytes in).
    HostToHost,
}

impl CopyDirection {
    const ALL: [CopyDirection; 3] = [
        CopyDirection::GuestToHost,
        CopyDirection::HostToGuest,
        CopyDirection::HostToHost,
    ];

    fn index(self) -> usize {
        match self {
            CopyDirection::GuestToHost => 0,
            CopyDirection::HostToGuest => 1,
            CopyDirection::HostToHost => 2,
        }
    }
}

/// A number of copies and the bytes they moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CopyCount {
    pub copies: u64,
    pub bytes: u64,
}

impl CopyCount {
    fn add(&mut self, other: CopyCount) {
        self.copies += other.copies;
        self.bytes += other.bytes;
    }
}

/// Per-flow ledger, one row per stage plus one for the host itself.
#[derive(Debug, Clone, Default)]
pub struct CopyLedger {
    rows: Vec<[CopyCount; 3]>,
    host: [CopyCount; 3],
}

impl CopyLedger {
    /// A ledger for `stages` stages.
    pub fn new(stages: usize) -> Self {
        CopyLedger {
            rows: vec![[CopyCount::default(); 3]; stages],
            host: [CopyCount::default(); 3],
        }
    }

    /// Record one copy of `bytes` bytes made for `stage` (`None`: the host).
    /// Moving zero bytes is not a copy (growing an empty buffer, reading or
    /// appending nothing): it is not recorded.
    #[inline]
    pub fn record(&mut self, stage: Option<StageId>, direction: CopyDirection, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let row = match stage.and_then(|s| self.rows.get_mut(s.index())) {
            Some(row) => row,
            None => &mut self.host,
        };
        let cell = &mut row[direction.index()];
        cell.copies += 1;
        cell.bytes += bytes as u64;
    }

    /// Copies made for one stage in one direction.
    pub fn stage(&self, stage: StageId, direction: CopyDirection) -> CopyCount {
        self.rows
            .get(stage.index())
            .map(|r| r[direction.index()])
            .unwrap_or_default()
    }

    /// Copies made by the host itself (embedder pushes) in one direction.
    pub fn host(&self, direction: CopyDirection) -> CopyCount {
        self.host[direction.index()]
    }

    /// Every copy of the flow.
    pub fn total(&self) -> CopyCount {
        let mut total = CopyCount::default();
        for row in self.rows.iter().chain(std::iter::once(&self.host)) {
            for cell in row {
                total.add(*cell);
            }
        }
        total
    }

    /// Totals per direction over all stages.
    pub fn by_direction(&self) -> Vec<(CopyDirection, CopyCount)> {
        CopyDirection::ALL
            .iter()
            .map(|&d| {
                let mut c = self.host[d.index()];
                for row in &self.rows {
                    c.add(row[d.index()]);
                }
                (d, c)
            })
            .collect()
    }
}
