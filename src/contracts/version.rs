//! Semantic versions of contract packages and the compatibility rule.

use std::fmt;

/// A `major.minor.patch` version of a contract package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContractVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

/// The contract version this runtime speaks.
pub const SUPPORTED: ContractVersion = ContractVersion {
    major: 0,
    minor: 1,
    patch: 0,
};

impl ContractVersion {
    /// Parse `0.1.0` (pre-release and build suffixes are ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let core = s.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = ContractVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(v)
    }

    /// Whether a component built against `self` runs on a runtime speaking
    /// `runtime`: same major, and before 1.0 also the same minor.
    pub fn compatible_with(self, runtime: ContractVersion) -> bool {
        self.major == runtime.major && (self.major > 0 || self.minor == runtime.minor)
    }
}

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_rule() {
        let v = |s| ContractVersion::parse(s).unwrap();
        assert!(v("0.1.7").compatible_with(SUPPORTED));
        assert!(!v("0.2.0").compatible_with(SUPPORTED));
        assert!(!v("1.1.0").compatible_with(SUPPORTED));
        assert!(v("1.4.0").compatible_with(v("1.0.0")));
        assert_eq!(ContractVersion::parse("0.1"), None);
        assert_eq!(ContractVersion::parse("0.1.0-rc1"), Some(v("0.1.0")));
    }
}
