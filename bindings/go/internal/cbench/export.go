package cbench

// This file holds only the export (cgo allows no C definitions beside one).

/*
#cgo pkg-config: rocwebsocket
#include "rocwebsocket.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

//export rwsgoBenchOnEvent
func rwsgoBenchOnEvent(user C.uintptr_t, ev *C.rws_event) {
	sink := cgo.Handle(user).Value().(*Engine)
	var data []byte
	if ev.len > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(ev.data)), int(ev.len))
	}
	sink.onEvent(int(ev.type_), uint64(ev.conn), uint64(ev.tag), int(ev.close_code), data)
}
