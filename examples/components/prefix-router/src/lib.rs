//! A router that sends each element to output ports chosen by its prefix.
//!
//! Config: `{"routes": "ERROR=errors+alerts;WARN=warnings", "default":
//! "info", "also": "archive"}`. An element starting with a route's prefix
//! goes to that route's ports (the first matching route wins), otherwise to
//! `default` (none given: dropped); `also` ports get every element. Port
//! names are `+`-separated. It reads each payload once.
wit_bindgen::generate!({
    path: ["../../../wit/torvyn-streaming", "../../../wit/torvyn-filtering"],
    world: "torvyn:filtering/content-router",
    generate_all,
});

use exports::torvyn::filtering::router;
use exports::torvyn::streaming::lifecycle;
use std::cell::RefCell;
use torvyn::streaming::types::{ProcessError, StreamElement};

#[derive(Default)]
struct Rules {
    routes: Vec<(Vec<u8>, Vec<String>)>,
    default: Vec<String>,
    also: Vec<String>,
}

thread_local! {
    static RULES: RefCell<Rules> = RefCell::new(Rules::default());
}

fn string_field(config: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\"");
    let at = config.find(&pat)? + pat.len();
    let rest = config[at..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    rest.find('"').map(|end| rest[..end].to_string())
}

fn ports(list: &str) -> Vec<String> {
    list.split('+').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
}

struct Component;

impl lifecycle::Guest for Component {
    fn init(config: String) -> Result<(), ProcessError> {
        let mut rules = Rules::default();
        for route in string_field(&config, "routes").unwrap_or_default().split(';').filter(|r| !r.trim().is_empty()) {
            let (prefix, to) = route
                .split_once('=')
                .ok_or_else(|| ProcessError::Fatal(format!("route `{route}` must look like PREFIX=port+port")))?;
            rules.routes.push((prefix.trim().as_bytes().to_vec(), ports(to)));
        }
        rules.default = ports(&string_field(&config, "default").unwrap_or_default());
        rules.also = ports(&string_field(&config, "also").unwrap_or_default());
        RULES.with(|r| *r.borrow_mut() = rules);
        Ok(())
    }
    fn teardown() {}
}

impl router::Guest for Component {
    fn route(element: StreamElement) -> Result<Vec<String>, ProcessError> {
        let bytes = element.payload.read_all();
        RULES.with(|r| {
            let r = r.borrow();
            let mut out = match r.routes.iter().find(|(prefix, _)| bytes.starts_with(prefix)) {
                Some((_, to)) => to.clone(),
                None => r.default.clone(),
            };
            out.extend(r.also.iter().cloned());
            Ok(out)
        })
    }
}

export!(Component);
