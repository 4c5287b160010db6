//! Tables whose behaviour belongs to other subsystems (security,
//! observability, registry, build, test) and a component's own
//! `[capabilities]`: parsed and validated here so nothing is silently
//! ignored; `config::resolve` warns about keys that have no effect yet.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::values::ByteSize;

/// `[security]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityTable {
    /// Only `deny-all` is accepted: a component gets what it is granted.
    pub default_capability_policy: Option<String>,
    /// Keep an audit trail (default true).
    pub audit_enabled: Option<bool>,
    /// Where events go besides each flow's own trail: `file`, `stdout`, or
    /// `event-sink` (the embedding program's callback).
    pub audit_target: Option<AuditTarget>,
    /// With `audit_target = "file"`: the file (default `.torvyn/audit.log`
    /// beside the manifest).
    pub audit_file: Option<String>,
    /// Rotate the file when it passes this size (default 10 MiB).
    pub audit_max_bytes: Option<ByteSize>,
    /// Rotated files kept (`audit.log.1` …; default 5).
    pub audit_max_files: Option<u32>,
    /// `[security.grants.COMPONENT]`.
    #[serde(default)]
    pub grants: IndexMap<String, GrantTable>,
    /// Refuse `oci://` components not signed by one of `trusted_keys`
    /// (checked on pull and on every run).
    pub require_signatures: Option<bool>,
    /// Ed25519 public keys (PEM files, relative to the manifest) whose
    /// signatures are trusted.
    pub trusted_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditTarget {
    File,
    Stdout,
    EventSink,
}

/// `[security.grants.COMPONENT]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantTable {
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ObservabilityLevel {
    Off,
    Production,
    Diagnostic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TracingExporter {
    OtlpGrpc,
    OtlpHttp,
    Stdout,
    File,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MetricsExporter {
    Prometheus,
    Otlp,
    Stdout,
    File,
    None,
}

/// `[observability]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservabilityTable {
    pub level: Option<ObservabilityLevel>,
    pub tracing_enabled: Option<bool>,
    pub tracing_exporter: Option<TracingExporter>,
    pub tracing_endpoint: Option<String>,
    pub sample_rate: Option<f64>,
    /// Spelling of `sample_rate` in the public fixtures.
    pub tracing_sample_rate: Option<f64>,
    pub error_promote: Option<bool>,
    pub latency_promote_threshold_ms: Option<u64>,
    pub metrics_enabled: Option<bool>,
    pub prometheus_enabled: Option<bool>,
    pub otlp_metrics_enabled: Option<bool>,
    pub otlp_metrics_interval_s: Option<u64>,
    pub ring_buffer_capacity: Option<usize>,
    pub metrics_exporter: Option<MetricsExporter>,
    pub metrics_endpoint: Option<String>,
    /// OTLP/HTTP encoding: `http/protobuf` (the default) or `http/json`.
    pub otlp_protocol: Option<OtlpProtocol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum OtlpProtocol {
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "http/json")]
    HttpJson,
}

/// `[registry]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryTable {
    /// Default OCI registry for `torvyn publish` (`host[:port][/namespace]`,
    /// `oci://` optional).
    pub default: Option<String>,
    /// Resolve `oci://` components from the local cache only (what
    /// `--offline` sets).
    pub offline: Option<bool>,
    /// `if-not-present` (default): a tag pulled once is used from the cache
    /// until pulled again; `always`: ask the registry what each tag points
    /// to on every load (what `torvyn pull` does).
    pub pull_policy: Option<PullPolicyKey>,
    /// Registries (`host:port`) spoken to over plain HTTP; loopback ones
    /// always are, every other one over HTTPS.
    pub insecure: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PullPolicyKey {
    IfNotPresent,
    Always,
}

/// A component's own `[capabilities]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesTable {
    #[serde(default)]
    pub required: IndexMap<String, bool>,
    #[serde(default)]
    pub optional: IndexMap<String, bool>,
    pub torvyn: Option<TorvynNeeds>,
}

/// `[capabilities.torvyn]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TorvynNeeds {
    pub max_buffer_size: Option<ByteSize>,
    pub max_memory: Option<ByteSize>,
    pub buffer_pool_access: Option<String>,
}

/// `[build]`: how `torvyn build` builds the component crates.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildTable {
    /// Build with `--release` (default true).
    pub release: Option<bool>,
    /// More arguments for every build command.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Target triple (default `wasm32-wasip2`).
    pub target: Option<String>,
}

/// `[test]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTable {
    pub timeout_seconds: Option<u64>,
    pub fixtures_dir: Option<String>,
}
