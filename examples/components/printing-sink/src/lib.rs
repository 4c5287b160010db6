//! A sink that prints every element as `[seq N] <payload as UTF-8>` on stdout
//! (`[LABEL seq N] …` with config `{"label": "LABEL"}`), and `complete`
//! (`LABEL complete`) at the end.
wit_bindgen::generate!({
    path: "../../../wit/torvyn-streaming",
    world: "torvyn:streaming/data-sink",
});

use exports::torvyn::streaming::{lifecycle, sink};
use std::cell::RefCell;
use torvyn::streaming::types::{BackpressureSignal, ProcessError, StreamElement};

thread_local! {
    static LABEL: RefCell<String> = const { RefCell::new(String::new()) };
}

fn label() -> String {
    LABEL.with(|l| l.borrow().clone())
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        let pat = "\"label\"";
        if let Some(at) = config.find(pat) {
            let rest = config[at + pat.len()..].trim_start().trim_start_matches(':').trim_start();
            if let Some(s) = rest.strip_prefix('"') {
                let end = s.find('"').unwrap_or(s.len());
                LABEL.with(|l| *l.borrow_mut() = format!("{} ", &s[..end]));
            }
        }
        Ok(())
    }
    fn teardown() {}
}

impl sink::Guest for Component {
    fn push(element: StreamElement) -> Result<BackpressureSignal, ProcessError> {
        let bytes = element.payload.read_all();
        println!(
            "[{}seq {}] {}",
            label(),
            element.meta.sequence,
            String::from_utf8_lossy(&bytes)
        );
        Ok(BackpressureSignal::Ready)
    }

    fn complete() -> Result<(), ProcessError> {
        println!("{}complete", label());
        Ok(())
    }
}

export!(Component);
