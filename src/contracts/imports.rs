//! Which imports a Torvyn host provides: WASI 0.2 and the contract's own
//! host interfaces. Used to name *every* import a component needs that the
//! host cannot satisfy, instead of only the first one the linker trips on.

use super::{ContractVersion, SUPPORTED};

/// Host interfaces of the contract, without versions.
const TORVYN_PROVIDED: &[&str] = &[
    "torvyn:streaming/types",
    "torvyn:streaming/buffer-allocator",
    "torvyn:capabilities/capability-query",
];

/// WASI 0.2 packages linked (with nothing granted).
const WASI_PACKAGES: &[&str] = &["wasi:io", "wasi:clocks", "wasi:random", "wasi:filesystem", "wasi:sockets", "wasi:cli"];

/// Whether the host provides the import called `name` (e.g. `wasi:io/poll@0.2.6`).
pub fn is_provided(name: &str) -> bool {
    let (base, version) = match name.split_once('@') {
        Some((b, v)) => (b, ContractVersion::parse(v)),
        None => (name, None),
    };
    if TORVYN_PROVIDED.contains(&base) {
        // No version at all: linked as the supported one.
        return !name.contains('@') || version.is_some_and(|v| v.compatible_with(SUPPORTED));
    }
    let package = base.split('/').next().unwrap_or(base);
    WASI_PACKAGES.contains(&package) && version.is_some_and(|v| v.major == 0 && v.minor == 2)
}

/// The imports in `names` that no Torvyn host provides, in order.
pub fn unprovided<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names.into_iter().filter(|n| !is_provided(n)).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_imports() {
        assert!(is_provided("wasi:io/poll@0.2.6"));
        assert!(is_provided("torvyn:streaming/types@0.1.3"));
        assert!(is_provided("torvyn:streaming/types"));
        assert!(!is_provided("torvyn:streaming/types@0.2.0"));
        assert!(!is_provided("torvyn:streaming/types@0.2.0"));
        assert!(!is_provided("wasi:http/types@0.2.0"));
        assert!(!is_provided("wasi:io/poll@0.3.0"));
        assert_eq!(unprovided(["acme:ledger/accounts", "wasi:cli/exit@0.2.0"]), vec!["acme:ledger/accounts"]);
    }
}
