//! The life cycle of a flow.

use std::fmt;

/// Where a flow is in its life.
///
/// `Created → Initializing → Running → Draining → Completed`, and from any
/// non-terminal state to `Cancelled` or `Failed`. Terminal states never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowState {
    /// Accepted by the host, not yet instantiated.
    Created,
    /// Components are being instantiated and `init` is running.
    Initializing,
    /// Elements are moving.
    Running,
    /// Every source is exhausted; queues are draining into the sinks.
    Draining,
    /// Every sink completed.
    Completed,
    /// Stopped on request.
    Cancelled,
    /// Stopped by an error (see the flow summary).
    Failed,
}

/// A transition the flow state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal flow state transition {from} -> {to}")]
pub struct IllegalFlowTransition {
    pub from: FlowState,
    pub to: FlowState,
}

impl FlowState {
    /// Whether the flow has ended (nothing will change any more).
    pub fn is_terminal(self) -> bool {
        matches!(self, FlowState::Completed | FlowState::Cancelled | FlowState::Failed)
    }

    /// The state after moving to `next`, or the reason it is not allowed.
    pub fn advance(self, next: FlowState) -> Result<FlowState, IllegalFlowTransition> {
        use FlowState::*;
        let ok = match (self, next) {
            (Created, Initializing)
            | (Initializing, Running)
            | (Running, Draining)
            | (Draining, Completed) => true,
            (from, Cancelled | Failed) => !from.is_terminal(),
            _ => false,
        };
        if ok {
            Ok(next)
        } else {
            Err(IllegalFlowTransition { from: self, to: next })
        }
    }

    /// Stable lower-case name (used in JSON and the C ABI).
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::Created => "created",
            FlowState::Initializing => "initializing",
            FlowState::Running => "running",
            FlowState::Draining => "draining",
            FlowState::Completed => "completed",
            FlowState::Cancelled => "cancelled",
            FlowState::Failed => "failed",
        }
    }
}

impl fmt::Display for FlowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FlowState::*;

    #[test]
    fn happy_path_and_terminal_states() {
        let s = Created.advance(Initializing).unwrap();
        let s = s.advance(Running).unwrap().advance(Draining).unwrap();
        assert_eq!(s.advance(Completed).unwrap(), Completed);
        assert!(Completed.advance(Failed).is_err());
        assert!(Cancelled.advance(Running).is_err());
        assert!(Created.advance(Running).is_err());
        assert_eq!(Running.advance(Cancelled).unwrap(), Cancelled);
    }
}
