//! Data in and out of `torvyn run` without writing a component: `--input`
//! replaces the flow's source with a host ingress fed from a file or stdin,
//! `--output` replaces its sinks with host egresses written to a file or
//! stdout. A flow that has no source gets the built-in test source
//! (numbered greetings) and one with no sink the built-in printing sink, so
//! a project of a single processor, filter, router or aggregator runs.
//!
//! Everything goes through the embedding endpoints: host-side, counted by
//! the copy ledger like any ingress or egress, and bounded in memory by
//! the flow's queues (input is read as the flow takes it).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use clap::ValueEnum;
use parking_lot::Mutex;

use crate::config::{EdgeDef, EndpointKind, FlowDef, NodeDef, PortRef};
use crate::contracts::Role;
use crate::host::Flow;
use crate::reactor::EndpointError;

/// How `--input` is cut into elements and `--output` written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// One element per line (the newline is not part of it).
    Lines,
    /// The whole input is one element.
    Bytes,
    /// Each element is a 4-byte big-endian length, then that many bytes.
    LengthPrefixed,
}

/// Greetings the built-in source sends when no `--limit` says otherwise.
pub const GREETINGS: u64 = 1000;

/// What feeds an ingress.
#[derive(Debug, Clone)]
pub enum Feed {
    File(PathBuf),
    Stdin,
    /// `Hello, Torvyn! (n)`, n = 1, 2, …
    Greetings,
}

/// Where egress elements go.
#[derive(Debug, Clone)]
pub enum Drain {
    File(PathBuf),
    Stdout,
    /// The run's JSON owns stdout: the built-in sink prints to stderr.
    Stderr,
}

/// The host-side ends wired into a flow.
#[derive(Debug, Default)]
pub struct Wiring {
    /// Ingress node and what feeds it.
    pub feeds: Vec<(String, Feed)>,
    /// Egress nodes and where they go.
    pub drains: Vec<(String, Drain)>,
    /// What was wired, for the user.
    pub notes: Vec<String>,
}

fn unique(flow: &FlowDef, wanted: &str) -> String {
    let taken = |n: &str| flow.nodes.iter().any(|x| x.name == n);
    if !taken(wanted) {
        return wanted.to_string();
    }
    (2..).map(|i| format!("{wanted}-{i}")).find(|n| !taken(n)).unwrap_or_else(|| wanted.to_string())
}

fn edge(from: &str, to: &str) -> EdgeDef {
    EdgeDef::new(
        PortRef { node: from.to_string(), port: crate::pipeline::OUTPUT_PORT.to_string() },
        PortRef { node: to.to_string(), port: crate::pipeline::INPUT_PORT.to_string() },
    )
}

/// Rewrite `flow` (whose nodes play `roles`) for `input` and `output`.
pub fn wire(flow: &mut FlowDef, roles: &[(String, Role)], input: Option<Feed>, output: Option<Drain>, json: bool) -> Result<Wiring, String> {
    let role = |name: &str| roles.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
    let mut w = Wiring::default();
    let sources: Vec<String> = flow.nodes.iter().filter(|n| role(&n.name) == Some(Role::Source)).map(|n| n.name.clone()).collect();
    if sources.is_empty() {
        let name = unique(flow, "input");
        let heads: Vec<String> = flow
            .nodes
            .iter()
            .filter(|n| !flow.edges.iter().any(|e| e.to.node == n.name))
            .map(|n| n.name.clone())
            .collect();
        for h in &heads {
            flow.edges.push(edge(&name, h));
        }
        flow.nodes.insert(0, NodeDef::endpoint(&name, EndpointKind::Ingress));
        let feed = input.unwrap_or(Feed::Greetings);
        w.notes.push(format!("the flow has no source: `{name}` feeds {} ({})", heads.join(", "), describe_feed(&feed)));
        w.feeds.push((name, feed));
    } else if let Some(feed) = input {
        if sources.len() > 1 {
            return Err(format!("--input feeds one source, and this flow has {}: {}", sources.len(), sources.join(", ")));
        }
        let node = flow.nodes.iter_mut().find(|n| n.name == sources[0]).ok_or("source vanished")?;
        if node.endpoint.is_none() {
            w.notes.push(format!("--input replaces source `{}` ({})", node.name, node.component));
        }
        *node = NodeDef::endpoint(&sources[0], EndpointKind::Ingress);
        w.feeds.push((sources[0].clone(), feed));
    } else {
        for n in flow.nodes.iter().filter(|n| n.endpoint == Some(EndpointKind::Ingress)) {
            w.feeds.push((n.name.clone(), Feed::Greetings));
        }
    }
    let sinks: Vec<String> = flow.nodes.iter().filter(|n| role(&n.name) == Some(Role::Sink)).map(|n| n.name.clone()).collect();
    let default_drain = || if json { Drain::Stderr } else { Drain::Stdout };
    if sinks.is_empty() {
        let name = unique(flow, "output");
        let tails: Vec<String> = flow
            .nodes
            .iter()
            .filter(|n| n.name != name && !flow.edges.iter().any(|e| e.from.node == n.name))
            .map(|n| n.name.clone())
            .collect();
        for t in &tails {
            flow.edges.push(edge(t, &name));
        }
        flow.nodes.push(NodeDef::endpoint(&name, EndpointKind::Egress));
        w.notes.push(format!("the flow has no sink: `{name}` prints what {} emit(s)", tails.join(", ")));
        w.drains.push((name, output.unwrap_or_else(default_drain)));
    } else {
        for s in &sinks {
            let node = flow.nodes.iter_mut().find(|n| n.name == *s).ok_or("sink vanished")?;
            match (&output, node.endpoint) {
                (Some(d), _) => {
                    if node.endpoint.is_none() {
                        w.notes.push(format!("--output replaces sink `{}` ({})", node.name, node.component));
                    }
                    *node = NodeDef::endpoint(s, EndpointKind::Egress);
                    w.drains.push((s.clone(), d.clone()));
                }
                (None, Some(EndpointKind::Egress)) => w.drains.push((s.clone(), default_drain())),
                (None, _) => {}
            }
        }
    }
    Ok(w)
}

fn describe_feed(f: &Feed) -> String {
    match f {
        Feed::File(p) => format!("lines of {}", p.display()),
        Feed::Stdin => "stdin".into(),
        Feed::Greetings => "the built-in test source: numbered greetings".into(),
    }
}

/// Feed ingress `port` of `flow` on a thread, at most `limit` elements of
/// at most `max` bytes each.
pub fn feed(flow: Flow, port: String, from: Feed, format: DataFormat, limit: Option<u64>, max: usize) -> JoinHandle<Result<u64, String>> {
    std::thread::Builder::new()
        .name(format!("torvyn-input-{port}"))
        .spawn(move || {
            let mut sent = 0u64;
            let budget = limit.unwrap_or(u64::MAX);
            let mut push = |data: &[u8], ct: &str| -> Result<bool, String> {
                match flow.push(&port, data, ct, None) {
                    Ok(()) => {
                        sent += 1;
                        Ok(sent < budget)
                    }
                    // The flow ended (finished, failed or cancelled): stop feeding.
                    Err(EndpointError::FlowEnded(_) | EndpointError::Closed(_)) => Ok(false),
                    Err(_) if flow.state().is_terminal() => Ok(false),
                    Err(e) => Err(format!("input `{port}`: {e}")),
                }
            };
            if budget == 0 {
                let _ = flow.close_input(&port);
                return Ok(0);
            }
            let result = match from {
                Feed::Greetings => {
                    let count = limit.unwrap_or(GREETINGS);
                    let mut r = Ok(());
                    for n in 1..=count {
                        match push(format!("Hello, Torvyn! ({n})").as_bytes(), "text/plain") {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(e) => {
                                r = Err(e);
                                break;
                            }
                        }
                    }
                    r
                }
                Feed::Stdin => read_elements(std::io::stdin().lock(), format, max, &mut push),
                Feed::File(path) => match std::fs::File::open(&path) {
                    Ok(f) => read_elements(f, format, max, &mut push),
                    Err(e) => Err(format!("cannot read --input `{}`: {e}", path.display())),
                },
            };
            let _ = flow.close_input(&port);
            result.map(|()| sent)
        })
        .unwrap_or_else(|e| std::thread::spawn(move || Err(format!("cannot start the input thread: {e}"))))
}

/// Cut `r` into elements of at most `max` bytes; `push` answers false to
/// stop (before anything more is read).
fn read_elements(r: impl Read, format: DataFormat, max: usize, push: &mut dyn FnMut(&[u8], &str) -> Result<bool, String>) -> Result<(), String> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let io = |e: std::io::Error| format!("reading --input: {e}");
    let too_long = |what: &str| {
        format!("reading --input: {what} is longer than the largest buffer ({max} bytes); raise `runtime.max_buffer_size`, or cut the input differently")
    };
    match format {
        DataFormat::Lines => {
            let mut line = Vec::new();
            loop {
                line.clear();
                // At most one byte more than a buffer holds: enough to tell.
                let read = (&mut r).take(max as u64 + 2).read_until(b'\n', &mut line).map_err(io)?;
                if read == 0 {
                    return Ok(());
                }
                if line.len() > max + usize::from(line.ends_with(b"\n")) {
                    return Err(too_long("a line"));
                }
                let end = line.len() - usize::from(line.ends_with(b"\n")) - usize::from(line.ends_with(b"\r\n"));
                if !push(&line[..end], "text/plain")? {
                    return Ok(());
                }
            }
        }
        DataFormat::Bytes => {
            let mut all = Vec::new();
            r.take(max as u64 + 1).read_to_end(&mut all).map_err(io)?;
            if all.len() > max {
                return Err(too_long("the input"));
            }
            push(&all, "application/octet-stream").map(|_| ())
        }
        DataFormat::LengthPrefixed => loop {
            let mut len = [0u8; 4];
            match r.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(io(e)),
            }
            let len = u32::from_be_bytes(len) as usize;
            if len > max {
                return Err(too_long(&format!("an element of {len} bytes")));
            }
            let mut data = vec![0u8; len];
            r.read_exact(&mut data).map_err(|e| format!("reading --input: an element is cut short ({e})"))?;
            if !push(&data, "application/octet-stream")? {
                return Ok(());
            }
        },
    }
}

/// Where the drains write: one writer shared by every egress (several sinks
/// to one `--output` file interleave whole elements).
pub type Output = Arc<Mutex<Box<dyn Write + Send>>>;

/// Open the output of `drain` now, so a path that cannot be written fails
/// before anything runs.
pub fn open(drain: &Drain) -> Result<Output, String> {
    let out: Box<dyn Write + Send> = match drain {
        Drain::Stdout => Box::new(std::io::stdout()),
        Drain::Stderr => Box::new(std::io::stderr()),
        Drain::File(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("cannot write --output `{}`: {e}", p.display()))?,
        )),
    };
    Ok(Arc::new(Mutex::new(out)))
}

/// Write what reaches egress `port` of `flow` to `out`, on a thread, until
/// the flow ends. A failed write cancels the flow (nothing else would take
/// its elements, and it would stall).
pub fn drain(flow: Flow, port: String, out: Output, interactive: bool, format: DataFormat) -> JoinHandle<Result<u64, String>> {
    std::thread::Builder::new()
        .name(format!("torvyn-output-{port}"))
        .spawn(move || {
            let mut written = 0u64;
            loop {
                let mut el = match flow.next(&port, None) {
                    Ok(Some(el)) => el,
                    Ok(None) | Err(_) => break,
                };
                let result = write_element(&mut **out.lock(), el.payload(), format, interactive);
                let _ = el.release();
                if let Err(e) = result {
                    flow.cancel();
                    return Err(format!("writing output: {e}; the flow was cancelled"));
                }
                written += 1;
            }
            out.lock().flush().map_err(|e| format!("writing output: {e}"))?;
            Ok(written)
        })
        .unwrap_or_else(|e| std::thread::spawn(move || Err(format!("cannot start the output thread: {e}"))))
}

fn write_element(out: &mut dyn Write, data: &[u8], format: DataFormat, flush: bool) -> std::io::Result<()> {
    match format {
        DataFormat::Lines => {
            out.write_all(data)?;
            out.write_all(b"\n")?;
        }
        DataFormat::Bytes => out.write_all(data)?,
        DataFormat::LengthPrefixed => {
            let len = u32::try_from(data.len()).map_err(|_| std::io::Error::other("an element over 4 GiB cannot be length-prefixed"))?;
            out.write_all(&len.to_be_bytes())?;
            out.write_all(data)?;
        }
    }
    if flush { out.flush() } else { Ok(()) }
}
