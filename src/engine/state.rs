//! The data each stage's wasmtime `Store` carries.

use std::sync::Arc;

use parking_lot::Mutex;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::handles::HandleMap;
use crate::resources::BufferTable;
use crate::types::StageId;

/// What `flow-context` answers for this stage.
#[derive(Debug, Clone, Default)]
pub struct FlowContextInfo {
    pub flow_id: String,
    pub trace_id: String,
    pub span_id: String,
    /// Deadline of the call in progress, ns since the Unix epoch (0 = none).
    pub deadline_ns: u64,
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
    /// Capability names granted to this node.
    pub(crate) grants: Arc<[String]>,
    pub(crate) limits: StoreLimits,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl StageState {
    pub(crate) fn new(
        stage: StageId,
        node: Arc<str>,
        buffers: Arc<Mutex<BufferTable>>,
        context: FlowContextInfo,
        grants: Arc<[String]>,
        limits: StoreLimits,
        wasi: WasiCtx,
    ) -> Self {
        StageState {
            stage,
            node,
            buffers,
            handles: HandleMap::default(),
            context,
            grants,
            limits,
            wasi,
            table: ResourceTable::new(),
        }
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
