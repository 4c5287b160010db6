//! A processor that reports what its sandbox lets it reach, for the tests
//! of capability grants. On the first element it prints one line each:
//!
//! - `dir <path>: Ok(<entries>)` or `Err(<kind>)` for `"dir"` in the config;
//! - `root: …` for `/` (never granted as such);
//! - `env vars: N; args: N`;
//! - `connect <addr>: Ok(())` or `Err(<kind>)` for `"connect"` in the config;
//! - `has <name>: <bool>` for every name in `"ask"` (comma-separated);
//! - `read <path>: Ok(<bytes>)` or `Err(<kind>)` for `"read"` in the config
//!   (last: a named pipe nobody writes to blocks it in `open`).
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
    if let Some(path) = field("read") {
        let r = std::fs::read(&path).map(|b| b.len()).map_err(|e| e.kind());
        println!("read {path}: {r:?}");
    }
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
