//! Pipeline manifests (`Torvyn.toml`, or the same structure as JSON) read into
//! a validated [`PipelineDef`]. Every error names the file, the line and
//! column, and the key.

mod doc;
mod error;
mod manifest;
mod overrides;
mod runtime;
mod size;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
pub use overrides::{OVERRIDABLE, Override, Overrides};
pub use runtime::{MAX_QUEUE_DEPTH, MAX_WORKER_THREADS, MIN_MEMORY_LIMIT, RuntimeConfig};
pub use size::parse_size;

use crate::contracts::Role;

/// A whole manifest: components, flows and runtime settings.
#[derive(Debug, Clone)]
pub struct PipelineDef {
    /// `[torvyn] name`.
    pub name: String,
    /// The manifest file, when it came from one.
    pub file: Option<PathBuf>,
    pub components: Vec<ComponentDef>,
    pub flows: Vec<FlowDef>,
    pub runtime: RuntimeConfig,
}

/// A `[[component]]` entry, its path resolved to a `.wasm` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentDef {
    pub name: String,
    pub path: PathBuf,
}

/// `[flow.NAME]`.
#[derive(Debug, Clone)]
pub struct FlowDef {
    pub name: String,
    pub description: String,
    pub nodes: Vec<NodeDef>,
    pub edges: Vec<EdgeDef>,
}

/// A node the embedding program serves instead of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// The program pushes bytes in (`endpoint = "ingress"`); acts as a source.
    Ingress,
    /// The program takes elements out (`endpoint = "egress"`); acts as a sink.
    Egress,
}

/// `[flow.NAME.nodes.NODE]`.
#[derive(Debug, Clone)]
pub struct NodeDef {
    pub name: String,
    /// Display name of the component (the `[[component]]` name or the file
    /// name; `ingress`/`egress` for endpoints).
    pub component: String,
    /// The `.wasm` file (empty for endpoints).
    pub path: PathBuf,
    /// Set when the node is a host endpoint rather than a component.
    pub endpoint: Option<EndpointKind>,
    /// The declared contract interface, checked against what the component exports.
    pub interface: Option<Role>,
    /// Passed to `lifecycle.init` (tables are turned into JSON).
    pub config: String,
    /// Capability grants (`stdout`, `stderr`, and names answered by `has-capability`).
    pub capabilities: Vec<String>,
    pub on_error: ErrorPolicy,
    /// Buffers the component may hold at once.
    pub max_buffers: u64,
    /// Bytes of buffer capacity the component may hold at once.
    pub max_buffer_bytes: u64,
    /// How long deliveries to a sink are held after it answers `pause`.
    pub resume_after: Duration,
}

/// What to do when a call returns a `process-error` of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorAction {
    /// Drop the element and go on.
    Skip,
    /// Call again with the same element, up to `max_retries` times; then fail.
    Retry,
    /// Fail the flow.
    Fail,
}

/// A node's error policy. `fatal` always fails the flow; a trap always fails it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorPolicy {
    pub invalid_input: ErrorAction,
    pub deadline_exceeded: ErrorAction,
    pub unavailable: ErrorAction,
    pub internal: ErrorAction,
    pub max_retries: u32,
}

impl Default for ErrorPolicy {
    fn default() -> Self {
        ErrorPolicy {
            invalid_input: ErrorAction::Skip,
            deadline_exceeded: ErrorAction::Skip,
            unavailable: ErrorAction::Retry,
            internal: ErrorAction::Retry,
            max_retries: 3,
        }
    }
}

/// One end of an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRef {
    pub node: String,
    pub port: String,
}

/// `[[flow.NAME.edges]]`: elements go from an output port to an input port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeDef {
    pub from: PortRef,
    pub to: PortRef,
}

impl PipelineDef {
    /// Read a manifest: a `Torvyn.toml` / `.json` file, or a folder holding `Torvyn.toml`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_with(path, &Overrides::default())
    }

    /// [`PipelineDef::load`] with `[runtime]` settings overridden (see
    /// [`Overrides`]: command line > environment > manifest > defaults).
    pub fn load_with(path: impl AsRef<Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let file = if path.is_dir() { path.join("Torvyn.toml") } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
            path: file.clone(),
            source,
        })?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let json = file.extension().is_some_and(|e| e == "json");
        manifest::parse(&text, json, Some(&file), &base, overrides)
    }

    /// Read TOML text; relative paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        manifest::parse(text, false, None, base_dir.as_ref(), &Overrides::default())
    }

    /// Read JSON text (the same structure as the TOML); relative paths
    /// resolve against `base_dir`.
    pub fn from_json_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        manifest::parse(text, true, None, base_dir.as_ref(), &Overrides::default())
    }

    /// The flow called `name`.
    pub fn flow(&self, name: &str) -> Option<&FlowDef> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The flow to run when none is named: `main` if present, else the only one.
    pub fn default_flow(&self) -> Option<&FlowDef> {
        self.flow("main").or(match self.flows.as_slice() {
            [only] => Some(only),
            _ => None,
        })
    }
}
