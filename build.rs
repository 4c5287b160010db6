//! Build script. The contract WIT is embedded with `include_str!`, which
//! Cargo already tracks; nothing else is generated yet.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=wit");
}
