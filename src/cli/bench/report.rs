//! What `torvyn bench` measured, and how it is written: pretty, JSON, CSV,
//! Markdown (HTML in `html.rs`); and the comparison with a saved report.

use serde::{Deserialize, Serialize};

use crate::observability::HistogramSnapshot;

/// One benchmark (JSON is what `--baseline` saves and `--compare` reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    pub flow: String,
    pub manifest: String,
    pub torvyn_version: String,
    /// Unix seconds when the measurement ended.
    pub finished_at: u64,
    pub warmup_s: f64,
    /// The measured window.
    pub duration_s: f64,
    /// Flow runs that overlapped the window (a flow whose sources finish
    /// is started again).
    pub runs: u64,
    pub elements: u64,
    pub elements_per_s: f64,
    /// elements/s × the mean element size (of the timed sample).
    pub bytes_per_s: f64,
    pub mean_element_bytes: f64,
    /// Source entry to sink exit (the timed sample of level production).
    pub latency_ns: HistogramSnapshot,
    pub copies_per_element: f64,
    pub bytes_copied_per_element: f64,
    /// Buffers served from a pool free list over buffers handed out.
    pub pool_reuse_rate: f64,
    pub edges: Vec<EdgeRow>,
    pub nodes: Vec<NodeRow>,
    /// (seconds into the window, elements/s over the interval before).
    pub timeline: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeRow {
    pub from: String,
    pub port: String,
    pub to: String,
    pub peak_depth: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRow {
    pub node: String,
    pub component: String,
    pub invocations: u64,
    /// Mean and p99 time per call (queue wait excluded).
    pub mean_ns: f64,
    pub p99_ns: u64,
    /// Share of all nodes' call time.
    pub time_share: f64,
}

/// `--report-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Pretty,
    Json,
    Csv,
    Markdown,
    Html,
}

fn ns(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2} s", v / 1e9),
        v if v >= 1e6 => format!("{:.2} ms", v / 1e6),
        v if v >= 1e3 => format!("{:.2} µs", v / 1e3),
        v => format!("{v:.0} ns"),
    }
}

fn bytes(v: f64) -> String {
    match v {
        v if v >= (1u64 << 30) as f64 => format!("{:.2} GiB", v / (1u64 << 30) as f64),
        v if v >= (1u64 << 20) as f64 => format!("{:.2} MiB", v / (1u64 << 20) as f64),
        v if v >= 1024.0 => format!("{:.2} KiB", v / 1024.0),
        v => format!("{v:.0} B"),
    }
}

impl BenchReport {
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Pretty => self.pretty(),
            ReportFormat::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            ReportFormat::Csv => self.csv(),
            ReportFormat::Markdown => self.markdown(),
            ReportFormat::Html => super::html::page(self),
        }
    }

    fn pretty(&self) -> String {
        let l = &self.latency_ns;
        let mut s = format!(
            "flow `{}`: {:.1} s measured after {:.1} s warm-up, {} run(s)\n\
             throughput        {:.0} elements/s, {}/s ({} per element)\n\
             latency           p50 {}  p90 {}  p99 {}  p999 {}  max {}  ({} timed)\n\
             copies            {:.2} per element, {} per element\n\
             pool reuse        {:.1} %\n",
            self.flow,
            self.duration_s,
            self.warmup_s,
            self.runs,
            self.elements_per_s,
            bytes(self.bytes_per_s),
            bytes(self.mean_element_bytes),
            ns(l.p50 as f64),
            ns(l.p90 as f64),
            ns(l.p99 as f64),
            ns(l.p999 as f64),
            ns(l.max as f64),
            l.count,
            self.copies_per_element,
            bytes(self.bytes_copied_per_element),
            self.pool_reuse_rate * 100.0
        );
        s += "nodes             share   mean      p99       calls\n";
        for n in &self.nodes {
            s += &format!("  {:<15} {:>5.1} %  {:<9} {:<9} {}\n", n.node, n.time_share * 100.0, ns(n.mean_ns), ns(n.p99_ns as f64), n.invocations);
        }
        s += "peak queue depth\n";
        for e in &self.edges {
            s += &format!("  {}.{} -> {}: {}\n", e.from, e.port, e.to, e.peak_depth);
        }
        s
    }

    fn csv(&self) -> String {
        let l = &self.latency_ns;
        let mut s = String::from("metric,scope,value\n");
        let mut row = |m: &str, scope: &str, v: String| s += &format!("{m},{scope},{v}\n");
        row("elements_per_s", "flow", format!("{:.3}", self.elements_per_s));
        row("bytes_per_s", "flow", format!("{:.3}", self.bytes_per_s));
        for (k, v) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99), ("p999", l.p999), ("max", l.max)] {
            row(&format!("latency_{k}_ns"), "flow", v.to_string());
        }
        row("copies_per_element", "flow", format!("{:.4}", self.copies_per_element));
        row("bytes_copied_per_element", "flow", format!("{:.3}", self.bytes_copied_per_element));
        row("pool_reuse_rate", "flow", format!("{:.4}", self.pool_reuse_rate));
        for n in &self.nodes {
            row("time_share", &n.node, format!("{:.4}", n.time_share));
            row("mean_ns", &n.node, format!("{:.1}", n.mean_ns));
        }
        for e in &self.edges {
            row("peak_depth", &format!("{}.{}->{}", e.from, e.port, e.to), e.peak_depth.to_string());
        }
        s
    }

    fn markdown(&self) -> String {
        let l = &self.latency_ns;
        let mut s = format!("## torvyn bench: flow `{}`\n\n| figure | value |\n|---|---|\n", self.flow);
        s += &format!("| throughput | {:.0} elements/s, {}/s |\n", self.elements_per_s, bytes(self.bytes_per_s));
        s += &format!("| latency p50 / p90 / p99 / p999 / max | {} / {} / {} / {} / {} |\n", ns(l.p50 as f64), ns(l.p90 as f64), ns(l.p99 as f64), ns(l.p999 as f64), ns(l.max as f64));
        s += &format!("| copies per element | {:.2} ({}) |\n| pool reuse | {:.1} % |\n\n", self.copies_per_element, bytes(self.bytes_copied_per_element), self.pool_reuse_rate * 100.0);
        s += "| node | time share | mean | p99 |\n|---|---|---|---|\n";
        for n in &self.nodes {
            s += &format!("| {} | {:.1} % | {} | {} |\n", n.node, n.time_share * 100.0, ns(n.mean_ns), ns(n.p99_ns as f64));
        }
        s
    }

    /// The changes from `base`, and whether throughput or p99 got worse by
    /// more than `threshold` (a fraction).
    pub fn compare(&self, base: &BenchReport, threshold: f64) -> (String, bool) {
        let change = |now: f64, then: f64| if then == 0.0 { 0.0 } else { (now - then) / then };
        let tput = change(self.elements_per_s, base.elements_per_s);
        let p99 = change(self.latency_ns.p99 as f64, base.latency_ns.p99 as f64);
        let p50 = change(self.latency_ns.p50 as f64, base.latency_ns.p50 as f64);
        let copies = change(self.copies_per_element, base.copies_per_element);
        let worse = tput < -threshold || p99 > threshold;
        let mut s = format!("compared with the run of {} (threshold {:.1} %)\n", base.finished_at, threshold * 100.0);
        s += &format!("  throughput   {:>12.0} -> {:>12.0} elements/s  {:+.1} %\n", base.elements_per_s, self.elements_per_s, tput * 100.0);
        s += &format!("  latency p50  {:>12} -> {:>12}  {:+.1} %\n", ns(base.latency_ns.p50 as f64), ns(self.latency_ns.p50 as f64), p50 * 100.0);
        s += &format!("  latency p99  {:>12} -> {:>12}  {:+.1} %\n", ns(base.latency_ns.p99 as f64), ns(self.latency_ns.p99 as f64), p99 * 100.0);
        s += &format!("  copies/el    {:>12.2} -> {:>12.2}  {:+.1} %\n", base.copies_per_element, self.copies_per_element, copies * 100.0);
        s += if worse { "  REGRESSION: throughput or p99 worse than the threshold\n" } else { "  within the threshold\n" };
        (s, worse)
    }
}
