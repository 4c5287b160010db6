//! The audit trail: every denial, and the first exercise of each grant per
//! node, as an [`AuditEvent`].
//!
//! Recording never blocks and never allocates without bound: a flow keeps
//! its last [`FLOW_EVENTS`] events (older ones are counted as dropped), and
//! events bound for a destination (a file with rotation, stdout, or the
//! embedder's callback) go through a bounded queue to one writer thread per
//! destination; when the queue is full the event is dropped and counted.
//! Every exercise and denial is also counted per node and capability kind
//! (the metrics), whether or not an event was written.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::Serialize;

/// Events a flow keeps for `Flow::audit_events` and `torvyn run --audit`.
pub const FLOW_EVENTS: usize = 4096;
/// Events waiting for a destination's writer.
const QUEUE: usize = 4096;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A grant was used for the first time by this node.
    #[serde(rename = "cap_exercised")]
    Exercised,
    /// A use outside every grant was refused at run time.
    #[serde(rename = "cap_denied_runtime")]
    Denied,
    /// A component imported what no grant allows; its flow did not start.
    #[serde(rename = "cap_denied_link")]
    DeniedAtLink,
    /// A capability the component's own manifest lists as optional is not
    /// granted.
    #[serde(rename = "cap_optional_missing")]
    OptionalMissing,
}

/// One audit record. Serialised as one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AuditEvent {
    /// Increases by one per event in this process.
    pub sequence: u64,
    pub time_unix_ns: u64,
    pub kind: AuditKind,
    pub flow: String,
    pub flow_id: u64,
    pub node: String,
    pub component: String,
    /// SHA-256 of the component's bytes, hex.
    pub digest: String,
    /// The capability asked for, in the public spelling (`filesystem:read`).
    pub capability: String,
    /// What it was asked for: a path, an address, a variable name.
    pub target: String,
    /// `allowed`, `denied`, or why (`no grant covers this address`).
    pub outcome: String,
}

/// Where a host's audit events go besides the flow's own trail.
#[derive(Clone)]
pub enum AuditDestination {
    Stdout,
    /// JSON lines; when the file passes `max_bytes` it is renamed to
    /// `<path>.1` (older ones to `.2` …, keeping `max_files`).
    File { path: PathBuf, max_bytes: u64, max_files: u32 },
    /// The embedder's callback, called on its own audit writer thread in order.
    Callback(Arc<AuditCallback>),
}

/// An embedder's audit callback and the queue to its writer thread (started
/// on the first event). The thread ends once the callback and every flow
/// that used it are gone.
pub struct AuditCallback {
    f: Arc<dyn Fn(&AuditEvent) + Send + Sync>,
    tx: OnceLock<Option<SyncSender<AuditEvent>>>,
}

impl AuditCallback {
    pub fn new(f: impl Fn(&AuditEvent) + Send + Sync + 'static) -> Arc<AuditCallback> {
        Arc::new(AuditCallback { f: Arc::new(f), tx: OnceLock::new() })
    }
}

impl std::fmt::Debug for AuditDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditDestination::Stdout => f.write_str("Stdout"),
            AuditDestination::File { path, .. } => write!(f, "File({})", path.display()),
            AuditDestination::Callback(_) => f.write_str("Callback"),
        }
    }
}

impl PartialEq for AuditDestination {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AuditDestination::Stdout, AuditDestination::Stdout) => true,
            (AuditDestination::File { path: a, max_bytes: b, max_files: c }, AuditDestination::File { path: x, max_bytes: y, max_files: z }) => {
                a == x && b == y && c == z
            }
            (AuditDestination::Callback(a), AuditDestination::Callback(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A flow's audit settings (`[security] audit_enabled`, `audit_target`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditConfig {
    pub enabled: bool,
    pub destination: Option<AuditDestination>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { enabled: true, destination: None }
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Events handed to a writer and not yet written.
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Wait (at most `timeout`) until every event handed to a destination was
/// written; says whether they all were. `torvyn run` and `Host::shutdown`
/// call it so that the last events of a process are not lost.
pub fn flush_audit(timeout: std::time::Duration) -> bool {
    crate::types::wait_until_drained(&PENDING, timeout)
}

/// Events dropped in this process because a destination's queue was full
/// or its writer failed.
pub fn audit_events_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// What a writer thread writes to. A callback's writer holds only the
/// function, not its queue, so the queue's last sender can end the thread.
enum Target {
    Stdout,
    File { path: PathBuf, max_bytes: u64, max_files: u32 },
    Fn(Arc<dyn Fn(&AuditEvent) + Send + Sync>),
}

/// A destination's writer thread, fed through a bounded queue.
struct Writer {
    tx: SyncSender<AuditEvent>,
}

impl Writer {
    fn start(dest: Target) -> Option<Writer> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<AuditEvent>(QUEUE);
        let spawned = std::thread::Builder::new().name("torvyn-audit".into()).spawn(move || {
            let mut file: Option<(std::fs::File, u64)> = None;
            for event in rx {
                let ok = match &dest {
                    Target::Fn(cb) => {
                        // A panicking callback loses that event, not the trail.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&event))).is_ok()
                    }
                    Target::Stdout => serde_json::to_string(&event).map(|l| writeln!(std::io::stdout().lock(), "{l}").is_ok()).unwrap_or(false),
                    Target::File { path, max_bytes, max_files } => write_rotating(&mut file, path, *max_bytes, *max_files, &event),
                };
                if !ok {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
                PENDING.fetch_sub(1, Ordering::AcqRel);
            }
        });
        match spawned {
            Ok(_) => Some(Writer { tx }),
            Err(e) => {
                log::warn!(target: "torvyn::audit", "cannot start the audit writer: {e}; events are kept in each flow's trail only");
                None
            }
        }
    }
}

fn write_rotating(file: &mut Option<(std::fs::File, u64)>, path: &PathBuf, max_bytes: u64, max_files: u32, event: &AuditEvent) -> bool {
    let Ok(mut line) = serde_json::to_string(event) else { return false };
    line.push('\n');
    if file.as_ref().is_some_and(|(_, len)| *len > 0 && len + line.len() as u64 > max_bytes) {
        *file = None;
        for i in (1..max_files.max(1)).rev() {
            let _ = std::fs::rename(numbered(path, i), numbered(path, i + 1));
        }
        if max_files == 0 {
            let _ = std::fs::remove_file(path);
        } else {
            let _ = std::fs::rename(path, numbered(path, 1));
        }
    }
    if file.is_none() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                *file = Some((f, len));
            }
            Err(e) => {
                log::warn!(target: "torvyn::audit", "cannot open audit file {}: {e}", path.display());
                return false;
            }
        }
    }
    let Some((f, len)) = file.as_mut() else { return false };
    match f.write_all(line.as_bytes()) {
        Ok(()) => {
            *len += line.len() as u64;
            true
        }
        Err(e) => {
            log::warn!(target: "torvyn::audit", "cannot write audit file {}: {e}", path.display());
            *file = None;
            false
        }
    }
}

fn numbered(path: &std::path::Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// One writer per file path (and one for stdout), shared by every flow of
/// the process that names it, so two flows never rotate one file apart.
fn writer_for(dest: &AuditDestination) -> Option<SyncSender<AuditEvent>> {
    static WRITERS: OnceLock<Mutex<Vec<(String, SyncSender<AuditEvent>)>>> = OnceLock::new();
    let (key, target) = match dest {
        AuditDestination::Stdout => ("stdout".to_string(), Target::Stdout),
        AuditDestination::File { path, max_bytes, max_files } => {
            (format!("file:{}", path.display()), Target::File { path: path.clone(), max_bytes: *max_bytes, max_files: *max_files })
        }
        // Each callback is its own destination, one writer for all its flows.
        AuditDestination::Callback(cb) => {
            return cb.tx.get_or_init(|| Writer::start(Target::Fn(Arc::clone(&cb.f))).map(|w| w.tx)).clone();
        }
    };
    let mut writers = WRITERS.get_or_init(Default::default).lock();
    if let Some((_, tx)) = writers.iter().find(|(k, _)| *k == key) {
        return Some(tx.clone());
    }
    let w = Writer::start(target)?;
    writers.push((key, w.tx.clone()));
    Some(w.tx)
}

/// Exercises and denials of one capability kind at one node.
#[derive(Debug, Default)]
pub struct CapabilityCounts {
    pub exercises: AtomicU64,
    pub denials: AtomicU64,
}

/// A flow's audit trail. Shared by its stages and its handle.
pub struct AuditLog {
    flow: String,
    flow_id: u64,
    enabled: bool,
    events: Mutex<VecDeque<AuditEvent>>,
    dropped: AtomicU64,
    writer: Option<SyncSender<AuditEvent>>,
    /// Each node's per-capability counts (shared with its [`NodeAudit`],
    /// which points back at this log: the log must not own the nodes).
    nodes: Mutex<Vec<(String, NodeCounts)>>,
}

/// Per capability kind, one node's counters.
type NodeCounts = Arc<Mutex<Vec<(&'static str, Arc<CapabilityCounts>)>>>;

/// Longest target kept in an event (a guest chooses paths and names).
const MAX_TARGET: usize = 512;

/// `text` cut to at most `max` bytes on a character boundary, marked.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// Exercises and denials of one capability kind at one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CapabilityUse {
    pub node: String,
    pub capability: String,
    pub exercises: u64,
    pub denials: u64,
}

impl AuditLog {
    pub fn new(flow: &str, flow_id: u64, config: &AuditConfig) -> Arc<AuditLog> {
        let writer = if config.enabled { config.destination.as_ref().and_then(writer_for) } else { None };
        Arc::new(AuditLog {
            flow: flow.to_string(),
            flow_id,
            enabled: config.enabled,
            events: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            writer,
            nodes: Mutex::new(Vec::new()),
        })
    }

    /// Per node and capability kind, every exercise and denial so far.
    pub fn capability_uses(&self) -> Vec<CapabilityUse> {
        let nodes = self.nodes.lock();
        let mut uses = Vec::new();
        for (node, counts) in nodes.iter() {
            for (kind, c) in counts.lock().iter() {
                let (exercises, denials) = (c.exercises.load(Ordering::Relaxed), c.denials.load(Ordering::Relaxed));
                uses.push(CapabilityUse { node: node.clone(), capability: kind.to_string(), exercises, denials });
            }
        }
        uses
    }

    /// The events kept (the last [`FLOW_EVENTS`]).
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().iter().cloned().collect()
    }

    /// Events this flow did not keep or could not hand to its destination.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The trail of one node.
    pub fn node(self: &Arc<Self>, node: &str, component: &str, digest: &str) -> Arc<NodeAudit> {
        let mut nodes = self.nodes.lock();
        let counts = match nodes.iter().find(|(n, _)| n == node) {
            Some((_, c)) => Arc::clone(c),
            None => {
                let c = NodeCounts::default();
                nodes.push((node.to_string(), Arc::clone(&c)));
                c
            }
        };
        Arc::new(NodeAudit {
            log: Arc::clone(self),
            node: node.to_string(),
            component: component.to_string(),
            digest: digest.to_string(),
            seen: Mutex::new(HashSet::new()),
            counts,
        })
    }

    /// Record a link-time refusal (no node trail exists yet).
    pub fn link_denied(&self, node: &str, component: &str, digest: &str, capability: &str, import: &str) {
        self.push(AuditKind::DeniedAtLink, node, component, digest, capability, import, "not granted: the flow was not started");
    }

    #[allow(clippy::too_many_arguments)]
    fn push(&self, kind: AuditKind, node: &str, component: &str, digest: &str, capability: &str, target: &str, outcome: &str) {
        if !self.enabled {
            return;
        }
        let event = AuditEvent {
            sequence: SEQUENCE.fetch_add(1, Ordering::Relaxed),
            time_unix_ns: crate::types::unix_now_ns(),
            kind,
            flow: self.flow.clone(),
            flow_id: self.flow_id,
            node: node.to_string(),
            component: component.to_string(),
            digest: digest.to_string(),
            capability: capability.to_string(),
            target: cut(target, MAX_TARGET),
            outcome: outcome.to_string(),
        };
        if let Some(tx) = &self.writer {
            PENDING.fetch_add(1, Ordering::AcqRel);
            match tx.try_send(event.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    PENDING.fetch_sub(1, Ordering::AcqRel);
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let mut events = self.events.lock();
        if events.len() == FLOW_EVENTS {
            events.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        events.push_back(event);
    }
}

/// One node's view of its flow's trail, and its per-capability counts.
pub struct NodeAudit {
    log: Arc<AuditLog>,
    node: String,
    component: String,
    digest: String,
    /// Grants already exercised (an event only the first time).
    seen: Mutex<HashSet<String>>,
    counts: NodeCounts,
}

impl std::fmt::Debug for NodeAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeAudit({}, flow `{}`)", self.node, self.log.flow)
    }
}

impl NodeAudit {
    /// The counters of `kind` at this node.
    fn counts(&self, kind: &'static str) -> Arc<CapabilityCounts> {
        let mut counts = self.counts.lock();
        if let Some((_, c)) = counts.iter().find(|(k, _)| *k == kind) {
            return Arc::clone(c);
        }
        let c = Arc::new(CapabilityCounts::default());
        counts.push((kind, Arc::clone(&c)));
        c
    }

    /// `grant` (the grant that allowed it) was used for `target`.
    pub fn exercised(&self, kind: &'static str, grant: &str, target: &str) {
        self.counts(kind).exercises.fetch_add(1, Ordering::Relaxed);
        if self.seen.lock().insert(grant.to_string()) {
            self.log.push(AuditKind::Exercised, &self.node, &self.component, &self.digest, grant, target, "allowed");
        }
    }

    /// A use of `kind` for `target` was refused. The first denial of each
    /// kind at a node is also a warning in the log (the rest are counted
    /// and in the trail: a guest cannot flood the log).
    pub fn denied(&self, kind: &'static str, target: &str, why: &str) {
        if self.counts(kind).denials.fetch_add(1, Ordering::Relaxed) == 0 {
            log::warn!(target: "torvyn::audit", "flow `{}` node `{}`: {kind} {}: {why}", self.log.flow, self.node, cut(target, 128).escape_debug());
        }
        self.log.push(AuditKind::Denied, &self.node, &self.component, &self.digest, kind, target, why);
    }

    /// An optional capability is missing.
    pub fn optional_missing(&self, capability: &str) {
        log::warn!(target: "torvyn::audit", "flow `{}` node `{}`: optional capability {capability} is not granted", self.log.flow, self.node);
        self.log.push(AuditKind::OptionalMissing, &self.node, &self.component, &self.digest, capability, "", "not granted: the component runs without it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_exercise_once_every_denial_and_a_bounded_trail() {
        let log = AuditLog::new("f", 1, &AuditConfig::default());
        let n = log.node("probe", "probe.wasm", "ab");
        n.exercised("filesystem:read", "filesystem:read:/data", "/data/a");
        n.exercised("filesystem:read", "filesystem:read:/data", "/data/b");
        for i in 0..FLOW_EVENTS + 10 {
            n.denied("network:tcp-connect", &format!("10.0.0.{i}:80"), "no grant covers this address");
        }
        let events = log.events();
        assert_eq!(events.len(), FLOW_EVENTS);
        assert_eq!(log.dropped(), 11);
        assert!(events.iter().all(|e| e.kind == AuditKind::Denied));
        let uses: Vec<(String, u64, u64)> = log.capability_uses().into_iter().map(|u| (u.capability, u.exercises, u.denials)).collect();
        assert!(uses.contains(&("filesystem:read".to_string(), 2, 0)));
        assert!(uses.contains(&("network:tcp-connect".to_string(), 0, FLOW_EVENTS as u64 + 10)));
    }

    #[test]
    fn a_file_destination_rotates() {
        let dir = std::env::temp_dir().join(format!("torvyn-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let mut file = None;
        let log = AuditLog::new("f", 1, &AuditConfig { enabled: true, destination: None });
        log.node("n", "c", "d").denied("clock:wall", "", "x");
        let event = log.events().pop().unwrap();
        for _ in 0..20 {
            assert!(write_rotating(&mut file, &path, 1000, 2, &event));
        }
        assert!(path.is_file() && numbered(&path, 1).is_file() && numbered(&path, 2).is_file());
        assert!(!numbered(&path, 3).exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 1000);
        let line = std::fs::read_to_string(&path).unwrap();
        let back: AuditEvent = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        assert_eq!(back, event);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
