//! Host endpoints: an *ingress* node the program pushes bytes into, and an
//! *egress* node it takes elements from. Both are bounded, so backpressure
//! reaches the program: a push into a full ingress waits (up to a timeout),
//! and a flow whose egress is full stops moving until the program takes.
//!
//! Ownership: a pushed payload is copied once into a pooled host buffer (a
//! recorded copy). An element taken from an egress holds a *borrow* of the
//! host buffer itself; its bytes stay valid and unchanged until the element
//! is released (explicitly or by drop), after which the buffer returns to
//! its pool.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::mailbox::Mailbox;
use crate::engine::Lent;
use crate::resources::{BufferError, BufferTable, Bytes, Owner};
use crate::types::{BufferHandle, FlowState, StageId, deadline_within, unix_now_ns};

/// Why an endpoint call did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("flow has no {kind} named `{port}`; its {kind} nodes are: {known}")]
    UnknownPort {
        kind: &'static str,
        port: String,
        known: String,
    },
    #[error("ingress `{0}` is full; try again later or push with a timeout")]
    WouldBlock(String),
    #[error("ingress `{port}` stayed full for {waited:?}")]
    Timeout { port: String, waited: Duration },
    #[error("no element arrived at egress `{port}` within {waited:?}")]
    NothingYet { port: String, waited: Duration },
    #[error("ingress `{0}` was closed; no more pushes are accepted")]
    Closed(String),
    #[error("the flow has ended ({0}); nothing more can be pushed or taken")]
    FlowEnded(FlowState),
    #[error("payload rejected: {0}")]
    Buffer(#[from] BufferError),
}


/// Wait on `cv` until `ready(state)` or the deadline; returns whether ready.
fn wait_for<T>(cv: &Condvar, guard: &mut parking_lot::MutexGuard<'_, T>, deadline: Option<Instant>, ready: impl Fn(&T) -> bool) -> bool {
    while !ready(guard) {
        match deadline {
            Some(d) => {
                if cv.wait_until(guard, d).timed_out() {
                    return ready(guard);
                }
            }
            None => cv.wait(guard),
        }
    }
    true
}

struct IngressState {
    items: VecDeque<Lent>,
    closed: bool,
    ended: Option<FlowState>,
}

/// An input the program feeds. Shared by the flow driver and every handle.
pub struct Ingress {
    name: String,
    stage: StageId,
    capacity: usize,
    table: Arc<Mutex<BufferTable>>,
    state: Mutex<IngressState>,
    space: Condvar,
    mailbox: Arc<Mailbox>,
}

/// What the driver finds at an ingress.
pub enum Intake {
    Element(Lent),
    Empty,
    Closed,
}

impl Ingress {
    pub(crate) fn new(name: String, stage: StageId, capacity: usize, table: Arc<Mutex<BufferTable>>, mailbox: Arc<Mailbox>) -> Self {
        Ingress {
            name,
            stage,
            capacity: capacity.max(1),
            table,
            state: Mutex::new(IngressState {
                items: VecDeque::new(),
                closed: false,
                ended: None,
            }),
            space: Condvar::new(),
            mailbox,
        }
    }

    /// The node's name (the port programs push to).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Copy `data` into the flow. Waits up to `timeout` for room (`Some(0)`:
    /// do not wait; `None`: wait as long as it takes).
    pub fn push(&self, data: &[u8], content_type: &str, timeout: Option<Duration>) -> Result<(), EndpointError> {
        let max = self.table.lock().max_buffer_size();
        if data.len() as u64 > max {
            return Err(BufferError::CapacityExceeded {
                requested: data.len() as u64,
                max,
            }
            .into());
        }
        let mut st = self.state.lock();
        let deadline = deadline_within(timeout);
        let room = wait_for(&self.space, &mut st, deadline, |s| {
            s.items.len() < self.capacity || s.closed || s.ended.is_some()
        });
        if let Some(state) = st.ended {
            return Err(EndpointError::FlowEnded(state));
        }
        if st.closed {
            return Err(EndpointError::Closed(self.name.clone()));
        }
        if !room {
            return Err(match timeout {
                Some(t) if t.is_zero() => EndpointError::WouldBlock(self.name.clone()),
                Some(t) => EndpointError::Timeout {
                    port: self.name.clone(),
                    waited: t,
                },
                None => EndpointError::WouldBlock(self.name.clone()),
            });
        }
        let handle = self.table.lock().allocate_from(Some(self.stage), data, content_type)?;
        let content_type = self.table.lock().content_type(handle)?;
        st.items.push_back(Lent {
            handle,
            sequence: 0,
            timestamp_ns: unix_now_ns(),
            content_type,
            born: crate::observability::Tick::now(),
            span: 0,
        });
        drop(st);
        self.mailbox.wake();
        Ok(())
    }

    /// No more pushes; the flow drains what was pushed and completes.
    pub fn close(&self) -> Result<(), EndpointError> {
        let mut st = self.state.lock();
        if let Some(state) = st.ended {
            return Err(EndpointError::FlowEnded(state));
        }
        st.closed = true;
        drop(st);
        self.space.notify_all();
        self.mailbox.wake();
        Ok(())
    }

    /// The driver takes the oldest pushed element (host-owned buffer).
    pub(crate) fn take(&self) -> Intake {
        let mut st = self.state.lock();
        match st.items.pop_front() {
            Some(el) => {
                drop(st);
                self.space.notify_one();
                Intake::Element(el)
            }
            None if st.closed => Intake::Closed,
            None => Intake::Empty,
        }
    }

    /// The flow ended: release what is still queued and wake every pusher.
    pub(crate) fn end(&self, state: FlowState) {
        let mut st = self.state.lock();
        st.ended = Some(state);
        let mut table = self.table.lock();
        for el in st.items.drain(..) {
            let _ = table.release(el.handle, Owner::Host);
        }
        drop(table);
        drop(st);
        self.space.notify_all();
    }
}

struct EgressState {
    items: VecDeque<Lent>,
    ended: Option<FlowState>,
}

/// An output the program takes from. Elements in it are lent buffers (one borrow each).
pub struct Egress {
    name: String,
    capacity: usize,
    table: Arc<Mutex<BufferTable>>,
    state: Mutex<EgressState>,
    ready: Condvar,
    mailbox: Arc<Mailbox>,
}

impl Egress {
    pub(crate) fn new(name: String, capacity: usize, table: Arc<Mutex<BufferTable>>, mailbox: Arc<Mailbox>) -> Self {
        Egress {
            name,
            capacity: capacity.max(1),
            table,
            state: Mutex::new(EgressState {
                items: VecDeque::new(),
                ended: None,
            }),
            ready: Condvar::new(),
            mailbox,
        }
    }

    /// The node's name (the port programs take from).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn has_room(&self) -> bool {
        self.state.lock().items.len() < self.capacity
    }

    /// Hand a lent element to the program.
    pub(crate) fn offer(&self, el: Lent) {
        self.state.lock().items.push_back(el);
        self.ready.notify_one();
    }

    /// The flow ended. After completion the program still takes what is
    /// queued; otherwise queued elements are released.
    pub(crate) fn end(&self, state: FlowState) {
        let mut st = self.state.lock();
        st.ended = Some(state);
        if state != FlowState::Completed {
            let mut table = self.table.lock();
            for el in st.items.drain(..) {
                if let Ok(true) = table.end_borrow(el.handle) {
                    let _ = table.release(el.handle, Owner::Host);
                }
            }
        }
        drop(st);
        self.ready.notify_all();
    }

    /// The next element, waiting up to `timeout`. `Ok(None)` is the end of
    /// the stream: the flow completed and every element was taken.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Option<Element>, EndpointError> {
        let mut st = self.state.lock();
        let deadline = deadline_within(timeout);
        wait_for(&self.ready, &mut st, deadline, |s| !s.items.is_empty() || s.ended.is_some());
        let Some(el) = st.items.pop_front() else {
            return match st.ended {
                Some(FlowState::Completed) => Ok(None),
                Some(state) => Err(EndpointError::FlowEnded(state)),
                None => Err(EndpointError::NothingYet {
                    port: self.name.clone(),
                    waited: timeout.unwrap_or_default(),
                }),
            };
        };
        drop(st);
        self.mailbox.wake();
        let bytes = match self.table.lock().lent_bytes(el.handle) {
            Ok(b) => b,
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Element {
            table: Arc::clone(&self.table),
            handle: el.handle,
            bytes: Some(bytes),
            sequence: el.sequence,
            timestamp_ns: el.timestamp_ns,
            content_type: el.content_type,
        }))
    }
}

/// An element taken from an egress: a borrow of the host buffer. The bytes
/// are read in place; releasing (or dropping) the element ends the borrow and
/// returns the buffer to its pool. `Send + Sync`.
pub struct Element {
    table: Arc<Mutex<BufferTable>>,
    handle: BufferHandle,
    /// `None` once released.
    bytes: Option<Bytes>,
    sequence: u64,
    timestamp_ns: u64,
    content_type: Arc<str>,
}

impl Element {
    /// The payload, in the host buffer itself.
    pub fn payload(&self) -> &[u8] {
        self.bytes.as_deref().map_or(&[], |v| v.as_slice())
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn timestamp_ns(&self) -> u64 {
        self.timestamp_ns
    }

    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The host-side handle (slot + generation) of the buffer.
    pub fn handle(&self) -> BufferHandle {
        self.handle
    }

    /// End the borrow now. A second release is an error and changes nothing.
    pub fn release(&mut self) -> Result<(), BufferError> {
        if self.bytes.take().is_none() {
            return Err(BufferError::Stale(self.handle));
        }
        let mut t = self.table.lock();
        if t.end_borrow(self.handle)? {
            t.release(self.handle, Owner::Host)?;
        }
        Ok(())
    }

    /// Whether [`Element::release`] was called.
    pub fn is_released(&self) -> bool {
        self.bytes.is_none()
    }
}

impl Drop for Element {
    fn drop(&mut self) {
        if self.bytes.is_some() {
            let _ = self.release();
        }
    }
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("handle", &self.handle)
            .field("sequence", &self.sequence)
            .field("len", &self.payload().len())
            .field("content_type", &self.content_type)
            .finish()
    }
}
