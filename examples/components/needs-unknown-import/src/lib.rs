//! A sink that imports `acme:ledger/accounts` and `audit`, which no
//! Torvyn host provides: the runtime must refuse it before instantiation.
wit_bindgen::generate!({
    path: ["../../../wit/torvyn-streaming", "wit"],
    world: "acme:ledger/needy-sink",
    generate_all,
});

use exports::torvyn::streaming::{lifecycle, sink};
use torvyn::streaming::types::{BackpressureSignal, ProcessError, StreamElement};

struct Component;

impl lifecycle::Guest for Component {
    fn init(_config: String) -> Result<(), ProcessError> {
        Ok(())
    }
    fn teardown() {}
}

impl sink::Guest for Component {
    fn push(element: StreamElement) -> Result<BackpressureSignal, ProcessError> {
        let text = String::from_utf8_lossy(&element.payload.read_all()).into_owned();
        acme::ledger::audit::log_event(&text);
        let _ = acme::ledger::accounts::balance(&text);
        Ok(BackpressureSignal::Ready)
    }
    fn complete() -> Result<(), ProcessError> {
        Ok(())
    }
}

export!(Component);
