//! Tracing: W3C trace context in, spans out.
//!
//! Every flow has a trace id (from a `traceparent` it was started with, or
//! random) and a root span; every per-element stage call has a span id,
//! which `flow-context.span-id` answers during the call. An element carries
//! the span id of the call that emitted it, so each call's span is the
//! child of the call that produced its input: an element's path through
//! the flow is one branch of the trace tree.
//!
//! Spans are recorded at level `diagnostic` (every call), or with
//! `tracing_enabled` for the timed sample of `production`. A flow keeps
//! them in a bounded ring (oldest overwritten and counted). Whether they
//! leave the process is decided per flow: a head-sampled flow (the
//! `traceparent`'s flag, else `sample_rate`) exports them; an unsampled one
//! exports them only when promoted (it failed, with `error_promote`, or an
//! element took longer than `latency_promote_threshold_ms` end to end).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{SpanBatch, Tick};

/// A `traceparent` header (W3C Trace Context, version 00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub sampled: bool,
}

/// Why a `traceparent` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("traceparent `{text}` is not valid: {why}; the form is 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
pub struct TraceParentError {
    pub text: String,
    pub why: &'static str,
}

fn hex_into(text: &str, out: &mut [u8]) -> bool {
    if text.len() != out.len() * 2 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return false;
    }
    for (i, o) in out.iter_mut().enumerate() {
        match u8::from_str_radix(&text[2 * i..2 * i + 2], 16) {
            Ok(v) => *o = v,
            Err(_) => return false,
        }
    }
    true
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(text: &str) -> Result<TraceParent, TraceParentError> {
        let fail = |why| TraceParentError { text: text.to_string(), why };
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [version, trace, parent, flags, ..] = parts[..] else {
            return Err(fail("it needs four dash-separated fields"));
        };
        let mut v = [0u8; 1];
        if !hex_into(version, &mut v) || v[0] == 0xff {
            return Err(fail("the version is not two lower-case hex digits below ff"));
        }
        // Version 00 has exactly four fields; later versions may add more.
        if v[0] == 0 && parts.len() != 4 {
            return Err(fail("version 00 has exactly four fields"));
        }
        let mut tp = TraceParent { trace_id: [0; 16], parent_id: [0; 8], sampled: false };
        if !hex_into(trace, &mut tp.trace_id) || tp.trace_id == [0; 16] {
            return Err(fail("the trace id is not 32 lower-case hex digits, not all zero"));
        }
        if !hex_into(parent, &mut tp.parent_id) || tp.parent_id == [0; 8] {
            return Err(fail("the parent id is not 16 lower-case hex digits, not all zero"));
        }
        let mut f = [0u8; 1];
        if !hex_into(flags, &mut f) {
            return Err(fail("the flags are not two lower-case hex digits"));
        }
        tp.sampled = f[0] & 1 == 1;
        Ok(tp)
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.parent_id), u8::from(self.sampled))
    }
}

fn hex_id<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&if *id == 0 { String::new() } else { hex(&id.to_be_bytes()) })
}

/// One stage call, as recorded (ids serialize as 16 hex digits).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpanRecord {
    #[serde(serialize_with = "hex_id")]
    pub span_id: u64,
    /// The span of the call that emitted this call's input (0: the flow's
    /// root span).
    #[serde(serialize_with = "hex_id")]
    pub parent_id: u64,
    pub node: String,
    /// `pull`, `process`, `push`, … (`deliver` for a host egress).
    pub call: &'static str,
    /// The element's sequence number on this node's input (a source: its
    /// output count).
    pub sequence: u64,
    pub start_unix_ns: u64,
    pub duration_ns: u64,
    pub ok: bool,
    /// The input buffer's handle and the output buffer's.
    pub input_buffer: Option<u64>,
    pub output_buffer: Option<u64>,
    /// Bytes of the input element, and copies the call made (with bytes).
    pub input_bytes: u64,
    pub copies: u64,
    pub bytes_copied: u64,
}

/// A time an edge's full queue held its producer (recorded at
/// `diagnostic`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackpressureEpisode {
    pub from: String,
    pub port: String,
    pub to: String,
    pub start_unix_ns: u64,
    pub duration_ns: u64,
}

/// How a flow traces: fixed when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    /// Record spans of the timed sample at `production` too.
    pub enabled: bool,
    /// Head-sampling probability for flows started without a `traceparent`.
    pub sample_rate: f64,
    /// A failed flow's spans are exported even if it was not sampled.
    pub error_promote: bool,
    /// An element slower than this end to end promotes its flow (0: never).
    pub latency_promote_ns: u64,
    /// Spans a flow keeps before overwriting the oldest (or, when they
    /// are exported, before handing them over).
    pub ring_capacity: usize,
    /// Where exported spans go (`None`: they stay in the flow's ring).
    pub destination: Option<super::SpanDestination>,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings { enabled: false, sample_rate: 1.0, error_promote: true, latency_promote_ns: 0, ring_capacity: 4096, destination: None }
    }
}

/// One flow's trace: ids, the span ring, and whether it leaves the process.
#[derive(Debug)]
pub struct FlowTrace {
    pub trace_id: [u8; 16],
    /// The flow's root span (its parent: the `traceparent`'s parent id).
    pub root_span: u64,
    pub remote_parent: Option<[u8; 8]>,
    pub sampled: bool,
    pub settings: TraceSettings,
    promoted: AtomicBool,
    ring: Mutex<VecDeque<SpanRecord>>,
    episodes: Mutex<VecDeque<BackpressureEpisode>>,
    /// Spans overwritten in the ring before anything took them.
    overwritten: AtomicU64,
    /// The clock reading and the wall time it corresponds to.
    anchor: (Tick, u64),
}

impl FlowTrace {
    /// A new trace, continuing `parent` when given.
    pub fn new(parent: Option<TraceParent>, settings: TraceSettings) -> FlowTrace {
        let trace_id = match parent {
            Some(p) => p.trace_id,
            None => loop {
                let id = fastrand::u128(..).to_be_bytes();
                if id != [0; 16] {
                    break id;
                }
            },
        };
        let sampled = match parent {
            Some(p) => p.sampled,
            None => fastrand::f64() < settings.sample_rate,
        };
        FlowTrace {
            trace_id,
            root_span: span_id(),
            remote_parent: parent.map(|p| p.parent_id),
            sampled,
            settings,
            promoted: AtomicBool::new(false),
            ring: Mutex::new(VecDeque::new()),
            episodes: Mutex::new(VecDeque::new()),
            overwritten: AtomicU64::new(0),
            anchor: (Tick::now(), crate::types::unix_now_ns()),
        }
    }

    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// Wall-clock ns of a clock reading.
    pub fn unix_ns(&self, t: Tick) -> u64 {
        self.anchor.1.saturating_add(t.nanos_since(self.anchor.0))
    }

    /// Keep `span`. A full ring of an exported flow goes to its exporter;
    /// otherwise the oldest span makes room.
    pub fn record(&self, span: SpanRecord, flow: &str, flow_id: u64) {
        let mut ring = self.ring.lock();
        if ring.len() >= self.settings.ring_capacity.max(1) {
            match &self.settings.destination {
                Some(dest) if self.exported() => {
                    let spans: Vec<SpanRecord> = ring.drain(..).collect();
                    drop(ring);
                    super::send_spans(dest, SpanBatch { flow: flow.to_string(), flow_id, trace_id: self.trace_id, root: None, spans });
                    ring = self.ring.lock();
                }
                _ => {
                    ring.pop_front();
                    self.overwritten.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        ring.push_back(span);
    }

    /// The flow ended (`ok`: completed) after `duration_ns`: export what it
    /// kept, with its root span, if it is exported.
    pub fn finish(&self, flow: &str, flow_id: u64, duration_ns: u64, ok: bool) {
        let Some(dest) = &self.settings.destination else { return };
        if !self.exported() {
            return;
        }
        let spans = self.drain();
        let start = self.anchor.1;
        let root = Some((self.root_span, self.remote_parent, start, start.saturating_add(duration_ns), ok));
        super::send_spans(dest, SpanBatch { flow: flow.to_string(), flow_id, trace_id: self.trace_id, root, spans });
    }

    /// An element took `ns` end to end: promote the flow if that is over
    /// the threshold.
    pub fn latency(&self, ns: u64) {
        let t = self.settings.latency_promote_ns;
        if t > 0 && ns > t {
            self.promoted.store(true, Ordering::Relaxed);
        }
    }

    /// The flow failed: promote it if failures are.
    pub fn failed(&self) {
        if self.settings.error_promote {
            self.promoted.store(true, Ordering::Relaxed);
        }
    }

    /// Whether its spans leave the process.
    pub fn exported(&self) -> bool {
        self.sampled || self.promoted.load(Ordering::Relaxed)
    }

    pub fn promoted(&self) -> bool {
        self.promoted.load(Ordering::Relaxed)
    }

    /// Keep a backpressure episode (bounded like the spans).
    pub fn episode(&self, e: BackpressureEpisode) {
        let mut q = self.episodes.lock();
        if q.len() >= self.settings.ring_capacity.max(1) {
            q.pop_front();
        }
        q.push_back(e);
    }

    /// The backpressure episodes kept now.
    pub fn episodes(&self) -> Vec<BackpressureEpisode> {
        self.episodes.lock().iter().cloned().collect()
    }

    /// The spans kept now (a copy).
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.ring.lock().iter().cloned().collect()
    }

    /// Take the spans kept so far.
    pub fn drain(&self) -> Vec<SpanRecord> {
        self.ring.lock().drain(..).collect()
    }

    pub fn overwritten(&self) -> u64 {
        self.overwritten.load(Ordering::Relaxed)
    }
}

/// A random non-zero span id.
pub fn span_id() -> u64 {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    #[test]
    fn traceparent_round_trips_and_refuses_what_w3c_refuses() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tp: TraceParent = text.parse().unwrap();
        assert!(tp.sampled);
        assert_eq!(tp.to_string(), text);
        assert!(!"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".parse::<TraceParent>().unwrap().sampled);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            let e = bad.parse::<TraceParent>().unwrap_err();
            assert!(e.to_string().contains("is not valid"), "{bad}: {e}");
        }
        // A later version may carry more fields.
        assert!("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future".parse::<TraceParent>().is_ok());
    }
}
