//! Settings given outside the manifest: environment variables `TORVYN_*`
//! and `--set key=value` on the command line.
//!
//! Precedence, highest first: command line, environment, manifest,
//! defaults. An override replaces the manifest's `[runtime]` value and is
//! checked by the same rules, so a bad value gets the same message, naming
//! where it came from.

use super::doc::{Node, Value};
use super::error::ConfigError;

/// The `[runtime]` keys that can be overridden, and their variable names
/// (`TORVYN_` + the key in upper case).
pub const OVERRIDABLE: &[&str] = &[
    "worker_threads",
    "memory_limit",
    "queue_depth",
    "low_watermark",
    "init_timeout_ms",
    "call_timeout_ms",
    "max_buffer_size",
    "pool_max_bytes",
    "max_instances",
];

/// `TORVYN_*` variables that are not settings (read by the bindings).
const NOT_SETTINGS: &[&str] = &["TORVYN_LIBRARY", "TORVYN_LOG"];

/// One overridden setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// A `[runtime]` key, e.g. `queue_depth`.
    pub key: String,
    pub value: String,
    /// Where it came from, e.g. `environment variable TORVYN_QUEUE_DEPTH`.
    pub origin: String,
}

/// Overrides in the order they apply (a later one wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    entries: Vec<Override>,
}

fn suggestion(key: &str) -> String {
    let best = OVERRIDABLE.iter().min_by_key(|k| super::manifest::distance(key, k));
    match best {
        Some(b) if super::manifest::distance(key, b) <= 3 => format!("did you mean `{b}`? "),
        _ => String::new(),
    }
}

impl Overrides {
    /// The `TORVYN_*` variables of this process.
    pub fn from_env() -> Result<Overrides, ConfigError> {
        Overrides::from_vars(std::env::vars())
    }

    /// The `TORVYN_*` settings among `vars` (others are ignored).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Overrides, ConfigError> {
        let mut found: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("TORVYN_") && !NOT_SETTINGS.contains(&k.as_str()))
            .collect();
        found.sort();
        let mut o = Overrides::default();
        for (var, value) in found {
            let key = var["TORVYN_".len()..].to_ascii_lowercase();
            o.push(key, value, format!("environment variable {var}"))?;
        }
        Ok(o)
    }

    /// Add `key=value` (the key with or without `runtime.`), from `origin`.
    pub fn set(&mut self, assignment: &str, origin: &str) -> Result<(), ConfigError> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(ConfigError::Override {
                origin: origin.to_string(),
                key: assignment.to_string(),
                message: "expected KEY=VALUE, e.g. queue_depth=128".into(),
            });
        };
        let key = key.trim();
        let key = key.strip_prefix("runtime.").unwrap_or(key);
        self.push(key.to_string(), value.trim().to_string(), origin.to_string())
    }

    fn push(&mut self, key: String, value: String, origin: String) -> Result<(), ConfigError> {
        if !OVERRIDABLE.contains(&key.as_str()) {
            return Err(ConfigError::Override {
                message: format!("`{key}` is not a runtime setting; {}settings are: {}", suggestion(&key), OVERRIDABLE.join(", ")),
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

    /// `self`, then `higher` on top of it.
    pub fn then(mut self, higher: Overrides) -> Overrides {
        self.entries.extend(higher.entries);
        self
    }

    /// The override that decides `key` (the last one), if any.
    pub fn winner(&self, key: &str) -> Option<&Override> {
        self.entries.iter().rev().find(|o| o.key == key)
    }

    /// The manifest's `[runtime]` table with every override on top (an
    /// override has no position; the manifest's own entries keep theirs).
    pub(super) fn apply(&self, runtime: Option<&Node>) -> Node {
        let mut entries = match runtime {
            Some(Node { value: Value::Table(t), .. }) => t.clone(),
            _ => Vec::new(),
        };
        for o in &self.entries {
            entries.retain(|(k, _, _)| k != &o.key);
            let value = if let Ok(i) = o.value.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(f) = o.value.parse::<f64>() {
                Value::Float(f)
            } else {
                Value::Str(o.value.clone())
            };
            entries.push((o.key.clone(), None, Node { pos: None, value }));
        }
        Node {
            pos: runtime.and_then(|n| n.pos),
            value: Value::Table(entries),
        }
    }

    /// An error about a setting an override decided names the override;
    /// any other error is the manifest's, unchanged.
    pub(super) fn blame(&self, e: ConfigError) -> ConfigError {
        let ConfigError::Invalid { key, message, .. } = &e else { return e };
        match key.strip_prefix("runtime.").and_then(|k| self.winner(k)) {
            Some(o) => ConfigError::Override {
                origin: o.origin.clone(),
                key: o.key.clone(),
                message: format!("{message} (got `{}`)", o.value),
            },
            None => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_and_assignments() {
        let env = Overrides::from_vars([
            ("TORVYN_QUEUE_DEPTH".to_string(), "8".to_string()),
            ("TORVYN_LIBRARY".to_string(), "/x.so".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ])
        .unwrap();
        assert_eq!(env.entries().len(), 1);
        let mut cli = Overrides::default();
        cli.set("runtime.queue_depth=16", "--set").unwrap();
        let all = env.then(cli);
        assert_eq!(all.winner("queue_depth").unwrap().value, "16");
        let err = Overrides::from_vars([("TORVYN_QUEUE_DEPHT".to_string(), "1".to_string())]).unwrap_err();
        assert!(err.to_string().contains("did you mean `queue_depth`?"), "{err}");
    }
}
