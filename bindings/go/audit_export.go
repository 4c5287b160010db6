package torvyn

// #include <stdint.h>
import "C"

import (
	"encoding/json"
	"runtime/cgo"
)

//export torvynGoAudit
func torvynGoAudit(handle C.uintptr_t, text *C.char) {
	fn, ok := cgo.Handle(handle).Value().(func(map[string]any))
	if !ok {
		return
	}
	var event map[string]any
	if json.Unmarshal([]byte(C.GoString(text)), &event) == nil {
		fn(event)
	}
}

//export torvynGoAuditFree
func torvynGoAuditFree(handle C.uintptr_t) {
	cgo.Handle(handle).Delete()
}
