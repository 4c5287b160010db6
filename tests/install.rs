//! `scripts/install` lays libtorvyn out as cargo-c does (versioned soname,
//! static library, pkg-config file, header, command), and C programs build
//! against the installed prefix with `pkg-config --cflags --libs torvyn`
//! alone: shared and static, then run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let which = Command::new("pkg-config").arg("--version").output();
    assert!(which.is_ok_and(|o| o.status.success()), "pkg-config is missing: `apt-get install pkgconf` (.ci/run installs it)");
    sh(Command::new("pkg-config").args(args).arg("torvyn").env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")))
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn an_installed_prefix_serves_c_programs_through_pkg_config() {
    let prefix = std::env::temp_dir().join(format!("torvyn-prefix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&prefix);
    sh(Command::new(root().join("scripts/install")).args(["--debug", "--prefix", prefix.to_str().unwrap()]));

    let lib = prefix.join("lib");
    for f in ["libtorvyn.so.0.1.0", "libtorvyn.a", "pkgconfig/torvyn.pc"] {
        assert!(lib.join(f).is_file(), "{f} not installed");
    }
    assert!(prefix.join("include/torvyn/torvyn.h").is_file() && prefix.join("bin/torvyn").is_file());
    assert_eq!(std::fs::read_link(lib.join("libtorvyn.so")).unwrap(), Path::new("libtorvyn.so.0.1"));
    assert_eq!(std::fs::read_link(lib.join("libtorvyn.so.0.1")).unwrap(), Path::new("libtorvyn.so.0.1.0"));
    let dynamic = sh(Command::new("readelf").args(["-d", lib.join("libtorvyn.so.0.1.0").to_str().unwrap()]));
    assert!(dynamic.contains("Library soname: [libtorvyn.so.0.1]"), "{dynamic}");
    // Only the C API is exported.
    let symbols = sh(Command::new("nm").args(["-D", "--defined-only", lib.join("libtorvyn.so.0.1.0").to_str().unwrap()]));
    let exported: Vec<&str> = symbols.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert!(exported.len() > 30 && exported.iter().all(|s| s.starts_with("torvyn_")), "{exported:?}");
    assert_eq!(pkg_config(&prefix, &["--modversion"]), ["0.1.0"]);

    let build = |name: &str, source: &str, flags: &[String]| -> PathBuf {
        let exe = prefix.join(name);
        sh(Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into())).args(["-std=c99", "-o", exe.to_str().unwrap(), root().join(source).to_str().unwrap()]).args(flags));
        exe
    };
    let run = |exe: &Path, args: &[&str]| -> String {
        sh(Command::new(exe).args(args).env("LD_LIBRARY_PATH", &lib).env_remove("TORVYN_LIBRARY").current_dir(root()))
    };
    // Shared: the program records the soname, and runs both C examples.
    let shared = pkg_config(&prefix, &["--cflags", "--libs"]);
    let exe = build("run_pipeline", "examples/c/run_pipeline.c", &shared);
    assert!(sh(Command::new("readelf").args(["-d", exe.to_str().unwrap()])).contains("Shared library: [libtorvyn.so.0.1]"));
    let out = run(&exe, &["examples/hello-world"]);
    assert!(out.contains("\"state\":\"completed\"") && out.contains("\"elements\":5"), "{out}");
    let embed = build("embed", "examples/c/embed.c", &shared);
    let out = run(&embed, &["examples/embed", "50"]);
    assert!(out.contains("received 50"), "{out}");
    // Static: the archive and `Libs.private`; no libtorvyn.so needed at run time.
    let mut flags = pkg_config(&prefix, &["--cflags"]);
    flags.push(lib.join("libtorvyn.a").display().to_string());
    flags.extend(pkg_config(&prefix, &["--static", "--libs-only-l"]).into_iter().filter(|f| f != "-ltorvyn"));
    let exe = build("run_pipeline_static", "examples/c/run_pipeline.c", &flags);
    assert!(!sh(Command::new("readelf").args(["-d", exe.to_str().unwrap()])).contains("libtorvyn"));
    let out = sh(Command::new(&exe).arg("examples/hello-world").current_dir(root()));
    assert!(out.contains("\"state\":\"completed\""), "{out}");
    // The installed command runs the bundled pipeline.
    let out = sh(Command::new(prefix.join("bin/torvyn")).args(["run", "examples/hello-world"]).current_dir(root()));
    assert!(out.contains("Hello, World! (message 5)"), "{out}");
    let _ = std::fs::remove_dir_all(&prefix);
}
