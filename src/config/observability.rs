//! `[observability]` resolved into what flows and `torvyn run` do: the
//! level, the Prometheus endpoint, OTLP metrics pushes, and tracing
//! (recording, sampling, promotion, export).

use std::time::Duration;

use super::manifest::Cx;
use super::schema::subsystems::ObservabilityTable;
use super::{ConfigError, RuntimeConfig};

/// Apply `o` to `runtime`.
pub(super) fn resolve(cx: &Cx<'_>, o: &ObservabilityTable, runtime: &mut RuntimeConfig) -> Result<(), ConfigError> {
    use super::schema::subsystems::ObservabilityLevel as L;
    runtime.observability = match (o.metrics_enabled, o.level) {
        (Some(false), _) | (_, Some(L::Off)) => crate::observability::Level::Off,
        (_, Some(L::Diagnostic)) => crate::observability::Level::Diagnostic,
        _ => crate::observability::Level::Production,
    };
    runtime.prometheus_addr = prometheus_addr(cx, o)?;
    runtime.tracing = tracing(cx, o)?;
    runtime.otlp_metrics = otlp_metrics(cx, o)?;
    Ok(())
}

/// OTLP metrics push from `[observability]`: `otlp_metrics_enabled = true`
/// or `metrics_exporter = "otlp"`, to `metrics_endpoint` (default
/// `http://127.0.0.1:4318`), every `otlp_metrics_interval_s` (default 10).
fn otlp_metrics(cx: &Cx<'_>, o: &ObservabilityTable) -> Result<Option<super::OtlpMetrics>, ConfigError> {
    use crate::config::schema::subsystems::{MetricsExporter as E, OtlpProtocol};
    if o.otlp_metrics_enabled != Some(true) && o.metrics_exporter != Some(E::Otlp) {
        return Ok(None);
    }
    if prometheus_wanted(o) && o.metrics_endpoint.is_some() {
        return Err(cx.err(
            "observability.metrics_endpoint",
            "serves Prometheus and would also be where OTLP metrics are pushed; enable one of them, or serve Prometheus with `torvyn run --metrics-addr`",
        ));
    }
    let base = match &o.metrics_endpoint {
        Some(e) if e.contains("://") => e.clone(),
        Some(e) => format!("http://{e}"),
        None => "http://127.0.0.1:4318".into(),
    };
    if !base.starts_with("http://") {
        return Err(cx.err("observability.metrics_endpoint", format!("`{base}` is not an http:// URL (https is not built in); e.g. http://127.0.0.1:4318")));
    }
    let url = if base.ends_with("/v1/metrics") { base } else { format!("{}/v1/metrics", base.trim_end_matches('/')) };
    let secs = o.otlp_metrics_interval_s.unwrap_or(10);
    if secs == 0 || secs > 86_400 {
        return Err(cx.err("observability.otlp_metrics_interval_s", format!("{secs} s; give 1 to 86400")));
    }
    let encoding = match o.otlp_protocol {
        Some(OtlpProtocol::HttpJson) => crate::observability::OtlpEncoding::Json,
        _ => crate::observability::OtlpEncoding::Protobuf,
    };
    Ok(Some(super::OtlpMetrics { url, encoding, interval: Duration::from_secs(secs) }))
}

/// Span recording, sampling, promotion and export from `[observability]`.
fn tracing(cx: &Cx<'_>, o: &ObservabilityTable) -> Result<crate::observability::TraceSettings, ConfigError> {
    use crate::config::schema::subsystems::{OtlpProtocol, TracingExporter as E};
    use crate::observability::{OtlpEncoding, SpanDestination};
    let mut t = crate::observability::TraceSettings { enabled: o.tracing_enabled.unwrap_or(false), ..Default::default() };
    if let Some((key, rate)) = super::settings::pick(cx, ("observability.tracing_sample_rate", o.tracing_sample_rate), ("observability.sample_rate", o.sample_rate)) {
        if !(0.0..=1.0).contains(&rate) {
            return Err(cx.err(&key, format!("{rate} is not a probability; give a number from 0 (no flow) to 1 (every flow)")));
        }
        t.sample_rate = rate;
    }
    t.error_promote = o.error_promote.unwrap_or(true);
    t.latency_promote_ns = o.latency_promote_threshold_ms.unwrap_or(0).saturating_mul(1_000_000);
    if let Some(n) = o.ring_buffer_capacity {
        if n == 0 || n > 1 << 20 {
            return Err(cx.err("observability.ring_buffer_capacity", format!("{n} spans; give 1 to 1048576")));
        }
        t.ring_capacity = n;
    }
    let endpoint = o.tracing_endpoint.clone();
    t.destination = match o.tracing_exporter {
        None | Some(E::None) => None,
        Some(E::OtlpGrpc) => {
            return Err(cx.err(
                "observability.tracing_exporter",
                "`otlp-grpc` is not built into this Torvyn; use `otlp-http` (the same collectors accept it, usually on port 4318)",
            ))
        }
        Some(E::Stdout) => Some(SpanDestination::Stdout),
        Some(E::File) => {
            let Some(path) = endpoint else {
                return Err(cx.err("observability.tracing_exporter", "the `file` exporter writes to `tracing_endpoint`; give it a path"));
            };
            Some(SpanDestination::File(cx.base.join(path.strip_prefix("file://").unwrap_or(&path))))
        }
        Some(E::OtlpHttp) => {
            let base = endpoint.unwrap_or_else(|| "http://127.0.0.1:4318".into());
            if !base.starts_with("http://") {
                return Err(cx.err("observability.tracing_endpoint", format!("`{base}` is not an http:// URL (https is not built in); e.g. http://127.0.0.1:4318")));
            }
            let url = if base.ends_with("/v1/traces") { base } else { format!("{}/v1/traces", base.trim_end_matches('/')) };
            let encoding = match o.otlp_protocol {
                Some(OtlpProtocol::HttpJson) => OtlpEncoding::Json,
                _ => OtlpEncoding::Protobuf,
            };
            Some(SpanDestination::OtlpHttp { url, encoding })
        }
    };
    Ok(t)
}

/// The address `/metrics` is served at, if the manifest asks for it:
/// `prometheus_enabled = true` or `metrics_exporter = "prometheus"`, at
/// `metrics_endpoint` (`host:port` or `http://host:port[/metrics]`;
/// default `127.0.0.1:9464`).
fn prometheus_addr(cx: &Cx<'_>, o: &ObservabilityTable) -> Result<Option<String>, ConfigError> {
    use crate::config::schema::subsystems::MetricsExporter as E;
    let wanted = prometheus_wanted(o);
    if let Some(e) = o.metrics_exporter.filter(|e| matches!(e, E::Stdout | E::File)) {
        cx.warn("observability.metrics_exporter", format!("`{}` metrics export is not built; `prometheus` and `otlp` are", exporter_name(e)));
    }
    if !wanted {
        return Ok(None);
    }
    let Some(endpoint) = &o.metrics_endpoint else {
        return Ok(Some("127.0.0.1:9464".into()));
    };
    let bare = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    let bare = bare.strip_suffix("/metrics").unwrap_or(bare).trim_end_matches('/');
    if bare.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
        return Err(cx.err(
            "observability.metrics_endpoint",
            format!("`{endpoint}` is not an address to serve metrics at; write host:port, for example \"127.0.0.1:9464\""),
        ));
    }
    Ok(Some(bare.to_string()))
}

fn exporter_name(e: crate::config::schema::subsystems::MetricsExporter) -> &'static str {
    use crate::config::schema::subsystems::MetricsExporter as E;
    match e {
        E::Prometheus => "prometheus",
        E::Otlp => "otlp",
        E::Stdout => "stdout",
        E::File => "file",
        E::None => "none",
    }
}

fn prometheus_wanted(o: &ObservabilityTable) -> bool {
    use super::schema::subsystems::MetricsExporter as E;
    o.prometheus_enabled == Some(true) || o.metrics_exporter == Some(E::Prometheus)
}
