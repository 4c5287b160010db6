"""A test OTLP/HTTP receiver (traces; metrics on /v1/metrics print one
line per data point with "kind": "metric"). Listens on 127.0.0.1 (port in argv[1], 0 for
any), prints `port N`, then for each POST to /v1/traces decodes the body
with the official schema (the opentelemetry-proto package: protobuf as is;
OTLP/JSON through protobuf's JSON parser, after turning its hex ids into the
base64 that parser expects) and prints one JSON line per span:
{"encoding", "trace_id", "span_id", "parent_span_id", "name", "kind",
"status", "attributes", "resource"}. Answers 200 with an empty response."""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def hex_ids_to_base64(node):
    if isinstance(node, dict):
        for key in ("traceId", "spanId", "parentSpanId"):
            if isinstance(node.get(key), str):
                node[key] = base64.b64encode(bytes.fromhex(node[key])).decode()
        for v in node.values():
            hex_ids_to_base64(v)
    elif isinstance(node, list):
        for v in node:
            hex_ids_to_base64(v)


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def metrics(self, body, kind):
        request = ExportMetricsServiceRequest()
        if kind == "application/x-protobuf":
            request.ParseFromString(body)
        else:
            json_format.Parse(body, request)
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    data = m.WhichOneof("data")
                    points = getattr(m, data).data_points
                    for p in points:
                        line = {"kind": "metric", "name": m.name, "unit": m.unit, "type": data,
                                "attributes": {a.key: value(a.value) for a in p.attributes}}
                        if data == "histogram":
                            line.update(count=p.count, sum=p.sum, buckets=list(p.bucket_counts), bounds=list(p.explicit_bounds))
                        else:
                            line["value"] = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                        if data == "sum":
                            line["monotonic"] = m.sum.is_monotonic
                        print(json.dumps(line), flush=True)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        kind = self.headers.get("Content-Type", "")
        if self.path == "/v1/metrics":
            self.metrics(body, kind)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        if kind == "application/x-protobuf":
            request.ParseFromString(body)
            encoding = "protobuf"
        else:
            doc = json.loads(body)
            hex_ids_to_base64(doc)
            json_format.ParseDict(doc, request)
            encoding = "json"
        for rs in request.resource_spans:
            resource = {a.key: value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    print(json.dumps({
                        "encoding": encoding,
                        "path": self.path,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "name": s.name,
                        "kind": s.kind,
                        "status": s.status.code,
                        "start": s.start_time_unix_nano,
                        "end": s.end_time_unix_nano,
                        "attributes": {a.key: value(a.value) for a in s.attributes},
                        "resource": resource,
                    }), flush=True)
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", kind or "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
