//! `torvyn run <manifest-or-folder> [flow]`.

use std::time::Duration;

use clap::Args;

use super::Format;
use super::manifest::ManifestArgs;
use super::style::{Paint, paint};
use crate::host::Host;
use crate::reactor::FlowSummary;
use crate::types::FlowState;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// The flow to run (default: `main`, or the manifest's only flow).
    pub flow: Option<String>,
    /// Give up (and cancel the flow) after this many seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
}

pub fn run(args: RunArgs, format: Format) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let host = match Host::builder()
        .worker_threads(pipeline.runtime.worker_threads)
        .max_memory_bytes(pipeline.runtime.memory_limit.max(256 << 20))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let started = match &args.flow {
        Some(name) => host.start_flow(&pipeline, name),
        None => host.start_default_flow(&pipeline),
    };
    let flow = match started {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let summary = match flow.wait(args.timeout.map(Duration::from_secs)) {
        Ok(s) => s,
        Err(e) => {
            flow.cancel();
            eprintln!("error: {e}; cancelling");
            match flow.wait(Some(Duration::from_secs(10))) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            }
        }
    };
    host.shutdown(Duration::from_secs(10));
    match format {
        Format::Human => print_summary(&summary),
        Format::Json => println!("{}", summary.to_json()),
    }
    if summary.state == FlowState::Completed {
        0
    } else {
        if let Some(e) = &summary.error {
            eprintln!("error: {e}");
        }
        1
    }
}

fn print_summary(s: &FlowSummary) {
    println!();
    let state = paint(&s.state.to_string(), if s.state == FlowState::Completed { Paint::Good } else { Paint::Bad });
    println!("flow `{}` {state} in {:.3} ms", s.flow, s.duration.as_secs_f64() * 1000.0);
    println!("  elements          {}", s.elements);
    println!("  copies            {} ({:.2} per element)", s.copies, s.copies_per_element());
    println!("  bytes copied      {}", s.bytes_copied);
    for e in &s.edges {
        let port = if e.port == crate::pipeline::OUTPUT_PORT { String::new() } else { format!(".{}", e.port) };
        println!("  peak queue depth  {}{port} -> {}: {} of {}", e.from, e.to, e.peak_depth, e.capacity);
    }
}
