//! A sink that prints every element as `[seq N] <payload as UTF-8>` on stdout.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-sink",
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
        let bytes = element.payload.read_all();
        println!(
            "[seq {}] {}",
            element.meta.sequence,
            String::from_utf8_lossy(&bytes)
        );
        Ok(BackpressureSignal::Ready)
    }

    fn complete() -> Result<(), ProcessError> {
        println!("complete");
        Ok(())
    }
}

export!(Component);
