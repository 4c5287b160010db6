//! The Torvyn contract: the embedded WIT, which world a compiled component
//! implements, and version compatibility.

mod imports;
mod version;
mod world;

pub use imports::{is_provided, unprovided};
pub use version::{ContractVersion, SUPPORTED};
pub use world::{ContractError, Exports, Role, detect};

/// The WIT packages of the contract, as shipped in `wit/`.
pub mod wit {
    pub const STREAMING: &str = include_str!("../../wit/torvyn-streaming/streaming.wit");
    pub const FILTERING: &str = include_str!("../../wit/torvyn-filtering/filtering.wit");
    pub const AGGREGATION: &str = include_str!("../../wit/torvyn-aggregation/aggregation.wit");
    pub const CAPABILITIES: &str = include_str!("../../wit/torvyn-capabilities/capabilities.wit");
}

/// Whether `text` parses as WIT (one file; `use` of other packages is not
/// resolved here). The error names the line and what is wrong.
pub fn check_wit_syntax(name: &str, text: &str) -> Result<(), String> {
    wit_parser::UnresolvedPackageGroup::parse(name, text)
        .map(|_| ())
        .map_err(|(map, e)| e.render(&map))
}
