//! The manifest as written: one serde struct per table, shared by TOML,
//! JSON and the JSON Schema `torvyn schema` prints. Nothing here is
//! checked beyond shape; `config::resolve` turns it into a `PipelineDef`.

pub mod flow;
pub mod runtime;
pub mod subsystems;
pub mod values;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use flow::FlowTable;
use runtime::RuntimeTable;
use subsystems::{BuildTable, CapabilitiesTable, ObservabilityTable, RegistryTable, SecurityTable, TestTable};
use values::InitConfig;

/// A whole `Torvyn.toml` (or its JSON form).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestTable {
    /// The schema an editor validates a JSON manifest with.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    pub torvyn: Option<ProjectTable>,
    /// `[[component]]`.
    #[serde(default)]
    pub component: Vec<ComponentTable>,
    /// `[flow.NAME]`, in the order written.
    #[serde(default)]
    pub flow: IndexMap<String, FlowTable>,
    pub runtime: Option<RuntimeTable>,
    pub security: Option<SecurityTable>,
    pub observability: Option<ObservabilityTable>,
    pub registry: Option<RegistryTable>,
    pub capabilities: Option<CapabilitiesTable>,
    pub build: Option<BuildTable>,
    pub test: Option<TestTable>,
}

/// `[torvyn]`: project metadata.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectTable {
    pub name: Option<String>,
    pub version: Option<String>,
    /// The contract version the project targets; must be one this runtime speaks.
    pub contract_version: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    pub license: Option<String>,
    pub repository: Option<String>,
}

/// The language a component crate is written in (how `torvyn build` builds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Language {
    Rust,
    Go,
    Python,
    Zig,
    C,
    Js,
}

/// `[[component]]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentTable {
    pub name: String,
    /// A `.wasm` file, a component crate folder, or a `file://` URL.
    pub path: String,
    pub language: Option<Language>,
    /// Replaces the language's build command in `torvyn build`.
    pub build_command: Option<String>,
    pub description: Option<String>,
    /// Default `lifecycle.init` configuration of nodes running this component.
    pub config: Option<InitConfig>,
}

/// The settings tables a user file (`~/.config/torvyn/config.toml`) may hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserTable {
    pub runtime: Option<RuntimeTable>,
    pub security: Option<SecurityTable>,
    pub observability: Option<ObservabilityTable>,
    pub registry: Option<RegistryTable>,
    pub build: Option<BuildTable>,
}

/// The JSON Schema of a manifest.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ManifestTable)).unwrap_or_default()
}
