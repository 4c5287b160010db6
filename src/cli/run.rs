//! `torvyn run <manifest-or-folder> [flow]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

pub fn run(args: RunArgs, format: Format) -> i32 {
    let pipeline = match args.manifest.load() {
        Ok(p) => p,
        Err(code) => return code,
    };
    let host = match Host::builder()
        .worker_threads(pipeline.runtime.worker_threads)
        .max_memory_bytes(pipeline.runtime.memory_limit.max(256 << 20))
        .max_instances(pipeline.runtime.max_instances)
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
    } else if interrupted.load(Ordering::SeqCst) {
        EXIT_INTERRUPTED
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
