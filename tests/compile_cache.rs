//! The compiled-component cache on disk, through `torvyn run` processes:
//! written by the first run, loaded by the next, and every damaged,
//! foreign or unsafe entry or directory detected and never loaded.

mod common;

use std::path::Path;

use common::cli::{temp_dir, torvyn_in};

const HELLO: &str = "examples/hello-world";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `torvyn run` of the hello-world example with cache root `home/cache`,
/// logging at debug so loads show; returns (exit code, stderr).
fn run(home: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["run", HELLO];
    args.extend_from_slice(extra);
    let (code, out, err) = torvyn_in(repo(), &args, &[("TORVYN_HOME", home.to_str().unwrap()), ("TORVYN_LOG", "debug")]);
    assert!(code != 0 || out.contains("Hello, World! (message 5)"), "the flow did not run:\n{out}\n{err}");
    (code, err)
}

fn entries(home: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(home.join("cache/compiled")).map(|r| r.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect()).unwrap_or_default();
    v.sort();
    v
}

fn loads(stderr: &str) -> usize {
    stderr.matches("loaded compiled from").count()
}

#[test]
fn the_second_process_loads_what_the_first_compiled() {
    let home = temp_dir("cc-warm");
    let (code, err) = run(&home, &[]);
    assert_eq!((code, loads(&err)), (0, 0), "{err}");
    let written = entries(&home);
    assert_eq!(written.len(), 2, "one entry per component: {written:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home.join("cache/compiled")), 0o700);
        assert_eq!(mode(&written[0]), 0o600);
    }
    let (code, err) = run(&home, &[]);
    assert_eq!((code, loads(&err)), (0, 2), "{err}");
    assert_eq!(entries(&home), written, "nothing new written");

    // `torvyn cache ls` names them; `clear` empties the cache.
    let (code, out, _) = torvyn_in(repo(), &["--format", "json", "cache", "ls"], &[("TORVYN_HOME", home.to_str().unwrap())]);
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = listed["compiled"].as_array().unwrap().iter().map(|e| e["component"].as_str().unwrap()).collect();
    assert!(names.contains(&"greeter") && names.contains(&"printer"), "{out}");
    let (code, out, _) = torvyn_in(repo(), &["cache", "clear"], &[("TORVYN_HOME", home.to_str().unwrap())]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("removed 2 compiled components"), "{out}");
    assert!(entries(&home).is_empty());
}

#[test]
fn damaged_and_foreign_entries_are_recompiled_never_loaded() {
    let home = temp_dir("cc-damage");
    assert_eq!(run(&home, &[]).0, 0);
    let [a, b] = <[_; 2]>::try_from(entries(&home)).unwrap();
    let good_a = std::fs::read(&a).unwrap();
    // Truncated; one flipped byte in the machine code.
    std::fs::write(&a, &good_a[..good_a.len() / 2]).unwrap();
    let mut flipped = std::fs::read(&b).unwrap();
    let last = flipped.len() - 100;
    flipped[last] ^= 0x01;
    std::fs::write(&b, &flipped).unwrap();
    let (code, err) = run(&home, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(loads(&err), 0, "a damaged entry was loaded: {err}");
    assert!(err.contains("truncated") && err.contains("corrupted"), "{err}");
    // Compiled again and rewritten whole.
    assert_eq!(std::fs::read(&a).unwrap(), good_a);
    assert_eq!(loads(&run(&home, &[]).1), 2);

    // An entry whose checksum matches but whose payload wasmtime refuses
    // (another engine's output, or garbage): refused, removed, recompiled.
    let key: [u8; 32] = {
        let hex = a.file_stem().unwrap().to_string_lossy().into_owned();
        std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
    };
    // Sealed with the same user's secret as the runs (this test process
    // reads it from the same TORVYN_HOME; no other test here uses the
    // library in process).
    std::env::set_var("TORVYN_HOME", &home);
    let cache = torvyn::engine::DiskCache::open(&home.join("cache")).unwrap();
    cache.store(&key, "greeter", &[0; 32], b"\x7fELF not what wasmtime wrote");
    let (code, err) = run(&home, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("refused by wasmtime"), "{err}");
    assert_eq!(loads(&err), 1, "{err}");
    assert_eq!(std::fs::read(&a).unwrap(), good_a, "rewritten by the recompile");
}

#[test]
fn an_unsafe_directory_or_an_empty_setting_keeps_nothing_on_disk() {
    let home = temp_dir("cc-unsafe");
    assert_eq!(run(&home, &[]).0, 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.join("cache/compiled"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (code, err) = run(&home, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(loads(&err), 0, "loaded from a directory others may write: {err}");
        assert!(err.contains("may be written by its group or others") && err.contains("chmod 700"), "{err}");
        std::fs::set_permissions(home.join("cache/compiled"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // `compilation_cache_dir = ""`: in memory only.
    let off = temp_dir("cc-off");
    let (code, err) = run(&off, &["--config", "runtime.compilation_cache_dir="]);
    assert_eq!(code, 0, "{err}");
    assert!(!off.join("cache/compiled").exists(), "wrote a cache with the setting off");
}

/// A project of its own: hello-world's manifest with absolute component
/// paths and `compilation_cache_dir = "cc"` (relative to the manifest).
fn project(tag: &str) -> std::path::PathBuf {
    let dir = temp_dir(tag);
    let wasm = repo().join("examples/components/wasm");
    let text = std::fs::read_to_string(repo().join(HELLO).join("Torvyn.toml")).unwrap().replace("../components/wasm", wasm.to_str().unwrap());
    std::fs::write(dir.join("Torvyn.toml"), text.replace("[runtime]\n", "[runtime]\ncompilation_cache_dir = \"cc\"\n")).unwrap();
    dir
}

#[test]
fn a_cache_that_came_with_a_project_is_never_loaded() {
    let dir = project("cc-shipped");
    let run_in = |home: &Path| {
        let (code, out, err) = torvyn_in(&dir, &["run"], &[("TORVYN_HOME", home.to_str().unwrap()), ("TORVYN_LOG", "debug")]);
        assert_eq!(code, 0, "{out}\n{err}");
        err
    };
    // The manifest's folder, relative to it, holds the entries.
    let author = dir.join("author-home");
    assert_eq!(loads(&run_in(&author)), 0);
    assert_eq!(std::fs::read_dir(dir.join("cc/compiled")).unwrap().count(), 2);
    assert_eq!(loads(&run_in(&author)), 2, "its own entries load");
    // Another user (another secret) gets the folder with the project: its
    // entries, sound as they are, were not sealed by this user's Torvyn.
    let other = dir.join("other-home");
    let err = run_in(&other);
    assert_eq!(loads(&err), 0, "loaded machine code it did not write: {err}");
    assert!(err.contains("not sealed by this user's Torvyn"), "{err}");
    assert_eq!(loads(&run_in(&other)), 2, "recompiled and sealed for this user");
}
