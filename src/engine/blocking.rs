//! The WASI functions that can wait, redefined so the wait obeys the call's
//! deadline and the flow's cancel.
//!
//! wasmtime interrupts only Wasm code; its synchronous WASI functions block
//! the calling thread on a future until it resolves, which for a clock an
//! hour away or a socket that never speaks is forever. Every `wasi:io`
//! function that waits (`poll`, `pollable.block`, and the `blocking-*`
//! stream methods, which socket and pipe I/O and file streams go through) is
//! shadowed here by one that drives the same future through
//! [`super::interrupt::CallClock::wait`]. Everything else is wasmtime-wasi's own code.
//!
//! The names must be the exact ones `add_to_linker_sync` defined (same
//! package version), or the originals would stay in place: engine creation
//! fails if one is missing, and the tests with a guest that sleeps, polls
//! and blocks fail too.
//!
//! The `wasi:filesystem` calls are shadowed the same way
//! ([`super::blocking_fs`]); the host's stdout/stderr are written by a
//! background task ([`super::wasi`]); dropping a stream (which waits for
//! its background write, e.g. to a socket peer that never reads) is
//! shadowed too.

use wasmtime::component::{Linker, Resource, ResourceTable, ResourceType};
use wasmtime::{Result, StoreContextMut};
use wasmtime_wasi::p2::bindings::sync::io::streams::{Host as _, StreamError as AbiStreamError};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamResult};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::bindings::wasi::io::streams::{HostInputStream as _, HostOutputStream as _};

use super::state::StageState;

const POLL: &str = "wasi:io/poll@0.2.12";
const STREAMS: &str = "wasi:io/streams@0.2.12";

type Cx<'a> = StoreContextMut<'a, StageState>;

/// A stream operation's result as the guest sees it: a stream error becomes
/// the contract's `stream-error` (an `error` resource for a failed
/// operation); a trap stays a trap.
fn lower<T>(table: &mut ResourceTable, r: StreamResult<T>) -> Result<Result<T, AbiStreamError>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(table.convert_stream_error(e)?)),
    }
}

/// Run `$op` (a future over the stage's resource table `$t`) under the
/// stage's call clock: `Err` is the trap that stops the guest.
macro_rules! waiting {
    ($cx:expr, |$t:ident| $op:expr) => {{
        let (clock, $t) = $cx.data_mut().clock_and_table();
        clock.wait($op).map_err(wasmtime::Error::new)?
    }};
}

/// Every function shadowed here, by interface.
const SHADOWED: [(&str, &[&str]); 6] = [
    (super::scoped::ENVIRONMENT, &["get-environment"]),
    (super::scoped::LOOKUP, &["resolve-addresses"]),
    (super::scoped::PREOPENS, &["get-directories"]),
    (super::blocking_fs::TYPES, super::blocking_fs::SHADOWED),
    (POLL, &["poll", "[method]pollable.block"]),
    (
        STREAMS,
        &[
            "[method]input-stream.blocking-read",
            "[method]input-stream.blocking-skip",
            "[method]output-stream.blocking-write-and-flush",
            "[method]output-stream.blocking-write-zeroes-and-flush",
            "[method]output-stream.blocking-flush",
            "[method]output-stream.blocking-splice",
            "output-stream",
            "input-stream",
        ],
    ),
];

/// Fail unless wasmtime-wasi defined every name we shadow: defining one
/// again without shadowing must be refused. Otherwise (a new WASI version)
/// the originals would stay in place and waits would be unbounded again.
fn ensure_defined(linker: &mut Linker<StageState>) -> Result<()> {
    linker.allow_shadowing(false);
    for (interface, names) in SHADOWED {
        let mut inst = linker.instance(interface)?;
        for name in names {
            if inst.func_wrap(name, |_: Cx<'_>, (): ()| Ok(())).is_ok() {
                return Err(wasmtime::format_err!(
                    "wasmtime-wasi does not define `{interface}#{name}`; update src/engine/blocking.rs to its WASI version"
                ));
            }
        }
    }
    Ok(())
}

/// Shadow every waiting `wasi:io` function on `linker` (after WASI was added).
pub fn add_to_linker(linker: &mut Linker<StageState>) -> Result<()> {
    ensure_defined(linker)?;
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap("poll", |mut cx: Cx<'_>, (list,): (Vec<Resource<DynPollable>>,)| {
        let ready = waiting!(cx, |t| t.poll(list))?;
        Ok((ready,))
    })?;
    poll.func_wrap("[method]pollable.block", |mut cx: Cx<'_>, (p,): (Resource<DynPollable>,)| {
        waiting!(cx, |t| t.block(p))?;
        Ok(())
    })?;
    let mut streams = linker.instance(STREAMS)?;
    // Define stream method `$name` taking `($arg: $ty, …)`: run `$op` over
    // the resource table `$t` under the call clock, lower its result.
    macro_rules! shadow {
        ($name:literal, ($($arg:ident : $ty:ty),*), |$t:ident| $op:expr) => {
            streams.func_wrap($name, |mut cx: Cx<'_>, ($($arg,)*): ($($ty,)*)| {
                let r = waiting!(cx, |$t| $op);
                Ok((lower(cx.data_mut().table(), r)?,))
            })?;
        };
    }
    shadow!("[method]input-stream.blocking-read", (s: Resource<DynInputStream>, len: u64), |t| t.blocking_read(s, len));
    shadow!("[method]input-stream.blocking-skip", (s: Resource<DynInputStream>, len: u64), |t| t.blocking_skip(s, len));
    shadow!("[method]output-stream.blocking-write-and-flush", (s: Resource<DynOutputStream>, bytes: Vec<u8>),
        |t| t.blocking_write_and_flush(s, bytes));
    shadow!("[method]output-stream.blocking-write-zeroes-and-flush", (s: Resource<DynOutputStream>, len: u64),
        |t| t.blocking_write_zeroes_and_flush(s, len));
    shadow!("[method]output-stream.blocking-flush", (s: Resource<DynOutputStream>), |t| t.blocking_flush(s));
    shadow!("[method]output-stream.blocking-splice",
        (dst: Resource<DynOutputStream>, src: Resource<DynInputStream>, len: u64),
        |t| t.blocking_splice(dst, src, len));
    // Dropping a stream waits for its background work (a socket write the
    // peer never reads): that wait obeys the clock too.
    macro_rules! shadow_drop {
        ($name:literal, $ty:ty) => {
            streams.resource($name, ResourceType::host::<$ty>(), |mut cx, rep| {
                let (clock, table) = cx.data_mut().clock_and_table();
                let mut stream = table.delete(Resource::<$ty>::new_own(rep))?;
                clock.wait(stream.cancel()).map_err(wasmtime::Error::new)
            })?;
        };
    }
    shadow_drop!("output-stream", DynOutputStream);
    shadow_drop!("input-stream", DynInputStream);
    super::blocking_fs::add_to_linker(linker)?;
    super::scoped::add_to_linker(linker)?;
    linker.allow_shadowing(false);
    Ok(())
}
