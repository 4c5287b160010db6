//! The data each stage's wasmtime `Store` carries.

use std::sync::Arc;

use parking_lot::Mutex;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::handles::HandleMap;
use super::interrupt::CallClock;
use crate::resources::BufferTable;
use crate::types::StageId;

/// What `flow-context` answers for this stage.
#[derive(Debug, Clone, Default)]
pub struct FlowContextInfo {
    pub flow_id: String,
    /// The flow's W3C trace id, 32 hex digits.
    pub trace_id: String,
}

/// Store data of one stage (one component instance in one flow).
///
/// Ownership: the stage's `Store` owns this; the buffer table is shared with
/// the other stages of the same flow and with the flow driver, each holding
/// the lock for one operation at a time.
pub struct StageState {
    pub(crate) stage: StageId,
    pub(crate) node: Arc<str>,
    pub(crate) buffers: Arc<Mutex<BufferTable>>,
    pub(crate) handles: HandleMap,
    pub(crate) context: FlowContextInfo,
    /// What this node is granted.
    pub(crate) grants: crate::security::GrantSet,
    /// Where its capability uses are counted and audited.
    pub(crate) audit: Option<Arc<crate::security::NodeAudit>>,
    /// The absolute path of every filesystem descriptor the guest was
    /// given, by resource rep (for the path checks of [`super::scoped`]).
    pub(crate) fs_paths: std::collections::HashMap<u32, String>,
    /// The directory each directory-entry stream lists, by resource rep.
    pub(crate) dir_streams: std::collections::HashMap<u32, String>,
    /// Descriptors opened writable (the others may not change times).
    pub(crate) fs_writable: std::collections::HashSet<u32>,
    /// Whether symbolic links on a path are refused (see
    /// [`super::scoped::narrow_scopes`]); decided once, at instantiation.
    pub(crate) fs_narrow: bool,
    pub(crate) limits: super::limits::StageLimits,
    /// The call in progress: its deadline and the flow's cancel flag.
    pub(crate) clock: CallClock,
    /// The span id of the per-element call in progress (or the last one);
    /// 0 before the first.
    pub(crate) span: u64,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl StageState {
    pub(crate) fn new(
        stage: StageId,
        node: Arc<str>,
        buffers: Arc<Mutex<BufferTable>>,
        context: FlowContextInfo,
        grants: crate::security::GrantSet,
        audit: Option<Arc<crate::security::NodeAudit>>,
        limits: super::limits::StageLimits,
        clock: CallClock,
        wasi: WasiCtx,
    ) -> Self {
        let fs_narrow = super::scoped::narrow_scopes(&grants);
        StageState {
            stage,
            node,
            buffers,
            handles: HandleMap::default(),
            context,
            grants,
            audit,
            fs_paths: Default::default(),
            dir_streams: Default::default(),
            fs_writable: Default::default(),
            fs_narrow,
            limits,
            clock,
            span: 0,
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl StageState {
    /// The call clock and the WASI resource table, borrowed together (a
    /// waiting WASI call needs both).
    pub(crate) fn clock_and_table(&mut self) -> (&CallClock, &mut ResourceTable) {
        (&self.clock, &mut self.table)
    }

    /// The call clock and the WASI filesystem view, borrowed together.
    pub(crate) fn clock_and_filesystem(&mut self) -> (&CallClock, WasiFilesystemCtxView<'_>) {
        (
            &self.clock,
            WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
        )
    }

    /// The WASI filesystem view (no call clock).
    pub(crate) fn filesystem_view(&mut self) -> WasiFilesystemCtxView<'_> {
        WasiFilesystemCtxView { ctx: self.wasi.filesystem(), table: &mut self.table }
    }

    /// The WASI cli view (environment, arguments).
    pub(crate) fn cli_view(&mut self) -> wasmtime_wasi::cli::WasiCliCtxView<'_> {
        wasmtime_wasi::cli::WasiCliCtxView { ctx: self.wasi.cli(), table: &mut self.table }
    }

    /// The WASI sockets context and the resource table.
    pub(crate) fn sockets_and_table(&mut self) -> (&mut wasmtime_wasi::sockets::WasiSocketsCtx, &mut ResourceTable) {
        (self.wasi.sockets(), &mut self.table)
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
