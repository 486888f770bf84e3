package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// callbackEngine is an engine started with callbacks (rws_engine_start) for
// the benchmark; see callback.go.
type callbackEngine struct {
	ptr    *C.rws_engine
	handle cgo.Handle
}

func startCallbackEngine(opts Options, onEvent func(typ int, conn, tag uint64, code int, data []byte)) (*callbackEngine, error) {
	cfg, strs, err := opts.config()
	defer func() {
		for _, s := range strs {
			s.free()
		}
	}()
	if err != nil {
		return nil, err
	}
	h := cgo.NewHandle(&callbackSink{onEvent: onEvent})
	r := C.rwsgo_start_callbacks(&cfg, C.uintptr_t(h))
	if r.engine == nil {
		h.Delete()
		return nil, newError("rws_engine_start", ResultStartFailed, takeMessage(r.msg))
	}
	return &callbackEngine{ptr: r.engine, handle: h}, nil
}

func (e *callbackEngine) connect(url string, tag uint64) error {
	u := C.CString(url)
	defer C.free(unsafe.Pointer(u))
	return resultError("rws_engine_connect", C.rwsgo_connect(e.ptr, u, C.uint64_t(tag)))
}

func (e *callbackEngine) close(grace time.Duration) {
	takeMessage(C.rwsgo_stop(e.ptr, millis(grace)).msg)
	C.rws_engine_free(e.ptr)
	e.handle.Delete()
}
