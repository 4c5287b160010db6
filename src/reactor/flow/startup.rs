//! Bringing a flow up one call at a time: instantiate each node, then call
//! each component's `init`. Between two steps the worker serves its other
//! flows and looks at the cancel flag, so a slow start-up (a large component,
//! an `init` that takes seconds) delays no other flow by more than one call.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{FlowDriver, Runner, StageSlot};
use crate::config::EndpointKind;
use crate::contracts::Role;
use crate::engine::{Engine, FlowContextInfo, Stage, StageSpec};
use crate::linker::LinkedFlow;
use crate::reactor::summary::FailureKind;
use crate::types::{FlowState, StageId};

/// What remains of a flow's start-up. Nodes are instantiated in order
/// (`driver.stages` grows by one per step), then initialised in order.
pub(crate) struct Startup {
    pub(super) linked: LinkedFlow,
    pub(super) context: FlowContextInfo,
    /// Nodes whose `init` has run.
    pub(super) initialized: usize,
}

impl FlowDriver {
    /// One start-up step: instantiate the next node, or initialise the next
    /// one, or (all done) start running. A failure ends the flow.
    pub(super) fn start_step(&mut self, engine: &Engine) {
        let Some(mut startup) = self.startup.take() else {
            return;
        };
        let total = startup.linked.stages.len();
        if self.stages.len() < total {
            let i = self.stages.len();
            match self.instantiate(engine, &startup, i) {
                Ok(slot) => self.stages.push(slot),
                Err((kind, msg)) => {
                    self.failure = kind;
                    self.end(FlowState::Failed, Some(msg));
                    return;
                }
            }
        } else if startup.initialized < total {
            let i = startup.initialized;
            startup.initialized += 1;
            if let Runner::Wasm(stage) = &mut self.stages[i].runner {
                if let Err(e) = stage.init() {
                    let msg = self.describe(i, "init", &e);
                    if !matches!(e, crate::engine::CallError::Deadline { .. } | crate::engine::CallError::FuelExhausted { .. } | crate::engine::CallError::Cancelled) {
                        self.failure = Some(FailureKind::Instantiate);
                    }
                    self.end(FlowState::Failed, Some(msg));
                    return;
                }
            }
        } else {
            self.advance(FlowState::Running);
            log::debug!(
                "{} `{}` running with {} nodes and {} edges",
                self.shared.id,
                self.shared.name,
                self.stages.len(),
                self.edges.len()
            );
            return;
        }
        self.startup = Some(startup);
    }

    /// Node `i`'s runner and bookkeeping.
    fn instantiate(&self, engine: &Engine, startup: &Startup, i: usize) -> Result<StageSlot, (Option<FailureKind>, String)> {
        let linked = &startup.linked;
        let ls = &linked.stages[i];
        let rt = &linked.runtime;
        let spec = StageSpec {
            stage: StageId::new(i as u32),
            node: Arc::from(ls.node.name.as_str()),
            config: ls.node.config.clone(),
            grants: ls.grants.clone(),
            audit: ls.component.as_ref().map(|c| {
                let audit = self.shared.audit.node(&ls.node.name, &c.name, &crate::observability::hex(&c.digest));
                for optional in ls.node.needs.optional.iter().filter(|o| !ls.grants.answers(o)) {
                    audit.optional_missing(optional);
                }
                audit
            }),
            memory_limit: ls.node.memory_limit.unwrap_or(rt.memory_limit),
            table_elements: ls.node.max_table_elements.unwrap_or(rt.max_table_elements),
            output_rate: ls.node.max_output_rate.unwrap_or(rt.max_output_rate),
            // A metered flow gives every call a budget; 0 means unlimited.
            fuel: linked.engine.as_ref().filter(|e| e.settings.fuel).map(|_| ls.node.fuel.or(rt.fuel).filter(|&b| b > 0).unwrap_or(u64::MAX)),
            init_timeout: rt.init_timeout,
            teardown_timeout: rt.teardown_timeout,
            metrics: Some((Arc::clone(&self.shared.metrics), i)),
            call_timeout: ls.node.call_timeout.unwrap_or(rt.call_timeout),
            context: startup.context.clone(),
            cancel: self.shared.cancel_flag(),
        };
        let runner = match (&ls.component, ls.node.endpoint) {
            (Some(component), _) => Stage::instantiate(linked.engine.as_deref().unwrap_or(engine), component, spec, Arc::clone(&self.table))
                .map(Runner::Wasm)
                .map_err(|e| (Some(FailureKind::Instantiate), e.to_string()))?,
            (None, Some(EndpointKind::Ingress)) => self
                .shared
                .ingress(&ls.node.name)
                .map(|i| Runner::Ingress(Arc::clone(i)))
                .map_err(|e| (None, e.to_string()))?,
            (None, _) => self
                .shared
                .egress(&ls.node.name)
                .map(|e| Runner::Egress(Arc::clone(e)))
                .map_err(|e| (None, e.to_string()))?,
        };
        let gn = &linked.graph.nodes[i];
        Ok(StageSlot {
            runner,
            node: ls.node.clone(),
            role: ls.role,
            inputs: gn.inputs.clone(),
            ports: gn.ports.clone(),
            outputs: gn.output_edges().collect(),
            cursor: 0,
            current: None,
            in_seq: 0,
            done: false,
            pending: VecDeque::new(),
            flushed: false,
            last_timestamp: 0,
            told_pause: false,
            sinks_below: if ls.role == Role::Source { linked.graph.sinks_below(i) } else { Vec::new() },
            hold_until: None,
            attempts: 0,
            elements_in: 0,
            elements_out: 0,
            dropped: 0,
            skipped: 0,
            retries: 0,
            pauses: 0,
        })
    }
}
