//! The host's metrics in the OpenMetrics text format (what Prometheus
//! scrapes), encoded with the `prometheus-client` crate from a
//! [`HostSnapshot`]: nothing here touches a running flow.
//!
//! Names follow Prometheus conventions: `torvyn_` prefix, the unit in the
//! name, `_total` on counters, histograms in seconds. docs/observability.md
//! maps each to the public catalog's dotted name.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{HistogramSnapshot, HostSnapshot, MetricsSnapshot};

/// Upper bounds of the exported histogram buckets, ns: 1, 2.5 and 5 per
/// decade from 100 ns to 10 s (the internal histograms are finer; each
/// internal bucket is counted under the first bound at or above its top).
const BOUNDS_NS: [u64; 25] = {
    let mut b = [0u64; 25];
    let mut decade = 100u64;
    let mut i = 0;
    while i < 24 {
        b[i] = decade;
        b[i + 1] = decade * 5 / 2;
        b[i + 2] = decade * 5;
        decade *= 10;
        i += 3;
    }
    b[24] = decade;
    b
};

/// The OpenMetrics text for `host` (ends with `# EOF`).
pub fn prometheus_text(host: &HostSnapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(host.clone())));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// The content type of [`prometheus_text`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug)]
struct Snapshot(HostSnapshot);

type Labels = Vec<(&'static str, String)>;

enum Value<'a> {
    Count(u64),
    Seconds(u64),
    Gauge(f64),
    Histogram(&'a HistogramSnapshot),
}

/// A label value with `\`, `"` and newlines escaped (the encoder writes
/// values as given).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn flow_labels(f: &MetricsSnapshot) -> Labels {
    vec![("flow", escape(&f.flow)), ("flow_id", f.flow_id.to_string())]
}

/// One series per item of each flow (its nodes, edges, pool tiers or
/// capability uses): the flow's labels, then the item's own.
fn per_item<'a, T: 'a, I: Iterator<Item = &'a T>>(
    flows: &'a [MetricsSnapshot],
    items: impl Fn(&'a MetricsSnapshot) -> I,
    labels: impl Fn(&T) -> Labels,
    value: &dyn Fn(&'a T) -> Value<'a>,
) -> Vec<(Labels, Value<'a>)> {
    let mut out = Vec::new();
    for f in flows {
        for item in items(f) {
            let mut l = flow_labels(f);
            l.extend(labels(item));
            out.push((l, value(item)));
        }
    }
    out
}

/// One metric family: its descriptor, then one sample (or histogram) per
/// label set. A family without series is left out.
fn family(enc: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<Unit>, series: Vec<(Labels, Value)>) -> std::fmt::Result {
    let Some((_, first)) = series.first() else {
        return Ok(());
    };
    let kind = match first {
        Value::Count(_) | Value::Seconds(_) => MetricType::Counter,
        Value::Gauge(_) => MetricType::Gauge,
        Value::Histogram(_) => MetricType::Histogram,
    };
    let mut metric = enc.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for (labels, value) in &series {
        let mut m = metric.encode_family(labels)?;
        match value {
            Value::Count(v) => m.encode_counter::<NoLabelSet, _, u64>(v, None)?,
            Value::Seconds(ns) => m.encode_counter::<NoLabelSet, _, f64>(&(*ns as f64 / 1e9), None)?,
            Value::Gauge(v) => m.encode_gauge(v)?,
            Value::Histogram(h) => {
                let buckets = seconds_buckets(h);
                m.encode_histogram::<NoLabelSet>(h.sum as f64 / 1e9, h.count, &buckets, None)?
            }
        }
    }
    Ok(())
}

/// `h`'s counts regrouped under [`BOUNDS_NS`] (per-bucket, not cumulative;
/// the encoder accumulates), in seconds, ending with +Inf.
fn seconds_buckets(h: &HistogramSnapshot) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = BOUNDS_NS.iter().map(|&b| (b as f64 / 1e9, 0)).collect();
    out.push((f64::MAX, 0));
    for &(upper, count) in &h.buckets {
        let i = BOUNDS_NS.iter().position(|&b| upper <= b).unwrap_or(BOUNDS_NS.len());
        out[i].1 += count;
    }
    out
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        encode_host(&self.0, &mut enc)
    }
}

/// Every family of `h`, in the catalog's order.
fn encode_host<'a>(h: &'a HostSnapshot, e: &mut DescriptorEncoder) -> std::fmt::Result {
    let flows = &h.flows;
    let per_flow = |f: &dyn Fn(&MetricsSnapshot) -> Value| -> Vec<(Labels, Value)> { flows.iter().map(|x| (flow_labels(x), f(x))).collect() };
    family(e, "torvyn_flow_elements", "Elements that reached a sink.", None, per_flow(&|f| Value::Count(f.elements)))?;
    family(e, "torvyn_flow_errors", "Per-element calls that failed, on any node.", None, per_flow(&|f| Value::Count(f.errors)))?;
    family(e, "torvyn_flow_latency", "From an element entering the flow to the end of the sink's call on it (a sample at level production).", Some(Unit::Seconds), per_flow(&|f| Value::Histogram(&f.latency_ns)))?;
    family(e, "torvyn_flow_copies", "Copies of element bytes.", None, per_flow(&|f| Value::Count(f.copies)))?;
    family(e, "torvyn_flow_copied", "Bytes those copies moved.", Some(Unit::Bytes), per_flow(&|f| Value::Count(f.bytes_copied)))?;
    family(e, "torvyn_flow_active", "Time since the flow started (until it ended).", Some(Unit::Seconds), per_flow(&|f| Value::Gauge(f.active_ns as f64 / 1e9)))?;
    let states = flows
        .iter()
        .map(|f| {
            let mut l = flow_labels(f);
            l.push(("state", f.state.to_string()));
            (l, Value::Gauge(1.0))
        })
        .collect();
    family(e, "torvyn_flow_state", "The flow's state (the series with value 1).", None, states)?;

    let per_node = |f: &dyn Fn(&'a super::NodeSnapshot) -> Value<'a>| {
        per_item(flows, |x| x.nodes.iter().filter(|n| n.instance), |n| vec![("node", escape(&n.node)), ("component", escape(&n.component))], f)
    };
    family(e, "torvyn_component_invocations", "Per-element calls, failed ones included.", None, per_node(&|n| Value::Count(n.invocations)))?;
    family(e, "torvyn_component_errors", "Calls that returned an error, trapped or overran.", None, per_node(&|n| Value::Count(n.errors)))?;
    family(e, "torvyn_component_processing", "Time inside per-element calls, queue wait excluded (a sample at level production).", Some(Unit::Seconds), per_node(&|n| Value::Histogram(&n.processing_ns)))?;
    family(e, "torvyn_component_fuel_consumed", "Fuel used (flows that meter fuel).", None, per_node(&|n| Value::Count(n.fuel_consumed)))?;
    family(e, "torvyn_component_memory", "The instance's linear memory.", Some(Unit::Bytes), per_node(&|n| Value::Gauge(n.memory_bytes as f64)))?;

    let per_edge = |f: &dyn Fn(&'a super::EdgeSnapshot) -> Value<'a>| {
        per_item(flows, |x| x.edges.iter(), |e| vec![("from", escape(&e.from)), ("port", escape(&e.port)), ("to", escape(&e.to))], f)
    };
    family(e, "torvyn_stream_elements", "Elements the consumer took off the edge.", None, per_edge(&|s| Value::Count(s.elements)))?;
    family(e, "torvyn_stream_backpressure_events", "Times the full queue stopped its producer.", None, per_edge(&|s| Value::Count(s.backpressure_events)))?;
    family(e, "torvyn_stream_backpressure", "Time the producer spent stopped by the edge.", Some(Unit::Seconds), per_edge(&|s| Value::Seconds(s.backpressure_ns)))?;
    family(e, "torvyn_stream_queue_depth", "Elements queued now.", None, per_edge(&|s| Value::Gauge(s.depth as f64)))?;
    family(e, "torvyn_stream_queue_peak_depth", "Most elements ever queued.", None, per_edge(&|s| Value::Gauge(s.peak_depth as f64)))?;
    family(e, "torvyn_stream_queue_wait", "Time elements spent queued (a sample at level production).", Some(Unit::Seconds), per_edge(&|s| Value::Histogram(&s.queue_wait_ns)))?;
    family(e, "torvyn_stream_dropped", "Elements dropped by drop-oldest or drop-newest.", None, per_edge(&|s| Value::Count(s.dropped)))?;

    let per_capability = |f: &dyn Fn(&'a crate::security::CapabilityUse) -> Value<'a>| {
        per_item(flows, |x| x.capabilities.iter(), |c| vec![("node", escape(&c.node)), ("capability", escape(&c.capability))], f)
    };
    family(e, "torvyn_capability_exercises", "Uses of a capability its grants allowed.", None, per_capability(&|c| Value::Count(c.exercises)))?;
    family(e, "torvyn_capability_denials", "Uses of a capability no grant allowed.", None, per_capability(&|c| Value::Count(c.denials)))?;

    let per_tier = |f: &dyn Fn(&'a crate::resources::TierSnapshot) -> Value<'a>| per_item(flows, |x| x.pools.iter(), |t| vec![("tier", t.tier.to_string())], f);
    family(e, "torvyn_pool_capacity", "Most idle buffers the tier keeps.", None, per_tier(&|t| Value::Gauge(t.capacity as f64)))?;
    family(e, "torvyn_pool_available", "Idle buffers in the tier now.", None, per_tier(&|t| Value::Gauge(t.available as f64)))?;
    family(e, "torvyn_pool_allocated", "Buffers handed out (reused or new).", None, per_tier(&|t| Value::Count(t.stats.allocations + t.stats.reuses)))?;
    family(e, "torvyn_pool_returned", "Buffers given back.", None, per_tier(&|t| Value::Count(t.stats.returned)))?;
    family(e, "torvyn_pool_fallbacks", "Buffers newly allocated because the tier was empty.", None, per_tier(&|t| Value::Count(t.stats.allocations)))?;
    family(e, "torvyn_pool_exhaustion_events", "Allocations refused because the tier was empty (exhaustion_policy error).", None, per_tier(&|t| Value::Count(t.stats.exhausted)))?;
    family(e, "torvyn_pool_reuse_ratio", "Reused buffers over buffers handed out.", None, per_tier(&|t| {
        let handed = t.stats.allocations + t.stats.reuses;
        Value::Gauge(if handed == 0 { 0.0 } else { t.stats.reuses as f64 / handed as f64 })
    }))?;

    let one = |v: Value<'static>| vec![(Labels::new(), v)];
    family(e, "torvyn_flows_active", "Flows not yet ended.", None, one(Value::Gauge(h.flows_active as f64)))?;
    family(e, "torvyn_components_active", "Component instances of those flows.", None, one(Value::Gauge(h.components_active as f64)))?;
    family(e, "torvyn_memory_total", "Host buffer memory and instance linear memory.", Some(Unit::Bytes), one(Value::Gauge(h.memory_total_bytes as f64)))?;
    family(e, "torvyn_memory_host", "Idle pooled buffers and the buffers active flows hold.", Some(Unit::Bytes), one(Value::Gauge(h.memory_host_bytes as f64)))?;
    family(e, "torvyn_memory_linear", "Linear memory of active instances.", Some(Unit::Bytes), one(Value::Gauge(h.memory_linear_bytes as f64)))?;
    family(e, "torvyn_scheduler_wakeups", "Times a worker slept with nothing to do and woke.", None, one(Value::Count(h.scheduler.wakeups)))?;
    family(e, "torvyn_scheduler_idle", "Time workers spent asleep.", Some(Unit::Seconds), one(Value::Seconds(h.scheduler.idle_ns)))?;
    family(e, "torvyn_spans_dropped", "Trace spans dropped because their exporter could not keep up.", None, one(Value::Count(h.spans_dropped)))?;
    family(e, "torvyn_metric_pushes_failed", "OTLP metric pushes that failed.", None, one(Value::Count(h.metric_pushes_failed)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::BOUNDS_NS;

    #[test]
    fn bounds_run_from_100_ns_to_10_s() {
        assert_eq!((BOUNDS_NS[0], BOUNDS_NS[1], BOUNDS_NS[2], BOUNDS_NS[3]), (100, 250, 500, 1000));
        assert_eq!(BOUNDS_NS[24], 10_000_000_000);
        assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
    }
}
