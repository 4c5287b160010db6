//! `torvyn bench`: figures consistent with `torvyn run` for the same flow,
//! every report format, baselines and comparisons (exit 3 on a
//! regression), and the HTML report rendered by headless Chromium.

mod common;

use std::path::Path;

use common::cli::{temp_dir, torvyn_in};
use serde_json::Value;

fn project(dir: &Path) {
    std::fs::write(
        dir.join("Torvyn.toml"),
        common::linear(
            &[
                common::N("src", "counting-source", r#"{"count": 3000}"#, ""),
                common::N("up", "uppercase", "{}", ""),
                common::N("sink", "printing-sink", "{}", ""),
            ],
            "",
        ),
    )
    .unwrap();
}

#[test]
fn bench_reports_what_the_flow_did_and_compares_with_a_baseline() {
    let dir = temp_dir("bench");
    project(&dir);
    // What one run copies per element, from `torvyn run`.
    let (code, out, err) = torvyn_in(&dir, &["--format", "json", "run"], &[]);
    assert_eq!(code, 0, "{err}");
    let run: Value = serde_json::from_str(out.trim()).unwrap();
    let copies_per_el = run["copies"].as_f64().unwrap() / run["elements"].as_f64().unwrap();

    let (code, out, err) = torvyn_in(&dir, &["bench", "--duration", "1s", "--warmup", "300ms", "--report", "r.json", "--baseline", "b1"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("throughput") && out.contains("latency") && out.contains("peak queue depth"), "{out}");
    assert!(!out.contains("Hello, World"), "guest output is not printed during a benchmark");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    let elements = r["elements"].as_f64().unwrap();
    assert!(elements > 100.0, "{r}");
    assert!((r["elements_per_s"].as_f64().unwrap() - elements / r["duration_s"].as_f64().unwrap()).abs() < 1e-6);
    // Elements in flight at the window's edges were copied but not yet
    // delivered (or the other way round): a small, bounded difference.
    assert!((r["copies_per_element"].as_f64().unwrap() / copies_per_el - 1.0).abs() < 0.03, "bench {} vs run {copies_per_el}", r["copies_per_element"]);
    let l = &r["latency_ns"];
    assert!(l["count"].as_u64().unwrap() > 0 && l["p50"].as_u64() <= l["p99"].as_u64() && l["p99"].as_u64() <= l["max"].as_u64(), "{l}");
    assert!(r["bytes_per_s"].as_f64().unwrap() > 0.0 && r["mean_element_bytes"].as_f64().unwrap() > 0.0);
    let nodes = r["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().map(|n| n["node"].as_str().unwrap()).collect::<Vec<_>>(), ["src", "up", "sink"]);
    let shares: f64 = nodes.iter().map(|n| n["time_share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-6, "{shares}");
    assert!(nodes.iter().all(|n| n["invocations"].as_u64().unwrap() > 0));
    assert_eq!(r["edges"].as_array().unwrap().len(), 2);
    assert!(r["edges"].as_array().unwrap().iter().all(|e| e["peak_depth"].as_u64().unwrap() >= 1));
    assert!(r["pool_reuse_rate"].as_f64().unwrap() > 0.5, "{}", r["pool_reuse_rate"]);
    assert!(!r["timeline"].as_array().unwrap().is_empty());
    assert!(dir.join(".torvyn/bench/b1.json").is_file());

    // Against a baseline ten times slower: within the threshold (exit 0);
    // against one ten times faster: a regression (exit 3). Baselines far
    // from the run keep the verdict independent of this machine's load.
    let mut slow = r.clone();
    slow["elements_per_s"] = Value::from(r["elements_per_s"].as_f64().unwrap() / 10.0);
    slow["latency_ns"]["p99"] = Value::from(r["latency_ns"]["p99"].as_u64().unwrap() * 1000);
    std::fs::write(dir.join("slow.json"), slow.to_string()).unwrap();
    let (code, out, _) = torvyn_in(&dir, &["bench", "--duration", "500ms", "--warmup", "100ms", "--compare", "slow.json"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("within the threshold"), "{out}");
    // A baseline saved by name is found by name (made slow the same way).
    std::fs::write(dir.join(".torvyn/bench/b1.json"), slow.to_string()).unwrap();
    let (code, out, _) = torvyn_in(&dir, &["bench", "--duration", "300ms", "--warmup", "100ms", "--compare", "b1"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("compared with the run of") && out.contains("within the threshold"), "{out}");
    let mut fast = r.clone();
    fast["elements_per_s"] = Value::from(r["elements_per_s"].as_f64().unwrap() * 10.0);
    std::fs::write(dir.join("fast.json"), fast.to_string()).unwrap();
    let (code, out, _) = torvyn_in(&dir, &["bench", "--duration", "500ms", "--warmup", "100ms", "--compare", "fast.json"], &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("REGRESSION"), "{out}");

    // Other formats.
    for (format, needle) in [("csv", "metric,scope,value\nelements_per_s,flow,"), ("markdown", "| throughput |"), ("pretty", "throughput ")] {
        let (code, out, err) = torvyn_in(&dir, &["bench", "--duration", "300ms", "--warmup", "0s", "--report-format", format], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(needle), "{format}: {out}");
    }
    // Misuse.
    let (code, _, err) = torvyn_in(&dir, &["bench", "--compare", "nope"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the baseline"), "{err}");
    let (code, _, err) = torvyn_in(&dir, &["bench", "--fail-threshold", "lots"], &[]);
    assert_eq!(code, 2, "{err}");
    let embed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/embed");
    let (code, _, err) = torvyn_in(&dir, &["bench", embed.to_str().unwrap(), "--duration", "100ms"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("fed or drained by the embedding program"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_html_report_draws_its_plots_in_a_real_browser() {
    let dir = temp_dir("bench-html");
    project(&dir);
    let (code, _, err) = torvyn_in(&dir, &["bench", "--duration", "1s", "--warmup", "200ms", "--report", "r.html", "--report-format", "html"], &[]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(!html.contains("http://") || html.matches("http://").all(|_| html.contains("http://www.w3.org/2000/svg")), "no network");
    assert!(!html.contains("<script src"), "self-contained");
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("headless Chromium is needed (apt-get install chromium; .ci/run installs it)");
    let out = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", dir.join("r.html").display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for id in ["latency", "throughput", "share"] {
        let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the rendered page"));
        let tag = &dom[dom[..at].rfind('<').unwrap()..];
        let tag = &tag[..tag.find('>').unwrap()];
        let drawn: u64 = tag
            .split("data-drawn=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("#{id} was not drawn: {tag}"));
        assert!(drawn > 0, "#{id} drew nothing");
    }
    assert_eq!(dom.matches("class=\"share\"").count(), 3, "a bar per node");
    assert!(dom.contains("<polyline"), "the throughput line");
    assert!(dom.matches("class=\"bar\"").count() >= 1, "latency bars");
    std::fs::remove_dir_all(&dir).unwrap();
}
