//! The `/metrics` endpoint: a small HTTP/1.1 server on one thread of its
//! own that renders a fresh [`HostSnapshot`] per request. It serves one
//! connection at a time with read and write timeouts, so a client that
//! connects and stalls holds it for at most a few seconds, never a reactor
//! (it reads only snapshots), and never the program that drops it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{HostSnapshot, ObservabilityError, prometheus};

/// Where a snapshot comes from (the host's flows, at request time).
pub type SnapshotSource = Arc<dyn Fn() -> HostSnapshot + Send + Sync>;

/// How long a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head read.
const MAX_REQUEST: usize = 8 << 10;

/// A running metrics endpoint: `GET /metrics` (OpenMetrics text) and
/// `GET /metrics.json` (the snapshot as JSON). Stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listen on `addr` (`127.0.0.1:9464`; port 0 picks a free one).
    pub fn start(addr: &str, source: SnapshotSource) -> Result<MetricsServer, ObservabilityError> {
        let bind_err = |reason: String| ObservabilityError::Bind { addr: addr.to_string(), reason };
        let listener = TcpListener::bind(addr).map_err(|e| bind_err(e.to_string()))?;
        let bound = listener.local_addr().map_err(|e| bind_err(e.to_string()))?;
        // Non-blocking accept, so the thread notices `stop` within a tick.
        listener.set_nonblocking(true).map_err(|e| bind_err(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("torvyn-metrics".into())
            .spawn(move || serve(&listener, &stopping, &source))
            .map_err(|e| bind_err(format!("cannot start its thread: {e}")))?;
        log::info!("metrics at http://{bound}/metrics");
        Ok(MetricsServer { addr: bound, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    /// Waits for the request in progress (bounded by the client timeout).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer").field("addr", &self.addr).finish()
    }
}

fn serve(listener: &TcpListener, stop: &AtomicBool, source: &SnapshotSource) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((conn, _)) => {
                if let Err(e) = answer(conn, source) {
                    log::debug!("metrics client: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                log::warn!("metrics endpoint: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Read one request head and answer it; the connection then closes.
fn answer(mut conn: TcpStream, source: &SnapshotSource) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    conn.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST || Instant::now() > deadline {
            return reply(&mut conn, "431 Request Header Fields Too Large", "text/plain", b"request too large or too slow\n");
        }
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head[..head.iter().position(|&b| b == b'\r').unwrap_or(head.len())]).into_owned();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => reply(&mut conn, "200 OK", prometheus::CONTENT_TYPE, prometheus::prometheus_text(&source()).as_bytes()),
        ("GET", "/metrics.json") => {
            let body = serde_json::to_vec(&source()).unwrap_or_default();
            reply(&mut conn, "200 OK", "application/json", &body)
        }
        ("GET", _) => reply(&mut conn, "404 Not Found", "text/plain", b"not found: try /metrics or /metrics.json\n"),
        _ => reply(&mut conn, "405 Method Not Allowed", "text/plain", b"only GET\n"),
    }
}

fn reply(conn: &mut TcpStream, status: &str, kind: &str, body: &[u8]) -> std::io::Result<()> {
    write!(conn, "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    conn.write_all(body)?;
    conn.flush()
}
