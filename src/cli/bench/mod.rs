//! `torvyn bench`: run a flow for a while (starting it again whenever its
//! sources finish), then report throughput, latency, copies, queues, pool
//! reuse and where the time went; save it as a baseline or compare it with
//! one (exit 3 on a regression beyond `--fail-threshold`).

mod html;
mod report;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::manifest::{FAILURE, ManifestArgs, USAGE};
use super::output;
use super::run::parse_duration;
use crate::Host;
use crate::contracts::Role;
use crate::observability::{HistogramSnapshot, MetricsSnapshot};
pub use report::{BenchReport, ReportFormat};

/// Exit code when `--compare` finds a regression.
const REGRESSION: i32 = 3;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// How long to measure.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to run first without measuring.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Write the report to this file (in --report-format; default json).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// pretty, json, csv, markdown or html (a self-contained page with plots).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report_format: Option<ReportFormat>,
    /// Save this run as NAME (.torvyn/bench/NAME.json next to the manifest).
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Compare with a saved baseline NAME, or a report file.
    #[arg(long, value_name = "NAME|PATH")]
    pub compare: Option<String>,
    /// With --compare: how much worse throughput or p99 may be (e.g. 5%).
    #[arg(long, value_name = "PERCENT", default_value = "5%", value_parser = parse_percent)]
    pub fail_threshold: f64,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim().trim_end_matches('%');
    match t.parse::<f64>() {
        Ok(v) if (0.0..=1000.0).contains(&v) => Ok(v / 100.0),
        _ => Err(format!("`{text}` is not a percentage; write e.g. 5%")),
    }
}

/// What one run of the flow added inside the measured window.
#[derive(Default)]
struct Window {
    elements: u64,
    copies: u64,
    bytes_copied: u64,
    latency: HistogramSnapshot,
    /// Per node: invocations and processing time.
    nodes: Vec<(u64, HistogramSnapshot)>,
}

impl Window {
    /// `now` minus `base` (a snapshot of the same flow, or none).
    fn between(now: &MetricsSnapshot, base: Option<&MetricsSnapshot>) -> Window {
        let empty = HistogramSnapshot::default();
        Window {
            elements: now.elements - base.map_or(0, |b| b.elements),
            copies: now.copies - base.map_or(0, |b| b.copies),
            bytes_copied: now.bytes_copied - base.map_or(0, |b| b.bytes_copied),
            latency: now.latency_ns.since(base.map_or(&empty, |b| &b.latency_ns)),
            nodes: now
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let b = base.and_then(|b| b.nodes.get(i));
                    (n.invocations - b.map_or(0, |b| b.invocations), n.processing_ns.since(b.map_or(&empty, |b| &b.processing_ns)))
                })
                .collect(),
        }
    }

    fn add(&mut self, w: Window) {
        self.elements += w.elements;
        self.copies += w.copies;
        self.bytes_copied += w.bytes_copied;
        self.latency = self.latency.merge(&w.latency);
        if self.nodes.is_empty() {
            self.nodes = w.nodes;
        } else {
            for (mine, theirs) in self.nodes.iter_mut().zip(w.nodes) {
                mine.0 += theirs.0;
                mine.1 = mine.1.merge(&theirs.1);
            }
        }
    }
}

pub fn bench(args: BenchArgs) -> i32 {
    let (mut pipeline, flow_name) = match args.manifest.load_flow() {
        Ok(p) => p,
        Err(code) => return code,
    };
    // A benchmark measures the flow, not the terminal, and at the level
    // flows run at in production, exporting nothing.
    super::manifest::quiet_guests(&mut pipeline);
    pipeline.runtime.observability = crate::observability::Level::Production;
    pipeline.runtime.tracing.destination = None;
    if args.duration.is_zero() {
        output::error("--duration must be more than zero");
        return USAGE;
    }
    let baseline_dir = pipeline.file.as_ref().and_then(|f| f.parent()).map_or_else(|| PathBuf::from("."), PathBuf::from).join(".torvyn/bench");
    let base = match &args.compare {
        Some(name) => {
            let path = if std::path::Path::new(name).is_file() { PathBuf::from(name) } else { baseline_dir.join(format!("{name}.json")) };
            match std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| serde_json::from_str::<BenchReport>(&t).map_err(|e| e.to_string())) {
                Ok(r) => Some(r),
                Err(e) => {
                    output::error(format!("cannot read the baseline `{}`: {e}; save one with --baseline NAME", path.display()));
                    return USAGE;
                }
            }
        }
        None => None,
    };
    let host = match Host::builder().worker_threads(pipeline.runtime.worker_threads).compilation_cache(pipeline.runtime.compilation_cache_dir.clone()).build() {
        Ok(h) => h,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let roles = match host.node_roles(&pipeline, &flow_name) {
        Ok(r) => r,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    if let Err(code) = super::manifest::refuse_endpoints(&pipeline, &flow_name, "bench") {
        return code;
    }
    if !roles.iter().any(|(_, r)| *r == Role::Source) || !roles.iter().any(|(_, r)| *r == Role::Sink) {
        output::error(format!("flow `{flow_name}` needs a source and a sink component to be benchmarked (torvyn bench feeds and drains nothing itself)"));
        return USAGE;
    }
    let progress = std::io::stderr().is_terminal() && !output::quiet();
    let started = Instant::now();
    let measure_from = started + args.warmup;
    let measure_to = measure_from + args.duration;
    let mut total = Window::default();
    let mut runs = 0u64;
    let mut peaks: Vec<(String, String, String, u64)> = Vec::new();
    let (mut reused, mut handed) = (0u64, 0u64);
    let mut timeline: Vec<(f64, f64)> = Vec::new();
    let (mut last_tick, mut last_count) = (measure_from, 0u64);
    let mut mean_bytes = 0.0f64;
    // (node, component, is an instance), in the flow's order.
    let mut names: Vec<(String, String, bool)> = Vec::new();
    while Instant::now() < measure_to {
        let flow = match host.start_flow(&pipeline, &flow_name) {
            Ok(f) => f,
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        };
        // The snapshot the window starts from: taken when a run crosses into
        // the window; none for a run that began inside it.
        let mut base: Option<MetricsSnapshot> = None;
        let mut measuring = Instant::now() >= measure_from;
        let ended = loop {
            let done = flow.wait(Some(Duration::from_millis(50))).is_ok();
            let now = Instant::now();
            if !measuring && now >= measure_from {
                measuring = true;
                base = Some(flow.metrics());
                last_tick = now;
            }
            if measuring && now.duration_since(last_tick) >= Duration::from_millis(250) {
                let m = flow.metrics();
                let so_far = total.elements + Window::between(&m, base.as_ref()).elements;
                let dt = now.duration_since(last_tick).as_secs_f64();
                timeline.push((now.duration_since(measure_from).as_secs_f64(), so_far.saturating_sub(last_count) as f64 / dt));
                (last_tick, last_count) = (now, so_far);
            }
            if progress {
                let phase = if measuring { format!("measuring {:.1} of {:.1} s", now.saturating_duration_since(measure_from).as_secs_f64(), args.duration.as_secs_f64()) } else { format!("warming up {:.1} s", now.duration_since(started).as_secs_f64()) };
                eprint!("\r\x1b[2K{phase}: {} elements", last_count);
            }
            if done {
                break true;
            }
            if now >= measure_to {
                break false;
            }
        };
        let end_metrics = flow.metrics();
        if !ended {
            flow.cancel();
            let _ = flow.wait(Some(Duration::from_secs(10)));
        }
        if let Some(s) = flow.summary() {
            if s.state == crate::FlowState::Failed {
                if progress {
                    eprintln!();
                }
                output::error(format!("flow `{flow_name}` failed during the benchmark: {}", s.error.unwrap_or_default()));
                return FAILURE;
            }
        }
        if measuring {
            runs += 1;
            total.add(Window::between(&end_metrics, base.as_ref()));
            if end_metrics.mean_element_bytes > 0.0 {
                mean_bytes = end_metrics.mean_element_bytes;
            }
            for e in &end_metrics.edges {
                match peaks.iter_mut().find(|p| p.0 == e.from && p.1 == e.port && p.2 == e.to) {
                    Some(p) => p.3 = p.3.max(e.peak_depth),
                    None => peaks.push((e.from.clone(), e.port.clone(), e.to.clone(), e.peak_depth)),
                }
            }
            for t in &end_metrics.pools {
                reused += t.stats.reuses;
                handed += t.stats.reuses + t.stats.allocations;
            }
            if names.is_empty() {
                names = end_metrics.nodes.iter().map(|n| (n.node.clone(), n.component.clone(), n.instance)).collect();
            }
        }
    }
    if progress {
        eprintln!();
    }
    let window = args.duration.as_secs_f64();
    let node_time: Vec<f64> = total.nodes.iter().map(|(calls, h)| h.mean() * *calls as f64).collect();
    let all_time: f64 = node_time.iter().sum();
    let per_el = |v: u64| if total.elements == 0 { 0.0 } else { v as f64 / total.elements as f64 };
    let report = BenchReport {
        flow: flow_name.clone(),
        manifest: pipeline.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
        torvyn_version: env!("CARGO_PKG_VERSION").into(),
        finished_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: window,
        runs,
        elements: total.elements,
        elements_per_s: total.elements as f64 / window,
        bytes_per_s: total.elements as f64 / window * mean_bytes,
        mean_element_bytes: mean_bytes,
        latency_ns: total.latency.clone(),
        copies_per_element: per_el(total.copies),
        bytes_copied_per_element: per_el(total.bytes_copied),
        pool_reuse_rate: if handed == 0 { 0.0 } else { reused as f64 / handed as f64 },
        edges: peaks.into_iter().map(|(from, port, to, peak_depth)| report::EdgeRow { from, port, to, peak_depth }).collect(),
        nodes: total
            .nodes
            .iter()
            .zip(&node_time)
            .enumerate()
            .filter(|(i, _)| names.get(*i).is_some_and(|n| n.2))
            .map(|(i, ((calls, h), t))| report::NodeRow {
                node: names[i].0.clone(),
                component: names[i].1.clone(),
                invocations: *calls,
                mean_ns: h.mean(),
                p99_ns: h.p99,
                time_share: if all_time > 0.0 { t / all_time } else { 0.0 },
            })
            .collect(),
        timeline,
    };
    finish(&args, &report, base.as_ref(), &baseline_dir)
}

/// Print, save and compare.
fn finish(args: &BenchArgs, report: &BenchReport, base: Option<&BenchReport>, baseline_dir: &std::path::Path) -> i32 {
    match output::format() {
        super::Format::Json => output::result(serde_json::to_value(report).unwrap_or_default()),
        super::Format::Human => {
            let stdout_format = if args.report.is_none() { args.report_format.unwrap_or(ReportFormat::Pretty) } else { ReportFormat::Pretty };
            if !output::quiet() || args.report.is_none() {
                print!("{}", report.render(stdout_format));
            }
        }
    }
    if let Some(path) = &args.report {
        let text = report.render(args.report_format.unwrap_or(ReportFormat::Json));
        if let Err(e) = std::fs::write(path, text) {
            output::error(format!("cannot write --report `{}`: {e}", path.display()));
            return FAILURE;
        }
        output::note(format!("report written to {}", path.display()));
    }
    if let Some(name) = &args.baseline {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            output::error(format!("--baseline `{name}` must be a plain name (it becomes .torvyn/bench/{name}.json)"));
            return USAGE;
        }
        let path = baseline_dir.join(format!("{name}.json"));
        let saved = std::fs::create_dir_all(baseline_dir).and_then(|_| std::fs::write(&path, report.render(ReportFormat::Json)));
        if let Err(e) = saved {
            output::error(format!("cannot save the baseline `{}`: {e}", path.display()));
            return FAILURE;
        }
        output::note(format!("baseline `{name}` saved to {}", path.display()));
    }
    if let Some(base) = base {
        let (text, worse) = report.compare(base, args.fail_threshold);
        match output::format() {
            super::Format::Human => print!("{text}"),
            super::Format::Json => output::note(text.trim_end()),
        }
        if worse {
            return REGRESSION;
        }
    }
    0
}
