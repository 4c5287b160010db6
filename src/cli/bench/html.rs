//! `--report-format html`: one self-contained page (no network): the
//! report as data, and a small script that draws three SVG plots from it
//! (latency histogram, throughput over time, per-node time share). Each
//! plot marks itself `data-drawn="<marks>"` once drawn.

use super::report::BenchReport;

/// The report's JSON, safe inside a `<script>` element.
fn embedded(report: &BenchReport) -> String {
    serde_json::to_string(report).unwrap_or_default().replace("</", "<\\/").replace("<!--", "<\\!--")
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn page(report: &BenchReport) -> String {
    let l = &report.latency_ns;
    let title = format!("torvyn bench: flow {}", escape(&report.flow));
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
th {{ background: #f4f4f4; }}
figure {{ margin: 1.5em 0; }}
svg {{ background: #fafafa; border: 1px solid #ddd; }}
.bar {{ fill: #3b7dd8; }}
.share {{ fill: #e07b39; }}
.line {{ fill: none; stroke: #2a9d5c; stroke-width: 2; }}
.axis {{ stroke: #888; }}
text {{ font-size: 11px; fill: #333; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{elements_per_s:.0} elements/s over {duration:.1} s ({runs} run(s), {warmup:.1} s warm-up); latency p50 {p50} ns, p99 {p99} ns, max {max} ns; {copies:.2} copies per element; pool reuse {reuse:.1} %.</p>
<figure><figcaption>Latency, source entry to sink exit (ns, log scale)</figcaption><svg id="latency" width="720" height="260"></svg></figure>
<figure><figcaption>Throughput over time (elements/s)</figcaption><svg id="throughput" width="720" height="260"></svg></figure>
<figure><figcaption>Share of call time per node</figcaption><svg id="share" width="720" height="{share_h}"></svg></figure>
<script id="report" type="application/json">{data}</script>
<script>
(function () {{
  var r = JSON.parse(document.getElementById("report").textContent);
  var NS = "http://www.w3.org/2000/svg";
  function el(svg, name, attrs, text) {{
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  }}
  function axes(svg, w, h) {{
    el(svg, "line", {{x1: 40, y1: h - 30, x2: w - 10, y2: h - 30, "class": "axis"}});
    el(svg, "line", {{x1: 40, y1: 10, x2: 40, y2: h - 30, "class": "axis"}});
  }}
  // Latency: one bar per histogram bucket, x by log10 of its top.
  (function () {{
    var svg = document.getElementById("latency"), w = 720, h = 260, b = r.latency_ns.buckets, marks = 0;
    axes(svg, w, h);
    if (b.length) {{
      var lo = Math.log10(Math.max(1, b[0][0])), hi = Math.log10(Math.max(2, b[b.length - 1][0])) + 0.05;
      var top = Math.max.apply(null, b.map(function (x) {{ return x[1]; }}));
      var bw = Math.max(2, (w - 60) / Math.max(b.length, 1) * 0.8);
      b.forEach(function (x) {{
        var px = 40 + (Math.log10(Math.max(1, x[0])) - lo) / Math.max(hi - lo, 0.01) * (w - 70);
        var ph = x[1] / top * (h - 50);
        el(svg, "rect", {{x: px, y: h - 30 - ph, width: bw, height: ph, "class": "bar"}});
        marks++;
      }});
      el(svg, "text", {{x: 40, y: h - 12}}, Math.round(Math.pow(10, lo)) + " ns");
      el(svg, "text", {{x: w - 90, y: h - 12}}, Math.round(Math.pow(10, hi)) + " ns");
    }}
    svg.setAttribute("data-drawn", marks);
  }})();
  // Throughput: a line through the timeline.
  (function () {{
    var svg = document.getElementById("throughput"), w = 720, h = 260, t = r.timeline, marks = 0;
    axes(svg, w, h);
    if (t.length) {{
      var tmax = Math.max.apply(null, t.map(function (x) {{ return x[0]; }})) || 1;
      var vmax = Math.max.apply(null, t.map(function (x) {{ return x[1]; }})) || 1;
      var pts = t.map(function (x) {{ return (40 + x[0] / tmax * (w - 60)).toFixed(1) + "," + (h - 30 - x[1] / vmax * (h - 50)).toFixed(1); }});
      el(svg, "polyline", {{points: pts.join(" "), "class": "line"}});
      marks = t.length;
      el(svg, "text", {{x: 44, y: 22}}, Math.round(vmax) + " elements/s");
      el(svg, "text", {{x: w - 60, y: h - 12}}, tmax.toFixed(1) + " s");
    }}
    svg.setAttribute("data-drawn", marks);
  }})();
  // Time share: a horizontal bar per node.
  (function () {{
    var svg = document.getElementById("share"), marks = 0;
    r.nodes.forEach(function (n, i) {{
      var y = 10 + i * 28;
      el(svg, "text", {{x: 8, y: y + 14}}, n.node);
      el(svg, "rect", {{x: 160, y: y, width: Math.max(1, n.time_share * 500), height: 18, "class": "share"}});
      el(svg, "text", {{x: 166 + n.time_share * 500, y: y + 14}}, (n.time_share * 100).toFixed(1) + " %");
      marks++;
    }});
    svg.setAttribute("data-drawn", marks);
  }})();
}})();
</script>
</body>
</html>
"#,
        elements_per_s = report.elements_per_s,
        duration = report.duration_s,
        runs = report.runs,
        warmup = report.warmup_s,
        p50 = l.p50,
        p99 = l.p99,
        max = l.max,
        copies = report.copies_per_element,
        reuse = report.pool_reuse_rate * 100.0,
        share_h = 20 + 28 * report.nodes.len().max(1),
        data = embedded(report),
    )
}
