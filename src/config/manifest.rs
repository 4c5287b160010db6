//! Reads a manifest: text → located document → the tables as written
//! (serde, `schema`) → a checked [`PipelineDef`] (`settings`, `flows`).
//! Every error and warning names the file, line, column and dotted key.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::doc::{self, Node, Pos};
use super::overrides::Overrides;
use super::schema::{ComponentTable, ManifestTable};
use super::{ComponentDef, ConfigError, ConfigWarning, PipelineDef, Tables};

/// What resolving needs at hand: where errors point, and the warnings so far.
pub(super) struct Cx<'a> {
    pub file: Option<&'a Path>,
    pub base: &'a Path,
    pub root: &'a Node,
    pub warnings: RefCell<Vec<ConfigWarning>>,
    /// How `oci://` references are resolved (set once the tables are read).
    pub pull: RefCell<Option<crate::packaging::PullPolicy>>,
}

impl Cx<'_> {
    /// The position of `key`'s value, or of the nearest table holding it.
    fn pos(&self, key: &str) -> Option<Pos> {
        self.root.find(key).pos.or_else(|| self.root.key_pos(key))
    }

    pub fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.map(Path::to_path_buf),
            pos: self.pos(key),
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub fn warn(&self, key: &str, message: impl Into<String>) {
        self.warnings.borrow_mut().push(ConfigWarning {
            file: self.file.map(Path::to_path_buf),
            pos: self.root.key_pos(key).or_else(|| self.pos(key)),
            key: key.to_string(),
            message: message.into(),
        });
    }
}

/// Parse manifest text into a checked pipeline definition.
pub fn parse(text: &str, json: bool, file: Option<&Path>, base: &Path, overrides: &Overrides) -> Result<PipelineDef, ConfigError> {
    let located = |pos, message: String| ConfigError::Invalid {
        file: file.map(Path::to_path_buf),
        pos,
        key: String::new(),
        message,
    };
    let written = if json { doc::from_json(text) } else { doc::from_toml(text) }
        .map_err(|(pos, message)| located(pos, format!("syntax error: {message}")))?;
    let mut root = written.clone();
    overrides.apply(&mut root);
    let cx = Cx { file, base, root: &root, warnings: RefCell::new(Vec::new()), pull: RefCell::new(None) };
    resolve(&cx).map_err(|e| overrides.blame(e, &written))
}

fn resolve(cx: &Cx<'_>) -> Result<PipelineDef, ConfigError> {
    let m: ManifestTable = super::de::from_node(cx.root, "").map_err(|e| ConfigError::Invalid {
        file: cx.file.map(Path::to_path_buf),
        pos: e.pos,
        key: e.key,
        message: e.message,
    })?;
    let project = m.torvyn.clone().unwrap_or_default();
    if let Some(v) = &project.contract_version {
        let parsed = crate::contracts::ContractVersion::parse(v);
        if !parsed.is_some_and(|p| p.compatible_with(crate::contracts::SUPPORTED)) {
            return Err(cx.err(
                "torvyn.contract_version",
                format!("contract {v} is not supported; this runtime speaks {}", crate::contracts::SUPPORTED),
            ));
        }
    }
    if let Some(policy) = m.security.as_ref().and_then(|s| s.default_capability_policy.as_deref()) {
        if policy != "deny-all" {
            return Err(cx.err(
                "security.default_capability_policy",
                format!("`{policy}` is not supported: a component gets only what it is granted; use \"deny-all\" and grant each node what it needs"),
            ));
        }
    }
    let mut runtime = super::settings::runtime(cx, m.runtime.as_ref())?;
    *cx.pull.borrow_mut() = Some(pull_policy(cx, &m)?);
    let mut components = Vec::new();
    for (i, c) in m.component.iter().enumerate() {
        let key = format!("component[{i}]");
        if components.iter().any(|d: &ComponentDef| d.name == c.name) {
            return Err(cx.err(&format!("{key}.name"), format!("component `{}` is defined twice", c.name)));
        }
        components.push(component(cx, &key, c)?);
    }
    let needs = needs(cx, m.capabilities.as_ref())?;
    if let Some(o) = &m.observability {
        super::observability::resolve(cx, o, &mut runtime)?;
    }
    if let Some(sec) = &m.security {
        runtime.audit = audit(cx, sec)?;
    }
    let flows = super::flows::flows(cx, &m, &components, &needs, &runtime)?;
    super::settings::warn_inert(cx);
    Ok(PipelineDef {
        name: project.name.clone().unwrap_or_default(),
        file: cx.file.map(Path::to_path_buf),
        components,
        flows,
        runtime,
        warnings: cx.warnings.take(),
        tables: Tables {
            project,
            security: m.security.unwrap_or_default(),
            observability: m.observability.unwrap_or_default(),
            registry: m.registry.unwrap_or_default(),
            build: m.build.unwrap_or_default(),
            capabilities: m.capabilities.unwrap_or_default(),
        },
    })
}

fn component(cx: &Cx<'_>, key: &str, c: &ComponentTable) -> Result<ComponentDef, ConfigError> {
    // The name becomes a file name (`.torvyn/build/<name>.wasm`).
    if c.name.is_empty() || !c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        return Err(cx.err(&format!("{key}.name"), format!("`{}` is not a component name; use letters, digits, `-` and `_`", c.name)));
    }
    let found = locate(cx, &c.path, Some(&c.name), &format!("{key}.path"))?;
    Ok(ComponentDef {
        name: c.name.clone(),
        path: found.wasm,
        source: found.source,
        language: c.language,
        build_command: c.build_command.clone(),
        config: c.config.clone().map(|c| c.0),
    })
}

/// Where a component reference leads.
pub(super) struct Located {
    /// The `.wasm` (for a crate not built yet: where its build puts it).
    pub wasm: PathBuf,
    /// The crate folder, when the reference named one (or a file inside a
    /// crate's `target/`).
    pub source: Option<PathBuf>,
}

/// A component reference: a `.wasm` file, a component crate folder, or a
/// `file://` URL to either, relative to the manifest or absolute. A crate
/// not built yet is a warning (naming the command that builds it); `run`
/// fails on it.
pub(super) fn locate(cx: &Cx<'_>, reference: &str, name: Option<&str>, key: &str) -> Result<Located, ConfigError> {
    let decoded;
    let text = match reference.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("file") => {
            // file:///abs, file://localhost/abs, or the relative file://./x.
            let rest = rest.strip_prefix("localhost/").map_or(rest, |r| &rest[rest.len() - r.len() - 1..]);
            decoded = percent_decode(rest);
            decoded.as_str()
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("oci") => return pull(cx, reference, key),
        Some((scheme, _)) => {
            return Err(cx.err(key, format!("`{reference}`: `{scheme}://` is not a component source; give a path, or a file:// URL")))
        }
        None => reference,
    };
    let path = cx.base.join(text);
    if path.is_dir() {
        if let Some(wasm) = built_wasm(cx.base, &path, name) {
            return Ok(Located { wasm, source: Some(path) });
        }
        let wasm = expected_wasm(&path);
        cx.warn(key, not_built(&path, name));
        return Ok(Located { wasm, source: Some(path) });
    }
    if path.is_file() {
        return Ok(Located { wasm: path, source: None });
    }
    // A .wasm under a crate's target/ that is not there yet: not built.
    if let Some(krate) = path.ancestors().skip(1).take_while(|a| a.starts_with(cx.base) || !path.starts_with(cx.base)).find(|a| a.join("Cargo.toml").is_file() && path.starts_with(a.join("target"))) {
        cx.warn(key, not_built(krate, name));
        return Ok(Located { wasm: path.clone(), source: Some(krate.to_path_buf()) });
    }
    Err(cx.err(
        key,
        format!("`{}` does not exist; give the path of a .wasm component (relative to the manifest) or of a component crate folder", path.display()),
    ))
}

/// How this manifest resolves `oci://` references: `[registry] offline`,
/// `pull_policy` and `insecure`, `[security] require_signatures` and
/// `trusted_keys`, the store under the user's cache root.
fn pull_policy(cx: &Cx<'_>, m: &ManifestTable) -> Result<crate::packaging::PullPolicy, ConfigError> {
    let registry = m.registry.clone().unwrap_or_default();
    let security = m.security.clone().unwrap_or_default();
    let mut trusted = Vec::new();
    for (i, k) in security.trusted_keys.iter().flatten().enumerate() {
        let key = crate::packaging::load_public(&cx.base.join(k)).map_err(|e| cx.err(&format!("security.trusted_keys[{i}]"), e.to_string()))?;
        trusted.push(key);
    }
    let require = security.require_signatures.unwrap_or(false);
    if require && trusted.is_empty() {
        return Err(cx.err(
            "security.require_signatures",
            "signatures are required but `trusted_keys` lists no public key; add the `.pub` file of the key that signs your artifacts (`torvyn key generate` makes one)",
        ));
    }
    // Pulled artifacts live in the user's cache root only (TORVYN_HOME,
    // XDG_CACHE_HOME, HOME): never in a folder the manifest names, where a
    // project could ship tags already "resolved" to components of its choice.
    let root = crate::engine::default_cache_root().unwrap_or_default();
    Ok(crate::packaging::PullPolicy {
        root,
        offline: registry.offline.unwrap_or(false),
        refresh: registry.pull_policy == Some(super::schema::subsystems::PullPolicyKey::Always),
        insecure: registry.insecure.unwrap_or_default(),
        require_signatures: require,
        trusted,
    })
}

/// An `oci://` component: from the store, or pulled (and verified) now.
fn pull(cx: &Cx<'_>, reference: &str, key: &str) -> Result<Located, ConfigError> {
    let parsed = crate::packaging::Reference::parse(reference).map_err(|e| cx.err(key, e.to_string()))?;
    let policy = cx.pull.borrow().clone().unwrap_or_default();
    if policy.root.as_os_str().is_empty() {
        return Err(cx.err(key, format!("`{reference}`: no cache directory to pull into; set TORVYN_HOME (or HOME, or XDG_CACHE_HOME)")));
    }
    let resolved = crate::packaging::resolve(&parsed, &policy).map_err(|e| cx.err(key, e.to_string()))?;
    log::debug!("`{reference}` is {} ({}){}", resolved.digest, resolved.wasm.display(), resolved.signed_by.as_ref().map(|k| format!(", signed by {k}")).unwrap_or_default());
    Ok(Located { wasm: resolved.wasm, source: None })
}

/// `%XX` escapes of a URL path decoded (invalid ones left as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn not_built(krate: &Path, name: Option<&str>) -> String {
    let target = name.map(|n| format!(" --target {n}")).unwrap_or_default();
    format!(
        "component crate `{}` is not built yet; run `torvyn build{target}` (or `cargo build --release --target wasm32-wasip2` in that folder)",
        krate.display()
    )
}

/// The built `.wasm` of a crate folder: what `torvyn build` left in
/// `.torvyn/build/<name>.wasm` or cargo's release (then debug) output,
/// whichever was written last (a crate rebuilt with plain cargo after
/// `torvyn build` runs as rebuilt).
fn built_wasm(base: &Path, krate: &Path, name: Option<&str>) -> Option<PathBuf> {
    let staged = name.map(|n| base.join(".torvyn/build").join(format!("{n}.wasm"))).filter(|p| p.is_file());
    let cargo = cargo_wasm(krate);
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (staged, cargo) {
        (Some(s), Some(c)) if modified(&c) > modified(&s) => Some(c),
        (Some(s), _) => Some(s),
        (None, c) => c,
    }
}

/// Cargo's own output for a crate folder: release, then debug, in the
/// crate's `target/` or in that of the workspace it belongs to (a folder
/// above it with a Cargo.toml declaring `[workspace]`).
fn cargo_wasm(krate: &Path) -> Option<PathBuf> {
    let wanted = crate_wasm_name(krate);
    let workspace = krate.ancestors().skip(1).take(4).find(|a| {
        std::fs::read_to_string(a.join("Cargo.toml")).is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
    });
    let roots = std::iter::once(krate).chain(workspace);
    for root in roots {
        for dir in ["wasm32-wasip2/release", "wasm32-wasip1/release", "wasm32-wasip2/debug", "wasm32-wasip1/debug"] {
            let dir = root.join("target").join(dir);
            if let Some(w) = &wanted {
                if dir.join(w).is_file() {
                    return Some(dir.join(w));
                }
            }
            if root != krate {
                continue;
            }
            let found: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "wasm")).collect())
                .unwrap_or_default();
            if let [one] = found.as_slice() {
                return Some(one.clone());
            }
        }
    }
    None
}

/// Where cargo puts a crate's release component.
pub(super) fn expected_wasm(krate: &Path) -> PathBuf {
    let name = crate_wasm_name(krate).unwrap_or_else(|| "component.wasm".into());
    krate.join("target/wasm32-wasip2/release").join(name)
}

/// `<name>.wasm` from a crate folder's Cargo.toml (`-` becomes `_`).
pub(super) fn crate_wasm_name(folder: &Path) -> Option<String> {
    let text = std::fs::read_to_string(folder.join("Cargo.toml")).ok()?;
    let value: toml::Table = text.parse().ok()?;
    let name = value.get("package")?.get("name")?.as_str()?;
    Some(format!("{}.wasm", name.replace('-', "_")))
}

/// `[security] audit_*`.
fn audit(cx: &Cx<'_>, sec: &super::schema::subsystems::SecurityTable) -> Result<crate::security::AuditConfig, ConfigError> {
    use super::schema::subsystems::AuditTarget;
    use crate::security::AuditDestination;
    let enabled = sec.audit_enabled.unwrap_or(true);
    let file_keys = sec.audit_file.is_some() || sec.audit_max_bytes.is_some() || sec.audit_max_files.is_some();
    if file_keys && sec.audit_target != Some(AuditTarget::File) {
        return Err(cx.err("security.audit_file", "`audit_file`, `audit_max_bytes` and `audit_max_files` need `audit_target = \"file\"`"));
    }
    let destination = match sec.audit_target {
        None | Some(AuditTarget::EventSink) => None,
        Some(AuditTarget::Stdout) => Some(AuditDestination::Stdout),
        Some(AuditTarget::File) => {
            let path = cx.base.join(sec.audit_file.as_deref().unwrap_or(".torvyn/audit.log"));
            let max_bytes = sec.audit_max_bytes.map_or(10 << 20, |b| b.0);
            if max_bytes < 4096 {
                return Err(cx.err("security.audit_max_bytes", format!("{max_bytes} bytes is too small to hold audit events; give at least 4 KiB")));
            }
            Some(AuditDestination::File { path, max_bytes, max_files: sec.audit_max_files.unwrap_or(5).min(1000) })
        }
    };
    Ok(crate::security::AuditConfig { enabled, destination })
}

/// `[capabilities.required]` / `[capabilities.optional]`: the keys set to
/// `true`, each a capability or a public feature name.
fn needs(cx: &Cx<'_>, t: Option<&super::schema::subsystems::CapabilitiesTable>) -> Result<super::CapabilityNeeds, ConfigError> {
    let Some(t) = t else { return Ok(Default::default()) };
    let check = |table: &str, list: &indexmap::IndexMap<String, bool>| -> Result<Vec<String>, ConfigError> {
        let mut out = Vec::new();
        for (name, wanted) in list {
            if crate::security::feature_kinds(name).is_none() {
                crate::security::Capability::parse(name).map_err(|e| cx.err(&format!("capabilities.{table}.{name}"), e.to_string()))?;
            }
            if *wanted {
                out.push(name.clone());
            }
        }
        Ok(out)
    };
    Ok(super::CapabilityNeeds { required: check("required", &t.required)?, optional: check("optional", &t.optional)? })
}
