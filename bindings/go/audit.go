package torvyn

/*
#include <stdint.h>
#include <stdlib.h>
#include "torvyn.h"

extern void torvynGoAudit(uintptr_t handle, char *json);
extern void torvynGoAuditFree(uintptr_t handle);

static void torvyn_go_audit(void *user, const char *json) { torvynGoAudit((uintptr_t)user, (char *)json); }
static void torvyn_go_audit_free(void *user) { torvynGoAuditFree((uintptr_t)user); }

static torvyn_status torvyn_go_set_audit(const torvyn_host *host, uintptr_t handle, torvyn_error **err) {
	if (handle == 0) return torvyn_host_set_audit_callback(host, NULL, NULL, NULL, err);
	return torvyn_host_set_audit_callback(host, torvyn_go_audit, (void *)handle, torvyn_go_audit_free, err);
}
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// Grant gives capability (e.g. "filesystem:read:/data/**"; see
// docs/security.md) to the node named target, or to every node running
// component target, as [security.grants.<target>] would.
func (p *Pipeline) Grant(target, capability string) error {
	ct, cc := C.CString(target), C.CString(capability)
	defer C.free(unsafe.Pointer(ct))
	defer C.free(unsafe.Pointer(cc))
	var cerr *C.torvyn_error
	err := check(C.torvyn_pipeline_grant(p.ptr(), ct, cc, &cerr), cerr)
	runtime.KeepAlive(p)
	return err
}

// AuditEvents is the flow's audit trail: every capability denial and each
// grant's first use per node (its last 4,096 events).
func (f *Flow) AuditEvents() ([]map[string]any, error) {
	var out *C.char
	var cerr *C.torvyn_error
	err := check(C.torvyn_flow_audit_json(f.ptr(), &out, &cerr), cerr)
	runtime.KeepAlive(f)
	if err != nil {
		return nil, err
	}
	defer C.torvyn_string_free(out)
	var events []map[string]any
	if err := json.Unmarshal([]byte(C.GoString(out)), &events); err != nil {
		return nil, err
	}
	return events, nil
}

// SetAuditCallback sends the audit events of flows started from now on to
// fn, one at a time on a thread of Torvyn's; nil stops it.
func (h *Host) SetAuditCallback(fn func(event map[string]any)) error {
	var handle C.uintptr_t
	if fn != nil {
		handle = C.uintptr_t(cgo.NewHandle(fn))
	}
	var cerr *C.torvyn_error
	err := check(C.torvyn_go_set_audit(h.ptr(), handle, &cerr), cerr)
	runtime.KeepAlive(h)
	return err
}
