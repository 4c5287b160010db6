//! `torvyn_log_set_callback`: Torvyn's log records, and the output guests
//! print, delivered to a C function.

use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock, RwLock, mpsc};
use std::thread::ThreadId;

use log::kv::{Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};

use super::{FfiError, ffi_guard, torvyn_error, torvyn_status};
use crate::engine::GUEST_LOG_TARGET;

/// Severity of a log record.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum torvyn_log_level {
    TORVYN_LOG_ERROR = 1,
    TORVYN_LOG_WARN = 2,
    TORVYN_LOG_INFO = 3,
    TORVYN_LOG_DEBUG = 4,
    TORVYN_LOG_TRACE = 5,
}

/// Receives one log record. `target` is the emitting module; guest output
/// has target "torvyn::guest" and `node` set to the node that printed it
/// (otherwise `node` is NULL). All strings are borrowed for the call only.
pub type torvyn_log_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, level: torvyn_log_level, target: *const c_char, node: *const c_char, message: *const c_char),
>;

/// Frees the `user_data` given with a callback once Torvyn no longer uses it.
pub type torvyn_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A callback's `user_data` and the function that frees it: owned, so it
/// is freed exactly once, when its last holder lets go (at once when no
/// callback will ever use it).
pub(super) struct UserData {
    pub(super) ptr: *mut c_void,
    free: torvyn_free_fn,
}

impl UserData {
    pub(super) fn new(ptr: *mut c_void, free: torvyn_free_fn) -> UserData {
        UserData { ptr, free }
    }
}

// SAFETY: the C caller promises (per the header) that callbacks may be
// called and `user_data` used from any thread.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: called once, after the last use of `ptr`.
            unsafe { free(self.ptr) };
        }
    }
}

struct Callback {
    f: unsafe extern "C" fn(*mut c_void, torvyn_log_level, *const c_char, *const c_char, *const c_char),
    data: UserData,
}

static CALLBACK: RwLock<Option<Arc<Callback>>> = RwLock::new(None);
/// 0 warnings+errors, 1 info, 2 debug, 3 trace (guest output always passes).
static LEVEL: AtomicU32 = AtomicU32::new(0);
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn own_level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Warn,
        1 => Level::Info,
        2 => Level::Debug,
        _ => Level::Trace,
    }
}

/// Set the detail of Torvyn's own records (from host options).
pub(crate) fn set_level(level: u32) {
    LEVEL.store(level, Ordering::Relaxed);
    if CALLBACK.read().map(|c| c.is_some()).unwrap_or(false) {
        log::set_max_level(own_level().to_level_filter().max(LevelFilter::Info));
    }
}

struct CLogger;

#[derive(Default)]
struct Node(Option<String>);

impl<'k> VisitSource<'k> for Node {
    fn visit_pair(&mut self, key: Key<'k>, value: Value<'k>) -> Result<(), log::kv::Error> {
        if key.as_str() == "node" {
            self.0 = Some(value.to_string());
        }
        Ok(())
    }
}

fn cstring(s: String) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// One record, owned, on its way to the callback.
struct Owned {
    /// Bytes of the strings, counted against `QUEUE_BYTES` while queued.
    size: usize,
    level: torvyn_log_level,
    target: CString,
    node: Option<CString>,
    message: CString,
}

enum Delivery {
    Record(Owned),
    /// Answered once every record queued before it was delivered.
    Flush(mpsc::SyncSender<()>),
}

/// Records waiting for the log thread, at most. Bounded: a callback slower than the
/// records that arrive loses the excess (counted, and reported by a record
/// of its own) instead of growing memory or holding up a worker.
const QUEUE: usize = 4096;
/// And at most this many bytes of them (a guest line can be 64 KiB).
const QUEUE_BYTES: usize = 8 << 20;
static QUEUED_BYTES: AtomicUsize = AtomicUsize::new(0);

struct LogThread {
    queue: mpsc::SyncSender<Delivery>,
    id: ThreadId,
}

static LOG_THREAD: OnceLock<Option<LogThread>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// The thread that calls the callback, started on first use. Every record
/// is delivered there, in order, so the callback never runs on a reactor
/// worker or under a lock of Torvyn's, and may call any Torvyn function.
fn log_thread() -> Option<&'static LogThread> {
    LOG_THREAD
        .get_or_init(|| {
            let (queue, inbox) = mpsc::sync_channel(QUEUE);
            let thread = std::thread::Builder::new()
                .name("torvyn-log".into())
                .spawn(move || deliver_all(inbox))
                .ok()?;
            Some(LogThread {
                queue,
                id: thread.thread().id(),
            })
        })
        .as_ref()
}

fn deliver_all(inbox: mpsc::Receiver<Delivery>) {
    while let Ok(msg) = inbox.recv() {
        match msg {
            Delivery::Record(r) => {
                QUEUED_BYTES.fetch_sub(r.size, Ordering::Relaxed);
                let dropped = DROPPED.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    deliver(&Owned {
                        size: 0,
                        level: torvyn_log_level::TORVYN_LOG_WARN,
                        target: cstring("torvyn::log".into()),
                        node: None,
                        message: cstring(format!("{dropped} log record(s) dropped: the log callback fell behind")),
                    });
                }
                deliver(&r);
            }
            Delivery::Flush(ack) => {
                let _ = ack.send(());
            }
        }
    }
}

fn deliver(r: &Owned) {
    let Some(cb) = CALLBACK.read().ok().and_then(|c| c.clone()) else {
        return;
    };
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: a C function pointer the caller registered; strings live for the call.
        unsafe {
            (cb.f)(
                cb.data.ptr,
                r.level,
                r.target.as_ptr(),
                r.node.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
                r.message.as_ptr(),
            )
        }
    });
}

/// Wait (up to `FLUSH_WAIT`) until every record queued so far reached the
/// callback. Not from the log thread itself (the callback replacing itself).
fn flush() {
    const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
    let Some(t) = log_thread() else {
        return;
    };
    if std::thread::current().id() == t.id {
        return;
    }
    let (ack, done) = mpsc::sync_channel(1);
    if t.queue.send(Delivery::Flush(ack)).is_ok() {
        let _ = done.recv_timeout(FLUSH_WAIT);
    }
}

impl Log for CLogger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == GUEST_LOG_TARGET || m.level() <= own_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if !CALLBACK.read().map(|c| c.is_some()).unwrap_or(false) {
            return;
        }
        let Some(t) = log_thread() else {
            return;
        };
        let mut node = Node::default();
        let _ = record.key_values().visit(&mut node);
        let level = match record.level() {
            Level::Error => torvyn_log_level::TORVYN_LOG_ERROR,
            Level::Warn => torvyn_log_level::TORVYN_LOG_WARN,
            Level::Info => torvyn_log_level::TORVYN_LOG_INFO,
            Level::Debug => torvyn_log_level::TORVYN_LOG_DEBUG,
            Level::Trace => torvyn_log_level::TORVYN_LOG_TRACE,
        };
        let target = cstring(record.target().to_string());
        let node = node.0.map(cstring);
        let message = cstring(record.args().to_string());
        let size = target.as_bytes().len() + message.as_bytes().len() + node.as_ref().map_or(0, |n| n.as_bytes().len());
        if QUEUED_BYTES.fetch_add(size, Ordering::Relaxed) + size > QUEUE_BYTES {
            QUEUED_BYTES.fetch_sub(size, Ordering::Relaxed);
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let owned = Owned {
            size,
            level,
            target,
            node,
            message,
        };
        if let Err(e) = t.queue.try_send(Delivery::Record(owned)) {
            let (mpsc::TrySendError::Full(Delivery::Record(r)) | mpsc::TrySendError::Disconnected(Delivery::Record(r))) = e else {
                return;
            };
            QUEUED_BYTES.fetch_sub(r.size, Ordering::Relaxed);
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {
        flush();
    }
}

/// Route Torvyn's log records and guests' captured output to `callback`,
/// replacing any earlier callback (whose `user_data_free` then runs, once no
/// call to it is in progress). NULL `callback` stops delivery (a
/// `user_data_free` given with it runs at once).
///
/// Threads: the callback runs on Torvyn's own log thread, one record at a
/// time and in order, never on a reactor worker or under a Torvyn lock: it
/// may call any Torvyn function (wait on a flow, release a buffer). Records
/// are queued (up to 4096); if the callback falls behind, the excess is
/// dropped and a warning record says how many. Replacing or removing the
/// callback first delivers every record queued so far (waiting up to 5 s),
/// so records logged before this call reach the old callback.
///
/// Fails with `TORVYN_STATUS_INTERNAL` if the process already has another
/// `log` logger (a Rust program embedding Torvyn directly).
#[no_mangle]
pub unsafe extern "C" fn torvyn_log_set_callback(
    callback: torvyn_log_fn,
    user_data: *mut c_void,
    user_data_free: torvyn_free_fn,
    out_error: *mut *mut torvyn_error,
) -> torvyn_status {
    ffi_guard!(out_error, {
        let data = UserData::new(user_data, user_data_free);
        INSTALL.call_once(|| INSTALLED.store(log::set_logger(&CLogger).is_ok(), Ordering::SeqCst));
        if !INSTALLED.load(Ordering::SeqCst) {
            return Err(FfiError::internal("another logger is already installed in this process"));
        }
        let new = callback.map(|f| Arc::new(Callback { f, data }));
        let has = new.is_some();
        flush();
        let old = {
            let mut slot = CALLBACK.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *slot, new)
        };
        drop(old);
        log::set_max_level(if has { own_level().to_level_filter().max(LevelFilter::Info) } else { LevelFilter::Off });
        Ok(())
    })
}
