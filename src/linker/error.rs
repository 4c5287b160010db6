//! Why a flow cannot be linked.

use crate::contracts::Role;
use crate::engine::EngineError;
use crate::pipeline::PipelineErrors;

/// One reason a flow cannot run, or all of them ([`LinkError::Several`]).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no flow named `{flow}` in the manifest; it defines: {known}")]
    UnknownFlow { flow: String, known: String },
    #[error(transparent)]
    Pipeline(PipelineErrors),
    #[error("node `{node}`: the pulled component `{}` was changed after it was verified (it should hash to {expected}, it hashes to {actual}); it is not run: run `torvyn pull` again", path.display())]
    Altered { node: String, path: std::path::PathBuf, expected: String, actual: String },
    #[error("node `{node}`: {source}")]
    Component {
        node: String,
        #[source]
        source: EngineError,
    },
    #[error("node `{node}` is declared {declared} but `{component}` exports {actual}; point the node at a component that implements {declared}, or change its `interface`")]
    InterfaceMismatch {
        node: String,
        declared: Role,
        component: String,
        actual: Role,
    },
    #[error("node `{node}`: `{component}` ({world}) imports {} and so needs a grant of {any_of}, which the node does not have; add e.g. \"{capability}\" to its `capabilities` (or `[security.grants.{node}]`) if it should have it, or rebuild the component without it", list(.imports))]
    MissingCapability {
        node: String,
        component: String,
        world: String,
        /// The grant to suggest.
        capability: &'static str,
        /// Every capability kind that would allow the imports.
        any_of: String,
        imports: Vec<String>,
        /// The component's SHA-256, for the audit trail.
        digest: String,
    },
    #[error("node `{node}`: component `{component}` requires capability `{capability}` (its manifest's `[capabilities.required]`), which the node is not granted; grant it (`capabilities` or `[security.grants.{node}]`) or run another component")]
    MissingRequired {
        node: String,
        component: String,
        capability: String,
        digest: String,
    },
    #[error("node `{node}`: {source}")]
    Grant {
        node: String,
        #[source]
        source: crate::security::SecurityError,
    },
    #[error("node `{node}`: component `{component}` is not built yet (no {}); run `torvyn build` (or `cargo build --release --target wasm32-wasip2` in {})", wasm.display(), krate.display())]
    NotBuilt {
        node: String,
        component: String,
        wasm: std::path::PathBuf,
        krate: std::path::PathBuf,
    },
    #[error("{} problems:{}", .0.len(), .0.iter().map(|e| format!("\n  - {e}")).collect::<String>())]
    Several(Vec<LinkError>),
    #[error("internal linker error: {0}")]
    Internal(String),
}

/// At most three names, then how many more.
fn list(names: &[String]) -> String {
    match names.len() {
        0..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

impl LinkError {
    /// `None` for no errors, the error itself for one, [`LinkError::Several`] otherwise.
    pub fn collect(mut errors: Vec<LinkError>) -> Option<LinkError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(LinkError::Several(errors)),
        }
    }

    /// The message of every individual problem, graph problems one by one.
    pub fn messages(&self) -> Vec<String> {
        self.problems()
            .into_iter()
            .flat_map(|p| match p {
                LinkError::Pipeline(g) => g.errors().iter().map(ToString::to_string).collect(),
                other => vec![other.to_string()],
            })
            .collect()
    }

    /// Every individual problem (flattening [`LinkError::Several`]).
    pub fn problems(&self) -> Vec<&LinkError> {
        match self {
            LinkError::Several(all) => all.iter().flat_map(LinkError::problems).collect(),
            one => vec![one],
        }
    }
}
