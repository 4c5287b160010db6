//! `torvyn run [manifest] [flow] [--limit N] [--timeout DUR] [--input PATH|-]
//! [--output PATH|-]`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use super::manifest::{FAILURE, ManifestArgs, USAGE};
use super::run_io::{self, DataFormat, Drain, Feed};
use super::style::{Paint, paint};
use super::{Format, output};
use crate::host::Host;
use crate::reactor::FlowSummary;
use crate::types::FlowState;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Print the flow's audit trail (capability denials and first uses) after the summary.
    #[arg(long)]
    pub audit: bool,
    /// Stop the sources after N elements in all; the flow then drains and completes.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Give up (and cancel the flow) after this long: `30s`, `5m`, `1h`,
    /// `250ms`, `1.5s` (a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Torvyn's log level for this run: error, warn, info, debug, trace.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Feed the flow's source from a file, or `-` for stdin.
    #[arg(long, value_name = "PATH|-")]
    pub input: Option<String>,
    /// How `--input` is cut into elements.
    #[arg(long, value_enum, default_value = "lines")]
    pub input_format: DataFormat,
    /// Write what reaches the sinks to a file, or `-` for stdout.
    #[arg(long, value_name = "PATH|-")]
    pub output: Option<String>,
    /// How `--output` is written.
    #[arg(long, value_enum, default_value = "lines")]
    pub output_format: DataFormat,
    /// Serve Prometheus metrics at http://ADDR/metrics while the flow runs
    /// (`127.0.0.1:9464`; port 0 picks one, named on stderr). Overrides
    /// `[observability] metrics_endpoint`.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Continue this W3C trace: 00-<trace id>-<parent id>-<flags>.
    #[arg(long, value_name = "TRACEPARENT", value_parser = parse_traceparent)]
    pub traceparent: Option<crate::observability::TraceParent>,
}

fn parse_traceparent(text: &str) -> Result<crate::observability::TraceParent, String> {
    text.parse().map_err(|e: crate::observability::TraceParentError| e.to_string())
}

/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

/// `30s`, `5m`, `1h`, `250ms`, `1.5s`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let millis_per_unit: u64 = match unit.trim() {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        other => return Err(format!("`{other}` is not a duration unit; use ms, s, m or h")),
    };
    if let Ok(whole) = number.parse::<u64>() {
        // Huge values mean "no limit" in practice: saturate, never overflow.
        return Ok(match whole.checked_mul(millis_per_unit) {
            Some(ms) => Duration::from_millis(ms),
            None => Duration::MAX,
        });
    }
    let n: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration; write e.g. 30s, 5m, 250ms"))?;
    Duration::try_from_secs_f64(n * millis_per_unit as f64 / 1000.0).map_err(|_| format!("`{text}` is not a usable duration"))
}

pub fn run(args: RunArgs) -> i32 {
    let (pipeline, flow_name) = match args.manifest.load_flow() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let memory = pipeline
        .flow(&flow_name)
        .into_iter()
        .flat_map(|f| f.nodes.iter().filter_map(|n| n.memory_limit))
        .fold(pipeline.runtime.memory_limit, u64::max);
    let host = match Host::builder()
        .worker_threads(pipeline.runtime.worker_threads)
        .max_memory_bytes(memory.max(256 << 20))
        .max_instances(pipeline.runtime.max_instances)
        .compilation_cache(pipeline.runtime.compilation_cache_dir.clone())
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    // Served until this function returns (the flow's summary is printed first).
    let _metrics = match args.metrics_addr.as_ref().or(pipeline.runtime.prometheus_addr.as_ref()) {
        Some(addr) => match host.serve_metrics(addr) {
            Ok(server) => {
                output::note(format!("metrics at http://{}/metrics", server.addr()));
                Some(server)
            }
            Err(e) => {
                output::error(e);
                return USAGE;
            }
        },
        None => None,
    };
    // Pushed every interval and once more at the end (dropped after the summary).
    let _pusher = match &pipeline.runtime.otlp_metrics {
        Some(o) => match host.push_metrics_otlp(&o.url, o.encoding, o.interval) {
            Ok(p) => Some(p),
            Err(e) => {
                output::error(e);
                return FAILURE;
            }
        },
        None => None,
    };
    let roles = match host.node_roles(&pipeline, &flow_name) {
        Ok(r) => r,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let feed = args.input.as_deref().map(|i| if i == "-" { Feed::Stdin } else { Feed::File(PathBuf::from(i)) });
    let drain = args.output.as_deref().map(|o| if o == "-" { Drain::Stdout } else { Drain::File(PathBuf::from(o)) });
    if let Some(Feed::File(p)) = &feed {
        // Not only regular files: /dev/stdin, a FIFO, a process substitution.
        if !p.exists() || p.is_dir() {
            output::error(format!("--input `{}` does not exist or is a folder", p.display()));
            return USAGE;
        }
    }
    if matches!(drain, Some(Drain::Stdout)) && output::format() == Format::Json {
        output::error("--output - would mix the flow's output into the JSON document on stdout; give --output a file");
        return USAGE;
    }
    let mut pipeline = pipeline;
    let Some(def) = pipeline.flows.iter_mut().find(|f| f.name == flow_name) else {
        output::error(format!("no flow named `{flow_name}`"));
        return USAGE;
    };
    def.limit = args.limit;
    if output::format() == Format::Json {
        // stdout carries the JSON document: a node granted the host's
        // stdout writes to stderr instead.
        for node in &mut def.nodes {
            for cap in &mut node.capabilities {
                if crate::security::Capability::parse(cap).is_ok_and(|c| c == crate::security::Capability::Stdout) {
                    *cap = "stdio:stderr".into();
                }
            }
        }
    }
    let wiring = match run_io::wire(def, &roles, feed, drain, output::format() == Format::Json) {
        Ok(w) => w,
        Err(e) => {
            output::error(e);
            return USAGE;
        }
    };
    for note in &wiring.notes {
        log::info!("{note}");
    }
    // Outputs are opened before anything runs, each once (sinks sharing a
    // file share its writer): (egress, writer, flush after each element).
    let mut outputs: Vec<(String, run_io::Output, bool)> = Vec::with_capacity(wiring.drains.len());
    let mut opened: Vec<(String, run_io::Output)> = Vec::new();
    // Data on stdout keeps stdout for data: the summary goes to stderr.
    let data_on_stdout = wiring.drains.iter().any(|(_, to)| matches!(to, Drain::Stdout));
    for (port, to) in wiring.drains {
        let key = format!("{to:?}");
        let out = match opened.iter().find(|(k, _)| *k == key) {
            Some((_, out)) => Arc::clone(out),
            None => match run_io::open(&to) {
                Ok(out) => {
                    opened.push((key, Arc::clone(&out)));
                    out
                }
                Err(e) => {
                    output::error(e);
                    return USAGE;
                }
            },
        };
        outputs.push((port, out, !matches!(to, Drain::File(_))));
    }
    // stdout carrying data or the JSON document keeps it: spans for stdout go to stderr.
    if data_on_stdout || output::format() == Format::Json {
        if pipeline.runtime.tracing.destination == Some(crate::observability::SpanDestination::Stdout) {
            pipeline.runtime.tracing.destination = Some(crate::observability::SpanDestination::Stderr);
        }
    }
    let options = crate::FlowOptions { traceparent: args.traceparent };
    let flow = match host.start_flow_with(&pipeline, &flow_name, &options) {
        Ok(f) => f,
        Err(e) => {
            output::error(e);
            return FAILURE;
        }
    };
    let max = usize::try_from(pipeline.runtime.max_buffer_size).unwrap_or(usize::MAX);
    let feeders: Vec<_> = wiring
        .feeds
        .into_iter()
        .map(|(port, from)| run_io::feed(flow.clone(), port, from, args.input_format, args.limit, max))
        .collect();
    let drainers: Vec<_> = outputs
        .into_iter()
        .map(|(port, out, interactive)| run_io::drain(flow.clone(), port, out, interactive, args.output_format))
        .collect();
    // Ctrl-C cancels the flow (its summary is still printed); a second
    // Ctrl-C leaves at once.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let (flow, interrupted) = (flow.clone(), Arc::clone(&interrupted));
        let installed = ctrlc::set_handler(move || {
            if interrupted.swap(true, Ordering::SeqCst) {
                std::process::exit(EXIT_INTERRUPTED);
            }
            eprintln!("interrupted; cancelling the flow (Ctrl-C again to quit now)");
            flow.cancel();
        });
        if let Err(e) = installed {
            log::warn!("cannot handle Ctrl-C: {e}");
        }
    }
    let summary = match flow.wait(args.timeout) {
        Ok(s) => s,
        Err(e) => {
            flow.cancel();
            output::error(format!("{e}; cancelling"));
            match flow.wait(Some(Duration::from_secs(10))) {
                Ok(s) => s,
                Err(e) => {
                    output::error(e);
                    return FAILURE;
                }
            }
        }
    };
    // Drains end with the flow. A feeder may be blocked reading an input
    // that has nothing more to say (a terminal, an idle pipe) after the flow
    // ended: it gets a moment to finish, then is left behind.
    let grace = std::time::Instant::now() + Duration::from_millis(200);
    while feeders.iter().any(|f| !f.is_finished()) && std::time::Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(5));
    }
    let finished: Vec<_> = feeders.into_iter().filter(|f| f.is_finished()).collect();
    let mut io_failed = false;
    for handle in finished.into_iter().chain(drainers) {
        match handle.join() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                output::error(e);
                io_failed = true;
            }
            Err(_) => io_failed = true,
        }
    }
    host.shutdown(Duration::from_secs(10));
    // The last metrics push sees the ended flow; the last spans are written.
    drop(_pusher);
    if !crate::security::flush_audit(Duration::from_secs(5)) {
        output::warning("some audit events were still being written when torvyn run ended");
    }
    if !crate::observability::flush_spans(Duration::from_secs(5)) {
        output::warning("some spans were still being exported when torvyn run ended");
    }
    match output::format() {
        Format::Human if !output::quiet() => {
            let printed = if data_on_stdout { print_summary(&summary, &mut std::io::stderr().lock()) } else { print_summary(&summary, &mut std::io::stdout().lock()) };
            if let Err(e) = printed {
                log::warn!("cannot print the flow summary: {e}");
            }
        }
        Format::Human => {}
        Format::Json => {
            let mut json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap_or_default();
            if args.audit {
                json["audit"] = serde_json::to_value(flow.audit_events()).unwrap_or_default();
            }
            output::result(json)
        }
    }
    if args.audit && output::format() == Format::Human {
        let events = flow.audit_events();
        let mut text = format!("audit trail: {} event(s)\n", events.len());
        for e in &events {
            let kind = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            text += &format!("  {kind:<18} {:<14} {:<30} {} ({})\n", e.node, e.capability, e.target, e.outcome);
        }
        if data_on_stdout {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    if summary.state == FlowState::Completed && !io_failed {
        0
    } else if interrupted.load(Ordering::SeqCst) {
        EXIT_INTERRUPTED
    } else {
        if let Some(e) = &summary.error {
            output::error(e);
        }
        FAILURE
    }
}

fn print_summary(s: &FlowSummary, to: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(to)?;
    let state = paint(&s.state.to_string(), if s.state == FlowState::Completed { Paint::Good } else { Paint::Bad });
    writeln!(to, "flow `{}` {state} in {:.3} ms", s.flow, s.duration.as_secs_f64() * 1000.0)?;
    writeln!(to, "  elements          {}", s.elements)?;
    writeln!(to, "  copies            {} ({:.2} per element)", s.copies, s.copies_per_element())?;
    writeln!(to, "  bytes copied      {}", s.bytes_copied)?;
    for e in &s.edges {
        let port = if e.port == crate::pipeline::OUTPUT_PORT { String::new() } else { format!(".{}", e.port) };
        let dropped = if e.dropped > 0 { format!(", {} dropped ({})", e.dropped, e.policy) } else { String::new() };
        writeln!(to, "  peak queue depth  {}{port} -> {}: {} of {}{dropped}", e.from, e.to, e.peak_depth, e.capacity)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3 weeks").unwrap_err().contains("`weeks`"));
        assert_eq!(parse_duration("18446744073709551615"), Ok(Duration::MAX));
    }
}
