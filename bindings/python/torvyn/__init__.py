"""Torvyn from Python: run sandboxed WebAssembly stream pipelines, push your
own records into them, and read results back from host buffers without a copy.

    from torvyn import Host, Pipeline

    with Host() as host, Pipeline.load("examples/embed") as pipeline:
        with host.start(pipeline) as flow:
            flow.push(b"hello")
            flow.close_input()
            for element in flow.elements():
                with element:
                    print(bytes(element.payload))   # a memoryview onto the host buffer

Objects own C handles: close them with ``close()`` or a ``with`` block
(finalizers only as a fallback). Errors raise a subclass of ``TorvynError``
per status, carrying the library's message.
"""

import ctypes
import json
import os
import weakref
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint8, c_uint64, c_void_p

from . import errors
from ._lib import ABI_VERSION, AUDIT_FN, FREE_FN, LOG_FN, HostOptions, lib
from .errors import *  # noqa: F401,F403

__all__ = ["Host", "Pipeline", "Flow", "Element", "version", "ABI_VERSION", "set_log_callback"] + [
    c.__name__ for c in errors.BY_STATUS.values()
] + ["TorvynError"]

FOREVER = None


def version() -> str:
    """The library's version."""
    return lib.torvyn_version().decode()


def _check(status: int, err: c_void_p) -> None:
    if status == 0:
        return
    message = lib.torvyn_error_message(err).decode(errors="replace") if err else f"status {status}"
    lib.torvyn_error_free(err)
    raise errors.BY_STATUS.get(status, errors.TorvynError)(message, status)


def _call(fn, *args) -> None:
    err = c_void_p()
    _check(fn(*args, byref(err)), err)


def _ms(timeout) -> int:
    """Seconds (float) or None (no limit) to the C convention. A timeout too
    long for the C call (``math.inf``, or beyond 2**63 ms) means no limit."""
    if timeout is None:
        return -1
    ms = timeout * 1000
    if ms != ms:
        raise ValueError("timeout is NaN; give seconds, or None for no limit")
    if ms >= 2**63 - 1:
        return -1
    return max(0, int(ms))


def _take_string(ptr: c_void_p) -> str:
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        lib.torvyn_string_free(ptr)


class _Handle:
    """Owns one C handle; ``close()`` frees it once."""

    _free = None

    def __init__(self, handle: c_void_p):
        self._handle = handle

    @property
    def handle(self) -> c_void_p:
        if self._handle is None:
            raise errors.StaleHandle(f"{type(self).__name__} is closed", 12)
        return self._handle

    def close(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            type(self)._free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Fallback only: close explicitly or with `with`.
        try:
            self.close()
        except Exception:
            pass


class Host(_Handle):
    """A Torvyn runtime: engine, reactor threads, flows."""

    _free = staticmethod(lambda h: lib.torvyn_host_free(h))

    def __init__(
        self,
        worker_threads: int = 0,
        memory_limit: int = 0,
        queue_depth: int = 0,
        observability_level: int = 0,
        compilation_cache_dir: str = None,
    ):
        """``compilation_cache_dir``: where compiled components are kept
        between processes (default: the user cache directory); ``""`` keeps
        them in memory only."""
        handle = c_void_p()
        if compilation_cache_dir is not None:
            options = {"compilation_cache_dir": str(compilation_cache_dir)}
            for key, value in (("worker_threads", worker_threads), ("memory_limit", memory_limit), ("queue_depth", queue_depth), ("observability_level", observability_level)):
                if value:
                    options[key] = value
            _call(lib.torvyn_host_new_json, json.dumps(options).encode(), byref(handle))
            super().__init__(handle)
            return
        opts = HostOptions()
        lib.torvyn_host_options_init(byref(opts))
        opts.worker_threads = worker_threads
        opts.memory_limit = memory_limit
        opts.queue_depth = queue_depth
        opts.observability_level = observability_level
        _call(lib.torvyn_host_new, byref(opts), byref(handle))
        super().__init__(handle)

    def start(self, pipeline: "Pipeline", flow: str = None, traceparent: str = None) -> "Flow":
        """Start a flow (default: ``main`` or the only one), continuing the
        W3C trace ``traceparent`` when given."""
        handle = c_void_p()
        name = flow.encode() if flow else None
        if traceparent is None:
            _call(lib.torvyn_flow_start, self.handle, pipeline.handle, name, byref(handle))
        else:
            _call(lib.torvyn_flow_start_traced, self.handle, pipeline.handle, name, traceparent.encode(), byref(handle))
        return Flow(handle)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every flow and stop the threads; the host refuses new flows."""
        _call(lib.torvyn_host_shutdown, self.handle, _ms(timeout))

    def metrics(self) -> dict:
        """Every flow's metrics and the host's own (see docs/observability.md)."""
        out = c_void_p()
        _call(lib.torvyn_host_metrics_json, self.handle, byref(out))
        return json.loads(_take_string(out))

    def metrics_text(self) -> str:
        """The same in the Prometheus (OpenMetrics) text format."""
        out = c_void_p()
        _call(lib.torvyn_host_metrics_text, self.handle, byref(out))
        return _take_string(out)

    def set_audit_callback(self, fn) -> None:
        """Send the audit events of flows started from now on to ``fn(event)``
        (a dict: kind, node, capability, target, outcome, …; see
        docs/security.md). ``None`` stops it. ``fn`` runs on an audit thread
        of Torvyn's, one event at a time; an exception in it is ignored."""
        if fn is None:
            _call(lib.torvyn_host_set_audit_callback, self.handle, AUDIT_FN(), None, FREE_FN())
            return

        def trampoline(_user, text):
            try:
                fn(json.loads(text.decode()))
            except Exception:
                pass

        cb = AUDIT_FN(trampoline)
        key = id(cb)
        # Kept alive until the library says it will not call it again.
        _audit_keepalive[key] = cb
        _call(lib.torvyn_host_set_audit_callback, self.handle, cb, c_void_p(key), _AUDIT_FREE)


class Pipeline(_Handle):
    """A loaded manifest."""

    _free = staticmethod(lambda h: lib.torvyn_pipeline_free(h))

    @classmethod
    def load(cls, path) -> "Pipeline":
        handle = c_void_p()
        _call(lib.torvyn_pipeline_load_file, os.fsencode(path), byref(handle))
        return cls(handle)

    @classmethod
    def from_toml(cls, text: str, base_dir=None) -> "Pipeline":
        handle = c_void_p()
        _call(lib.torvyn_pipeline_load_toml, text.encode(), os.fsencode(base_dir) if base_dir else None, byref(handle))
        return cls(handle)

    @classmethod
    def from_json(cls, text: str, base_dir=None) -> "Pipeline":
        handle = c_void_p()
        _call(lib.torvyn_pipeline_load_json, text.encode(), os.fsencode(base_dir) if base_dir else None, byref(handle))
        return cls(handle)

    def grant(self, target: str, capability: str) -> None:
        """Grant ``capability`` (e.g. ``"filesystem:read:/data/**"``) to the
        node named ``target``, or to every node running component
        ``target``, as ``[security.grants.<target>]`` would."""
        _call(lib.torvyn_pipeline_grant, self.handle, target.encode(), capability.encode())

    @property
    def flows(self) -> list:
        count = c_size_t()
        _call(lib.torvyn_pipeline_flow_count, self.handle, byref(count))
        names = []
        for i in range(count.value):
            name = c_void_p()
            _call(lib.torvyn_pipeline_flow_name, self.handle, i, byref(name))
            names.append(_take_string(name))
        return names


_STATES = ["created", "initializing", "running", "draining", "completed", "cancelled", "failed"]


class Flow(_Handle):
    """A started flow. Closing the handle does not stop the flow; ``cancel()`` does."""

    _free = staticmethod(lambda h: lib.torvyn_flow_free(h))

    @property
    def state(self) -> str:
        s = c_int()
        _call(lib.torvyn_flow_get_state, self.handle, byref(s))
        return _STATES[s.value]

    def wait(self, timeout: float = None) -> dict:
        """Wait for the end; returns the summary. Raises ``Cancelled``,
        ``Trap`` or ``Failed`` when the flow did not complete, ``Timeout``
        when it is still running."""
        _call(lib.torvyn_flow_wait, self.handle, _ms(timeout))
        return self.summary()

    def cancel(self) -> None:
        _call(lib.torvyn_flow_cancel, self.handle)

    def summary(self) -> dict:
        out = c_void_p()
        _call(lib.torvyn_flow_summary_json, self.handle, byref(out))
        return json.loads(_take_string(out))

    def trace(self) -> dict:
        """The flow's trace id, ``traceparent``, sampling and the spans it keeps."""
        out = c_void_p()
        _call(lib.torvyn_flow_trace_json, self.handle, byref(out))
        return json.loads(_take_string(out))

    def metrics(self) -> dict:
        """The flow's metrics now (counts, histograms, nodes, edges, pool tiers)."""
        out = c_void_p()
        _call(lib.torvyn_flow_metrics_json, self.handle, byref(out))
        return json.loads(_take_string(out))

    def audit_events(self) -> list:
        """The flow's audit trail: every capability denial and each grant's
        first use per node (its last 4,096 events)."""
        out = c_void_p()
        _call(lib.torvyn_flow_audit_json, self.handle, byref(out))
        return json.loads(_take_string(out))

    _LEVELS = {"off": 0, "production": 1, "diagnostic": 2}

    def set_observability_level(self, level: str) -> None:
        """What the flow records from now on: ``off``, ``production`` or ``diagnostic``."""
        if level not in self._LEVELS:
            raise ValueError(f"observability level {level!r} is not one of off, production, diagnostic")
        _call(lib.torvyn_flow_set_observability_level, self.handle, self._LEVELS[level])

    def push(self, data, port: str = "input", content_type: str = "", timeout: float = None) -> None:
        """Copy ``data`` (bytes-like) into ingress ``port``, waiting up to
        ``timeout`` seconds while it is full (0: raise ``WouldBlock`` at once)."""
        # Hand the caller's memory to the library as is; its one copy into a
        # pooled host buffer is the only copy of the push.
        if isinstance(data, bytes):
            length = len(data)
            buf = ctypes.cast(c_char_p(data), POINTER(c_uint8))
        else:
            view = memoryview(data).cast("B")
            length = len(view)
            if view.readonly:
                data = view.tobytes()  # ctypes cannot point at read-only buffers other than bytes
                buf = ctypes.cast(c_char_p(data), POINTER(c_uint8))
            else:
                buf = (c_uint8 * length).from_buffer(view)
        _call(lib.torvyn_flow_push, self.handle, port.encode(), buf, length, content_type.encode(), _ms(timeout))

    def close_input(self, port: str = "input") -> None:
        _call(lib.torvyn_flow_close_input, self.handle, port.encode())

    def next(self, port: str = "output", timeout: float = None):
        """The next element of egress ``port``, or ``None`` at the end of the stream."""
        handle = c_void_p()
        err = c_void_p()
        status = lib.torvyn_flow_next(self.handle, port.encode(), _ms(timeout), byref(handle), byref(err))
        if status == errors.EndOfStream.status:
            lib.torvyn_error_free(err)
            return None
        _check(status, err)
        return Element(handle)

    def elements(self, port: str = "output", timeout: float = None):
        """Iterate over egress ``port`` until the end of the stream."""
        while True:
            element = self.next(port, timeout)
            if element is None:
                return
            yield element


def _end_borrow(handle, failure: list) -> None:
    """Return an element's host buffer to its pool. Called exactly once, by
    the finalizer of the payload's memory (see ``Element``), from whichever
    thread dropped the last view; never raises."""
    try:
        _call(lib.torvyn_buffer_release, handle)
    except Exception as e:  # an exception here would only be printed
        failure.append(e)


class Element(_Handle):
    """An element taken from an egress: a borrow of the host buffer.

    ``payload`` is a read-only memoryview onto the host buffer itself, valid
    inside ``with element:``; at block exit (or ``release()``) the view is
    released, and using it, ``payload`` or ``release()`` again raises.

    Views derived from the payload (slices, casts, ``memoryview(payload)``,
    ``numpy.frombuffer(payload)``, ``payload.obj``) stay valid after the
    block: they keep the borrow alive, and the host buffer returns to its
    pool only when the last of them is gone, so none of them can ever see
    the bytes of a later element. Keep them short-lived (copy with
    ``bytes()`` to keep data): a held buffer is one fewer in the pool. When
    nothing derived from the payload is left, the block's end returns the
    buffer at once.
    """

    _free = staticmethod(lambda h: lib.torvyn_buffer_release(h, None))

    def __init__(self, handle):
        super().__init__(handle)
        self._view = None
        # While the payload was borrowed: (finalizer, failures) of the
        # ctypes array over the host buffer, which releases the handle.
        self._borrow = None
        seq = c_uint64()
        ts = c_uint64()
        ct = c_char_p()
        _call(lib.torvyn_buffer_sequence, self.handle, byref(seq))
        _call(lib.torvyn_buffer_timestamp_ns, self.handle, byref(ts))
        _call(lib.torvyn_buffer_content_type, self.handle, byref(ct))
        self.sequence = seq.value
        self.timestamp_ns = ts.value
        self.content_type = ct.value.decode()

    @property
    def payload(self) -> memoryview:
        """The bytes, in place: a read-only memoryview onto the host buffer
        (see the class documentation for how long it and its derived views
        stay valid). Raises ``StaleHandle`` once the element was released."""
        handle = self.handle  # raises StaleHandle once released
        if self._view is None:
            data = POINTER(c_uint8)()
            length = c_size_t()
            _call(lib.torvyn_buffer_borrow, handle, byref(data), byref(length))
            if length.value == 0:
                self._view = memoryview(b"")  # aliases no host memory
            else:
                # `raw` is the one object exporting the host memory: every
                # view derived from the payload (slice, cast, memoryview,
                # numpy array, `.obj`) holds it through the buffer protocol,
                # and it holds nothing. When it dies, nothing in Python can
                # reach the memory any more and the finalizer ends the borrow.
                # (`c_uint8 * n` is a subclass of ctypes.Array created at run
                # time, so its instances support weak references.)
                raw = (c_uint8 * length.value).from_address(ctypes.addressof(data.contents))
                failures = []
                finalizer = weakref.finalize(raw, _end_borrow, handle, failures)
                # Never at or after interpreter exit: other code (daemon
                # threads) may still read the views then; the process is
                # about to give the memory back anyway.
                finalizer.atexit = False
                self._borrow = (finalizer, failures)
                # Once this returns, the intermediate views and the local
                # `raw` are gone: the only path to `raw` is this view and
                # whatever derives from it.
                self._view = memoryview(raw).cast("B").toreadonly()
        return self._view

    def release(self) -> None:
        """End the borrow. A second release raises ``StaleHandle``.

        The host buffer returns to its pool now, or, if views derived from
        the payload are still alive, when the last of them is gone."""
        handle = self.handle
        self._handle = None
        view, self._view = self._view, None
        borrow, self._borrow = self._borrow, None
        if view is not None:
            try:
                view.release()
            except BufferError:
                # Someone holds a buffer export of the view itself (a
                # C extension's Py_buffer): that export keeps `raw`, and
                # so the borrow, alive until it is released.
                pass
            del view  # the last reference we had to `raw`
        if borrow is None:
            # Never borrowed (or empty): nothing in Python points at the host buffer.
            _call(lib.torvyn_buffer_release, handle)
            return
        finalizer, failures = borrow
        # If nothing derived from the payload is left, `raw` died with our
        # view above and the finalizer has already run (refcounting frees
        # it at once); report its failure as release() always did.
        if not finalizer.alive and failures:
            raise failures.pop()

    def close(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self.release()

    def __exit__(self, *exc):
        self.close()


def set_log_callback(fn) -> None:
    """Route Torvyn's log records and guests' output to ``fn(level, target,
    node, message)`` (node is None except for guest output). ``None`` stops
    delivery. ``fn`` runs on Torvyn's threads; keep it short."""
    global _log_keepalive
    if fn is None:
        _log_keepalive = None
        _call(lib.torvyn_log_set_callback, LOG_FN(), None, FREE_FN())
        return

    def trampoline(_user, level, target, node, message):
        try:
            fn(level, target.decode(), node.decode() if node else None, message.decode(errors="replace"))
        except Exception:
            pass

    cb = LOG_FN(trampoline)
    _log_keepalive = cb
    _call(lib.torvyn_log_set_callback, cb, None, FREE_FN())


_log_keepalive = None
_audit_keepalive = {}


def _audit_free(user):
    _audit_keepalive.pop(user, None)


_AUDIT_FREE = FREE_FN(_audit_free)
