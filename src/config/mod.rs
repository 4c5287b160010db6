//! Pipeline manifests (`Torvyn.toml`, or the same structure as JSON) read into
//! a validated [`PipelineDef`]. Every error names the file, the line and
//! column, and the key.

mod de;
pub(crate) use de::distance as edit_distance;
mod doc;
mod error;
mod flows;
mod manifest;
mod observability;
mod overrides;
mod runtime;
pub mod schema;
mod settings;
mod size;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, ConfigWarning};
pub use overrides::{Override, OverrideValue, Overrides, settable, user_config_dir};
pub use runtime::{DEFAULT_MAX_OUTPUT_RATE, DEFAULT_MAX_TABLE_ELEMENTS, MAX_QUEUE_DEPTH, MAX_WORKER_THREADS, MIN_MEMORY_LIMIT, OtlpMetrics, PoolSizes, QueueSpec, RuntimeConfig};
pub use schema::runtime::{ExhaustionPolicy, SchedulingPolicy};
pub use schema::values::BackpressurePolicy;
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
    /// Keys that were accepted but have no effect (yet), spellings that lost
    /// to another, components not built yet: what `torvyn check` reports.
    pub warnings: Vec<ConfigWarning>,
    /// The tables other subsystems read (`[security]`, `[observability]`,
    /// `[registry]`, `[build]`, `[torvyn]`), as written.
    pub tables: Tables,
}

/// Tables kept as written for the subsystems that act on them.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub project: schema::ProjectTable,
    pub security: schema::subsystems::SecurityTable,
    pub observability: schema::subsystems::ObservabilityTable,
    pub registry: schema::subsystems::RegistryTable,
    pub build: schema::subsystems::BuildTable,
    pub capabilities: schema::subsystems::CapabilitiesTable,
}

/// A `[[component]]` entry, its path resolved to a `.wasm` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentDef {
    pub name: String,
    /// The `.wasm` file (for a crate not built yet: where the build puts it).
    pub path: PathBuf,
    /// The crate folder, when `path` in the manifest named one.
    pub source: Option<PathBuf>,
    pub language: Option<schema::Language>,
    pub build_command: Option<String>,
    /// Default `lifecycle.init` configuration of nodes running it.
    pub config: Option<String>,
}

/// A component's declared needs (`[capabilities.required]`,
/// `[capabilities.optional]`): capability names or the public feature names
/// (`wasi-filesystem-read`), each checked against the vocabulary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityNeeds {
    /// Without one of these granted, the flow does not start.
    pub required: Vec<String>,
    /// Without one of these, the component runs (a warning and an audit event).
    pub optional: Vec<String>,
}

impl ComponentDef {
    /// Whether the `.wasm` exists.
    pub fn is_built(&self) -> bool {
        self.path.is_file()
    }
}

/// `[flow.NAME]`.
#[derive(Debug, Clone)]
pub struct FlowDef {
    pub name: String,
    pub description: String,
    pub nodes: Vec<NodeDef>,
    pub edges: Vec<EdgeDef>,
    /// Queue capacity of this flow's edges that set none.
    pub default_queue_depth: Option<usize>,
    /// Policy of this flow's edges that set none.
    pub backpressure: Option<BackpressurePolicy>,
    /// Low watermark ratio of this flow's edges that set none.
    pub low_watermark_ratio: Option<f64>,
    /// This flow's scheduling policy (else the runtime's).
    pub scheduling: Option<SchedulingPolicy>,
    /// Stop the sources once they have emitted this many elements in all
    /// (`torvyn run --limit`); the flow then drains and completes. Not a
    /// manifest key: set by whoever starts the flow.
    pub limit: Option<u64>,
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
    /// Wasm fuel per call (`fuel_budget`; else the runtime's; 0 = unmetered).
    pub fuel: Option<u64>,
    /// Linear-memory limit of this node (else the runtime's).
    pub memory_limit: Option<u64>,
    /// What its component's manifest says it needs.
    pub needs: CapabilityNeeds,
    /// Deadline of this node's per-element calls (else the runtime's).
    pub call_timeout: Option<Duration>,
    /// Table-element limit of this node (else the runtime's).
    pub max_table_elements: Option<u64>,
    /// Stdout and stderr bytes per second of this node (else the runtime's).
    pub max_output_rate: Option<u64>,
    /// Share of reactor turns under weighted-fair scheduling, 1 to 10.
    pub priority: Option<u32>,
    /// The crate folder of a component not built yet (linking fails naming
    /// the command that builds it).
    pub unbuilt: Option<PathBuf>,
}

impl NodeDef {
    /// Whether the node's component crate has not been built yet (running
    /// the node fails naming the command that builds it).
    pub fn needs_build(&self) -> bool {
        self.unbuilt.is_some() && !self.path.is_file()
    }

    /// A node served by the embedding program.
    pub fn endpoint(name: &str, kind: EndpointKind) -> NodeDef {
        NodeDef {
            name: name.to_string(),
            component: match kind {
                EndpointKind::Ingress => "ingress".into(),
                EndpointKind::Egress => "egress".into(),
            },
            path: PathBuf::new(),
            endpoint: Some(kind),
            interface: None,
            config: String::new(),
            capabilities: Vec::new(),
            on_error: ErrorPolicy::default(),
            max_buffers: DEFAULT_MAX_BUFFERS,
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            resume_after: Duration::from_millis(1),
            fuel: None,
            memory_limit: None,
            needs: CapabilityNeeds::default(),
            max_table_elements: None,
            max_output_rate: None,
            call_timeout: None,
            priority: None,
            unbuilt: None,
        }
    }
}

/// Buffers a node may hold at once unless `max_buffers` says otherwise.
pub const DEFAULT_MAX_BUFFERS: u64 = 256;
/// Buffer bytes a node may hold at once unless `max_buffer_bytes` says otherwise.
pub const DEFAULT_MAX_BUFFER_BYTES: u64 = 256 << 20;

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
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeDef {
    pub from: PortRef,
    pub to: PortRef,
    /// This edge's own queue capacity.
    pub queue_depth: Option<usize>,
    /// This edge's own policy when full.
    pub backpressure: Option<BackpressurePolicy>,
    /// This edge's own low watermark ratio.
    pub low_watermark_ratio: Option<f64>,
}

impl EdgeDef {
    /// An edge with the flow's and runtime's queue settings.
    pub fn new(from: PortRef, to: PortRef) -> EdgeDef {
        EdgeDef { from, to, queue_depth: None, backpressure: None, low_watermark_ratio: None }
    }
}

impl FlowDef {
    /// The queue of edge `i`: edge > flow > runtime (`[runtime.backpressure]`
    /// > `[runtime]`) > default, for depth, policy and watermark alike.
    pub fn queue(&self, i: usize, rt: &RuntimeConfig) -> QueueSpec {
        let edge = self.edges.get(i);
        let depth = edge.and_then(|e| e.queue_depth).or(self.default_queue_depth).unwrap_or(rt.queue_depth);
        let ratio = edge.and_then(|e| e.low_watermark_ratio).or(self.low_watermark_ratio).unwrap_or(rt.low_watermark_ratio);
        QueueSpec {
            depth,
            low_watermark: ((depth as f64 * ratio) as usize).min(depth.saturating_sub(1)),
            policy: edge.and_then(|e| e.backpressure).or(self.backpressure).unwrap_or(rt.backpressure),
        }
    }
}

impl PipelineDef {
    /// Grant `capability` to the node called `target`, or to every node
    /// running `[[component]]` `target`, in every flow (the embedding
    /// program's `[security.grants.<target>]`). Returns how many nodes got
    /// it; a capability outside the vocabulary, or a target naming nothing,
    /// is an error.
    pub fn grant(&mut self, target: &str, capability: &str) -> Result<usize, crate::security::SecurityError> {
        crate::security::Capability::parse(capability)?;
        let mut granted = 0;
        for n in self.flows.iter_mut().flat_map(|f| f.nodes.iter_mut()) {
            if n.endpoint.is_none() && (n.name == target || n.component == target) {
                if !n.capabilities.iter().any(|c| c == capability) {
                    n.capabilities.push(capability.to_string());
                }
                granted += 1;
            }
        }
        if granted == 0 {
            let mut known: Vec<&str> = self.flows.iter().flat_map(|f| f.nodes.iter().filter(|n| n.endpoint.is_none()).map(|n| n.name.as_str())).collect();
            known.dedup();
            return Err(crate::security::SecurityError::NoTarget { target: target.to_string(), known: known.join(", ") });
        }
        Ok(granted)
    }

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
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
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
