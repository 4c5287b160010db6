"""Loading libtorvyn.so and declaring the C functions (see include/torvyn.h)."""

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

#: The C ABI version these bindings were written for.
ABI_VERSION = 1


class HostOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("worker_threads", c_uint32),
        ("memory_limit", c_uint64),
        ("queue_depth", c_uint32),
        ("observability_level", c_uint32),
    ]


LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_char_p, c_char_p)
FREE_FN = CFUNCTYPE(None, c_void_p)
AUDIT_FN = CFUNCTYPE(None, c_void_p, c_char_p)


def _find() -> str:
    """TORVYN_LIBRARY if set, else the library the wheel bundled."""
    env = os.environ.get("TORVYN_LIBRARY")
    if env:
        if not Path(env).is_file():
            raise ImportError(f"TORVYN_LIBRARY points to {env!r}, which does not exist")
        return env
    here = Path(__file__).parent
    bundled = sorted(here.glob("libtorvyn*.so"))
    if bundled:
        return str(bundled[0])
    raise ImportError(
        "libtorvyn not found: install the package with `pip install ./bindings/python` "
        "(it builds and bundles the library), or set TORVYN_LIBRARY to a libtorvyn.so"
    )


def _declare(lib: ctypes.CDLL) -> None:
    status = c_int
    err = POINTER(c_void_p)
    sigs = {
        "torvyn_version": ([], c_char_p),
        "torvyn_abi_version": ([], c_uint32),
        "torvyn_error_status": ([c_void_p], status),
        "torvyn_error_message": ([c_void_p], c_char_p),
        "torvyn_error_free": ([c_void_p], None),
        "torvyn_string_free": ([c_void_p], None),
        "torvyn_host_options_init": ([POINTER(HostOptions)], status),
        "torvyn_host_new": ([POINTER(HostOptions), POINTER(c_void_p), err], status),
        "torvyn_host_new_json": ([c_char_p, POINTER(c_void_p), err], status),
        "torvyn_host_shutdown": ([c_void_p, c_int64, err], status),
        "torvyn_host_free": ([c_void_p], None),
        "torvyn_pipeline_load_file": ([c_char_p, POINTER(c_void_p), err], status),
        "torvyn_pipeline_load_toml": ([c_char_p, c_char_p, POINTER(c_void_p), err], status),
        "torvyn_pipeline_load_json": ([c_char_p, c_char_p, POINTER(c_void_p), err], status),
        "torvyn_pipeline_flow_count": ([c_void_p, POINTER(c_size_t), err], status),
        "torvyn_pipeline_flow_name": ([c_void_p, c_size_t, POINTER(c_void_p), err], status),
        "torvyn_pipeline_free": ([c_void_p], None),
        "torvyn_flow_start": ([c_void_p, c_void_p, c_char_p, POINTER(c_void_p), err], status),
        "torvyn_flow_get_state": ([c_void_p, POINTER(c_int), err], status),
        "torvyn_flow_wait": ([c_void_p, c_int64, err], status),
        "torvyn_flow_cancel": ([c_void_p, err], status),
        "torvyn_flow_summary_json": ([c_void_p, POINTER(c_void_p), err], status),
        "torvyn_flow_push": ([c_void_p, c_char_p, POINTER(c_uint8), c_size_t, c_char_p, c_int64, err], status),
        "torvyn_flow_close_input": ([c_void_p, c_char_p, err], status),
        "torvyn_flow_next": ([c_void_p, c_char_p, c_int64, POINTER(c_void_p), err], status),
        "torvyn_flow_free": ([c_void_p], None),
        "torvyn_flow_start_traced": ([c_void_p, c_void_p, c_char_p, c_char_p, POINTER(c_void_p), err], status),
        "torvyn_flow_trace_json": ([c_void_p, POINTER(c_void_p), err], status),
        "torvyn_flow_metrics_json": ([c_void_p, POINTER(c_void_p), err], status),
        "torvyn_flow_set_observability_level": ([c_void_p, ctypes.c_uint32, err], status),
        "torvyn_host_metrics_json": ([c_void_p, POINTER(c_void_p), err], status),
        "torvyn_host_metrics_text": ([c_void_p, POINTER(c_void_p), err], status),
        "torvyn_buffer_borrow": ([c_void_p, POINTER(POINTER(c_uint8)), POINTER(c_size_t), err], status),
        "torvyn_buffer_sequence": ([c_void_p, POINTER(c_uint64), err], status),
        "torvyn_buffer_timestamp_ns": ([c_void_p, POINTER(c_uint64), err], status),
        "torvyn_buffer_content_type": ([c_void_p, POINTER(c_char_p), err], status),
        "torvyn_buffer_release": ([c_void_p, err], status),
        "torvyn_log_set_callback": ([LOG_FN, c_void_p, FREE_FN, err], status),
        "torvyn_pipeline_grant": ([c_void_p, c_char_p, c_char_p, err], status),
        "torvyn_flow_audit_json": ([c_void_p, POINTER(c_void_p), err], status),
        "torvyn_host_set_audit_callback": ([c_void_p, AUDIT_FN, c_void_p, FREE_FN, err], status),
    }
    for name, (args, ret) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = ret


def load() -> ctypes.CDLL:
    path = _find()
    lib = ctypes.CDLL(path)
    _declare(lib)
    found = lib.torvyn_abi_version()
    if found != ABI_VERSION:
        raise ImportError(
            f"{path} speaks C ABI version {found}, these bindings need {ABI_VERSION}; "
            "use matching versions of libtorvyn and the torvyn package"
        )
    return lib


lib = load()
