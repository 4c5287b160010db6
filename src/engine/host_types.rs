//! The host side of `torvyn:streaming/types`, `buffer-allocator` and
//! `torvyn:capabilities/capability-query`, defined directly on the linker.
//!
//! Why by hand: generated bindings lift every `list<u8>` into a `Vec`, an
//! extra host copy each way. Here `append`/`write` read the guest's bytes in
//! place (`WasmList::as_le_slice`) and copy them once into the pooled buffer,
//! and `read`/`read-all` return a second reference to the pooled vector,
//! which wasmtime stores straight into guest memory. Each of those single
//! copies is recorded in the flow's copy ledger by the buffer table.
//!
//! Misuse that the contract defines (capacity, bounds, budget) comes back as
//! `buffer-error`; misuse it does not (a spent or foreign handle) traps the
//! calling component only, with a message naming its node.

use std::sync::Arc;

use wasmtime::component::{Linker, LinkerInstance, Resource, ResourceType, WasmList, WasmStr};
use wasmtime::{Result, StoreContextMut, format_err};

use super::abi::{BufferErrorAbi, BufferRes, FlowContextRes, MutableBufferRes};
use super::handles::HandleKind;
use super::state::StageState;
use crate::resources::{BufferError, Bytes, Owner};
use crate::types::BufferHandle;

/// Interface names as defined on the linker. wasmtime resolves imports of
/// any semver-compatible `0.1.x` to these.
pub const TYPES: &str = "torvyn:streaming/types@0.1.0";
pub const ALLOCATOR: &str = "torvyn:streaming/buffer-allocator@0.1.0";
pub const CAPABILITIES: &str = "torvyn:capabilities/capability-query@0.1.0";

type Cx<'a> = StoreContextMut<'a, StageState>;

fn trap(st: &StageState, what: &str, detail: impl std::fmt::Display) -> wasmtime::Error {
    format_err!("node `{}`: {what}: {detail}", st.node)
}

/// The buffer behind a rep the component presents as a readable `buffer`.
fn readable(st: &StageState, rep: u32, what: &str) -> Result<BufferHandle> {
    match st.handles.get(rep) {
        Some((h, HandleKind::Owned | HandleKind::Borrowed)) => Ok(h),
        Some((_, kind)) => Err(trap(st, what, format!("handle {rep} is a {kind:?} mutable buffer, not a buffer"))),
        None => Err(trap(st, what, format!("buffer handle {rep} is not live (used after its borrow ended or after it was dropped)"))),
    }
}

/// The buffer behind a rep the component presents as a `mutable-buffer`.
fn writable(st: &StageState, rep: u32, what: &str) -> Result<BufferHandle> {
    match st.handles.get(rep) {
        Some((h, HandleKind::Mutable)) => Ok(h),
        Some((_, HandleKind::Spent)) => Err(trap(st, what, "mutable buffer used after `freeze`; use the frozen `buffer` instead")),
        Some(_) => Err(trap(st, what, format!("handle {rep} is not a mutable buffer"))),
        None => Err(trap(st, what, format!("mutable buffer handle {rep} is not live"))),
    }
}

/// Contract errors become `buffer-error`; anything else is a bug in the
/// component's use of handles and traps it.
fn contract_error(st: &StageState, what: &str, e: BufferError) -> Result<BufferErrorAbi> {
    match e {
        BufferError::CapacityExceeded { .. } => Ok(BufferErrorAbi::CapacityExceeded),
        BufferError::OutOfBounds { .. } => Ok(BufferErrorAbi::OutOfBounds),
        e @ (BufferError::BudgetExhausted { .. } | BufferError::PoolExhausted { .. }) => Ok(BufferErrorAbi::AllocationFailed(e.to_string())),
        other => Err(trap(st, what, other)),
    }
}

fn table_trap<'a>(st: &'a StageState, what: &'a str) -> impl Fn(BufferError) -> wasmtime::Error + 'a {
    move |e| trap(st, what, e)
}

/// Define every Torvyn import on `linker`, under the versioned names and
/// the unversioned ones (a guest that vendored the WIT without `@0.1.0`):
/// both spellings are the same host functions and the same host resource
/// types, so components of either kind share buffers in one flow.
pub fn add_to_linker(linker: &mut Linker<StageState>) -> Result<()> {
    for versioned in [true, false] {
        let name = |full: &'static str| if versioned { full } else { full.split('@').next().unwrap_or(full) };
        let mut types = linker.instance(name(TYPES))?;
        define_buffer(&mut types)?;
        define_mutable_buffer(&mut types)?;
        define_flow_context(&mut types)?;
        let mut alloc = linker.instance(name(ALLOCATOR))?;
        define_allocator(&mut alloc)?;
        let mut caps = linker.instance(name(CAPABILITIES))?;
        caps.func_wrap("has-capability", |cx: Cx<'_>, (name,): (WasmStr,)| {
            let name = name.to_str(&cx)?;
            Ok((cx.data().grants.answers(&name),))
        })?;
    }
    Ok(())
}

fn define_buffer(types: &mut LinkerInstance<'_, StageState>) -> Result<()> {
    types.resource("buffer", ResourceType::host::<BufferRes>(), |mut cx, rep| {
        let st = cx.data_mut();
        match st.handles.remove(rep) {
            Some((h, HandleKind::Owned)) => {
                let stage = st.stage;
                st.buffers
                    .lock()
                    .release(h, Owner::Component(stage))
                    .map_err(table_trap(st, "drop buffer"))
            }
            _ => Ok(()),
        }
    })?;
    types.func_wrap("[method]buffer.size", |cx: Cx<'_>, (b,): (Resource<BufferRes>,)| {
        let st = cx.data();
        let h = readable(st, b.rep(), "buffer.size")?;
        let size = st.buffers.lock().size(h).map_err(table_trap(st, "buffer.size"))?;
        Ok((size,))
    })?;
    types.func_wrap("[method]buffer.content-type", |cx: Cx<'_>, (b,): (Resource<BufferRes>,)| {
        let st = cx.data();
        let h = readable(st, b.rep(), "buffer.content-type")?;
        let ct: Arc<str> = st.buffers.lock().content_type(h).map_err(table_trap(st, "buffer.content-type"))?;
        Ok((ct,))
    })?;
    types.func_wrap(
        "[method]buffer.read",
        |cx: Cx<'_>, (b, offset, len): (Resource<BufferRes>, u64, u64)| {
            let st = cx.data();
            let h = readable(st, b.rep(), "buffer.read")?;
            let bytes: Bytes = st
                .buffers
                .lock()
                .read(h, st.stage, offset, len)
                .map_err(table_trap(st, "buffer.read"))?;
            Ok((bytes,))
        },
    )?;
    types.func_wrap("[method]buffer.read-all", |cx: Cx<'_>, (b,): (Resource<BufferRes>,)| {
        let st = cx.data();
        let h = readable(st, b.rep(), "buffer.read-all")?;
        let bytes: Bytes = st
            .buffers
            .lock()
            .read_all(h, st.stage)
            .map_err(table_trap(st, "buffer.read-all"))?;
        Ok((bytes,))
    })?;
    Ok(())
}

fn define_mutable_buffer(types: &mut LinkerInstance<'_, StageState>) -> Result<()> {
    types.resource("mutable-buffer", ResourceType::host::<MutableBufferRes>(), |mut cx, rep| {
        let st = cx.data_mut();
        match st.handles.remove(rep) {
            Some((h, HandleKind::Mutable)) => {
                let stage = st.stage;
                st.buffers
                    .lock()
                    .release(h, Owner::Component(stage))
                    .map_err(table_trap(st, "drop mutable-buffer"))
            }
            _ => Ok(()),
        }
    })?;
    types.func_wrap(
        "[method]mutable-buffer.write",
        |cx: Cx<'_>, (b, offset, bytes): (Resource<MutableBufferRes>, u64, WasmList<u8>)| {
            let st = cx.data();
            let h = writable(st, b.rep(), "mutable-buffer.write")?;
            let data = bytes.as_le_slice(&cx);
            let result = st.buffers.lock().write(h, st.stage, offset, data);
            Ok((match result {
                Ok(()) => Ok(()),
                Err(e) => Err(contract_error(st, "mutable-buffer.write", e)?),
            },))
        },
    )?;
    types.func_wrap(
        "[method]mutable-buffer.append",
        |cx: Cx<'_>, (b, bytes): (Resource<MutableBufferRes>, WasmList<u8>)| {
            let st = cx.data();
            let h = writable(st, b.rep(), "mutable-buffer.append")?;
            let data = bytes.as_le_slice(&cx);
            let result = st.buffers.lock().append(h, st.stage, data);
            Ok((match result {
                Ok(()) => Ok(()),
                Err(e) => Err(contract_error(st, "mutable-buffer.append", e)?),
            },))
        },
    )?;
    types.func_wrap("[method]mutable-buffer.size", |cx: Cx<'_>, (b,): (Resource<MutableBufferRes>,)| {
        let st = cx.data();
        let h = writable(st, b.rep(), "mutable-buffer.size")?;
        Ok((st.buffers.lock().size(h).map_err(table_trap(st, "mutable-buffer.size"))?,))
    })?;
    types.func_wrap("[method]mutable-buffer.capacity", |cx: Cx<'_>, (b,): (Resource<MutableBufferRes>,)| {
        let st = cx.data();
        let h = writable(st, b.rep(), "mutable-buffer.capacity")?;
        Ok((st.buffers.lock().capacity(h).map_err(table_trap(st, "mutable-buffer.capacity"))?,))
    })?;
    types.func_wrap(
        "[method]mutable-buffer.set-content-type",
        |cx: Cx<'_>, (b, ct): (Resource<MutableBufferRes>, WasmStr)| {
            let st = cx.data();
            let h = writable(st, b.rep(), "mutable-buffer.set-content-type")?;
            let ct = ct.to_str(&cx)?;
            st.buffers
                .lock()
                .set_content_type(h, st.stage, &ct)
                .map_err(table_trap(st, "mutable-buffer.set-content-type"))?;
            Ok(())
        },
    )?;
    types.func_wrap("[method]mutable-buffer.freeze", |mut cx: Cx<'_>, (b,): (Resource<MutableBufferRes>,)| {
        let st = cx.data_mut();
        let h = writable(st, b.rep(), "mutable-buffer.freeze")?;
        st.buffers.lock().freeze(h, st.stage).map_err(table_trap(st, "mutable-buffer.freeze"))?;
        st.handles.set_kind(b.rep(), HandleKind::Spent);
        let rep = st.handles.insert(h, HandleKind::Owned);
        Ok((Resource::<BufferRes>::new_own(rep),))
    })?;
    Ok(())
}

fn define_flow_context(types: &mut LinkerInstance<'_, StageState>) -> Result<()> {
    types.resource("flow-context", ResourceType::host::<FlowContextRes>(), |_, _| Ok(()))?;
    types.func_wrap("[method]flow-context.trace-id", |cx: Cx<'_>, (_c,): (Resource<FlowContextRes>,)| {
        Ok((cx.data().context.trace_id.clone(),))
    })?;
    types.func_wrap("[method]flow-context.span-id", |cx: Cx<'_>, (_c,): (Resource<FlowContextRes>,)| {
        let span = cx.data().span;
        Ok((if span == 0 { String::new() } else { crate::observability::hex(&span.to_be_bytes()) },))
    })?;
    types.func_wrap("[method]flow-context.deadline-ns", |cx: Cx<'_>, (_c,): (Resource<FlowContextRes>,)| {
        Ok((cx.data().clock.deadline_unix_ns(),))
    })?;
    types.func_wrap("[method]flow-context.flow-id", |cx: Cx<'_>, (_c,): (Resource<FlowContextRes>,)| {
        Ok((cx.data().context.flow_id.clone(),))
    })?;
    Ok(())
}

fn define_allocator(alloc: &mut LinkerInstance<'_, StageState>) -> Result<()> {
    alloc.func_wrap("allocate", |mut cx: Cx<'_>, (hint,): (u64,)| {
        let st = cx.data_mut();
        let stage = st.stage;
        let result = st.buffers.lock().allocate(Owner::Component(stage), hint);
        Ok((match result {
            Ok(h) => Ok(Resource::<MutableBufferRes>::new_own(st.handles.insert(h, HandleKind::Mutable))),
            Err(e) => Err(contract_error(st, "allocate", e)?),
        },))
    })?;
    alloc.func_wrap("clone-into-mutable", |mut cx: Cx<'_>, (src,): (Resource<BufferRes>,)| {
        let st = cx.data_mut();
        let source = readable(st, src.rep(), "clone-into-mutable")?;
        let stage = st.stage;
        let result = st.buffers.lock().clone_into_mutable(source, stage);
        Ok((match result {
            Ok(h) => Ok(Resource::<MutableBufferRes>::new_own(st.handles.insert(h, HandleKind::Mutable))),
            Err(e) => Err(contract_error(st, "clone-into-mutable", e)?),
        },))
    })?;
    Ok(())
}
