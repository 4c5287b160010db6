//! Settings given outside the manifest: the user file
//! (`$TORVYN_HOME/config.toml`, else `$XDG_CONFIG_HOME/torvyn/config.toml`,
//! else `~/.config/torvyn/config.toml`), environment variables `TORVYN_*`
//! and `--config key=value` / `--set key=value` on the command line.
//!
//! Precedence, highest first: command line, environment, manifest, user
//! file, defaults. An override is checked by the same rules as the
//! manifest, so a bad value gets the same message, naming where it came
//! from. Overriding one spelling of a setting replaces every spelling of it
//! (`--config queue_depth=8` beats `[runtime.backpressure] default_queue_depth`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::doc::{self, Node, Value};
use super::error::ConfigError;

/// Tables whose scalar keys can be overridden.
const TABLES: &[&str] = &["runtime", "observability", "security", "registry", "build"];

/// `TORVYN_*` variables that are not settings.
const NOT_SETTINGS: &[&str] = &["TORVYN_LIBRARY", "TORVYN_LOG", "TORVYN_HOME", "TORVYN_STATE_DIR"];

/// Settings that have two spellings: setting one replaces the other.
pub(super) const SPELLINGS: &[&[&str]] = &[
    &["runtime.queue_depth", "runtime.backpressure.default_queue_depth"],
    &["runtime.memory_limit", "runtime.max_memory_per_component"],
    &["runtime.init_timeout_ms", "runtime.component_init_timeout_ms"],
    &["runtime.low_watermark", "runtime.backpressure.low_watermark_ratio"],
    &["runtime.fuel_per_invocation", "runtime.default_fuel_per_invocation"],
    &["observability.sample_rate", "observability.tracing_sample_rate"],
];

/// Every overridable key (dotted), read off the manifest's schema.
pub fn settable() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let schema = super::schema::json_schema();
        let mut keys = Vec::new();
        if let Some(top) = properties(&schema, &schema) {
            for table in TABLES {
                if let Some(t) = top.get(*table) {
                    leaves(&schema, t, table, &mut keys);
                }
            }
        }
        keys
    })
}

/// The properties of an object schema, following `$ref` and `anyOf`.
fn properties<'s>(root: &'s serde_json::Value, s: &'s serde_json::Value) -> Option<&'s serde_json::Map<String, serde_json::Value>> {
    if let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
        let name = r.rsplit('/').next()?;
        return properties(root, root.get("$defs")?.get(name)?);
    }
    if let Some(p) = s.get("properties").and_then(|p| p.as_object()) {
        return Some(p);
    }
    s.get("anyOf")?.as_array()?.iter().find_map(|b| properties(root, b))
}

fn leaves(root: &serde_json::Value, s: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match properties(root, s) {
        Some(props) => {
            for (k, v) in props {
                leaves(root, v, &format!("{prefix}.{k}"), out);
            }
        }
        None => {
            let kind = s.get("type").map(|t| t.to_string()).unwrap_or_default();
            if !kind.contains("object") && !kind.contains("array") {
                out.push(prefix.to_string());
            }
        }
    }
}

/// One setting from outside the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key, e.g. `runtime.queue_depth`.
    pub key: String,
    /// Text for the environment and the command line; a located value for
    /// the user file.
    pub value: OverrideValue,
    /// Where it came from, e.g. `environment variable TORVYN_QUEUE_DEPTH`.
    pub origin: String,
}

/// The value of an override.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideValue {
    Text(String),
    /// A value from the user file (applies below the manifest).
    Below(String),
}

impl Override {
    fn text(&self) -> &str {
        match &self.value {
            OverrideValue::Text(t) | OverrideValue::Below(t) => t,
        }
    }
}

/// Overrides in the order they apply (a later one wins).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    entries: Vec<Override>,
}

impl PartialEq for Overrides {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

fn suggestion(key: &str) -> String {
    let keys: Vec<&str> = settable().iter().map(String::as_str).collect();
    match keys.iter().min_by_key(|k| super::de::distance(key, k)) {
        Some(b) if super::de::distance(key, b) <= 3 => format!("did you mean `{b}`? "),
        _ => String::new(),
    }
}

/// The key a `--config`/`--set` name means: a full dotted key, or a
/// `[runtime]` key without its table.
fn full_key(key: &str) -> String {
    let key = key.trim();
    match key.split('.').next() {
        Some(first) if TABLES.contains(&first) => key.to_string(),
        _ => format!("runtime.{key}"),
    }
}

impl Overrides {
    /// The `TORVYN_*` variables of this process.
    pub fn from_env() -> Result<Overrides, ConfigError> {
        let mut vars = Vec::new();
        for (k, v) in std::env::vars_os() {
            let Some(k) = k.to_str().filter(|k| k.starts_with("TORVYN_")) else { continue };
            match v.into_string() {
                Ok(v) => vars.push((k.to_string(), v)),
                Err(_) => {
                    return Err(ConfigError::Override {
                        origin: format!("environment variable {k}"),
                        key: k.to_string(),
                        message: "its value is not UTF-8 text".into(),
                    })
                }
            }
        }
        Overrides::from_vars(vars)
    }

    /// The `TORVYN_*` settings among `vars`: `TORVYN_` + the dotted key in
    /// upper case with `_` for `.` (`TORVYN_RUNTIME_WORKER_THREADS`), or a
    /// `[runtime]` key alone (`TORVYN_QUEUE_DEPTH`).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Overrides, ConfigError> {
        let mut found: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("TORVYN_") && !NOT_SETTINGS.contains(&k.as_str()))
            .collect();
        found.sort();
        let mut o = Overrides::default();
        for (var, value) in found {
            let name = &var["TORVYN_".len()..];
            let spelled = |k: &String| k.replace('.', "_").to_ascii_uppercase();
            let legacy = format!("runtime.{}", name.to_ascii_lowercase());
            let key = match settable().iter().find(|k| spelled(k) == name) {
                Some(k) => k.clone(),
                None if settable().contains(&legacy) => legacy,
                None => {
                    // A [runtime] key may also be spelled without RUNTIME_.
                    let gap = |k: &String| {
                        let full = spelled(k);
                        let short = full.strip_prefix("RUNTIME_").unwrap_or(&full);
                        super::de::distance(&full, name).min(super::de::distance(short, name))
                    };
                    // A near miss is a typo of a setting: an error. Anything
                    // else is some other tool's variable: ignored, said once.
                    let Some(k) = settable().iter().min_by_key(|k| gap(k)).filter(|k| gap(k) <= 3) else {
                        log::warn!("environment variable {var} is not a Torvyn setting; ignored");
                        continue;
                    };
                    return Err(ConfigError::Override {
                        origin: format!("environment variable {var}"),
                        key: var.clone(),
                        message: format!(
                            "not a setting; did you mean `{k}` (TORVYN_{})? a variable is TORVYN_ and the key path in upper case with `_` for `.`",
                            spelled(k)
                        ),
                    });
                }
            };
            o.push(key, OverrideValue::Text(value), format!("environment variable {var}"))?;
        }
        Ok(o)
    }

    /// Add `key=value` (a dotted key, or a `[runtime]` key alone), from `origin`.
    pub fn set(&mut self, assignment: &str, origin: &str) -> Result<(), ConfigError> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(ConfigError::Override {
                origin: origin.to_string(),
                key: assignment.to_string(),
                message: "expected KEY=VALUE, e.g. runtime.worker_threads=2".into(),
            });
        };
        self.push(full_key(key), OverrideValue::Text(value.trim().to_string()), origin.to_string())
    }

    /// The user file: `config.toml` in [`user_config_dir`].
    pub fn user_file() -> Option<PathBuf> {
        user_config_dir().map(|d| d.join("config.toml"))
    }

    /// Read the user file at `path` (absent is fine) as the layer below the
    /// manifest. Its errors name the file, line and key.
    pub fn with_user_file(mut self, path: &Path) -> Result<Overrides, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self),
            Err(source) => return Err(ConfigError::Read { path: path.to_path_buf(), source }),
        };
        let located = |pos, key: &str, message: String| ConfigError::Invalid {
            file: Some(path.to_path_buf()),
            pos,
            key: key.to_string(),
            message,
        };
        let node = doc::from_toml(&text).map_err(|(pos, m)| located(pos, "", format!("syntax error: {m}")))?;
        super::de::from_node::<super::schema::UserTable>(&node, "")
            .map_err(|e| located(e.pos, &e.key, e.message))?;
        let origin = format!("user file {}", path.display());
        for key in settable() {
            let found = node.find(key);
            if !std::ptr::eq(found, &node) && node.key_pos(key).is_some() {
                let pos = node.key_pos(key).map(|p| format!(":{p}")).unwrap_or_default();
                self.entries.insert(0, Override {
                    key: key.clone(),
                    value: OverrideValue::Below(value_text(found)),
                    origin: format!("{origin}{pos}"),
                });
            }
        }
        Ok(self)
    }

    fn push(&mut self, key: String, value: OverrideValue, origin: String) -> Result<(), ConfigError> {
        if !settable().iter().any(|k| *k == key) {
            let shown: Vec<&str> = settable().iter().filter(|k| k.starts_with("runtime.")).map(String::as_str).collect();
            return Err(ConfigError::Override {
                message: format!("`{key}` is not a setting; {}runtime settings are: {}", suggestion(&key), shown.join(", ")),
                origin,
                key,
            });
        }
        self.entries.push(Override { key, value, origin });
        Ok(())
    }

    /// Every override, lowest precedence first.
    pub fn entries(&self) -> &[Override] {
        &self.entries
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `self`, then `higher` on top of it.
    pub fn then(mut self, higher: Overrides) -> Overrides {
        self.entries.extend(higher.entries);
        self
    }

    /// The override that decides `key` above the manifest (the last one), if any.
    pub fn winner(&self, key: &str) -> Option<&Override> {
        let key = full_key(key);
        self.entries.iter().rev().find(|o| o.key == key && matches!(o.value, OverrideValue::Text(_)))
    }

    /// The manifest tree with the user file under it and every override on
    /// top. An override has no position; the manifest's entries keep theirs.
    pub(super) fn apply(&self, root: &mut Node) {
        // The user file's settings, where the manifest sets neither spelling
        // of them. Only scalar settings: grants and other tables never come
        // from the user file.
        for o in &self.entries {
            let OverrideValue::Below(text) = &o.value else { continue };
            let group: &[&str] = SPELLINGS.iter().find(|g| g.contains(&o.key.as_str())).copied().unwrap_or(&[]);
            let written = root.get(&o.key).is_some() || group.iter().any(|k| root.get(k).is_some());
            if !written {
                root.set(&o.key, Node { pos: None, value: Value::Text(text.clone()) });
            }
        }
        for o in &self.entries {
            let OverrideValue::Text(text) = &o.value else { continue };
            if let Some(group) = SPELLINGS.iter().find(|g| g.contains(&o.key.as_str())) {
                for k in *group {
                    root.remove(k);
                }
            }
            root.set(&o.key, Node { pos: None, value: Value::Text(text.clone()) });
        }
    }

    /// An error about a setting an override or the user file decided names
    /// it; any other error is the manifest's, unchanged.
    pub(super) fn blame(&self, e: ConfigError, manifest: &Node) -> ConfigError {
        let ConfigError::Invalid { key, message, .. } = &e else { return e };
        let decided = self.winner(key).or_else(|| {
            if manifest.key_pos(key).is_some() {
                return None;
            }
            self.entries.iter().rev().find(|o| o.key == *key)
        });
        match decided {
            Some(o) => ConfigError::Override {
                origin: o.origin.clone(),
                key: o.key.clone(),
                message: format!("{message} (got `{}`)", o.text()),
            },
            None => e,
        }
    }
}

fn value_text(node: &Node) -> String {
    match &node.value {
        Value::Str(s) | Value::Text(s) => s.clone(),
        _ => doc::to_json(node).to_string(),
    }
}

/// The user's Torvyn folder (its settings file, its signing keys):
/// `$TORVYN_HOME`, else `$XDG_CONFIG_HOME/torvyn`, else `~/.config/torvyn`.
pub fn user_config_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = var("TORVYN_HOME") {
        return Some(home);
    }
    let base = var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|h| h.join(".config")))?;
    Some(base.join("torvyn"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_and_assignments() {
        let env = Overrides::from_vars([
            ("TORVYN_QUEUE_DEPTH".to_string(), "8".to_string()),
            ("TORVYN_RUNTIME_WORKER_THREADS".to_string(), "2".to_string()),
            ("TORVYN_RUNTIME_BACKPRESSURE_BACKPRESSURE_POLICY".to_string(), "drop-oldest".to_string()),
            ("TORVYN_LIBRARY".to_string(), "/x.so".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ])
        .unwrap();
        let keys: Vec<&str> = env.entries().iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["runtime.queue_depth", "runtime.backpressure.backpressure_policy", "runtime.worker_threads"]);
        let mut cli = Overrides::default();
        cli.set("runtime.queue_depth=16", "--set").unwrap();
        let all = env.then(cli);
        assert_eq!(all.winner("queue_depth").unwrap().text(), "16");
        let err = Overrides::from_vars([("TORVYN_QUEUE_DEPHT".to_string(), "1".to_string())]).unwrap_err();
        assert!(err.to_string().contains("did you mean `runtime.queue_depth` (TORVYN_RUNTIME_QUEUE_DEPTH)?"), "{err}");
    }

    #[test]
    fn the_schema_names_every_settable_key() {
        let keys = settable();
        for k in [
            "runtime.worker_threads",
            "runtime.backpressure.default_queue_depth",
            "runtime.scheduling.policy",
            "runtime.pools.exhaustion_policy",
            "observability.level",
            "security.default_capability_policy",
            "registry.default",
        ] {
            assert!(keys.iter().any(|s| s == k), "{k} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|s| s == "security.grants"), "{keys:?}");
    }
}
