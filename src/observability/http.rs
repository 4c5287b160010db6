//! The `/metrics` endpoint: a small HTTP server on its own thread that
//! renders a fresh [`HostSnapshot`] per request. It reads only the
//! snapshot's atomics and locks, so a slow or stuck scraper never holds up
//! a reactor; it stops when dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{HostSnapshot, ObservabilityError, prometheus};

/// Where a snapshot comes from (the host's flows, at request time).
pub type SnapshotSource = Arc<dyn Fn() -> HostSnapshot + Send + Sync>;

/// A running metrics endpoint: `GET /metrics` (OpenMetrics text) and
/// `GET /metrics.json` (the snapshot as JSON).
pub struct MetricsServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listen on `addr` (`127.0.0.1:9464`; port 0 picks a free one).
    pub fn start(addr: &str, source: SnapshotSource) -> Result<MetricsServer, ObservabilityError> {
        let bind_err = |reason: String| ObservabilityError::Bind { addr: addr.to_string(), reason };
        let server = tiny_http::Server::http(addr).map_err(|e| bind_err(e.to_string()))?;
        let bound = server.server_addr().to_ip().ok_or_else(|| bind_err("not an IP address".into()))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("torvyn-metrics".into())
            .spawn(move || serve(&serving, &source))
            .map_err(|e| bind_err(format!("cannot start its thread: {e}")))?;
        log::info!("metrics at http://{bound}/metrics");
        Ok(MetricsServer { addr: bound, server, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
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

fn header(name: &str, value: &str) -> tiny_http::Header {
    // Both are fixed ASCII strings of ours.
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn serve(server: &tiny_http::Server, source: &SnapshotSource) {
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let response = match (request.method(), path.as_str()) {
            (tiny_http::Method::Get, "/metrics") => {
                tiny_http::Response::from_string(prometheus::prometheus_text(&source())).with_header(header("Content-Type", prometheus::CONTENT_TYPE))
            }
            (tiny_http::Method::Get, "/metrics.json") => {
                let body = serde_json::to_string(&source()).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                tiny_http::Response::from_string(body).with_header(header("Content-Type", "application/json"))
            }
            (tiny_http::Method::Get, _) => tiny_http::Response::from_string("not found: try /metrics or /metrics.json\n").with_status_code(404),
            _ => tiny_http::Response::from_string("only GET\n").with_status_code(405),
        };
        // A whole document with its length: no chunked encoding.
        let response = response.with_chunked_threshold(usize::MAX);
        if let Err(e) = request.respond(response) {
            log::debug!("metrics client went away: {e}");
        }
    }
}
