//! Recording a span for each traced stage call (see
//! `observability::trace`): which calls are traced, and what a span holds.

use super::{FlowDriver, Runner};
use crate::engine::Lent;
use crate::observability::{Level, SpanRecord};
use crate::resources::CopyCount;
use crate::types::BufferHandle;

/// Before a call: whether it may be traced, with the node's copies so far.
pub(super) struct SpanStart(Option<CopyCount>);

impl FlowDriver {
    /// Called before a per-element call of node `i`. Spans are recorded at
    /// `diagnostic`, and with `tracing_enabled` at `production` (for the
    /// calls the sample times).
    #[inline]
    pub(super) fn span_begin(&self, i: usize) -> SpanStart {
        let level = self.shared.metrics.level();
        let traced = level == Level::Diagnostic || (level == Level::Production && self.shared.trace.settings.enabled);
        if !traced || !matches!(self.stages[i].runner, Runner::Wasm(_)) {
            return SpanStart(None);
        }
        SpanStart(Some(super::report::stage_copies(self.table.lock().ledger(), i)))
    }

    /// After that call: record its span if it was traced and timed.
    /// `input`: the element it was lent; `output`: the buffer it emitted;
    /// `sequence`: the input's sequence number (a source: its output count).
    pub(super) fn span_end(&self, i: usize, begun: SpanStart, call: &'static str, input: Option<&Lent>, output: Option<BufferHandle>, sequence: u64, ok: bool) {
        let SpanStart(Some(before)) = begun else { return };
        let Runner::Wasm(stage) = &self.stages[i].runner else { return };
        let (start, end) = stage.last_call();
        if end.is_none() {
            return;
        }
        let (after, input_bytes) = {
            let t = self.table.lock();
            (super::report::stage_copies(t.ledger(), i), input.and_then(|l| t.size(l.handle).ok()).unwrap_or(0))
        };
        let trace = &self.shared.trace;
        trace.record(
            SpanRecord {
            span_id: stage.last_span(),
            parent_id: input.map_or(0, |l| l.span),
            node: self.stages[i].node.name.clone(),
            call,
            sequence,
            start_unix_ns: trace.unix_ns(start),
            duration_ns: end.nanos_since(start),
            ok,
            input_buffer: input.map(|l| l.handle.to_bits()),
            output_buffer: output.map(BufferHandle::to_bits),
            input_bytes,
            copies: after.copies.saturating_sub(before.copies),
            bytes_copied: after.bytes.saturating_sub(before.bytes),
            },
            &self.shared.name,
            self.shared.id.get(),
        );
    }
}
