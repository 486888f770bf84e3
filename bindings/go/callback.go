package rocwebsocket

// The engine's callback API (rws_engine_start) reached from Go: a C->Go call
// per event on the engine's own thread. The package does not offer it as an
// API: it exists so the FFI-crossing benchmark can compare it with batches.
// This file holds only the export (cgo allows no C definitions beside one).

/*
#include "rocwebsocket.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// callbackSink receives the events of a callback engine. onEvent runs on the
// engine's thread; data is valid only during the call.
type callbackSink struct {
	onEvent func(typ int, conn, tag uint64, code int, data []byte)
}

//export rwsgoOnEvent
func rwsgoOnEvent(user C.uintptr_t, ev *C.rws_event) {
	sink := cgo.Handle(user).Value().(*callbackSink)
	var data []byte
	if ev.len > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(ev.data)), int(ev.len))
	}
	sink.onEvent(int(ev.type_), uint64(ev.conn), uint64(ev.tag), int(ev.close_code), data)
}
