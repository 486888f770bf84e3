// Package cbench is the engine's callback API (rws_engine_start) reached from
// Go, a C->Go call per event on the engine's own thread. The public package
// does not offer it: it exists only so the FFI-crossing benchmark
// (bench_test.go in the package above) can compare it with batches.
package cbench

/*
#cgo pkg-config: rocwebsocket
#include "cbench.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"unsafe"
)

// Engine is a one-thread client engine started with callbacks.
type Engine struct {
	ptr     *C.rws_engine
	handle  cgo.Handle
	onEvent func(typ int, conn, tag uint64, code int, data []byte)
}

// Start starts the engine; onEvent runs on the engine's thread for every
// event, and data is valid only during the call.
func Start(onEvent func(typ int, conn, tag uint64, code int, data []byte)) (*Engine, error) {
	e := &Engine{onEvent: onEvent}
	e.handle = cgo.NewHandle(e)
	e.ptr = C.cbench_start(C.uintptr_t(e.handle))
	if e.ptr == nil {
		e.handle.Delete()
		return nil, errors.New("cbench: rws_engine_start failed")
	}
	return e, nil
}

// Connect opens a client connection tagged tag.
func (e *Engine) Connect(url string, tag uint64) error {
	u := C.CString(url)
	defer C.free(unsafe.Pointer(u))
	if r := C.rws_engine_connect(e.ptr, u, C.uint64_t(tag)); r != C.RWS_OK {
		return errors.New("cbench: rws_engine_connect: " + C.GoString(C.rws_result_name(C.uint32_t(r))))
	}
	return nil
}

// Close stops the engine at once and frees it.
func (e *Engine) Close() {
	C.rws_engine_stop(e.ptr, 0)
	C.rws_engine_free(e.ptr)
	e.handle.Delete()
}
