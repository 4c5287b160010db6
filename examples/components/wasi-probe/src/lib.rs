//! A processor that reports what its sandbox lets it reach, for the tests
//! of capability grants. On the first element it prints one line each:
//!
//! - `dir <path>: Ok(<entries>)` or `Err(<kind>)` for `"dir"` in the config;
//! - `root: …` for `/` (never granted as such);
//! - `env vars: N; args: N`;
//! - `connect <addr>: Ok(())` or `Err(<kind>)` for `"connect"` in the config;
//! - `has <name>: <bool>` for every name in `"ask"` (comma-separated);
//! - `read <path>: Ok(<bytes>)` or `Err(<kind>)` for each path in `"read"`
//!   (comma-separated; a named pipe nobody writes to blocks it in `open`);
//! - `write <path>: Ok(())` or `Err(<kind>)` for each path in `"write"`;
//! - `rw <path>: Ok(<bytes read>)` or `Err(<kind>)` for each path in `"rw"`
//!   (opened for reading and writing at once, then read);
//! - `rename <from> <to>: Ok(())` or `Err(<kind>)` for `"rename": "<from>><to>"`;
//! - `env <NAME>: Ok(<value>)` or `Err(NotPresent)` for each name in `"env"`;
//! - `resolve <host>: Ok(<addresses>)` or `Err(<kind>)` for `"resolve"`;
//! - `listen <addr>: Ok(())` or `Err(<kind>)` for `"listen"`;
//! - `udp <addr>: Ok(<bytes sent>)` or `Err(<kind>)` for `"udp"`;
//! - for `"flood": "<ipv4>:<port>"` (last): connects, writes until the peer,
//!   which never reads, has taken all it will, then drops the stream (whose
//!   background write can never finish) and prints `flood dropped`.
//!
//! Every element is then dropped. It imports `wasi:filesystem` and
//! `wasi:sockets`, so its node must be granted `filesystem` and `network`.
wit_bindgen::generate!({
    path: ["../../../wit/torvyn-streaming", "../../../wit/torvyn-capabilities", "wit"],
    world: "torvyn-examples:probe/probe",
    generate_all,
});

use exports::torvyn::streaming::{lifecycle, processor};
use std::cell::{Cell, RefCell};
use torvyn::capabilities::capability_query::has_capability;
use torvyn::streaming::types::{ProcessError, ProcessResult, StreamElement};

thread_local! {
    static CONFIG: RefCell<String> = const { RefCell::new(String::new()) };
    static DONE: Cell<bool> = const { Cell::new(false) };
}

fn field(key: &str) -> Option<String> {
    CONFIG.with(|c| {
        let c = c.borrow();
        let pat = format!("\"{key}\"");
        let at = c.find(&pat)? + pat.len();
        let rest = c[at..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
        rest.find('"').map(|end| rest[..end].to_string())
    })
}

fn probe() {
    if let Some(dir) = field("dir") {
        let r = std::fs::read_dir(&dir).map(|d| d.count()).map_err(|e| e.kind());
        println!("dir {dir}: {r:?}");
    }
    let root = std::fs::read_dir("/").map(|d| d.count()).map_err(|e| e.kind());
    println!("root: {root:?}");
    println!("env vars: {}; args: {}", std::env::vars().count(), std::env::args().count());
    if let Some(addr) = field("connect") {
        let r = std::net::TcpStream::connect(&addr).map(|_| ()).map_err(|e| e.kind());
        println!("connect {addr}: {r:?}");
    }
    for name in field("ask").unwrap_or_default().split(',').filter(|n| !n.is_empty()) {
        println!("has {name}: {}", has_capability(name));
    }
    for path in field("read").unwrap_or_default().split(',').filter(|n| !n.is_empty()) {
        let r = std::fs::read(path).map(|b| b.len()).map_err(|e| e.kind());
        println!("read {path}: {r:?}");
    }
    for path in field("write").unwrap_or_default().split(',').filter(|n| !n.is_empty()) {
        let r = std::fs::write(path, b"written by wasi-probe").map_err(|e| e.kind());
        println!("write {path}: {r:?}");
    }
    for path in field("rw").unwrap_or_default().split(',').filter(|n| !n.is_empty()) {
        use std::io::Read;
        let r = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .and_then(|mut f| {
                let mut text = Vec::new();
                f.read_to_end(&mut text).map(|_| text.len())
            })
            .map_err(|e| e.kind());
        println!("rw {path}: {r:?}");
    }
    if let Some((from, to)) = field("rename").as_deref().and_then(|r| r.split_once('>')) {
        let r = std::fs::rename(from, to).map_err(|e| e.kind());
        println!("rename {from} {to}: {r:?}");
    }
    for name in field("env").unwrap_or_default().split(',').filter(|n| !n.is_empty()) {
        let r = std::env::var(name).map_err(|_| "NotPresent");
        println!("env {name}: {r:?}");
    }
    if let Some(host) = field("resolve") {
        use std::net::ToSocketAddrs;
        let r = (host.as_str(), 80).to_socket_addrs().map(|a| a.count()).map_err(|e| e.kind());
        println!("resolve {host}: {r:?}");
    }
    if let Some(addr) = field("listen") {
        let r = std::net::TcpListener::bind(&addr).map(|_| ()).map_err(|e| e.kind());
        println!("listen {addr}: {r:?}");
    }
    if let Some(addr) = field("udp") {
        let r = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"probe", &addr)).map_err(|e| e.kind());
        println!("udp {addr}: {r:?}");
    }
    if let Some(addr) = field("flood") {
        match flood(&addr) {
            Ok(written) => println!("flood dropped after {written} bytes"),
            Err(e) => println!("flood {addr}: {e}"),
        }
    }
}

/// Write to `addr` until the peer stops taking bytes, then drop the stream.
fn flood(addr: &str) -> Result<u64, String> {
    use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    let (host, port) = addr.rsplit_once(':').ok_or("no port")?;
    let octets: Vec<u8> = host.split('.').filter_map(|o| o.parse().ok()).collect();
    let [a, b, c, d] = octets[..] else { return Err("not an IPv4 address".into()) };
    let port: u16 = port.parse().map_err(|_| "bad port")?;
    let net = wasip2::sockets::instance_network::instance_network();
    let sock = wasip2::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| format!("{e:?}"))?;
    let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (a, b, c, d) });
    sock.start_connect(&net, remote).map_err(|e| format!("{e:?}"))?;
    sock.subscribe().block();
    let (input, output) = sock.finish_connect().map_err(|e| format!("{e:?}"))?;
    let chunk = vec![b'x'; 64 << 10];
    let (mut written, mut idle) = (0u64, 0);
    while idle < 200 && written < (256 << 20) {
        match output.check_write() {
            Ok(0) => {
                idle += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Ok(n) => {
                let n = (n as usize).min(chunk.len());
                output.write(&chunk[..n]).map_err(|e| format!("{e:?}"))?;
                written += n as u64;
                idle = 0;
            }
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    println!("flood dropping the stream after {written} bytes");
    drop(output);
    drop(input);
    Ok(written)
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        CONFIG.with(|c| *c.borrow_mut() = config);
        Ok(())
    }
    fn teardown() {}
}

impl processor::Guest for Component {
    fn process(_input: StreamElement) -> Result<ProcessResult, ProcessError> {
        if !DONE.with(|d| d.replace(true)) {
            probe();
        }
        Ok(ProcessResult::Drop)
    }
}

export!(Component);
