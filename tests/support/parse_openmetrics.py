"""Parse OpenMetrics text from stdin with the prometheus_client package's
own parser (the one Prometheus' Python ecosystem uses) and print what it
understood as JSON: {family: {"type", "unit", "samples": [[name, labels, value]]}}.
A document the parser rejects exits non-zero with its message."""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    families[f.name] = {
        "type": f.type,
        "unit": f.unit,
        "samples": [[s.name, s.labels, None if math.isinf(s.value) else s.value] for s in f.samples],
    }
json.dump(families, sys.stdout)
