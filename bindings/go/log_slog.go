//go:build go1.21

package rocwebsocket

import (
	"context"
	"log/slog"
)

// SetLogger forwards the library's log records at level and more severe to
// l (log/slog), with the Rust module as the "target" attribute. Levels map
// to slog's: ERROR, WARN, INFO, DEBUG, and TRACE as DEBUG-4.
func SetLogger(l *slog.Logger, level LogLevel) error {
	if l == nil {
		return SetLogHandler(LogOff, nil)
	}
	return SetLogHandler(level, func(lv LogLevel, target, message string) {
		l.Log(context.Background(), slogLevel(lv), message, slog.String("target", target))
	})
}

func slogLevel(l LogLevel) slog.Level {
	switch l {
	case LogError:
		return slog.LevelError
	case LogWarn:
		return slog.LevelWarn
	case LogInfo:
		return slog.LevelInfo
	case LogDebug:
		return slog.LevelDebug
	}
	return slog.LevelDebug - 4
}

// The library's warnings and errors reach slog's default logger from the start.
func init() { _ = SetLogger(slog.Default(), LogWarn) }
