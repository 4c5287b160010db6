//! WASI 0.2 for components, with only what their grants name.
//!
//! Without grants: no files, no environment, no arguments, no network. A component's stdout
//! and stderr are captured line by line into the `log` facade (target
//! `torvyn::guest`, key-values `node` and `stream`) unless its node was
//! granted `stdout` / `stderr`, in which case it writes to the host's stream
//! through a background task (never blocking a worker).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::AsyncWriteStream;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::security::{GrantSet, NodeAudit};

/// Log target of captured guest output.
pub const GUEST_LOG_TARGET: &str = "torvyn::guest";

/// The WASI context for one stage: exactly what `grants` name (see
/// [`crate::security`]), nothing else. Socket uses outside the grants are
/// refused (and audited) by the address check; name lookups, paths and the
/// environment are checked by the shadowed calls in [`super::scoped`].
pub fn context(node: &Arc<str>, grants: &GrantSet, audit: Option<Arc<NodeAudit>>, output_rate: u64) -> Result<WasiCtx, String> {
    let mut b = WasiCtxBuilder::new();
    let budget = Arc::new(OutputBudget::new(node, output_rate));
    if grants.stdout() {
        b.stdout(HostStdio { stream: Stdio::Stdout, budget: Arc::clone(&budget) });
    } else {
        b.stdout(LineLog::new(node, "stdout", Arc::clone(&budget)));
    }
    if grants.stderr() {
        b.stderr(HostStdio { stream: Stdio::Stderr, budget: Arc::clone(&budget) });
    } else {
        b.stderr(LineLog::new(node, "stderr", budget));
    }
    if grants.tcp() || grants.udp() {
        b.inherit_network();
        let check = grants.clone();
        let resolved = Arc::new(super::scoped::Resolved::default());
        b.socket_addr_check(move |addr, used| {
            let (grants, audit, resolved) = (check.clone(), audit.clone(), Arc::clone(&resolved));
            Box::pin(async move { super::scoped::socket_allowed(&grants, audit.as_deref(), &resolved, addr, used).await })
        });
    }
    b.allow_tcp(grants.tcp());
    b.allow_udp(grants.udp());
    b.allow_ip_name_lookup(grants.lookup());
    let host_env = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    b.envs(&grants.environment(host_env));
    for (dir, perms) in super::scoped::preopens(grants) {
        b.preopened_dir(&dir, &dir, perms).map_err(|e| format!("cannot open granted directory `{dir}`: {e}"))?;
    }
    Ok(b.build())
}

/// The host's own stdout or stderr, for a node granted it. Bytes are written
/// by a background task (wasmtime-wasi's write stream over tokio's stdio),
/// never on the worker: when the host's stream is full the guest waits for
/// room in `blocking-write-and-flush` or a poll, where the wait obeys its
/// deadline and its flow's cancel ([`super::blocking`]).
#[derive(Clone, Copy)]
enum Stdio {
    Stdout,
    Stderr,
}

#[derive(Clone)]
struct HostStdio {
    stream: Stdio,
    budget: Arc<OutputBudget>,
}

impl IsTerminal for HostStdio {
    fn is_terminal(&self) -> bool {
        match self.stream {
            Stdio::Stdout => std::io::IsTerminal::is_terminal(&io::stdout()),
            Stdio::Stderr => std::io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

impl StdoutStream for HostStdio {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        match self.stream {
            Stdio::Stdout => Box::new(tokio::io::stdout()),
            Stdio::Stderr => Box::new(tokio::io::stderr()),
        }
    }

    /// The same 64 KiB write budget the host's stdio had when inherited,
    /// within the node's output rate.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(Budgeted {
            inner: Box::new(AsyncWriteStream::new(MAX_LINE, Pin::from(self.async_stream()))),
            budget: Arc::clone(&self.budget),
        })
    }
}

/// The bytes per second a node may write to stdout and stderr together,
/// with a burst of one second's worth. Past it, the write traps: the call
/// fails naming the node, the limit and the write, and the node's error
/// policy applies.
struct OutputBudget {
    node: Arc<str>,
    rate: u64,
    /// Bytes that may be written now, and when that was computed.
    left: Mutex<(f64, std::time::Instant)>,
}

impl OutputBudget {
    fn new(node: &Arc<str>, rate: u64) -> Self {
        OutputBudget { node: Arc::clone(node), rate, left: Mutex::new((rate as f64, std::time::Instant::now())) }
    }

    fn take(&self, n: usize) -> Result<(), wasmtime::Error> {
        let mut left = self.left.lock();
        let now = std::time::Instant::now();
        let refill = now.duration_since(left.1).as_secs_f64() * self.rate as f64;
        *left = ((left.0 + refill).min(self.rate as f64), now);
        if left.0 >= n as f64 {
            left.0 -= n as f64;
            Ok(())
        } else {
            Err(wasmtime::format_err!(
                "node `{}` wrote to stdout/stderr faster than its `max_output_rate` of {} bytes per second (a write of {n} bytes with {} left)",
                self.node,
                self.rate,
                left.0 as u64
            ))
        }
    }
}

/// A stream whose writes are charged to an [`OutputBudget`].
struct Budgeted {
    inner: Box<dyn OutputStream>,
    budget: Arc<OutputBudget>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for Budgeted {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Budgeted {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.budget.take(bytes.len()).map_err(StreamError::Trap)?;
        self.inner.write(bytes)
    }

    fn write_zeroes(&mut self, n: usize) -> StreamResult<()> {
        self.budget.take(n).map_err(StreamError::Trap)?;
        self.inner.write_zeroes(n)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn write_ready(&mut self) -> StreamResult<usize> {
        self.inner.write_ready().await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

/// Splits a byte stream into lines and logs each one under the node's name.
/// Every stream WASI opens on it shares the same partial-line buffer.
#[derive(Clone)]
struct LineLog {
    inner: Arc<Mutex<Lines>>,
    budget: Arc<OutputBudget>,
}

struct Lines {
    node: Arc<str>,
    stream: &'static str,
    partial: Vec<u8>,
}

/// Longest line kept before it is logged anyway (a guest printing without
/// newlines must not grow host memory without bound).
const MAX_LINE: usize = 64 << 10;

impl Lines {
    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        log::info!(target: GUEST_LOG_TARGET, node = &*self.node, stream = self.stream; "{text}");
    }

    fn write(&mut self, mut bytes: &[u8]) {
        while let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.emit(&bytes[..nl]);
            } else {
                self.partial.extend_from_slice(&bytes[..nl]);
                let line = std::mem::take(&mut self.partial);
                self.emit(&line);
            }
            bytes = &bytes[nl + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= MAX_LINE {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line);
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line);
        }
    }
}

impl LineLog {
    fn new(node: &Arc<str>, stream: &'static str, budget: Arc<OutputBudget>) -> Self {
        LineLog {
            budget,
            inner: Arc::new(Mutex::new(Lines {
                node: Arc::clone(node),
                stream,
                partial: Vec::new(),
            })),
        }
    }
}

impl IsTerminal for LineLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LineLog {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineLog {
    async fn ready(&mut self) {}
}

impl OutputStream for LineLog {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.budget.take(bytes.len()).map_err(StreamError::Trap)?;
        self.inner.lock().write(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE)
    }
}

impl tokio::io::AsyncWrite for LineLog {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.budget.take(buf.len()) {
            return Poll::Ready(Err(io::Error::other(e.to_string())));
        }
        self.inner.lock().write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
