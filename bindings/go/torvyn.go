// Package torvyn runs sandboxed WebAssembly stream pipelines through the
// Torvyn C library (libtorvyn.so): start flows from manifests, push your own
// records into ingress nodes and read results back from egress nodes without
// copying them.
//
// Every object owns a C handle: call Close (finalizers are only a fallback).
// Errors are *Error values carrying the library's status and message; test
// them with errors.Is against ErrTimeout, ErrWouldBlock, ErrEndOfStream, ….
//
// Build: the package finds libtorvyn through pkg-config (`torvyn.pc`, which
// `scripts/install --prefix DIR` installs with the library and header): set
// PKG_CONFIG_PATH to DIR/lib/pkgconfig when DIR is not a system prefix, and
// LD_LIBRARY_PATH to DIR/lib at run time.
package torvyn

/*
#cgo pkg-config: torvyn
#include <stdlib.h>
#include "torvyn.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// ABIVersion is the C ABI these bindings were written for.
const ABIVersion = 1

// abiErr is set when the loaded library speaks another ABI; NewHost reports it.
var abiErr error

func init() {
	if v := uint32(C.torvyn_abi_version()); v != ABIVersion || C.TORVYN_ABI_VERSION != ABIVersion {
		abiErr = fmt.Errorf("torvyn: libtorvyn speaks C ABI version %d, these bindings need %d; use matching versions", v, ABIVersion)
	}
}

// Version is the library's version.
func Version() string { return C.GoString(C.torvyn_version()) }

// Status is a C status code.
type Status int

// Status codes (see include/torvyn.h).
const (
	StatusOK               Status = C.TORVYN_STATUS_OK
	StatusInvalidArgument  Status = C.TORVYN_STATUS_INVALID_ARGUMENT
	StatusNotFound         Status = C.TORVYN_STATUS_NOT_FOUND
	StatusWouldBlock       Status = C.TORVYN_STATUS_WOULD_BLOCK
	StatusTimeout          Status = C.TORVYN_STATUS_TIMEOUT
	StatusEndOfStream      Status = C.TORVYN_STATUS_END_OF_STREAM
	StatusCancelled        Status = C.TORVYN_STATUS_CANCELLED
	StatusTrap             Status = C.TORVYN_STATUS_TRAP
	StatusContractMismatch Status = C.TORVYN_STATUS_CONTRACT_MISMATCH
	StatusIO               Status = C.TORVYN_STATUS_IO
	StatusPanic            Status = C.TORVYN_STATUS_PANIC
	StatusInternal         Status = C.TORVYN_STATUS_INTERNAL
	StatusStaleHandle      Status = C.TORVYN_STATUS_STALE_HANDLE
	StatusClosed           Status = C.TORVYN_STATUS_CLOSED
	StatusFailed           Status = C.TORVYN_STATUS_FAILED
)

// Error is a failed call: the status and the library's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("torvyn: %s (status %d)", e.Message, int(e.Status)) }

// Is matches errors with the same status, so errors.Is(err, ErrTimeout) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument  = &Error{Status: StatusInvalidArgument}
	ErrNotFound         = &Error{Status: StatusNotFound}
	ErrWouldBlock       = &Error{Status: StatusWouldBlock}
	ErrTimeout          = &Error{Status: StatusTimeout}
	ErrEndOfStream      = &Error{Status: StatusEndOfStream}
	ErrCancelled        = &Error{Status: StatusCancelled}
	ErrTrap             = &Error{Status: StatusTrap}
	ErrContractMismatch = &Error{Status: StatusContractMismatch}
	ErrStaleHandle      = &Error{Status: StatusStaleHandle}
	ErrClosed           = &Error{Status: StatusClosed}
	ErrFailed           = &Error{Status: StatusFailed}
)

// check turns a status and error object into a Go error, freeing the object.
// Errors are objects returned by each call, never thread-local state, so a
// goroutine that moved between OS threads still reads its own error.
func check(st C.torvyn_status, err *C.torvyn_error) error {
	if st == C.TORVYN_STATUS_OK {
		return nil
	}
	msg := fmt.Sprintf("status %d", int(st))
	if err != nil {
		msg = C.GoString(C.torvyn_error_message(err))
		C.torvyn_error_free(err)
	}
	return &Error{Status: Status(st), Message: msg}
}

func millis(d time.Duration) C.int64_t {
	if d < 0 {
		return -1
	}
	return C.int64_t(d / time.Millisecond)
}

// Forever waits without a time limit.
const Forever time.Duration = -1

// handle is an opaque C handle token with idempotent Close.
type handle struct {
	mu  sync.Mutex
	tok uintptr
}

func (h *handle) get() uintptr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tok
}

func (h *handle) take() uintptr {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tok
	h.tok = 0
	return t
}

// HostOptions configures NewHost; zero fields mean the defaults.
type HostOptions struct {
	WorkerThreads      uint32
	MemoryLimit        uint64
	QueueDepth         uint32
	ObservabilityLevel uint32
	// CompilationCacheDir is where compiled components are kept between
	// processes: nil for the user cache directory, a pointer to "" to keep
	// them in memory only.
	CompilationCacheDir *string
}

// Host is a Torvyn runtime: engine, reactor threads and flows.
type Host struct{ h handle }

// NewHost creates a host. Close it when done.
func NewHost(o HostOptions) (*Host, error) {
	if abiErr != nil {
		return nil, abiErr
	}
	if o.CompilationCacheDir != nil {
		return newHostJSON(o)
	}
	var opts C.torvyn_host_options
	C.torvyn_host_options_init(&opts)
	opts.worker_threads = C.uint32_t(o.WorkerThreads)
	opts.memory_limit = C.uint64_t(o.MemoryLimit)
	opts.queue_depth = C.uint32_t(o.QueueDepth)
	opts.observability_level = C.uint32_t(o.ObservabilityLevel)
	var out *C.torvyn_host
	var cerr *C.torvyn_error
	if err := check(C.torvyn_host_new(&opts, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	h := &Host{h: handle{tok: uintptr(unsafe.Pointer(out))}}
	runtime.SetFinalizer(h, func(h *Host) { h.Close() })
	return h, nil
}

// newHostJSON creates a host through torvyn_host_new_json, which carries
// the options the C struct has no field for.
func newHostJSON(o HostOptions) (*Host, error) {
	options := map[string]any{"compilation_cache_dir": *o.CompilationCacheDir}
	if o.WorkerThreads != 0 {
		options["worker_threads"] = o.WorkerThreads
	}
	if o.MemoryLimit != 0 {
		options["memory_limit"] = o.MemoryLimit
	}
	if o.QueueDepth != 0 {
		options["queue_depth"] = o.QueueDepth
	}
	if o.ObservabilityLevel != 0 {
		options["observability_level"] = o.ObservabilityLevel
	}
	text, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	ctext := C.CString(string(text))
	defer C.free(unsafe.Pointer(ctext))
	var out *C.torvyn_host
	var cerr *C.torvyn_error
	if err := check(C.torvyn_host_new_json(ctext, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	h := &Host{h: handle{tok: uintptr(unsafe.Pointer(out))}}
	runtime.SetFinalizer(h, func(h *Host) { h.Close() })
	return h, nil
}

func (h *Host) ptr() *C.torvyn_host { return (*C.torvyn_host)(unsafe.Pointer(h.h.get())) }

// Start starts a flow of the pipeline ("" = main, or the only flow).
func (h *Host) Start(p *Pipeline, flow string) (*Flow, error) {
	return h.start(p, flow, nil)
}

// StartTraced starts a flow that continues the W3C trace traceparent
// ("00-<trace id>-<parent id>-<flags>").
func (h *Host) StartTraced(p *Pipeline, flow, traceparent string) (*Flow, error) {
	tp := C.CString(traceparent)
	defer C.free(unsafe.Pointer(tp))
	return h.start(p, flow, tp)
}

func (h *Host) start(p *Pipeline, flow string, traceparent *C.char) (*Flow, error) {
	var name *C.char
	if flow != "" {
		name = C.CString(flow)
		defer C.free(unsafe.Pointer(name))
	}
	var out *C.torvyn_flow
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_start_traced(h.ptr(), p.ptr(), name, traceparent, &out, &cerr), cerr)
	runtime.KeepAlive(h)
	runtime.KeepAlive(p)
	if err != nil {
		return nil, err
	}
	f := &Flow{h: handle{tok: uintptr(unsafe.Pointer(out))}}
	runtime.SetFinalizer(f, func(f *Flow) { f.Close() })
	return f, nil
}

// Shutdown cancels every flow and stops the host's threads.
func (h *Host) Shutdown(timeout time.Duration) error {
	var cerr *C.torvyn_error
	err := check(C.torvyn_host_shutdown(h.ptr(), millis(timeout), &cerr), cerr)
	runtime.KeepAlive(h)
	return err
}

// Metrics is every flow's metrics and the host's own.
func (h *Host) Metrics() (map[string]any, error) {
	var out *C.char
	var cerr *C.torvyn_error
	err := check(C.torvyn_host_metrics_json(h.ptr(), &out, &cerr), cerr)
	runtime.KeepAlive(h)
	if err != nil {
		return nil, err
	}
	return takeJSON(out)
}

// MetricsText is the same in the Prometheus (OpenMetrics) text format.
func (h *Host) MetricsText() (string, error) {
	var out *C.char
	var cerr *C.torvyn_error
	err := check(C.torvyn_host_metrics_text(h.ptr(), &out, &cerr), cerr)
	runtime.KeepAlive(h)
	if err != nil {
		return "", err
	}
	defer C.torvyn_string_free(out)
	return C.GoString(out), nil
}

// Close shuts the host down and frees it. Closing twice is harmless.
func (h *Host) Close() error {
	if t := h.h.take(); t != 0 {
		C.torvyn_host_free((*C.torvyn_host)(unsafe.Pointer(t)))
	}
	return nil
}

// Pipeline is a loaded manifest.
type Pipeline struct{ h handle }

func newPipeline(st C.torvyn_status, out *C.torvyn_pipeline, cerr *C.torvyn_error) (*Pipeline, error) {
	if err := check(st, cerr); err != nil {
		return nil, err
	}
	p := &Pipeline{h: handle{tok: uintptr(unsafe.Pointer(out))}}
	runtime.SetFinalizer(p, func(p *Pipeline) { p.Close() })
	return p, nil
}

// LoadPipeline reads a Torvyn.toml, a .json manifest, or a folder holding Torvyn.toml.
func LoadPipeline(path string) (*Pipeline, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var out *C.torvyn_pipeline
	var cerr *C.torvyn_error
	return newPipeline(C.torvyn_pipeline_load_file(cpath, &out, &cerr), out, cerr)
}

// PipelineFromTOML reads manifest text; relative paths resolve against baseDir ("" = current directory).
func PipelineFromTOML(text, baseDir string) (*Pipeline, error) {
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	var cbase *C.char
	if baseDir != "" {
		cbase = C.CString(baseDir)
		defer C.free(unsafe.Pointer(cbase))
	}
	var out *C.torvyn_pipeline
	var cerr *C.torvyn_error
	return newPipeline(C.torvyn_pipeline_load_toml(ctext, cbase, &out, &cerr), out, cerr)
}

func (p *Pipeline) ptr() *C.torvyn_pipeline { return (*C.torvyn_pipeline)(unsafe.Pointer(p.h.get())) }

// Flows lists the manifest's flow names.
func (p *Pipeline) Flows() ([]string, error) {
	defer runtime.KeepAlive(p)
	var n C.size_t
	var cerr *C.torvyn_error
	if err := check(C.torvyn_pipeline_flow_count(p.ptr(), &n, &cerr), cerr); err != nil {
		return nil, err
	}
	names := make([]string, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var name *C.char
		if err := check(C.torvyn_pipeline_flow_name(p.ptr(), i, &name, &cerr), cerr); err != nil {
			return nil, err
		}
		names = append(names, C.GoString(name))
		C.torvyn_string_free(name)
	}
	return names, nil
}

// Close frees the pipeline; flows started from it keep running.
func (p *Pipeline) Close() error {
	if t := p.h.take(); t != 0 {
		C.torvyn_pipeline_free((*C.torvyn_pipeline)(unsafe.Pointer(t)))
	}
	return nil
}
