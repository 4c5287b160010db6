//! Where spans go: stdout, a file, or an OTLP/HTTP collector (JSON or
//! protobuf). Each destination has one exporter thread fed through a
//! bounded queue: a flow hands its spans over with `try_send`, so a slow
//! or dead endpoint makes the queue full and the spans are dropped and
//! counted (`spans_dropped`), never waited for.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode};
use prost::Message;

use super::SpanRecord;

/// How OTLP is written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtlpEncoding {
    Protobuf,
    Json,
}

/// Where a flow's spans are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpanDestination {
    /// One OTLP/JSON document per line on stdout.
    Stdout,
    /// The same on stderr (`torvyn run` uses it when stdout carries data
    /// or a JSON document).
    Stderr,
    /// One OTLP/JSON document per line, appended to a file.
    File(PathBuf),
    /// POSTed to an OTLP/HTTP collector (`…/v1/traces`).
    OtlpHttp { url: String, encoding: OtlpEncoding },
}

/// A finished batch of one flow's spans, with what names the flow.
#[derive(Debug)]
pub struct SpanBatch {
    pub flow: String,
    pub flow_id: u64,
    pub trace_id: [u8; 16],
    /// The flow's root span: (id, its remote parent, start, end, ok); sent
    /// with the batch that ends the flow.
    pub root: Option<(u64, Option<[u8; 8]>, u64, u64, bool)>,
    pub spans: Vec<SpanRecord>,
}

static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Spans handed to exporters and not yet written, all destinations.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Most spans waiting for exporters at once; beyond it batches are dropped.
const MAX_PENDING: u64 = 1 << 20;

/// Spans dropped because an exporter could not keep up (all destinations).
pub fn spans_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Batches an exporter holds before newer ones are dropped.
const QUEUE: usize = 64;

/// Wait up to `timeout` for every span handed over so far to be written
/// (a program about to exit calls it, so a flow's last spans are not lost).
/// Returns whether all were.
pub fn flush_spans(timeout: std::time::Duration) -> bool {
    crate::types::wait_until_drained(&PENDING, timeout)
}

fn senders() -> &'static Mutex<HashMap<SpanDestination, SyncSender<SpanBatch>>> {
    static S: OnceLock<Mutex<HashMap<SpanDestination, SyncSender<SpanBatch>>>> = OnceLock::new();
    S.get_or_init(Default::default)
}

/// Hand `batch` to `dest`'s exporter; never blocks on the exporter.
pub fn send(dest: &SpanDestination, batch: SpanBatch) {
    let n = batch.spans.len() as u64 + u64::from(batch.root.is_some());
    if PENDING.load(Ordering::Relaxed).saturating_add(n) > MAX_PENDING {
        DROPPED.fetch_add(n, Ordering::Relaxed);
        return;
    }
    let mut map = match senders().lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    if !map.contains_key(dest) {
        let (tx, rx) = sync_channel::<SpanBatch>(QUEUE);
        let d = dest.clone();
        let started = std::thread::Builder::new().name("torvyn-span-export".into()).spawn(move || {
            let agent = ureq::Agent::new_with_config(ureq::config::Config::builder().timeout_global(Some(Duration::from_secs(5))).build());
            for batch in rx.iter() {
                let n = batch.spans.len() as u64 + u64::from(batch.root.is_some());
                if let Err(e) = write(&agent, &d, &batch) {
                    DROPPED.fetch_add(n, Ordering::Relaxed);
                    log::warn!("cannot export the spans of flow `{}`: {e}", batch.flow);
                    // A failing destination does not get another timeout per
                    // batch: what is queued now is dropped too.
                    for stale in rx.try_iter() {
                        let k = stale.spans.len() as u64 + u64::from(stale.root.is_some());
                        DROPPED.fetch_add(k, Ordering::Relaxed);
                        PENDING.fetch_sub(k, Ordering::AcqRel);
                    }
                }
                PENDING.fetch_sub(n, Ordering::AcqRel);
            }
        });
        match started {
            Ok(_) => {
                map.insert(dest.clone(), tx);
            }
            Err(e) => {
                log::warn!("cannot start a span exporter: {e}");
                DROPPED.fetch_add(n, Ordering::Relaxed);
                return;
            }
        }
    }
    if let Some(tx) = map.get(dest) {
        PENDING.fetch_add(n, Ordering::AcqRel);
        match tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                PENDING.fetch_sub(n, Ordering::AcqRel);
                DROPPED.fetch_add(n, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                // Its thread is gone: the next batch starts a new one.
                PENDING.fetch_sub(n, Ordering::AcqRel);
                DROPPED.fetch_add(n, Ordering::Relaxed);
                map.remove(dest);
            }
        }
    }
}

fn write(agent: &ureq::Agent, dest: &SpanDestination, batch: &SpanBatch) -> Result<(), String> {
    let request = otlp(batch);
    match dest {
        SpanDestination::Stdout => {
            let line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").map_err(|e| e.to_string())
        }
        SpanDestination::Stderr => {
            let line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
            let mut out = std::io::stderr().lock();
            writeln!(out, "{line}").map_err(|e| e.to_string())
        }
        SpanDestination::File(path) => {
            let line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))
        }
        SpanDestination::OtlpHttp { url, encoding } => {
            let (body, kind) = match encoding {
                OtlpEncoding::Protobuf => (request.encode_to_vec(), "application/x-protobuf"),
                OtlpEncoding::Json => (serde_json::to_vec(&request).map_err(|e| e.to_string())?, "application/json"),
            };
            agent.post(url).header("Content-Type", kind).send(&body[..]).map(|_| ()).map_err(|e| format!("{url}: {e}"))
        }
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }) }
}

fn text(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.to_string()))
}

fn int(key: &str, v: u64) -> KeyValue {
    kv(key, any_value::Value::IntValue(i64::try_from(v).unwrap_or(i64::MAX)))
}

/// The OTLP request for `batch`. Span attributes follow the OpenTelemetry
/// messaging conventions where they fit (system, operation, destination,
/// message id and body size); the rest are `torvyn.*`.
pub fn otlp(batch: &SpanBatch) -> ExportTraceServiceRequest {
    let trace_id = batch.trace_id.to_vec();
    let root_id = batch.root.map(|r| r.0);
    let mut spans: Vec<Span> = batch
        .spans
        .iter()
        .map(|s| {
            let (kind, op_type) = match s.call {
                "pull" => (SpanKind::Producer, "create"),
                "push" => (SpanKind::Consumer, "process"),
                _ => (SpanKind::Consumer, "process"),
            };
            let parent = if s.parent_id != 0 { Some(s.parent_id) } else { root_id };
            Span {
                trace_id: trace_id.clone(),
                span_id: s.span_id.to_be_bytes().to_vec(),
                parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
                name: format!("{} {}", s.call, s.node),
                kind: kind as i32,
                start_time_unix_nano: s.start_unix_ns,
                end_time_unix_nano: s.start_unix_ns.saturating_add(s.duration_ns),
                attributes: vec![
                    text("messaging.system", "torvyn"),
                    text("messaging.operation.name", s.call),
                    text("messaging.operation.type", op_type),
                    text("messaging.destination.name", &s.node),
                    text("messaging.message.id", &s.sequence.to_string()),
                    int("messaging.message.body.size", s.input_bytes),
                    int("torvyn.copies", s.copies),
                    int("torvyn.bytes_copied", s.bytes_copied),
                ]
                .into_iter()
                .chain(s.input_buffer.map(|b| int("torvyn.input_buffer", b)))
                .chain(s.output_buffer.map(|b| int("torvyn.output_buffer", b)))
                .collect(),
                status: Some(Status {
                    code: if s.ok { StatusCode::Ok } else { StatusCode::Error } as i32,
                    message: String::new(),
                }),
                ..Default::default()
            }
        })
        .collect();
    if let Some((id, remote, start, end, ok)) = batch.root {
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: id.to_be_bytes().to_vec(),
            parent_span_id: remote.map(|p| p.to_vec()).unwrap_or_default(),
            name: format!("flow {}", batch.flow),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: vec![text("torvyn.flow", &batch.flow), int("torvyn.flow_id", batch.flow_id)],
            status: Some(Status { code: if ok { StatusCode::Ok } else { StatusCode::Error } as i32, message: String::new() }),
            ..Default::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "torvyn"), text("torvyn.flow", &batch.flow), int("torvyn.flow_id", batch.flow_id)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "torvyn".into(), version: env!("CARGO_PKG_VERSION").into(), ..Default::default() }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
