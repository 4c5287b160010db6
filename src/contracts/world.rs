//! Which role a compiled component can play, read from its exports.

use std::fmt;

use super::{ContractVersion, SUPPORTED};

/// What a component does in a flow, from the interface it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Exports `torvyn:streaming/source`: no input, one `output` port.
    Source,
    /// Exports `torvyn:streaming/processor`: `input` → `output`.
    Processor,
    /// Exports `torvyn:streaming/sink`: one `input` port, no output.
    Sink,
    /// Exports `torvyn:filtering/filter`: passes or drops, allocates nothing.
    Filter,
    /// Exports `torvyn:filtering/router`: one `input`, any number of named
    /// output ports; each element goes to the ports the component names.
    Router,
    /// Exports `torvyn:aggregation/aggregator`: ingests every element, may
    /// emit on the way, and flushes when its upstream completes.
    Aggregator,
}

impl Role {
    /// Every role, in the order error messages list them.
    pub const ALL: [Role; 6] = [Role::Source, Role::Processor, Role::Sink, Role::Filter, Role::Router, Role::Aggregator];

    /// The contract interface, e.g. `torvyn:streaming/processor`.
    pub fn interface(self) -> &'static str {
        match self {
            Role::Source => "torvyn:streaming/source",
            Role::Processor => "torvyn:streaming/processor",
            Role::Sink => "torvyn:streaming/sink",
            Role::Filter => "torvyn:filtering/filter",
            Role::Router => "torvyn:filtering/router",
            Role::Aggregator => "torvyn:aggregation/aggregator",
        }
    }

    /// The contract package of the role's interface, e.g. `torvyn:filtering`.
    pub fn package(self) -> &'static str {
        let i = self.interface();
        &i[..i.find('/').unwrap_or(i.len())]
    }

    /// The role whose interface is `name` (with or without a version).
    pub fn from_interface(name: &str) -> Option<Role> {
        let base = name.split('@').next().unwrap_or(name);
        Role::ALL.into_iter().find(|r| r.interface() == base)
    }

    /// Whether elements flow into this role (everything but a source).
    pub fn takes_input(self) -> bool {
        self != Role::Source
    }

    /// Whether this role sends elements on (everything but a sink).
    pub fn gives_output(self) -> bool {
        self != Role::Sink
    }

    /// Whether the role's output ports are named by the manifest's edges
    /// rather than being the single port `output`.
    pub fn has_named_outputs(self) -> bool {
        self == Role::Router
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// Why a component does not fit the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("`{component}` exports none of the Torvyn role interfaces (torvyn:streaming/source, processor, sink; torvyn:filtering/filter, router; torvyn:aggregation/aggregator); it exports: {exports}. Build it against one of the Torvyn WIT worlds (data-source, transform, data-sink, content-filter, content-router, stream-aggregator)")]
    NoRole { component: String, exports: String },
    #[error("`{component}` exports both {first} and {second}; a component plays one role")]
    SeveralRoles { component: String, first: Role, second: Role },
    #[error("`{component}` exports {export} (contract {found}) but this runtime speaks {supported}; rebuild the component against {package}@{supported}")]
    IncompatibleVersion {
        component: String,
        export: String,
        package: String,
        found: ContractVersion,
        supported: ContractVersion,
    },
}

/// The exports of a component that the runtime calls, by their full names
/// (so a component built for `0.1.x` is called through its own names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exports {
    pub role: Role,
    /// Full export name of the role's interface, e.g. `torvyn:streaming/sink@0.1.0`.
    pub role_export: String,
    /// Full export name of `torvyn:streaming/lifecycle`, if exported.
    pub lifecycle: Option<String>,
    pub version: ContractVersion,
    /// The component names the contract without a version
    /// (`torvyn:streaming/processor`): it was built against a vendored copy
    /// of the WIT without `@0.1.0`, and is linked as the supported version.
    pub unversioned: bool,
}

impl Exports {
    /// The contract world these exports implement, e.g. `torvyn:streaming/managed-transform`.
    pub fn world(&self) -> &'static str {
        match (self.role, self.lifecycle.is_some()) {
            (Role::Source, _) => "torvyn:streaming/data-source",
            (Role::Processor, true) => "torvyn:streaming/managed-transform",
            (Role::Processor, false) => "torvyn:streaming/transform",
            (Role::Sink, _) => "torvyn:streaming/data-sink",
            (Role::Filter, _) => "torvyn:filtering/content-filter",
            (Role::Router, _) => "torvyn:filtering/content-router",
            (Role::Aggregator, _) => "torvyn:aggregation/stream-aggregator",
        }
    }
}

/// Decide the role of `component` from its export names.
pub fn detect<'a>(component: &str, export_names: impl IntoIterator<Item = &'a str>) -> Result<Exports, ContractError> {
    let names: Vec<&str> = export_names.into_iter().collect();
    let mut role: Option<(Role, &str, ContractVersion)> = None;
    let mut lifecycle = None;
    let mut unversioned = false;
    for &name in &names {
        let (base, version) = match name.split_once('@') {
            Some((base, v)) => match ContractVersion::parse(v) {
                Some(v) => (base, v),
                None => continue,
            },
            // No version: the contract this runtime speaks.
            None => (name, SUPPORTED),
        };
        if !base.starts_with("torvyn:") {
            continue;
        }
        let is_unversioned = !name.contains('@');
        let is_lifecycle = base == "torvyn:streaming/lifecycle";
        let found = Role::from_interface(base);
        if (is_lifecycle || found.is_some()) && !version.compatible_with(SUPPORTED) {
            return Err(ContractError::IncompatibleVersion {
                component: component.to_string(),
                export: name.to_string(),
                package: base.split('/').next().unwrap_or(base).to_string(),
                found: version,
                supported: SUPPORTED,
            });
        }
        if is_lifecycle {
            lifecycle = Some(name.to_string());
            unversioned |= is_unversioned;
        }
        if let Some(r) = found {
            unversioned |= is_unversioned;
            if let Some((first, _, _)) = role {
                return Err(ContractError::SeveralRoles {
                    component: component.to_string(),
                    first,
                    second: r,
                });
            }
            role = Some((r, name, version));
        }
    }
    match role {
        Some((role, export, version)) => Ok(Exports {
            role,
            role_export: export.to_string(),
            lifecycle,
            version,
            unversioned,
        }),
        None => Err(ContractError::NoRole {
            component: component.to_string(),
            exports: if names.is_empty() { "nothing".into() } else { names.join(", ") },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_roles_and_versions() {
        let e = detect("u.wasm", ["torvyn:streaming/processor"]).unwrap();
        assert_eq!((e.role, e.role_export.as_str(), e.unversioned), (Role::Processor, "torvyn:streaming/processor", true));
        let e = detect("a.wasm", ["torvyn:streaming/sink@0.1.3", "torvyn:streaming/lifecycle@0.1.0"]).unwrap();
        assert!(!e.unversioned);
        assert_eq!(e.role, Role::Sink);
        assert_eq!(e.lifecycle.as_deref(), Some("torvyn:streaming/lifecycle@0.1.0"));
        let err = detect("b.wasm", ["torvyn:streaming/processor@0.2.0"]).unwrap_err();
        assert!(err.to_string().contains("0.2.0") && err.to_string().contains("0.1.0"), "{err}");
        assert!(matches!(detect("c.wasm", ["wasi:cli/run@0.2.0"]), Err(ContractError::NoRole { .. })));
        let e = detect("d.wasm", ["torvyn:filtering/router@0.1.1", "torvyn:streaming/lifecycle@0.1.0"]).unwrap();
        assert_eq!((e.role, e.world()), (Role::Router, "torvyn:filtering/content-router"));
        let err = detect("e.wasm", ["torvyn:aggregation/aggregator@0.3.0"]).unwrap_err();
        assert!(err.to_string().contains("torvyn:aggregation@0.1.0"), "{err}");
    }
}
