//! Running the `torvyn` binary as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run `torvyn args` from the repository root.
pub fn torvyn(args: &[&str]) -> (i32, String, String) {
    torvyn_in(env!("CARGO_MANIFEST_DIR").as_ref(), args, &[])
}

/// Run from the repository root with extra environment variables.
pub fn torvyn_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    torvyn_in(env!("CARGO_MANIFEST_DIR").as_ref(), args, env)
}

/// Run in `dir` with extra environment variables, and none of the caller's
/// `TORVYN_*`, `NO_COLOR` or `CLICOLOR_FORCE`; the user file is looked for
/// in an empty folder unless `TORVYN_HOME` is given.
pub fn torvyn_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(dir, args, env).stdin(Stdio::null()).output().expect("run torvyn");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command `torvyn_in` runs, for callers that need its pipes.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_torvyn"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("TORVYN_") || k == "NO_COLOR" || k == "CLICOLOR_FORCE" {
            cmd.env_remove(k);
        }
    }
    cmd.env("XDG_CONFIG_HOME", std::env::temp_dir().join("torvyn-tests-no-user-config"));
    // One cache for the test runs, not the user's (TORVYN_HOME, when a test
    // gives one, wins).
    cmd.env("XDG_CACHE_HOME", std::env::temp_dir().join("torvyn-tests-cache"));
    cmd.envs(env.iter().copied());
    cmd
}

/// A fresh folder for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("torvyn-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the wasm32-wasip2 target is installed (required when
/// `REQUIRE_WASM32_WASIP2=1`, as CI sets it).
pub fn wasm_target_installed() -> bool {
    let required = std::env::var("REQUIRE_WASM32_WASIP2").is_ok_and(|v| v == "1");
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().ok();
    let found = sysroot.is_some_and(|o| Path::new(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib/wasm32-wasip2").is_dir());
    assert!(found || !required, "REQUIRE_WASM32_WASIP2=1 but the wasm32-wasip2 target is not installed");
    found
}
