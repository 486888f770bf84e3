package rocwebsocket

// This file holds only the export (cgo allows no C definitions beside one):
// rwsgo.h's log trampoline calls it on the engine's threads.

/*
#include <stddef.h>
#include <stdint.h>
*/
import "C"

//export rwsgoLog
func rwsgoLog(level C.uint32_t, target *C.char, message *C.char, n C.size_t) {
	forwardLog(LogLevel(level), C.GoString(target), C.GoStringN(message, C.int(n)))
}
