//! What a running flow shows: the metrics catalog, recorded on the reactor
//! thread into fixed structures (no lock, no allocation), read from any
//! thread as a snapshot.

mod clock;
mod error;
mod export;
mod histogram;
mod host;
mod http;
mod metrics;
mod otlp_metrics;
mod prometheus;
mod trace;

pub use clock::{Tick, warm_up as warm_up_clock};
pub use error::ObservabilityError;
pub use otlp_metrics::{MetricsPusher, metric_pushes_failed, otlp_metrics};
pub use export::{OtlpEncoding, SpanBatch, SpanDestination, flush_spans, otlp as otlp_traces, send as send_spans, spans_dropped};
pub use host::{HostSnapshot, SchedulerStats};
pub use http::{MetricsServer, SnapshotSource};
pub use prometheus::{CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE, prometheus_text};
pub use trace::{BackpressureEpisode, FlowTrace, SpanRecord, TraceParent, TraceParentError, TraceSettings, hex, span_id};
pub use histogram::{BUCKETS, Histogram, HistogramSnapshot, RELATIVE_ERROR};
pub use metrics::{TIMING_SAMPLE, EdgeMetrics, QueueCounts, EdgeSnapshot, FlowMetrics, MetricsSnapshot, NodeMetrics, NodeSnapshot};

/// How much a flow records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Nothing beyond the end-of-flow summary.
    Off,
    /// Counters and histograms (the default).
    #[default]
    Production,
    /// Production, plus per-element detail where a subsystem records it.
    Diagnostic,
}

impl Level {
    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Off,
            2 => Level::Diagnostic,
            _ => Level::Production,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Off => "off",
            Level::Production => "production",
            Level::Diagnostic => "diagnostic",
        })
    }
}
