//! Build script: generates the C header `include/torvyn.h` from `src/ffi`
//! with cbindgen. The header is committed; `tests/header.rs` fails when the
//! committed file differs from what the code generates.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=wit");
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let version = |k: &str| std::env::var(k).expect("cargo sets the package version");
    config.after_includes = Some(format!(
        "\n#define TORVYN_VERSION_MAJOR {}\n#define TORVYN_VERSION_MINOR {}\n#define TORVYN_VERSION_PATCH {}\n",
        version("CARGO_PKG_VERSION_MAJOR"),
        version("CARGO_PKG_VERSION_MINOR"),
        version("CARGO_PKG_VERSION_PATCH")
    ));
    // Only the ffi module (cbindgen follows its `mod` items): it is the whole C surface.
    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/ffi/mod.rs"));
    let header = match builder.generate()
    {
        Ok(h) => h,
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("torvyn.h");
    header.write_to_file(&out);
    // Keep the committed copy current; the header test compares it with git.
    let committed = dir.join("include/torvyn.h");
    let generated = std::fs::read(&out).unwrap_or_default();
    if std::fs::read(&committed).ok().as_deref() != Some(&generated[..]) {
        let _ = std::fs::create_dir_all(dir.join("include"));
        let _ = std::fs::write(&committed, &generated);
    }
}
