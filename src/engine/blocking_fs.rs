//! The `wasi:filesystem` calls, redefined so they obey the call's deadline
//! and the flow's cancel.
//!
//! wasmtime-wasi runs each descriptor operation on a blocking helper thread
//! and waits for it; an `open` of a named pipe with no writer, or any call
//! on a hung network mount, waits forever. Here the same operation is
//! driven through [`super::interrupt::CallClock::wait`]: past the deadline
//! (or on cancel) the guest is stopped and the worker goes on, while the
//! helper thread finishes the system call on its own (it stays busy until
//! the kernel returns: a pipe nobody ever writes to holds one of the WASI
//! runtime's blocking threads). Closing a descriptor is not covered; it is
//! a plain `close` in wasmtime-wasi.

use wasmtime::component::{Linker, Resource};
use wasmtime::{Result, StoreContextMut};
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::types::{HostDescriptor as _, HostDirectoryEntryStream as _};
use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;

use super::scoped::PathUse as Use;
use super::state::StageState;

pub(super) const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Every function shadowed here.
pub(super) const SHADOWED: &[&str] = &[
    "[method]descriptor.advise",
    "[method]descriptor.sync-data",
    "[method]descriptor.get-flags",
    "[method]descriptor.get-type",
    "[method]descriptor.set-size",
    "[method]descriptor.set-times",
    "[method]descriptor.read",
    "[method]descriptor.write",
    "[method]descriptor.read-directory",
    "[method]descriptor.sync",
    "[method]descriptor.create-directory-at",
    "[method]descriptor.stat",
    "[method]descriptor.stat-at",
    "[method]descriptor.set-times-at",
    "[method]descriptor.link-at",
    "[method]descriptor.open-at",
    "[method]descriptor.readlink-at",
    "[method]descriptor.remove-directory-at",
    "[method]descriptor.rename-at",
    "[method]descriptor.symlink-at",
    "[method]descriptor.unlink-file-at",
    "[method]descriptor.is-same-object",
    "[method]descriptor.metadata-hash",
    "[method]descriptor.metadata-hash-at",
    "[method]directory-entry-stream.read-directory-entry",
];

type Cx<'a> = StoreContextMut<'a, StageState>;
type Descriptor = Resource<fs::Descriptor>;

/// A filesystem result as the guest sees it: an error becomes the
/// contract's `error-code`; a trap stays a trap.
fn lower<T>(view: &mut WasiFilesystemCtxView<'_>, r: FsResult<T>) -> Result<Result<T, fs::ErrorCode>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(<WasiFilesystemCtxView<'_> as fs::Host>::convert_error_code(view, e)?)),
    }
}

/// Define `$name` taking `($arg: $ty, …)`: run `$op` (over the stage's
/// filesystem view `$v`) under the call clock, convert a success with `$conv`.
macro_rules! shadow {
    ($inst:expr, $name:literal, ($($arg:ident : $ty:ty),*), |$v:ident| $op:expr, $conv:expr) => {
        $inst.func_wrap($name, |mut cx: Cx<'_>, ($($arg,)*): ($($ty,)*)| {
            let (clock, mut $v) = cx.data_mut().clock_and_filesystem();
            let r = clock.wait($op).map_err(wasmtime::Error::new)?;
            Ok((lower(&mut $v, r.map($conv))?,))
        })?;
    };
}

/// Like `shadow!`, after checking each `(descriptor, path, use)` against
/// the node's filesystem grants ([`super::scoped::check_path`]).
macro_rules! shadow_at {
    ($inst:expr, $name:literal, ($($arg:ident : $ty:ty),*), [$(($d:ident, $p:ident, $u:expr)),*], |$v:ident| $op:expr, $conv:expr) => {
        $inst.func_wrap($name, |mut cx: Cx<'_>, ($($arg,)*): ($($ty,)*)| {
            $(
                if let Err(code) = super::scoped::check_path(cx.data(), $d.rep(), &$p, $u) {
                    return Ok((Err(code),));
                }
                if cx.data().fs_narrow && refuse_links(&mut cx, $d.rep(), &$p)? {
                    return Ok((Err(fs::ErrorCode::Access),));
                }
            )*
            let (clock, mut $v) = cx.data_mut().clock_and_filesystem();
            let r = clock.wait($op).map_err(wasmtime::Error::new)?;
            Ok((lower(&mut $v, r.map($conv))?,))
        })?;
    };
}

/// Under narrow grants, whether `path` (relative to `d`) has a symbolic link
/// on it, which is refused and audited.
fn refuse_links(cx: &mut Cx<'_>, d: u32, path: &str) -> Result<bool> {
    if !symlink_on_path(cx, d, path)? {
        return Ok(false);
    }
    if let Some(a) = &cx.data().audit {
        a.denied("filesystem:read", path, "a symbolic link on a path is not followed under glob, single-file or several grants");
    }
    Ok(true)
}

/// Whether a component of `path` (relative to descriptor `d`) is a symbolic
/// link, looking without following; a component that does not exist ends
/// the walk (the open will create or fail on it).
fn symlink_on_path(cx: &mut Cx<'_>, d: u32, path: &str) -> Result<bool> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    for k in 1..=parts.len() {
        let prefix = parts[..k].join("/");
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let stat = clock.wait(v.stat_at(Resource::new_borrow(d), fs::PathFlags::empty().into(), prefix)).map_err(wasmtime::Error::new)?;
        match stat {
            Ok(s) if fs::DescriptorStat::from(s).type_ == fs::DescriptorType::SymbolicLink => return Ok(true),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(false)
}

/// Checks for renaming or linking `old` (relative to `d`) to `new`
/// (relative to `to`): write at both ends, nothing readable at the new name
/// that was not at the old, no links on either path under narrow grants, and
/// no directory moved under narrow grants (its contents would change scope).
/// The two full paths, or the error code.
fn moved(cx: &mut Cx<'_>, d: u32, old: &str, to: u32, new: &str) -> Result<std::result::Result<(String, String), fs::ErrorCode>> {
    let checked = super::scoped::check_path(cx.data(), d, old, Use::Write).and_then(|o| super::scoped::check_path(cx.data(), to, new, Use::Write).map(|n| (o, n)));
    let (from_full, to_full) = match checked {
        Ok(paths) => paths,
        Err(code) => return Ok(Err(code)),
    };
    let deny = |cx: &Cx<'_>, why: &str| {
        if let Some(a) = &cx.data().audit {
            a.denied("filesystem:read", &format!("{from_full} -> {to_full}"), why);
        }
        Ok(Err(fs::ErrorCode::Access))
    };
    if !super::scoped::move_allowed(&cx.data().grants, &from_full, &to_full) {
        return deny(cx, "the new name is readable under a grant the old one is not");
    }
    if cx.data().fs_narrow {
        if refuse_links(cx, d, old)? || refuse_links(cx, to, new)? {
            return Ok(Err(fs::ErrorCode::Access));
        }
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let stat = clock.wait(v.stat_at(Resource::new_borrow(d), fs::PathFlags::empty().into(), old.to_string())).map_err(wasmtime::Error::new)?;
        if stat.is_ok_and(|s| fs::DescriptorStat::from(s).type_ == fs::DescriptorType::Directory) {
            return deny(cx, "a directory is not moved under glob, single-file or several grants");
        }
    }
    Ok(Ok((from_full, to_full)))
}

/// Shadow every waiting `wasi:filesystem` function (after WASI was added).
pub(super) fn add_to_linker(linker: &mut Linker<StageState>) -> Result<()> {
    let mut t = linker.instance(TYPES)?;
    shadow!(t, "[method]descriptor.advise", (d: Descriptor, off: u64, len: u64, advice: fs::Advice),
        |v| v.advise(d, off, len, advice.into()), |x| x);
    shadow!(t, "[method]descriptor.sync-data", (d: Descriptor), |v| v.sync_data(d), |x| x);
    shadow!(t, "[method]descriptor.get-flags", (d: Descriptor), |v| v.get_flags(d), fs::DescriptorFlags::from);
    shadow!(t, "[method]descriptor.get-type", (d: Descriptor), |v| v.get_type(d), fs::DescriptorType::from);
    shadow!(t, "[method]descriptor.set-size", (d: Descriptor, size: u64), |v| v.set_size(d, size), |x| x);
    // Times change only through a descriptor opened writable.
    t.func_wrap("[method]descriptor.set-times", |mut cx: Cx<'_>, (d, a, m): (Descriptor, fs::NewTimestamp, fs::NewTimestamp)| {
        if !cx.data().fs_writable.contains(&d.rep()) {
            return Ok((Err(fs::ErrorCode::NotPermitted),));
        }
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let r = clock.wait(v.set_times(d, a.into(), m.into())).map_err(wasmtime::Error::new)?;
        Ok((lower(&mut v, r)?,))
    })?;
    shadow!(t, "[method]descriptor.read", (d: Descriptor, len: u64, off: u64), |v| v.read(d, len, off), |x| x);
    shadow!(t, "[method]descriptor.write", (d: Descriptor, buf: Vec<u8>, off: u64), |v| v.write(d, buf, off), |x| x);
    // Listing shows only the names a grant covers or leads to.
    t.func_wrap("[method]descriptor.read-directory", |mut cx: Cx<'_>, (d,): (Descriptor,)| {
        let dir = cx.data().fs_paths.get(&d.rep()).cloned();
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let r = clock.wait(v.read_directory(d)).map_err(wasmtime::Error::new)?;
        let r = lower(&mut v, r)?;
        if let (Ok(stream), Some(dir)) = (&r, dir) {
            cx.data_mut().dir_streams.insert(stream.rep(), dir);
        }
        Ok((r,))
    })?;
    shadow!(t, "[method]descriptor.sync", (d: Descriptor), |v| v.sync(d), |x| x);
    shadow_at!(t, "[method]descriptor.create-directory-at", (d: Descriptor, path: String), [(d, path, Use::Write)],
        |v| v.create_directory_at(d, path), |x| x);
    shadow!(t, "[method]descriptor.stat", (d: Descriptor), |v| v.stat(d), fs::DescriptorStat::from);
    shadow_at!(t, "[method]descriptor.stat-at", (d: Descriptor, pf: fs::PathFlags, path: String), [(d, path, Use::Look)],
        |v| v.stat_at(d, pf.into(), path), fs::DescriptorStat::from);
    shadow_at!(t, "[method]descriptor.set-times-at",
        (d: Descriptor, pf: fs::PathFlags, path: String, a: fs::NewTimestamp, m: fs::NewTimestamp), [(d, path, Use::Write)],
        |v| v.set_times_at(d, pf.into(), path, a.into(), m.into()), |x| x);
    // A hard link is a second way to write its file: both ends need write.
    t.func_wrap("[method]descriptor.link-at", |mut cx: Cx<'_>, (d, pf, old, to, new): (Descriptor, fs::PathFlags, String, Descriptor, String)| {
        if let Err(code) = moved(&mut cx, d.rep(), &old, to.rep(), &new)? {
            return Ok((Err(code),));
        }
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let r = clock.wait(v.link_at(d, pf.into(), old, to, new)).map_err(wasmtime::Error::new)?;
        Ok((lower(&mut v, r)?,))
    })?;
    t.func_wrap("[method]descriptor.open-at",
        |mut cx: Cx<'_>, (d, pf, path, of, fl): (Descriptor, fs::PathFlags, String, fs::OpenFlags, fs::DescriptorFlags)| {
            let write = fl.intersects(fs::DescriptorFlags::WRITE | fs::DescriptorFlags::MUTATE_DIRECTORY)
                || of.intersects(fs::OpenFlags::CREATE | fs::OpenFlags::TRUNCATE);
            // wasmtime-wasi opens for reading when asked, or when not asked to write.
            let read = fl.contains(fs::DescriptorFlags::READ) || !fl.contains(fs::DescriptorFlags::WRITE);
            let directory = of.contains(fs::OpenFlags::DIRECTORY);
            let full = match super::scoped::check_path(cx.data(), d.rep(), &path, Use::Open { read, write, directory }) {
                Ok(full) => full,
                Err(code) => return Ok((Err(code),)),
            };
            if cx.data().fs_narrow && refuse_links(&mut cx, d.rep(), &path)? {
                return Ok((Err(fs::ErrorCode::Access),));
            }
            let (clock, mut v) = cx.data_mut().clock_and_filesystem();
            let r = clock.wait(v.open_at(d, pf.into(), path, of.into(), fl.into())).map_err(wasmtime::Error::new)?;
            let r = lower(&mut v, r)?;
            if let Ok(opened) = &r {
                let state = cx.data_mut();
                state.fs_paths.insert(opened.rep(), full);
                if write {
                    state.fs_writable.insert(opened.rep());
                } else {
                    state.fs_writable.remove(&opened.rep());
                }
            }
            Ok((r,))
        })?;
    shadow_at!(t, "[method]descriptor.readlink-at", (d: Descriptor, path: String), [(d, path, Use::Look)],
        |v| v.readlink_at(d, path), |x| x);
    shadow_at!(t, "[method]descriptor.remove-directory-at", (d: Descriptor, path: String), [(d, path, Use::Write)],
        |v| v.remove_directory_at(d, path), |x| x);
    t.func_wrap("[method]descriptor.rename-at", |mut cx: Cx<'_>, (d, old, to, new): (Descriptor, String, Descriptor, String)| {
        let (from_full, to_full) = match moved(&mut cx, d.rep(), &old, to.rep(), &new)? {
            Ok(paths) => paths,
            Err(code) => return Ok((Err(code),)),
        };
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let r = clock.wait(v.rename_at(d, old, to, new)).map_err(wasmtime::Error::new)?;
        let r = lower(&mut v, r)?;
        if r.is_ok() {
            // Descriptors opened below the old name now live below the new one.
            let state = cx.data_mut();
            let prefix = format!("{from_full}/");
            for p in state.fs_paths.values_mut().chain(state.dir_streams.values_mut()) {
                if *p == from_full {
                    p.clone_from(&to_full);
                } else if let Some(rest) = p.strip_prefix(&prefix) {
                    *p = format!("{to_full}/{rest}");
                }
            }
        }
        Ok((r,))
    })?;
    // A guest never makes symbolic links: one could point anywhere in its
    // directory, past the paths and globs its grants name.
    t.func_wrap("[method]descriptor.symlink-at", |cx: Cx<'_>, (_d, src, dst): (Descriptor, String, String)| {
        if let Some(a) = &cx.data().audit {
            a.denied("filesystem:write", &format!("{dst} -> {src}"), "guests may not create symbolic links");
        }
        Ok((Err::<(), _>(fs::ErrorCode::NotPermitted),))
    })?;
    shadow_at!(t, "[method]descriptor.unlink-file-at", (d: Descriptor, path: String), [(d, path, Use::Write)],
        |v| v.unlink_file_at(d, path), |x| x);
    t.func_wrap("[method]descriptor.is-same-object", |mut cx: Cx<'_>, (a, b): (Descriptor, Descriptor)| {
        let (clock, mut v) = cx.data_mut().clock_and_filesystem();
        let same = clock.wait(v.is_same_object(a, b)).map_err(wasmtime::Error::new)??;
        Ok((same,))
    })?;
    shadow!(t, "[method]descriptor.metadata-hash", (d: Descriptor), |v| v.metadata_hash(d), fs::MetadataHashValue::from);
    shadow_at!(t, "[method]descriptor.metadata-hash-at", (d: Descriptor, pf: fs::PathFlags, path: String), [(d, path, Use::Look)],
        |v| v.metadata_hash_at(d, pf.into(), path), fs::MetadataHashValue::from);
    t.func_wrap("[method]directory-entry-stream.read-directory-entry", |mut cx: Cx<'_>, (s,): (Resource<fs::DirectoryEntryStream>,)| {
        let rep = s.rep();
        let dir = cx.data().dir_streams.get(&rep).cloned();
        loop {
            let (clock, mut v) = cx.data_mut().clock_and_filesystem();
            let r = clock.wait(v.read_directory_entry(Resource::new_borrow(rep))).map_err(wasmtime::Error::new)?;
            let entry = lower(&mut v, r.map(|e: Option<_>| e.map(fs::DirectoryEntry::from)))?;
            match (&entry, &dir) {
                (Ok(Some(e)), Some(dir)) if !super::scoped::listable(&cx.data().grants, dir, &e.name, e.type_ == fs::DescriptorType::Directory) => continue,
                _ => return Ok((entry,)),
            }
        }
    })?;
    Ok(())
}
