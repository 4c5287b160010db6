//! A filter that passes elements whose payload contains a keyword.
//!
//! Config: `{"contains": "ERROR", "invert": false}`. With `invert` true it
//! passes the elements that do *not* contain the keyword. It reads each
//! payload once (one counted copy) and allocates nothing.
wit_bindgen::generate!({
    path: ["../../../wit/torvyn-streaming", "../../../wit/torvyn-filtering"],
    world: "torvyn:filtering/content-filter",
    generate_all,
});

use exports::torvyn::filtering::filter;
use exports::torvyn::streaming::lifecycle;
use std::cell::RefCell;
use torvyn::streaming::types::{ProcessError, StreamElement};

thread_local! {
    static RULE: RefCell<(Vec<u8>, bool)> = const { RefCell::new((Vec::new(), false)) };
}

fn string_field(config: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\"");
    let at = config.find(&pat)? + pat.len();
    let rest = config[at..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    rest.find('"').map(|end| rest[..end].to_string())
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        let keyword = string_field(&config, "contains")
            .ok_or_else(|| ProcessError::Fatal("config needs \"contains\": the keyword to look for".into()))?;
        let invert = config.contains("\"invert\": true") || config.contains("\"invert\":true");
        RULE.with(|r| *r.borrow_mut() = (keyword.into_bytes(), invert));
        Ok(())
    }
    fn teardown() {}
}

impl filter::Guest for Component {
    fn evaluate(element: StreamElement) -> Result<bool, ProcessError> {
        let bytes = element.payload.read_all();
        RULE.with(|r| {
            let (keyword, invert) = &*r.borrow();
            let found = keyword.is_empty() || bytes.windows(keyword.len()).any(|w| w == keyword.as_slice());
            Ok(found != *invert)
        })
    }
}

export!(Component);
