//! `torvyn trace`: each element's path with per-stage time, queue waits,
//! copies and buffers; JSON and OTLP/JSON forms; backpressure inline.

mod common;

use common::cli::{temp_dir, torvyn_in};
use serde_json::Value;

#[test]
fn trace_shows_each_elements_path_in_every_format() {
    let dir = temp_dir("trace-cli");
    std::fs::write(
        dir.join("Torvyn.toml"),
        common::linear(
            &[
                common::N("src", "counting-source", r#"{"count": 100}"#, ""),
                common::N("up", "uppercase", "{}", ""),
                common::N("sink", "printing-sink", "{}", ""),
            ],
            "",
        ),
    )
    .unwrap();
    let (code, out, err) = torvyn_in(&dir, &["trace", "--limit", "5", "--show-buffers"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("trace ") && !out.contains("Hello, World"), "{out}");
    for n in 0..5 {
        assert!(out.contains(&format!("element {n} (from `src`, sequence {n})")), "{out}");
    }
    assert!(!out.contains("element 5"), "--limit 5: {out}");
    assert_eq!(out.matches("  up             process").count(), 5, "{out}");
    assert_eq!(out.matches("queued").count(), 10, "two queues per element: {out}");
    assert_eq!(out.matches("end to end").count(), 5);
    assert!(out.contains("buffer - -> #"), "{out}");

    let (code, out, err) = torvyn_in(&dir, &["trace", "--limit", "4", "--trace-format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let elements = v["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 4);
    for (i, e) in elements.iter().enumerate() {
        let path: Vec<(&str, &str)> = e.as_array().unwrap().iter().map(|s| (s["node"].as_str().unwrap(), s["call"].as_str().unwrap())).collect();
        assert_eq!(path, [("src", "pull"), ("up", "process"), ("sink", "push")], "element {i}");
        let s = e.as_array().unwrap();
        // The processor reads the element's bytes in and writes its answer out.
        assert_eq!(s[1]["copies"], 2, "{}", s[1]);
        assert_eq!(s[1]["parent_id"], s[0]["span_id"]);
        assert_eq!(s[2]["input_buffer"], s[1]["output_buffer"]);
        assert_eq!(s[0]["sequence"], i as u64);
    }

    let (code, _, err) = torvyn_in(&dir, &["trace", "--limit", "3", "--trace-format", "otlp", "--output-trace", "t.json"], &[]);
    assert_eq!(code, 0, "{err}");
    let otlp: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("t.json")).unwrap()).unwrap();
    let spans = otlp["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 9);
    assert!(spans.iter().all(|s| s["traceId"].as_str().unwrap().len() == 32));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn backpressure_episodes_show_inline() {
    let dir = temp_dir("trace-bp");
    std::fs::write(
        dir.join("Torvyn.toml"),
        common::linear(
            &[
                common::N("fast", "counting-source", r#"{"count": 100}"#, "priority = 10"),
                common::N("slow", "printing-sink", "{}", "priority = 1"),
            ],
            "queue_depth = 2",
        ),
    )
    .unwrap();
    let (code, out, err) = torvyn_in(&dir, &["trace", "--limit", "30", "--show-backpressure"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("‖ backpressure: fast.output -> slow full, producer held"), "{out}");
    let (_, without, _) = torvyn_in(&dir, &["trace", "--limit", "30"], &[]);
    assert!(!without.contains("backpressure"), "only when asked");
    std::fs::remove_dir_all(&dir).unwrap();
}
