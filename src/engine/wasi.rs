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
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::security::{GrantSet, NodeAudit};

/// Log target of captured guest output.
pub const GUEST_LOG_TARGET: &str = "torvyn::guest";

/// The WASI context for one stage: exactly what `grants` name (see
/// [`crate::security`]), nothing else. Socket uses outside the grants are
/// refused (and audited) by the address check; name lookups, paths and the
/// environment are checked by the shadowed calls in [`super::scoped`].
pub fn context(node: &Arc<str>, grants: &GrantSet, audit: Option<Arc<NodeAudit>>) -> Result<WasiCtx, String> {
    let mut b = WasiCtxBuilder::new();
    if grants.stdout() {
        b.stdout(HostStdio::Stdout);
    } else {
        b.stdout(LineLog::new(node, "stdout"));
    }
    if grants.stderr() {
        b.stderr(HostStdio::Stderr);
    } else {
        b.stderr(LineLog::new(node, "stderr"));
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
enum HostStdio {
    Stdout,
    Stderr,
}

impl IsTerminal for HostStdio {
    fn is_terminal(&self) -> bool {
        match self {
            HostStdio::Stdout => std::io::IsTerminal::is_terminal(&io::stdout()),
            HostStdio::Stderr => std::io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

impl StdoutStream for HostStdio {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        match self {
            HostStdio::Stdout => Box::new(tokio::io::stdout()),
            HostStdio::Stderr => Box::new(tokio::io::stderr()),
        }
    }

    /// The same 64 KiB write budget the host's stdio had when inherited.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(AsyncWriteStream::new(MAX_LINE, Pin::from(self.async_stream())))
    }
}

/// Splits a byte stream into lines and logs each one under the node's name.
/// Every stream WASI opens on it shares the same partial-line buffer.
#[derive(Clone)]
struct LineLog {
    inner: Arc<Mutex<Lines>>,
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
    fn new(node: &Arc<str>, stream: &'static str) -> Self {
        LineLog {
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
