//! `torvyn trace`: run a flow at the diagnostic level and show, for each
//! element, its path through the nodes: per-stage time, queue wait before
//! each stage, copies and bytes, buffer handles; backpressure episodes
//! inline when asked. Also as JSON, or as OTLP/JSON for any trace viewer.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::manifest::{FAILURE, ManifestArgs, USAGE};
use super::output;
use crate::observability::{BackpressureEpisode, Level, SpanBatch, SpanRecord};
use crate::{FlowOptions, Host};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Pretty,
    Json,
    Otlp,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Stop the sources after N elements.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: u64,
    /// pretty (a path per element), json, or otlp (OTLP/JSON).
    #[arg(long, value_enum, default_value = "pretty")]
    pub trace_format: TraceFormat,
    /// Write the trace to this file instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output_trace: Option<PathBuf>,
    /// Show when full queues held producers back.
    #[arg(long)]
    pub show_backpressure: bool,
    /// Show the buffer handles each stage read and wrote.
    #[arg(long)]
    pub show_buffers: bool,
    /// Continue this W3C trace: 00-<trace id>-<parent id>-<flags>.
    #[arg(long, value_name = "TRACEPARENT", value_parser = |t: &str| t.parse::<crate::observability::TraceParent>().map_err(|e| e.to_string()))]
    pub traceparent: Option<crate::observability::TraceParent>,
}

fn ns(v: u64) -> String {
    match v {
        v if v >= 1_000_000_000 => format!("{:.2} s", v as f64 / 1e9),
        v if v >= 1_000_000 => format!("{:.2} ms", v as f64 / 1e6),
        v if v >= 1_000 => format!("{:.1} µs", v as f64 / 1e3),
        v => format!("{v} ns"),
    }
}

/// One element's path: the spans from a source's call down its children.
fn paths(spans: &[SpanRecord]) -> Vec<Vec<&SpanRecord>> {
    let mut roots: Vec<&SpanRecord> = spans.iter().filter(|s| s.parent_id == 0).collect();
    roots.sort_by_key(|s| s.start_unix_ns);
    roots
        .into_iter()
        .map(|root| {
            let mut path = vec![root];
            let mut frontier = vec![root.span_id];
            while let Some(parent) = frontier.pop() {
                let mut kids: Vec<&SpanRecord> = spans.iter().filter(|s| s.parent_id == parent).collect();
                kids.sort_by_key(|s| s.start_unix_ns);
                for k in kids {
                    frontier.push(k.span_id);
                    path.push(k);
                }
            }
            path.sort_by_key(|s| s.start_unix_ns);
            path
        })
        .collect()
}

fn pretty(trace_id: &str, spans: &[SpanRecord], episodes: &[BackpressureEpisode], args: &TraceArgs) -> String {
    let by_id = |id: u64| spans.iter().find(|s| s.span_id == id);
    let mut out = format!("trace {trace_id}\n");
    let mut shown = 0usize;
    for (n, path) in paths(spans).iter().enumerate() {
        let first = path[0];
        if args.show_backpressure {
            while shown < episodes.len() && episodes[shown].start_unix_ns <= first.start_unix_ns {
                let e = &episodes[shown];
                out += &format!("  ‖ backpressure: {}.{} -> {} full, producer held {}\n", e.from, e.port, e.to, ns(e.duration_ns));
                shown += 1;
            }
        }
        out += &format!("element {n} (from `{}`, sequence {})\n", first.node, first.sequence);
        for s in path {
            let wait = by_id(s.parent_id).map(|p| s.start_unix_ns.saturating_sub(p.start_unix_ns + p.duration_ns));
            let mut line = format!("  {:<14} {:<9} {:>10}", s.node, s.call, ns(s.duration_ns));
            line += &match wait {
                Some(w) => format!("   queued {:>10}", ns(w)),
                None => format!("   {:>17}", ""),
            };
            line += &format!("   copies {} ({} B)", s.copies, s.bytes_copied);
            if args.show_buffers {
                // A handle is its slot and the slot's generation.
                let h = |b: Option<u64>| b.map_or("-".to_string(), |b| format!("#{}.{}", b & 0xffff_ffff, b >> 32));
                line += &format!("   buffer {} -> {}", h(s.input_buffer), h(s.output_buffer));
            }
            if !s.ok {
                line += "   FAILED";
            }
            out += &line;
            out += "\n";
        }
        let last = path.iter().max_by_key(|s| s.start_unix_ns + s.duration_ns).unwrap_or(&first);
        out += &format!("  end to end {}\n", ns((last.start_unix_ns + last.duration_ns).saturating_sub(first.start_unix_ns)));
    }
    if args.show_backpressure {
        for e in &episodes[shown..] {
            out += &format!("  ‖ backpressure: {}.{} -> {} full, producer held {}\n", e.from, e.port, e.to, ns(e.duration_ns));
        }
    }
    out
}

pub fn trace(args: TraceArgs) -> i32 {
    let (mut pipeline, flow_name) = match args.manifest.load_flow() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = super::manifest::refuse_endpoints(&pipeline, &flow_name, "trace") {
        return code;
    }
    super::manifest::quiet_guests(&mut pipeline);
    let Some(def) = pipeline.flows.iter_mut().find(|f| f.name == flow_name) else {
        return USAGE;
    };
    def.limit = Some(args.limit);
    let nodes = def.nodes.len() as u64;
    pipeline.runtime.observability = Level::Diagnostic;
    // Room for every span of the run (several calls per element per node).
    pipeline.runtime.tracing.ring_capacity = usize::try_from(args.limit.saturating_mul(nodes).saturating_mul(2).saturating_add(64)).unwrap_or(usize::MAX).min(1 << 24);
    pipeline.runtime.tracing.destination = None;
    let host = match Host::builder().worker_threads(pipeline.runtime.worker_threads).compilation_cache(pipeline.runtime.compilation_cache_dir.clone()).build() {
        Ok(h) => h,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let flow = match host.start_flow_with(&pipeline, &flow_name, &FlowOptions { traceparent: args.traceparent }) {
        Ok(f) => f,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let summary = match flow.wait(Some(Duration::from_secs(600))) {
        Ok(s) => s,
        Err(e) => {
            flow.cancel();
            output::error(e);
            return FAILURE;
        }
    };
    let spans = flow.spans();
    let episodes = flow.backpressure_episodes();
    let text = match args.trace_format {
        TraceFormat::Pretty => pretty(&flow.trace_id(), &spans, &episodes, &args),
        TraceFormat::Json => {
            let elements: Vec<Vec<&SpanRecord>> = paths(&spans);
            serde_json::to_string_pretty(&serde_json::json!({
                "trace_id": flow.trace_id(),
                "flow": flow_name,
                "elements": elements,
                "backpressure": episodes,
            }))
            .unwrap_or_default()
                + "\n"
        }
        TraceFormat::Otlp => {
            let trace_id = flow.trace_parent().trace_id;
            let batch = SpanBatch { flow: flow_name.clone(), flow_id: flow.id().get(), trace_id, root: None, spans };
            serde_json::to_string(&crate::observability::otlp_traces(&batch)).unwrap_or_default() + "\n"
        }
    };
    match &args.output_trace {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                output::error(format!("cannot write --output-trace `{}`: {e}", path.display()));
                return FAILURE;
            }
            output::note(format!("trace written to {}", path.display()));
        }
        None => print!("{text}"),
    }
    if summary.state == crate::FlowState::Completed {
        0
    } else {
        output::error(format!("flow `{flow_name}` {}: {}", summary.state, summary.error.unwrap_or_default()));
        FAILURE
    }
}
