//! `[flow.NAME]` tables as written → [`FlowDef`]s: component references
//! resolved, edge ends checked against the flow's nodes, per-node and
//! per-edge settings range-checked, `[security.grants.X]` merged into the
//! nodes they name.

use std::time::Duration;

use super::manifest::{Cx, locate};
use super::schema::flow::{ActionName, EdgeTable, EndpointName, ErrorPolicyTable, FlowTable, NodeTable};
use super::schema::values::{BackpressureSpec, PortEntry};
use super::schema::ManifestTable;
use super::settings::{depth, memory, output_rate, priority, ratio, table_elements};
use super::{
    CapabilityNeeds, ComponentDef, ConfigError, EdgeDef, EndpointKind, ErrorAction, ErrorPolicy, FlowDef, NodeDef, PortRef,
};
use crate::contracts::Role;

pub(super) fn flows(
    cx: &Cx<'_>,
    m: &ManifestTable,
    components: &[ComponentDef],
    needs: &CapabilityNeeds,
    rt: &super::RuntimeConfig,
) -> Result<Vec<FlowDef>, ConfigError> {
    if let Some(security) = &m.security {
        for target in security.grants.keys() {
            let known = components.iter().any(|c| c.name == *target) || m.flow.values().any(|f| f.nodes.contains_key(target.as_str()));
            if !known {
                cx.warn(&format!("security.grants.{target}"), format!("`{target}` is neither a node nor a [[component]]; the grant applies to nothing"));
            }
        }
    }
    let mut flows = Vec::new();
    for (name, table) in &m.flow {
        let mut flow = flow(cx, name, table, components, rt)?;
        // The manifest's `[capabilities]` speak for its `[[component]]`s,
        // or, without any, for every component its nodes run.
        let its_own = |n: &NodeDef| components.is_empty() || components.iter().any(|c| c.name == n.component);
        for n in flow.nodes.iter_mut().filter(|n| n.endpoint.is_none() && its_own(n)) {
            n.needs = needs.clone();
        }
        grant(cx, m, &mut flow)?;
        flows.push(flow);
    }
    if flows.is_empty() {
        cx.warn("flow", "the manifest defines no flow yet; add a [flow.main] table with nodes and edges to run it");
    }
    Ok(flows)
}

fn flow(cx: &Cx<'_>, name: &str, t: &FlowTable, components: &[ComponentDef], rt: &super::RuntimeConfig) -> Result<FlowDef, ConfigError> {
    let prefix = format!("flow.{name}");
    if t.nodes.is_empty() {
        return Err(cx.err(&format!("{prefix}.nodes"), "a flow needs nodes: add [flow.NAME.nodes.NODE] tables"));
    }
    let mut nodes = Vec::with_capacity(t.nodes.len());
    for (nname, n) in &t.nodes {
        nodes.push(node(cx, &format!("{prefix}.nodes.{nname}"), nname, n, components, rt)?);
    }
    let mut edges = Vec::with_capacity(t.edges.len());
    for (i, e) in t.edges.iter().enumerate() {
        edges.push(edge(cx, &format!("{prefix}.edges[{i}]"), e, &nodes)?);
    }
    let (default_queue_depth, backpressure, low_watermark_ratio) = queue_settings(
        cx,
        &prefix,
        t.default_queue_depth.map(|d| (format!("{prefix}.default_queue_depth"), d)),
        t.backpressure.as_ref(),
    )?;
    Ok(FlowDef {
        name: name.to_string(),
        description: t.description.clone().unwrap_or_default(),
        nodes,
        edges,
        default_queue_depth,
        backpressure,
        low_watermark_ratio,
        scheduling: t.scheduling_policy,
        limit: None,
    })
}

type QueueSettings = (Option<usize>, Option<super::BackpressurePolicy>, Option<f64>);

/// Depth, policy and watermark written at one level (an edge or a flow):
/// `depth` (its own key) beats the `backpressure` table's `default_queue_depth`.
fn queue_settings(cx: &Cx<'_>, prefix: &str, own_depth: Option<(String, usize)>, spec: Option<&BackpressureSpec>) -> Result<QueueSettings, ConfigError> {
    let table = spec.map(|s| s.0.clone()).unwrap_or_default();
    let bp_key = format!("{prefix}.backpressure");
    let depth_key_in_table = format!("{bp_key}.default_queue_depth");
    let d = match (own_depth, table.default_queue_depth) {
        (Some((k, d)), Some(_)) => {
            cx.warn(&depth_key_in_table, format!("`{k}` is also given and wins"));
            Some(depth(cx, &k, d)?)
        }
        (Some((k, d)), None) => Some(depth(cx, &k, d)?),
        (None, Some(d)) => Some(depth(cx, &depth_key_in_table, d)?),
        (None, None) => None,
    };
    let r = match table.low_watermark_ratio {
        Some(r) => Some(ratio(cx, &format!("{bp_key}.low_watermark_ratio"), r)?),
        None => None,
    };
    Ok((d, table.backpressure_policy, r))
}

fn node(cx: &Cx<'_>, key: &str, name: &str, t: &NodeTable, components: &[ComponentDef], rt: &super::RuntimeConfig) -> Result<NodeDef, ConfigError> {
    let priority = t.priority.map(|p| priority(cx, &format!("{key}.priority"), p)).transpose()?;
    if let Some(e) = t.endpoint {
        let other = [
            ("component", t.component.is_some()),
            ("interface", t.interface.is_some()),
            ("config", t.config.is_some()),
            ("capabilities", !t.capabilities.is_empty()),
            ("on_error", t.on_error.is_some()),
            ("fuel_budget", t.fuel_budget.is_some()),
            ("max_memory", t.max_memory.is_some()),
            ("max_buffers", t.max_buffers.is_some()),
            ("max_buffer_bytes", t.max_buffer_bytes.is_some()),
            ("resume_after_ms", t.resume_after_ms.is_some()),
            ("max_table_elements", t.max_table_elements.is_some()),
            ("max_output_rate", t.max_output_rate.is_some()),
            ("call_timeout_ms", t.call_timeout_ms.is_some()),
        ];
        if let Some((k, _)) = other.iter().find(|(_, set)| *set) {
            return Err(cx.err(&format!("{key}.{k}"), "an endpoint node takes no other keys (no component, config or policy)"));
        }
        let kind = match e {
            EndpointName::Ingress => EndpointKind::Ingress,
            EndpointName::Egress => EndpointKind::Egress,
        };
        return Ok(NodeDef { priority, ..NodeDef::endpoint(name, kind) });
    }
    let ckey = format!("{key}.component");
    let Some(cref) = &t.component else {
        return Err(cx.err(&ckey, "missing required key `component`"));
    };
    let declared = components.iter().find(|c| c.name == *cref);
    let (component, path, unbuilt, default_config) = match declared {
        Some(c) => (c.name.clone(), c.path.clone(), (!c.is_built()).then(|| c.source.clone()).flatten(), c.config.clone()),
        None if cref.ends_with(".wasm") || cref.contains('/') || cref.contains("://") => {
            let found = locate(cx, cref, None, &ckey)?;
            let shown = found.wasm.file_name().map_or(cref.clone(), |f| f.to_string_lossy().into_owned());
            let unbuilt = (!found.wasm.is_file()).then_some(found.source).flatten();
            (shown, found.wasm, unbuilt, None)
        }
        None => {
            let known: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
            return Err(cx.err(
                &ckey,
                format!(
                    "`{cref}` is neither a [[component]] name ({}) nor a path to a .wasm file",
                    if known.is_empty() { "none defined".to_string() } else { known.join(", ") }
                ),
            ));
        }
    };
    let interface = match &t.interface {
        Some(text) => Some(Role::from_interface(text).ok_or_else(|| {
            cx.err(
                &format!("{key}.interface"),
                format!("unknown interface `{text}`; use one of {}", Role::ALL.map(|r| r.interface()).join(", ")),
            )
        })?),
        None => None,
    };
    Ok(NodeDef {
        name: name.to_string(),
        component,
        path,
        endpoint: None,
        interface,
        config: t.config.clone().map(|c| c.0).or(default_config).unwrap_or_default(),
        capabilities: grants(cx, &format!("{key}.capabilities"), &t.capabilities)?,
        on_error: match &t.on_error {
            Some(p) => policy(cx, &format!("{key}.on_error"), p)?,
            None => ErrorPolicy::default(),
        },
        max_buffers: match t.max_buffers {
            Some(0) => return Err(cx.err(&format!("{key}.max_buffers"), "must be at least 1")),
            Some(n) => n,
            None => rt.max_buffers,
        },
        max_buffer_bytes: match t.max_buffer_bytes {
            Some(s) if s.0 == 0 => return Err(cx.err(&format!("{key}.max_buffer_bytes"), "must be at least 1 byte")),
            Some(s) => s.0,
            None => rt.max_buffer_bytes,
        },
        resume_after: Duration::from_millis(t.resume_after_ms.unwrap_or(1)),
        fuel: t.fuel_budget,
        memory_limit: t.max_memory.map(|m| memory(cx, &format!("{key}.max_memory"), m.0)).transpose()?,
        needs: CapabilityNeeds::default(),
        max_table_elements: t.max_table_elements.map(|n| table_elements(cx, &format!("{key}.max_table_elements"), n)).transpose()?,
        max_output_rate: t.max_output_rate.map(|r| output_rate(cx, &format!("{key}.max_output_rate"), r.0)).transpose()?,
        call_timeout: t.call_timeout_ms.map(|ms| super::settings::millis(cx, &format!("{key}.call_timeout_ms"), ms)).transpose()?,
        priority,
        unbuilt,
    })
}

fn policy(cx: &Cx<'_>, key: &str, t: &ErrorPolicyTable) -> Result<ErrorPolicy, ConfigError> {
    if let Some(n) = t.max_retries.filter(|&n| n > 1000) {
        return Err(cx.err(&format!("{key}.max_retries"), format!("must be at most 1000, found {n}")));
    }
    let action = |a: Option<ActionName>, default: ErrorAction| match a {
        Some(ActionName::Skip) => ErrorAction::Skip,
        Some(ActionName::Retry) => ErrorAction::Retry,
        Some(ActionName::Fail) => ErrorAction::Fail,
        None => default,
    };
    let d = ErrorPolicy::default();
    Ok(ErrorPolicy {
        invalid_input: action(t.invalid_input, d.invalid_input),
        deadline_exceeded: action(t.deadline_exceeded, d.deadline_exceeded),
        unavailable: action(t.unavailable, d.unavailable),
        internal: action(t.internal, d.internal),
        max_retries: t.max_retries.unwrap_or(d.max_retries),
    })
}

fn edge(cx: &Cx<'_>, key: &str, e: &EdgeTable, nodes: &[NodeDef]) -> Result<EdgeDef, ConfigError> {
    let from = port(cx, &format!("{key}.from"), &e.from, "output", nodes)?;
    let to = port(cx, &format!("{key}.to"), &e.to, "input", nodes)?;
    let (queue_depth, backpressure, low_watermark_ratio) =
        queue_settings(cx, key, e.queue_depth.map(|d| (format!("{key}.queue_depth"), d)), e.backpressure.as_ref())?;
    Ok(EdgeDef { from, to, queue_depth, backpressure, low_watermark_ratio })
}

fn port(cx: &Cx<'_>, key: &str, p: &PortEntry, default_port: &str, nodes: &[NodeDef]) -> Result<PortRef, ConfigError> {
    if !nodes.iter().any(|n| n.name == p.node) {
        let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let hint = super::de::suggest(&p.node, &known, "")
            .strip_prefix("; ")
            .filter(|h| h.starts_with("did"))
            .map(|h| format!("{h} "))
            .unwrap_or_default();
        return Err(cx.err(key, format!("unknown node `{}`; {hint}this flow's nodes are: {}", p.node, known.join(", "))));
    }
    Ok(PortRef { node: p.node.clone(), port: p.port.clone().unwrap_or_else(|| default_port.to_string()) })
}

/// Grants as written, each checked against the vocabulary.
fn grants(cx: &Cx<'_>, key: &str, list: &[String]) -> Result<Vec<String>, ConfigError> {
    for (i, g) in list.iter().enumerate() {
        crate::security::Capability::parse(g).map_err(|e| cx.err(&format!("{key}[{i}]"), e.to_string()))?;
    }
    Ok(list.to_vec())
}

/// `[security.grants.X]`: X names a node of the flow, or a `[[component]]`
/// (every node running it); each grant is checked against the vocabulary.
fn grant(cx: &Cx<'_>, m: &ManifestTable, flow: &mut FlowDef) -> Result<(), ConfigError> {
    let Some(security) = &m.security else { return Ok(()) };
    for (target, g) in &security.grants {
        let list = grants(cx, &format!("security.grants.{target}.capabilities"), &g.capabilities)?;
        for n in flow.nodes.iter_mut().filter(|n| n.name == *target || (n.endpoint.is_none() && n.component == *target)) {
            for c in &list {
                if !n.capabilities.contains(c) {
                    n.capabilities.push(c.clone());
                }
            }
        }
    }
    Ok(())
}
