package torvyn

/*
#include <stdlib.h>
#include "torvyn.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"time"
	"unsafe"
)

// Flow is a started flow. Close frees the handle; it does not stop the flow
// (Cancel does).
type Flow struct{ h handle }

func (f *Flow) ptr() *C.torvyn_flow { return (*C.torvyn_flow)(unsafe.Pointer(f.h.get())) }

var stateNames = []string{"created", "initializing", "running", "draining", "completed", "cancelled", "failed"}

// State is the flow's current state.
func (f *Flow) State() (string, error) {
	defer runtime.KeepAlive(f)
	var s C.torvyn_flow_state
	var cerr *C.torvyn_error
	if err := check(C.torvyn_flow_get_state(f.ptr(), &s, &cerr), cerr); err != nil {
		return "", err
	}
	return stateNames[int(s)], nil
}

// Wait blocks until the flow ends (up to timeout; Forever for no limit) and
// returns its summary. A cancelled, trapped or failed flow returns the
// summary together with an error (ErrCancelled, ErrTrap, ErrFailed).
func (f *Flow) Wait(timeout time.Duration) (map[string]any, error) {
	var cerr *C.torvyn_error
	werr := check(C.torvyn_flow_wait(f.ptr(), millis(timeout), &cerr), cerr)
	runtime.KeepAlive(f)
	if e, ok := werr.(*Error); ok && (e.Status == StatusTimeout || e.Status == StatusStaleHandle || e.Status == StatusInvalidArgument) {
		return nil, werr
	}
	s, err := f.Summary()
	if err != nil {
		return nil, err
	}
	return s, werr
}

// Cancel asks the flow to stop; safe from any goroutine, also while another waits.
func (f *Flow) Cancel() error {
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_cancel(f.ptr(), &cerr), cerr)
	runtime.KeepAlive(f)
	return err
}

// Summary is the flow's summary (only id, name and state while it runs).
func (f *Flow) Summary() (map[string]any, error) {
	var out *C.char
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_summary_json(f.ptr(), &out, &cerr), cerr)
	runtime.KeepAlive(f)
	if err != nil {
		return nil, err
	}
	defer C.torvyn_string_free(out)
	var s map[string]any
	if err := json.Unmarshal([]byte(C.GoString(out)), &s); err != nil {
		return nil, err
	}
	return s, nil
}

// Push copies data into the ingress node port, waiting up to timeout while
// it is full (0: ErrWouldBlock at once; Forever: no limit).
func (f *Flow) Push(port string, data []byte, contentType string, timeout time.Duration) error {
	cport := C.CString(port)
	defer C.free(unsafe.Pointer(cport))
	var ctype *C.char
	if contentType != "" {
		ctype = C.CString(contentType)
		defer C.free(unsafe.Pointer(ctype))
	}
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_push(f.ptr(), cport, p, C.size_t(len(data)), ctype, millis(timeout), &cerr), cerr)
	runtime.KeepAlive(f)
	runtime.KeepAlive(data)
	return err
}

// CloseInput ends the input of the ingress node port; the flow drains and completes.
func (f *Flow) CloseInput(port string) error {
	cport := C.CString(port)
	defer C.free(unsafe.Pointer(cport))
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_close_input(f.ptr(), cport, &cerr), cerr)
	runtime.KeepAlive(f)
	return err
}

// Next takes the next element of the egress node port (waiting up to
// timeout) and hands its payload to fn. The slice is the host buffer itself,
// valid only while fn runs: copy what must outlive it. The borrow ends when
// fn returns, whatever it returns. Next reports false at the end of the
// stream; fn's error is returned as is.
func (f *Flow) Next(port string, timeout time.Duration, fn func(payload []byte) error) (bool, error) {
	cport := C.CString(port)
	defer C.free(unsafe.Pointer(cport))
	var buf *C.torvyn_buffer
	var cerr *C.torvyn_error
	st := C.torvyn_flow_next(f.ptr(), cport, millis(timeout), &buf, &cerr)
	runtime.KeepAlive(f)
	if st == C.TORVYN_STATUS_END_OF_STREAM {
		C.torvyn_error_free(cerr)
		return false, nil
	}
	if err := check(st, cerr); err != nil {
		return false, err
	}
	defer C.torvyn_buffer_release(buf, nil)
	var data *C.uint8_t
	var n C.size_t
	if err := check(C.torvyn_buffer_borrow(buf, &data, &n, &cerr), cerr); err != nil {
		return false, err
	}
	var payload []byte
	if n > 0 {
		payload = unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))
	} else {
		payload = []byte{}
	}
	return true, fn(payload)
}

// Close frees the flow handle (the flow keeps running). Closing twice is harmless.
func (f *Flow) Close() error {
	if t := f.h.take(); t != 0 {
		C.torvyn_flow_free((*C.torvyn_flow)(unsafe.Pointer(t)))
	}
	return nil
}

// ObservabilityLevel is what a flow records.
type ObservabilityLevel uint32

const (
	// ObservabilityOff records nothing beyond the end-of-flow summary.
	ObservabilityOff ObservabilityLevel = C.TORVYN_OBSERVABILITY_OFF
	// ObservabilityProduction records counters and sampled histograms.
	ObservabilityProduction ObservabilityLevel = C.TORVYN_OBSERVABILITY_PRODUCTION
	// ObservabilityDiagnostic times every call.
	ObservabilityDiagnostic ObservabilityLevel = C.TORVYN_OBSERVABILITY_DIAGNOSTIC
)

// Metrics is the flow's metrics now (see docs/observability.md).
func (f *Flow) Metrics() (map[string]any, error) {
	var out *C.char
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_metrics_json(f.ptr(), &out, &cerr), cerr)
	runtime.KeepAlive(f)
	if err != nil {
		return nil, err
	}
	return takeJSON(out)
}

// Trace is the flow's trace id, traceparent, sampling and kept spans.
func (f *Flow) Trace() (map[string]any, error) {
	var out *C.char
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_trace_json(f.ptr(), &out, &cerr), cerr)
	runtime.KeepAlive(f)
	if err != nil {
		return nil, err
	}
	return takeJSON(out)
}

// SetObservabilityLevel changes what the flow records from now on.
func (f *Flow) SetObservabilityLevel(level ObservabilityLevel) error {
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_set_observability_level(f.ptr(), C.uint32_t(level), &cerr), cerr)
	runtime.KeepAlive(f)
	return err
}

// takeJSON decodes and frees a JSON string the library returned.
func takeJSON(out *C.char) (map[string]any, error) {
	defer C.torvyn_string_free(out)
	var m map[string]any
	if err := json.Unmarshal([]byte(C.GoString(out)), &m); err != nil {
		return nil, err
	}
	return m, nil
}
