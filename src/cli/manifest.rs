//! The manifest and flow a command names, in every spelling users bring:
//! `torvyn run [MANIFEST] [FLOW]`, `torvyn run flow.main`, `--manifest
//! PATH`, `--flow NAME`; and the settings layered on it (command line >
//! environment > manifest > user file > defaults).

use std::path::PathBuf;

use clap::Args;

use super::output;
use crate::config::{Overrides, PipelineDef};

/// The manifest arguments shared by `run`, `check`, `link` and `build`.
#[derive(Args, Debug, Clone, Default)]
pub struct ManifestArgs {
    /// A Torvyn.toml (or .json) manifest or a folder holding one (default
    /// `.`), then optionally a flow, also written `flow.NAME`.
    #[arg(value_name = "MANIFEST|flow.NAME", num_args = 0..=2)]
    pub targets: Vec<String>,
    /// The manifest (same as the first positional argument).
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// The flow (same as a `flow.NAME` or second positional argument).
    #[arg(long, value_name = "NAME")]
    pub flow: Option<String>,
    /// Override a setting, e.g. `--config runtime.worker_threads=2` or
    /// `--set queue_depth=128` (a [runtime] key alone); repeatable; beats
    /// TORVYN_* and the manifest.
    #[arg(long = "config", visible_alias = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Resolve `oci://` components from the local cache only (`registry.offline=true`).
    #[arg(long)]
    pub offline: bool,
}

/// Exit code 2: the input is missing or the usage is wrong.
pub const USAGE: i32 = 2;
/// Exit code 1: the input is there but wrong, or the pipeline failed.
pub const FAILURE: i32 = 1;

impl ManifestArgs {
    /// The manifest path and the flow named, or why the arguments conflict.
    pub fn targets(&self) -> Result<(PathBuf, Option<String>), String> {
        let mut path = self.manifest.clone();
        let mut flow: Option<String> = None;
        for t in &self.targets {
            let is_flow = t.starts_with("flow.") && !std::path::Path::new(t).exists();
            match (is_flow, &path) {
                (true, _) => flow = Some(t["flow.".len()..].to_string()),
                (false, None) => path = Some(PathBuf::from(t)),
                (false, Some(_)) if flow.is_none() => flow = Some(t.clone()),
                (false, Some(_)) => return Err(format!("unexpected argument `{t}`: the manifest and the flow are already given")),
            }
        }
        match (&self.flow, &flow) {
            (Some(a), Some(b)) if a != b => return Err(format!("two different flows named: `--flow {a}` and `{b}`")),
            (Some(a), _) => flow = Some(a.clone()),
            _ => {}
        }
        Ok((path.unwrap_or_else(|| PathBuf::from(".")), flow))
    }

    /// The flow named on the command line, if any.
    pub fn flow(&self) -> Option<String> {
        self.targets().ok().and_then(|(_, f)| f)
    }

    /// The manifest file.
    pub fn file(&self) -> Result<PathBuf, i32> {
        let (path, _) = self.targets().map_err(|e| {
            output::error(e);
            USAGE
        })?;
        let file = if path.is_dir() { path.join("Torvyn.toml") } else { path };
        if !file.is_file() {
            output::error(format!(
                "`{}` does not exist; give a Torvyn.toml, a folder holding one, or create a project with `torvyn init NAME`",
                file.display()
            ));
            return Err(USAGE);
        }
        Ok(file)
    }

    /// The manifest, or the exit code after reporting why not. Its
    /// warnings are reported too.
    pub fn load(&self) -> Result<PipelineDef, i32> {
        let file = self.file()?;
        let overrides = Overrides::from_env().and_then(|env| {
            let user = match Overrides::user_file() {
                Some(path) => Overrides::default().with_user_file(&path)?,
                None => Overrides::default(),
            };
            let mut cli = Overrides::default();
            for s in &self.set {
                cli.set(s, &format!("--config {s}"))?;
            }
            if self.offline {
                cli.set("registry.offline=true", "--offline")?;
            }
            Ok(user.then(env).then(cli))
        });
        let overrides = match overrides {
            Ok(o) => o,
            Err(e) => {
                output::error(e);
                return Err(USAGE);
            }
        };
        let pipeline = PipelineDef::load_with(&file, &overrides).map_err(|e| {
            output::error(e);
            FAILURE
        })?;
        for w in &pipeline.warnings {
            output::warning(w);
        }
        Ok(pipeline)
    }

    /// The flow to use: the one named, else `main`, else the only one.
    /// [`ManifestArgs::load`], then [`ManifestArgs::pick_flow`].
    pub fn load_flow(&self) -> Result<(PipelineDef, String), i32> {
        let pipeline = self.load()?;
        let flow = self.pick_flow(&pipeline)?;
        Ok((pipeline, flow))
    }

    pub fn pick_flow(&self, pipeline: &PipelineDef) -> Result<String, i32> {
        if let Some(f) = self.flow() {
            if pipeline.flow(&f).is_none() {
                let names: Vec<&str> = pipeline.flows.iter().map(|f| f.name.as_str()).collect();
                output::error(format!("no flow named `{f}` in the manifest; it defines: {}", names.join(", ")));
                return Err(USAGE);
            }
            return Ok(f);
        }
        match pipeline.default_flow() {
            Some(f) => Ok(f.name.clone()),
            None if pipeline.flows.is_empty() => {
                output::error("the manifest defines no flow; add a [flow.main] table with nodes and edges");
                Err(USAGE)
            }
            None => {
                let names: Vec<&str> = pipeline.flows.iter().map(|f| f.name.as_str()).collect();
                output::error(format!(
                    "the manifest has several flows and none is called `main`; name one with `--flow NAME` or `flow.NAME`: {}",
                    names.join(", ")
                ));
                Err(USAGE)
            }
        }
    }
}

/// `torvyn bench` and `torvyn trace` run a flow on their own: one fed or
/// drained by the embedding program (ingress/egress nodes) is refused.
pub fn refuse_endpoints(pipeline: &crate::PipelineDef, flow: &str, command: &str) -> Result<(), i32> {
    let endpoints: Vec<&str> = pipeline.flow(flow).map_or(Vec::new(), |f| f.nodes.iter().filter(|n| n.endpoint.is_some()).map(|n| n.name.as_str()).collect());
    if endpoints.is_empty() {
        return Ok(());
    }
    output::error(format!(
        "flow `{flow}` is fed or drained by the embedding program ({}); torvyn {command} runs flows whose sources and sinks are components",
        endpoints.join(", ")
    ));
    Err(USAGE)
}

/// Guests' stdout and stderr go to the log (which `bench` and `trace` do
/// not print) instead of the terminal.
pub fn quiet_guests(pipeline: &mut crate::PipelineDef) {
    for node in pipeline.flows.iter_mut().flat_map(|f| f.nodes.iter_mut()) {
        use crate::security::Capability;
        node.capabilities.retain(|c| !Capability::parse(c).is_ok_and(|c| c == Capability::Stdout || c == Capability::Stderr));
    }
}
