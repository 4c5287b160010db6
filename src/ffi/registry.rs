//! Opaque handles. A handle given to C is a token: type tag, generation and
//! slot packed into a pointer-sized integer. Tokens are looked up here and
//! never dereferenced, so a stale or foreign token is reported, not followed.

use std::sync::{Arc, Mutex, MutexGuard};

use super::buffer::BufferObj;
use super::error::{ErrorObj, FfiError};
use crate::config::PipelineDef;
use crate::host::{Flow, Host};

/// A Torvyn host (opaque).
pub struct torvyn_host {
    _private: [u8; 0],
}
/// A loaded pipeline manifest (opaque).
pub struct torvyn_pipeline {
    _private: [u8; 0],
}
/// A started flow (opaque).
pub struct torvyn_flow {
    _private: [u8; 0],
}
/// An element taken from an egress: a borrow of a host buffer (opaque).
pub struct torvyn_buffer {
    _private: [u8; 0],
}

/// What a token can name.
#[derive(Clone)]
pub(crate) enum Object {
    Host(Arc<Host>),
    Pipeline(Arc<PipelineDef>),
    Flow(Flow),
    Buffer(Arc<BufferObj>),
    Error(Arc<ErrorObj>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Host = 1,
    Pipeline = 2,
    Flow = 3,
    Buffer = 4,
    Error = 5,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Host => "torvyn_host",
            Kind::Pipeline => "torvyn_pipeline",
            Kind::Flow => "torvyn_flow",
            Kind::Buffer => "torvyn_buffer",
            Kind::Error => "torvyn_error",
        }
    }
}

impl Object {
    fn kind(&self) -> Kind {
        match self {
            Object::Host(_) => Kind::Host,
            Object::Pipeline(_) => Kind::Pipeline,
            Object::Flow(_) => Kind::Flow,
            Object::Buffer(_) => Kind::Buffer,
            Object::Error(_) => Kind::Error,
        }
    }
}

struct Entry {
    generation: u32,
    object: Option<Object>,
}

struct Registry {
    entries: Vec<Entry>,
    free: Vec<u32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    free: Vec::new(),
});

const GENERATION_BITS: u32 = 24;
/// Generations run 0 ..= MAX_GENERATION - 1; a slot reaching it is retired.
const MAX_GENERATION: u32 = 1 << GENERATION_BITS;

fn lock() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock cannot leave the registry inconsistent
    // (every mutation is a single assignment), so poisoning is ignored.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn token(kind: Kind, generation: u32, index: u32) -> usize {
    debug_assert!(generation < MAX_GENERATION);
    let t = ((kind as u64) << 56) | (u64::from(generation) << 32) | (u64::from(index) + 1);
    t as usize
}

fn untoken(token: usize) -> Option<(u64, u32, u32)> {
    let t = token as u64;
    let index = (t & 0xFFFF_FFFF) as u32;
    if index == 0 {
        return None;
    }
    Some((t >> 56, ((t >> 32) & ((1 << GENERATION_BITS) - 1)) as u32, index - 1))
}

/// Register an object; returns its token.
pub(crate) fn insert(object: Object) -> usize {
    let kind = object.kind();
    let mut r = lock();
    let index = match r.free.pop() {
        Some(i) => i,
        None => {
            r.entries.push(Entry {
                generation: 0,
                object: None,
            });
            (r.entries.len() - 1) as u32
        }
    };
    let e = &mut r.entries[index as usize];
    e.object = Some(object);
    token(kind, e.generation, index)
}

fn check(r: &Registry, token: usize, kind: Kind) -> Result<usize, FfiError> {
    if token == 0 {
        return Err(FfiError::invalid(format!("{} handle is null", kind.name())));
    }
    let stale = || FfiError::stale(format!("{} handle {token:#x} is not live (freed, released, or never issued)", kind.name()));
    let (tag, generation, index) = untoken(token).ok_or_else(stale)?;
    if tag != kind as u64 {
        return Err(FfiError::invalid(format!("handle {token:#x} is not a {}", kind.name())));
    }
    let e = r.entries.get(index as usize).ok_or_else(stale)?;
    if e.generation != generation || e.object.is_none() {
        return Err(stale());
    }
    Ok(index as usize)
}

/// The object behind a live token of `kind` (a cheap clone).
pub(crate) fn get(token: usize, kind: Kind) -> Result<Object, FfiError> {
    let r = lock();
    let i = check(&r, token, kind)?;
    Ok(r.entries[i].object.clone().expect("checked live"))
}

/// Unregister a token; later uses of it are reported as stale.
pub(crate) fn remove(token: usize, kind: Kind) -> Result<Object, FfiError> {
    let mut r = lock();
    let i = check(&r, token, kind)?;
    let e = &mut r.entries[i];
    let object = e.object.take().expect("checked live");
    e.generation += 1;
    // A slot whose generation would wrap is retired, never reused: a stale
    // token can then never match a live object again, however long the
    // program runs (one retired slot per 2^24 reuses).
    if e.generation < MAX_GENERATION {
        r.free.push(i as u32);
    }
    Ok(object)
}

/// Change the pipeline behind a live token in place, under the registry
/// lock (so two changes never lose one another); flows already started keep
/// what they were started with.
pub(crate) fn update_pipeline<T>(token: usize, f: impl FnOnce(&mut PipelineDef) -> Result<T, FfiError>) -> Result<T, FfiError> {
    let mut r = lock();
    let i = check(&r, token, Kind::Pipeline)?;
    let Some(Object::Pipeline(p)) = r.entries[i].object.as_mut() else {
        return Err(FfiError::internal("registry kind mismatch"));
    };
    f(Arc::make_mut(p))
}

macro_rules! typed_get {
    ($name:ident, $variant:ident, $ty:ty, $kind:expr) => {
        pub(crate) fn $name(token: usize) -> Result<$ty, FfiError> {
            match get(token, $kind)? {
                Object::$variant(x) => Ok(x),
                _ => Err(FfiError::internal("registry kind mismatch")),
            }
        }
    };
}

typed_get!(host, Host, Arc<Host>, Kind::Host);
typed_get!(pipeline, Pipeline, Arc<PipelineDef>, Kind::Pipeline);
typed_get!(flow, Flow, Flow, Kind::Flow);
typed_get!(buffer, Buffer, Arc<BufferObj>, Kind::Buffer);
typed_get!(error, Error, Arc<ErrorObj>, Kind::Error);

#[cfg(test)]
mod tests {
    use super::*;

    fn error_object() -> Object {
        Object::Error(Arc::new(ErrorObj {
            status: super::super::torvyn_status::TORVYN_STATUS_INTERNAL,
            message: std::ffi::CString::new("test").unwrap(),
        }))
    }

    #[test]
    fn a_slot_is_retired_before_its_generation_wraps() {
        // Reuse one slot until its generation is about to wrap, as a
        // single-threaded release loop would after 16.7 M elements.
        let first = insert(error_object());
        let (_, _, index) = untoken(first).unwrap();
        remove(first, Kind::Error).unwrap();
        lock().entries[index as usize].generation = MAX_GENERATION - 2;
        let mut tokens = Vec::new();
        let mut token = insert(error_object());
        while untoken(token).unwrap().2 == index {
            tokens.push(token);
            remove(token, Kind::Error).unwrap();
            token = insert(error_object());
            assert!(tokens.len() < 4, "the slot was reused past its last generation");
        }
        remove(token, Kind::Error).unwrap();
        assert_eq!(tokens.len(), 2, "generations MAX-2 and MAX-1 were used, then the slot retired");
        assert!(lock().entries[index as usize].generation == MAX_GENERATION);
        for stale in tokens.iter().chain([&first]) {
            assert!(get(*stale, Kind::Error).is_err(), "a stale token never validates again");
            assert!(remove(*stale, Kind::Error).is_err());
        }
    }
}
