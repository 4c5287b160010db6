//! The manifest reader, TOML and JSON, on arbitrary text: every input is
//! either a pipeline or a located error; nothing panics, and a manifest
//! that loads loads the same way again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torvyn::PipelineDef;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let base = "/nonexistent-torvyn-fuzz";
    let load = |t: &str| if mode & 1 == 0 { PipelineDef::from_toml_str(t, base) } else { PipelineDef::from_json_str(t, base) };
    match load(text) {
        Ok(p) => {
            let again = load(text).expect("a manifest that loaded once loads again");
            assert_eq!(p.flows.len(), again.flows.len());
            for f in &p.flows {
                for n in &f.nodes {
                    // Every grant that got through is in the vocabulary.
                    for c in &n.capabilities {
                        torvyn::security::Capability::parse(c).expect("grants are checked at load");
                    }
                }
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
        }
    }
});
