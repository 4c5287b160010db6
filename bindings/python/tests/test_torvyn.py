"""The Python package against the real library and the real components."""

import gc
import math
import threading
import time

import numpy
import pytest

import torvyn
from torvyn import Host, Pipeline

from conftest import ROOT, rss_kib, vm_rss_kib, wasm


def test_library_version_and_abi():
    assert torvyn.version() == "0.1.0"
    assert torvyn.ABI_VERSION == 1


def test_hello_world_runs_to_completion():
    with Host() as host, Pipeline.load(ROOT / "examples" / "hello-world") as p:
        assert p.flows == ["main"]
        with host.start(p) as flow:
            summary = flow.wait(timeout=60)
    assert summary["state"] == "completed"
    assert summary["elements"] == 5
    assert summary["copies"] == 10


def test_the_compiled_component_cache_can_be_placed_or_turned_off(tmp_path):
    for where, expect in ((tmp_path / "cache", 2), ("", 0)):
        with Host(compilation_cache_dir=str(where)) as host, Pipeline.load(ROOT / "examples" / "hello-world") as p:
            with host.start(p) as flow:
                assert flow.wait(timeout=60)["state"] == "completed"
    assert len(list((tmp_path / "cache" / "compiled").glob("*.cwasm"))) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"], "the empty setting wrote nothing"


def test_metrics_as_dicts_and_prometheus_text_with_the_level_set_at_run_time():
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p, host.start(p) as flow:
        with pytest.raises(ValueError, match="not one of off, production, diagnostic"):
            flow.set_observability_level("verbose")
        flow.set_observability_level("diagnostic")
        for i in range(40):
            flow.push(f"record {i}".encode(), timeout=30)
            flow.next(timeout=30).release()
        running = host.metrics()
        assert running["flows_active"] == 1
        flow.close_input()
        flow.wait(timeout=60)
        m = flow.metrics()
        text = host.metrics_text()
    assert (m["level"], m["elements"], m["latency_ns"]["count"]) == ("diagnostic", 40, 40)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    elements = [s for s in families["torvyn_flow_elements"].samples if s.labels["flow_id"] == str(m["flow_id"])]
    assert [s.value for s in elements] == [40.0]


def test_a_flow_continues_a_traceparent_and_keeps_its_spans():
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p:
        with pytest.raises(torvyn.InvalidArgument, match="traceparent"):
            host.start(p, traceparent="00-nope")
        with host.start(p, traceparent=tp) as flow:
            flow.set_observability_level("diagnostic")
            flow.push(b"x", timeout=30)
            flow.next(timeout=30).release()
            flow.close_input()
            flow.wait(timeout=60)
            t = flow.trace()
    assert t["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert t["sampled"] is True
    assert t["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    calls = [(s["node"], s["call"]) for s in t["spans"]]
    assert ("upper", "process") in calls, calls


def test_grants_and_the_audit_trail():
    import socket

    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    port = peer.getsockname()[1]
    toml = (
        f'[flow.main.nodes.src]\ncomponent = "{wasm("counting-source")}"\nconfig = \'{{"count": 2}}\'\n\n'
        f'[flow.main.nodes.probe]\ncomponent = "{wasm("wasi-probe")}"\nconfig = \'{{"connect": "127.0.0.1:{port}"}}\'\n\n'
        f'[flow.main.nodes.sink]\ncomponent = "{wasm("printing-sink")}"\n\n'
        '[[flow.main.edges]]\nfrom = "src"\nto = "probe"\n\n[[flow.main.edges]]\nfrom = "probe"\nto = "sink"\n'
    )
    events = []
    got = threading.Event()

    def on_event(e):
        events.append(e)
        if e["kind"] == "cap_denied_runtime" and e["capability"] == "network:tcp-connect":
            got.set()

    with Host() as host, Pipeline.from_toml(toml) as p:
        with pytest.raises(torvyn.ContractMismatch, match="wasi:clocks/monotonic-clock"):
            host.start(p)
        with pytest.raises(torvyn.InvalidArgument, match="did you mean `clock:wall`"):
            p.grant("probe", "clock:wal")
        with pytest.raises(torvyn.NotFound, match="nobody"):
            p.grant("nobody", "clock:wall")
        for g in ["clock:wall", "clock:monotonic", "filesystem", "network:tcp-connect:192.0.2.1:9"]:
            p.grant("probe", g)
        host.set_audit_callback(on_event)
        with host.start(p) as flow:
            flow.wait(timeout=60)
            trail = flow.audit_events()
        assert got.wait(10), events
    peer.close()
    denied = [e for e in trail if e["kind"] == "cap_denied_runtime" and e["capability"].startswith("network")]
    assert [(e["node"], e["capability"], e["target"]) for e in denied] == [("probe", "network:tcp-connect", f"127.0.0.1:{port}")]
    assert denied[0] in events


def test_push_through_wasm_and_read_back_in_place():
    with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p, host.start(p) as flow:
        def produce():
            for i in range(500):
                flow.push(f"record {i}".encode(), content_type="text/plain", timeout=30)
            flow.close_input()

        producer = threading.Thread(target=produce)
        producer.start()
        seen = 0
        for element in flow.elements(timeout=30):
            with element:
                view = element.payload
                assert isinstance(view, memoryview) and view.readonly
                assert bytes(view) == f"RECORD {seen}".encode()
                assert element.sequence == seen
                assert element.content_type == "text/plain"
            with pytest.raises(ValueError):
                view[0]  # the view was released with the borrow
            with pytest.raises(torvyn.StaleHandle):
                element.payload
            seen += 1
        producer.join()
        summary = flow.wait(timeout=30)
    assert seen == 500
    assert summary["elements"] == 500
    assert summary["copies"] == 1500  # push + processor read + processor write; egress read in place


def test_views_derived_from_a_payload_keep_its_borrow_until_they_are_gone():
    # The egress lends the host buffer itself; once returned to the pool it
    # carries later elements. A view derived from a payload that outlived
    # the borrow would read their bytes: instead it keeps the borrow.
    def take(flow, data):
        flow.push(data, timeout=30)
        return flow.next(timeout=30)

    def derive(payload):
        return {
            "slice": payload[10:20],
            "memoryview": memoryview(payload),
            "cast": payload.cast("c"),
            "numpy": numpy.frombuffer(payload, dtype=numpy.uint8),
        }

    def reads(views, letter):
        assert bytes(views["slice"]) == letter * 10
        assert bytes(views["memoryview"]) == letter * 1000
        assert views["cast"].tobytes() == letter * 1000
        assert views["numpy"].tobytes() == letter * 1000

    with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p, host.start(p) as flow:
        first = take(flow, b"a" * 1000)
        with first:
            payload = first.payload
            kept = derive(payload)
        with pytest.raises(ValueError):
            payload[0]  # the element's own view was released with the block
        with pytest.raises(torvyn.StaleHandle):
            first.payload
        with pytest.raises(torvyn.StaleHandle):
            first.release()
        letters = b"bcdefghijklmnopqrstuvwxyz"
        for i in range(400):
            letter = letters[i % len(letters):][:1]
            with take(flow, letter * 1000) as later:
                assert bytes(later.payload) == letter.upper() * 1000
            if i % 50 == 0:
                reads(kept, b"A")
        reads(kept, b"A")
        del kept
        gc.collect()  # the first borrow ends with its last view

        # A second element whose derived view is still alive when the flow ends.
        second = take(flow, b"z" * 1000)
        with second:
            held = second.payload[:]
        flow.close_input()
        assert flow.next(timeout=30) is None
        summary = flow.wait(timeout=30)
        assert summary["state"] == "completed"
        assert summary["elements"] == 402
        assert summary["buffers_live"] == 1  # `held`'s borrow, not the first one's
        assert bytes(held) == b"Z" * 1000
        with pytest.raises(torvyn.StaleHandle):
            second.payload
        del held
        gc.collect()


def test_a_payload_nothing_points_into_is_released_at_once():
    # Without derived views the buffer returns at block exit or release(),
    # not when a garbage collection happens to run.
    gc.disable()
    try:
        with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p, host.start(p) as flow:
            flow.push(b"never looked at", timeout=30)
            untouched = flow.next(timeout=30)
            untouched.release()
            flow.push(b"copied out", timeout=30)
            with flow.next(timeout=30) as copied:
                assert bytes(copied.payload) == b"COPIED OUT"
            flow.push(b"view kept, released", timeout=30)
            with flow.next(timeout=30) as viewed:
                view = viewed.payload
            with pytest.raises(ValueError):
                view[0]
            flow.close_input()
            assert flow.next(timeout=30) is None
            summary = flow.wait(timeout=30)
            assert summary["elements"] == 3
            assert summary["buffers_live"] == 0  # while the three elements are still referenced
            for element in (untouched, copied, viewed):
                with pytest.raises(torvyn.StaleHandle):
                    element.release()
    finally:
        gc.enable()


def test_misuse_raises_the_right_exception_with_a_message():
    with Host(queue_depth=2) as host, Pipeline.load(ROOT / "examples" / "embed") as p:
        flow = host.start(p)
        with pytest.raises(torvyn.NotFound, match="no ingress named `inptu`"):
            flow.push(b"x", port="inptu")
        with pytest.raises(torvyn.NotFound, match="no egress named `input`"):
            flow.next(port="input")
        with pytest.raises(torvyn.Timeout):
            flow.next(timeout=0)
        # Nobody reads: backpressure reaches the program.
        with pytest.raises(torvyn.WouldBlock, match="is full"):
            for _ in range(1000):
                flow.push(b"abc", timeout=0)
                threading.Event().wait(0.001)
        element = flow.next(timeout=10)
        element.release()
        with pytest.raises(torvyn.StaleHandle):
            element.release()
        with pytest.raises(torvyn.StaleHandle):
            element.payload
        flow.close_input()
        with pytest.raises(torvyn.Closed, match="was closed"):
            flow.push(b"late")
        for e in flow.elements(timeout=10):
            e.close()
        flow.wait(timeout=10)
        flow.close()
        with pytest.raises(torvyn.StaleHandle):
            flow.wait()
        flow.close()  # closing twice is harmless
        with pytest.raises(torvyn.InvalidArgument, match="unknown key `colour`"):
            Pipeline.from_toml("[flow.main.nodes.a]\ncolour = 1\n")
        with pytest.raises(torvyn.NotFound):
            Pipeline.load(ROOT / "no" / "such" / "Torvyn.toml")
        with pytest.raises(torvyn.NotFound, match="no flow named `nope`"):
            host.start(p, "nope")


def test_trap_cancel_and_contract_errors():
    trap = (
        '[flow.main.nodes.in]\nendpoint = "ingress"\n'
        f'[flow.main.nodes.bad]\ncomponent = "{wasm("faulty-processor")}"\nconfig = \'{{"trap_at": 0}}\'\n'
        '[flow.main.nodes.out]\nendpoint = "egress"\n'
        '[[flow.main.edges]]\nfrom = "in"\nto = "bad"\n[[flow.main.edges]]\nfrom = "bad"\nto = "out"\n'
    )
    with Host() as host, Pipeline.from_toml(trap) as p:
        with host.start(p) as flow:
            flow.push(b"boom", port="in")
            with pytest.raises(torvyn.Trap, match="node `bad`"):
                flow.wait(timeout=30)
            assert flow.state == "failed"
        with host.start(p) as flow:
            threading.Timer(0.05, flow.cancel).start()
            with pytest.raises(torvyn.Cancelled):
                flow.wait()
        mismatch = (
            f'[flow.main.nodes.a]\ncomponent = "{wasm("printing-sink")}"\ninterface = "torvyn:streaming/source"\n'
            '[flow.main.nodes.b]\nendpoint = "egress"\n[[flow.main.edges]]\nfrom = "a"\nto = "b"\n'
        )
        with Pipeline.from_toml(mismatch) as bad:
            with pytest.raises(torvyn.ContractMismatch, match="is declared torvyn:streaming/source"):
                host.start(bad)
        host.shutdown()
        with pytest.raises(torvyn.Closed, match="shut down"):
            host.start(p)


def test_log_callback_receives_guest_output():
    lines = []
    torvyn.set_log_callback(lambda level, target, node, message: lines.append((target, node, message)))
    try:
        with Host() as host, Pipeline.load(ROOT / "examples" / "hello-world") as p, host.start(p) as flow:
            flow.wait(timeout=60)
    finally:
        torvyn.set_log_callback(None)
    guest = [(n, m) for t, n, m in lines if t == "torvyn::guest"]
    assert guest[:5] == [("sink", f"[seq {i}] Hello, World! (message {i + 1})") for i in range(5)]


def test_ten_thousand_create_free_iterations_do_not_grow_memory():
    manifest = ROOT / "examples" / "embed"
    iterations = 10_000
    host = None
    before = None
    for i in range(iterations):
        if i % 10 == 0:
            if host is not None:
                host.close()
            host = Host()
        with Pipeline.load(manifest) as p, host.start(p) as flow:
            flow.push(b"x%d" % i)
            flow.close_input()
            with flow.next(timeout=30) as element:
                assert bytes(element.payload) == b"X%d" % i
            assert flow.next(timeout=30) is None
            flow.wait(timeout=30)
        if i + 1 == iterations // 5:
            before = rss_kib()
    host.close()
    after = rss_kib()
    print(f"rss after {iterations // 5} iterations: {before} KiB; after {iterations}: {after} KiB; growth {after - before} KiB")
    assert after - before < 4096


def test_ten_thousand_flows_on_one_host_do_not_grow_memory():
    # Issue 9, item 4: a host used to keep every flow it started; an ended
    # flow must be forgotten once its last handle is closed.
    flows = 10_000
    warmup = 1_000
    size = 64 * 1024
    pattern = b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 2)
    upper = pattern.upper()
    before = None
    started = time.monotonic()
    with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p:
        for i in range(flows):
            k = i % 26
            with host.start(p) as flow:
                flow.push(pattern[k:k + size], content_type="text/plain", timeout=30)
                flow.close_input()
                with flow.next(timeout=30) as element:
                    assert bytes(element.payload) == upper[k:k + size]
                assert flow.next(timeout=30) is None
                assert flow.wait(timeout=30)["state"] == "completed"
            if i + 1 == warmup:
                gc.collect()
                before = vm_rss_kib()
        gc.collect()
        after = vm_rss_kib()
    elapsed = time.monotonic() - started
    print(
        f"{flows} flows on one host: rss after {warmup} = {before} KiB, after {flows} = {after} KiB, "
        f"growth {after - before} KiB ({elapsed:.1f} s)"
    )
    assert after - before < 16 * 1024, f"resident memory grew by {after - before} KiB over {flows - warmup} flows on one host"


def test_extreme_options_and_timeouts_are_errors_or_no_limit():
    with pytest.raises(torvyn.InvalidArgument, match="`queue_depth` is 4000000000; allowed: 1 to 1048576"):
        Host(queue_depth=4_000_000_000)
    with pytest.raises(torvyn.InvalidArgument, match="`memory_limit` is 8589934592"):
        Host(memory_limit=8 << 30)
    with Host() as host, Pipeline.load(ROOT / "examples" / "embed") as p, host.start(p) as flow:
        flow.push(b"x", timeout=math.inf)
        with flow.next(timeout=1e300) as element:
            assert bytes(element.payload) == b"X"
        flow.close_input()
        assert flow.next(timeout=math.inf) is None
        flow.wait(timeout=math.inf)
        with pytest.raises(ValueError, match="NaN"):
            flow.wait(timeout=math.nan)
