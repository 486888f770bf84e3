package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"fmt"
	"sync"
)

// LogLevel is how much a library log record matters (rws_log_level), most
// severe first.
type LogLevel int

// The library's log levels.
const (
	LogOff   LogLevel = 0 // no records
	LogError LogLevel = 1 // a failure the library could not handle
	LogWarn  LogLevel = 2 // something unusual it handled (a socket failed)
	LogInfo  LogLevel = 3 // a connection failed because of its peer, once per connection
	LogDebug LogLevel = 4
	LogTrace LogLevel = 5
)

func (l LogLevel) String() string {
	switch l {
	case LogOff:
		return "OFF"
	case LogError:
		return "ERROR"
	case LogWarn:
		return "WARN"
	case LogInfo:
		return "INFO"
	case LogDebug:
		return "DEBUG"
	case LogTrace:
		return "TRACE"
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

// LogHandler receives a library log record: its level, the Rust module that
// logged ("rocwebsocket::net::worker") and the message. It runs on the
// engine's threads, concurrently: it must be safe for that and must not block.
type LogHandler func(level LogLevel, target, message string)

var (
	logMu      sync.RWMutex
	logHandler LogHandler
)

// SetLogHandler forwards the library's log records at level and more severe
// to h (process-wide: rws_set_log_callback); LogOff or a nil h turns the
// forwarding off. With Go 1.21 or later the package starts with records at
// LogWarn forwarded to log/slog's default logger (see SetLogger).
func SetLogHandler(level LogLevel, h LogHandler) error {
	if level < LogOff || level > LogTrace {
		return newError("rws_set_log_callback", ResultInvalidArgument, "no such log level")
	}
	if h == nil {
		level = LogOff
	}
	logMu.Lock()
	logHandler = h
	logMu.Unlock()
	return resultError("rws_set_log_callback", C.rwsgo_set_log(C.uint32_t(level)))
}

func forwardLog(level LogLevel, target, message string) {
	logMu.RLock()
	h := logHandler
	logMu.RUnlock()
	if h != nil {
		h(level, target, message)
	}
}
