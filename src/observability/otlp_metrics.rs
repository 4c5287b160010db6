//! The host's metrics pushed to an OTLP/HTTP collector (`/v1/metrics`)
//! every interval, under the public catalog's dotted names
//! (`flow.elements.total`, `component.processing_time`, …) with cumulative
//! temporality. A pusher thread of its own reads snapshots (never a
//! reactor); a push that fails is dropped and counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
    number_data_point::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::{HistogramSnapshot, HostSnapshot, MetricsSnapshot, OtlpEncoding, SnapshotSource};

static FAILED: AtomicU64 = AtomicU64::new(0);

/// Metric pushes that failed (all pushers).
pub fn metric_pushes_failed() -> u64 {
    FAILED.load(Ordering::Relaxed)
}

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }) }
}

type Attrs = Vec<KeyValue>;

fn flow_attrs(f: &MetricsSnapshot) -> Attrs {
    vec![kv("flow", &f.flow), kv("flow_id", &f.flow_id.to_string())]
}

/// Bounds of the exported histograms, ns (1, 2.5, 5 per decade, 100 ns to 10 s).
fn bounds() -> Vec<f64> {
    let mut b = Vec::new();
    let mut d = 100.0;
    while d < 1e10 {
        b.extend([d, d * 2.5, d * 5.0]);
        d *= 10.0;
    }
    b.push(1e10);
    b
}

struct Builder {
    now: u64,
    start: u64,
    metrics: Vec<Metric>,
}

impl Builder {
    fn number(&mut self, name: &str, unit: &str, monotonic: Option<bool>, points: Vec<(Attrs, f64)>) {
        if points.is_empty() {
            return;
        }
        let dps = points
            .into_iter()
            .map(|(attributes, v)| NumberDataPoint {
                attributes,
                start_time_unix_nano: self.start,
                time_unix_nano: self.now,
                value: Some(if monotonic.is_some() { Value::AsInt(v as i64) } else { Value::AsDouble(v) }),
                ..Default::default()
            })
            .collect();
        let data = match monotonic {
            Some(m) => Data::Sum(Sum { data_points: dps, aggregation_temporality: AggregationTemporality::Cumulative as i32, is_monotonic: m }),
            None => Data::Gauge(Gauge { data_points: dps }),
        };
        self.metrics.push(Metric { name: name.into(), unit: unit.into(), data: Some(data), ..Default::default() });
    }

    fn histogram(&mut self, name: &str, points: Vec<(Attrs, &HistogramSnapshot)>) {
        if points.is_empty() {
            return;
        }
        let b = bounds();
        let dps = points
            .into_iter()
            .map(|(attributes, h)| {
                let mut counts = vec![0u64; b.len() + 1];
                for &(top, c) in &h.buckets {
                    let i = b.iter().position(|&x| top as f64 <= x).unwrap_or(b.len());
                    counts[i] += c;
                }
                HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: self.start,
                    time_unix_nano: self.now,
                    count: h.count,
                    sum: Some(h.sum as f64),
                    bucket_counts: counts,
                    explicit_bounds: b.clone(),
                    max: (h.count > 0).then_some(h.max as f64),
                    ..Default::default()
                }
            })
            .collect();
        self.metrics.push(Metric {
            name: name.into(),
            unit: "ns".into(),
            data: Some(Data::Histogram(Histogram { data_points: dps, aggregation_temporality: AggregationTemporality::Cumulative as i32 })),
            ..Default::default()
        });
    }
}

/// The OTLP request for `host` at `now` (flows since `start`).
pub fn otlp_metrics(host: &HostSnapshot, start: u64, now: u64) -> ExportMetricsServiceRequest {
    let mut m = Builder { now, start, metrics: Vec::new() };
    let flows = &host.flows;
    let per_flow = |f: &dyn Fn(&MetricsSnapshot) -> f64| flows.iter().map(|x| (flow_attrs(x), f(x))).collect::<Vec<_>>();
    m.number("flow.elements.total", "{element}", Some(true), per_flow(&|f| f.elements as f64));
    m.number("flow.elements.errors", "{element}", Some(true), per_flow(&|f| f.errors as f64));
    m.histogram("flow.latency", flows.iter().map(|f| (flow_attrs(f), &f.latency_ns)).collect());
    m.number("flow.copies.total", "{copy}", Some(true), per_flow(&|f| f.copies as f64));
    m.number("flow.copies.bytes", "By", Some(true), per_flow(&|f| f.bytes_copied as f64));
    m.number("flow.active_duration", "ns", None, per_flow(&|f| f.active_ns as f64));
    m.number(
        "flow.state",
        "1",
        None,
        flows
            .iter()
            .map(|f| {
                let mut a = flow_attrs(f);
                a.push(kv("state", &f.state.to_string()));
                (a, 1.0)
            })
            .collect(),
    );
    let node_attrs = |f: &MetricsSnapshot, n: &super::NodeSnapshot| {
        let mut a = flow_attrs(f);
        a.extend([kv("component_id", &n.node), kv("component", &n.component)]);
        a
    };
    let instances: Vec<(&MetricsSnapshot, &super::NodeSnapshot)> = flows.iter().flat_map(|f| f.nodes.iter().filter(|n| n.instance).map(move |n| (f, n))).collect();
    m.number("component.invocations", "{call}", Some(true), instances.iter().map(|(f, n)| (node_attrs(f, n), n.invocations as f64)).collect());
    m.number("component.errors", "{call}", Some(true), instances.iter().map(|(f, n)| (node_attrs(f, n), n.errors as f64)).collect());
    m.histogram("component.processing_time", instances.iter().map(|(f, n)| (node_attrs(f, n), &n.processing_ns)).collect());
    m.number("component.fuel_consumed", "{fuel}", Some(true), instances.iter().map(|(f, n)| (node_attrs(f, n), n.fuel_consumed as f64)).collect());
    m.number("component.memory_current", "By", None, instances.iter().map(|(f, n)| (node_attrs(f, n), n.memory_bytes as f64)).collect());
    let edges: Vec<(&MetricsSnapshot, &super::EdgeSnapshot)> = flows.iter().flat_map(|f| f.edges.iter().map(move |e| (f, e))).collect();
    let edge_attrs = |f: &MetricsSnapshot, e: &super::EdgeSnapshot| {
        let mut a = flow_attrs(f);
        a.extend([kv("stream_id", &format!("{}.{}->{}", e.from, e.port, e.to)), kv("from", &e.from), kv("port", &e.port), kv("to", &e.to)]);
        a
    };
    m.number("stream.elements.transferred", "{element}", Some(true), edges.iter().map(|(f, e)| (edge_attrs(f, e), e.elements as f64)).collect());
    m.number("stream.backpressure.events", "{event}", Some(true), edges.iter().map(|(f, e)| (edge_attrs(f, e), e.backpressure_events as f64)).collect());
    m.number("stream.backpressure.duration_ns", "ns", Some(true), edges.iter().map(|(f, e)| (edge_attrs(f, e), e.backpressure_ns as f64)).collect());
    m.number("stream.queue.current_depth", "{element}", None, edges.iter().map(|(f, e)| (edge_attrs(f, e), e.depth as f64)).collect());
    m.number("stream.queue.peak_depth", "{element}", None, edges.iter().map(|(f, e)| (edge_attrs(f, e), e.peak_depth as f64)).collect());
    m.histogram("stream.queue.wait_time", edges.iter().map(|(f, e)| (edge_attrs(f, e), &e.queue_wait_ns)).collect());
    m.number("stream.dropped", "{element}", Some(true), edges.iter().map(|(f, e)| (edge_attrs(f, e), e.dropped as f64)).collect());
    let uses: Vec<(&MetricsSnapshot, &crate::security::CapabilityUse)> = flows.iter().flat_map(|f| f.capabilities.iter().map(move |c| (f, c))).collect();
    let use_attrs = |f: &MetricsSnapshot, c: &crate::security::CapabilityUse| {
        let mut a = flow_attrs(f);
        a.extend([kv("component_id", &c.node), kv("capability", &c.capability)]);
        a
    };
    m.number("capability.exercises", "{use}", Some(true), uses.iter().map(|(f, c)| (use_attrs(f, c), c.exercises as f64)).collect());
    m.number("capability.denials", "{use}", Some(true), uses.iter().map(|(f, c)| (use_attrs(f, c), c.denials as f64)).collect());
    let tiers: Vec<(&MetricsSnapshot, &crate::resources::TierSnapshot)> = flows.iter().flat_map(|f| f.pools.iter().map(move |t| (f, t))).collect();
    let tier_attrs = |f: &MetricsSnapshot, t: &crate::resources::TierSnapshot| {
        let mut a = flow_attrs(f);
        a.push(kv("tier", t.tier));
        a
    };
    m.number("pool.capacity", "{buffer}", None, tiers.iter().map(|(f, t)| (tier_attrs(f, t), t.capacity as f64)).collect());
    m.number("pool.available", "{buffer}", None, tiers.iter().map(|(f, t)| (tier_attrs(f, t), t.available as f64)).collect());
    m.number("pool.allocated", "{buffer}", Some(true), tiers.iter().map(|(f, t)| (tier_attrs(f, t), (t.stats.allocations + t.stats.reuses) as f64)).collect());
    m.number("pool.returned", "{buffer}", Some(true), tiers.iter().map(|(f, t)| (tier_attrs(f, t), t.stats.returned as f64)).collect());
    m.number("pool.fallback_count", "{buffer}", Some(true), tiers.iter().map(|(f, t)| (tier_attrs(f, t), t.stats.allocations as f64)).collect());
    m.number("pool.exhaustion_events", "{event}", Some(true), tiers.iter().map(|(f, t)| (tier_attrs(f, t), t.stats.exhausted as f64)).collect());
    m.number(
        "pool.reuse_rate",
        "1",
        None,
        tiers
            .iter()
            .map(|(f, t)| {
                let handed = t.stats.allocations + t.stats.reuses;
                (tier_attrs(f, t), if handed == 0 { 0.0 } else { t.stats.reuses as f64 / handed as f64 })
            })
            .collect(),
    );
    let one = |v: f64| vec![(Vec::new(), v)];
    m.number("system.flows.active", "{flow}", None, one(host.flows_active as f64));
    m.number("system.components.active", "{component}", None, one(host.components_active as f64));
    m.number("system.memory.total", "By", None, one(host.memory_total_bytes as f64));
    m.number("system.memory.host", "By", None, one(host.memory_host_bytes as f64));
    m.number("system.memory.linear", "By", None, one(host.memory_linear_bytes as f64));
    m.number("system.metric_pushes_failed", "{push}", Some(true), one(host.metric_pushes_failed as f64));
    m.number("system.scheduler.wakeups", "{wakeup}", Some(true), one(host.scheduler.wakeups as f64));
    m.number("system.scheduler.idle_ns", "ns", Some(true), one(host.scheduler.idle_ns as f64));
    m.number("system.spans_dropped", "{span}", Some(true), one(host.spans_dropped as f64));
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", "torvyn")], ..Default::default() }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope { name: "torvyn".into(), version: env!("CARGO_PKG_VERSION").into(), ..Default::default() }),
                metrics: m.metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A thread pushing metrics every interval until dropped (one last push
/// then, so a short run's final figures arrive).
pub struct MetricsPusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    pushed: Arc<AtomicBool>,
}

impl MetricsPusher {
    /// Push `source()` to `url` (`…/v1/metrics`) every `interval` (at
    /// least a second: shorter ones are taken as one second).
    pub fn start(url: String, encoding: OtlpEncoding, interval: Duration, source: SnapshotSource) -> std::io::Result<MetricsPusher> {
        let interval = interval.max(Duration::from_secs(1));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let pushed = Arc::new(AtomicBool::new(false));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&pushed));
        let start = crate::types::unix_now_ns();
        let thread = std::thread::Builder::new().name("torvyn-otlp-metrics".into()).spawn(move || {
            let agent = ureq::Agent::new_with_config(ureq::config::Config::builder().timeout_global(Some(Duration::from_secs(5))).build());
            loop {
                let stopping = {
                    let (lock, cv) = &*s;
                    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                    let (guard, _) = cv.wait_timeout_while(guard, interval, |stop| !*stop).unwrap_or_else(|e| e.into_inner());
                    *guard
                };
                let request = otlp_metrics(&source(), start, crate::types::unix_now_ns());
                let (body, kind) = match encoding {
                    OtlpEncoding::Protobuf => (request.encode_to_vec(), "application/x-protobuf"),
                    OtlpEncoding::Json => (serde_json::to_vec(&request).unwrap_or_default(), "application/json"),
                };
                match agent.post(&url).header("Content-Type", kind).send(&body[..]) {
                    Ok(_) => p.store(true, Ordering::Relaxed),
                    Err(e) => {
                        FAILED.fetch_add(1, Ordering::Relaxed);
                        log::warn!("cannot push metrics to {url}: {e}");
                    }
                }
                if stopping {
                    return;
                }
            }
        })?;
        Ok(MetricsPusher { stop, thread: Some(thread), pushed })
    }

    /// Whether a push has succeeded yet.
    pub fn has_pushed(&self) -> bool {
        self.pushed.load(Ordering::Relaxed)
    }
}

impl Drop for MetricsPusher {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
