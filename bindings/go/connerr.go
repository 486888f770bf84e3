package rocwebsocket

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The failures of Dial, one type each. Every one also matches
// errors.As(err, &*ConnectError) (through Unwrap), for code that only
// cares that the connection did not open.

// RefusedError: nothing accepted the TCP connection (every resolved address
// refused it, or a Unix socket had no listener).
type RefusedError struct{ ConnectError }

// UnknownHostError: the URL's host name did not resolve.
type UnknownHostError struct {
	ConnectError
	Host string
}

// HandshakeError: the server answered the upgrade request with an HTTP
// status other than 101 (Status), or with an answer that is not a valid
// WebSocket handshake (Status 0).
type HandshakeError struct {
	ConnectError
	Status int
}

// TimeoutError: something did not finish in time; What says what ("open":
// the context given to Dial ended first; "handshake": the engine's
// handshake timeout; "TLS handshake").
type TimeoutError struct {
	ConnectError
	What string
	// Err is context.DeadlineExceeded when the context's deadline passed.
	Err error
}

func (e *RefusedError) Unwrap() error     { return &e.ConnectError }
func (e *UnknownHostError) Unwrap() error { return &e.ConnectError }
func (e *HandshakeError) Unwrap() error   { return &e.ConnectError }

func (e *TimeoutError) Unwrap() error { return &e.ConnectError }

// Is matches context.DeadlineExceeded when the context's deadline passed.
func (e *TimeoutError) Is(target error) bool {
	return e.Err != nil && target == e.Err
}

func (e *HandshakeError) Error() string {
	if e.Status == 0 {
		return e.ConnectError.Error()
	}
	return fmt.Sprintf("rocwebsocket: connect %s: handshake rejected with HTTP %d (%s)", e.URL, e.Status, e.Message)
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("rocwebsocket: connect %s: %s timed out (%s)", e.URL, e.What, e.Message)
}

var answeredStatus = regexp.MustCompile(`server answered (\d{3})`)

// classifyConnect turns the text of a CONNECT_ERROR event into its type.
// The C event carries only the library's text (and 1015 for TLS), so the
// kinds are told apart by the library's own fixed phrases.
func classifyConnect(url, message string, code int) error {
	base := ConnectError{URL: url, Message: message}
	lower := strings.ToLower(message)
	switch {
	case strings.Contains(lower, "timed out"):
		what := "handshake"
		if code == int(StatusTLSHandshake) {
			what = "TLS handshake"
		}
		return &TimeoutError{ConnectError: base, What: what}
	case strings.Contains(lower, "refused") || strings.Contains(lower, "no address answered"):
		return &RefusedError{base}
	}
	if m := answeredStatus.FindStringSubmatch(message); m != nil {
		status, _ := strconv.Atoi(m[1])
		return &HandshakeError{ConnectError: base, Status: status}
	}
	if code == 0 && strings.Contains(lower, "handshake") {
		return &HandshakeError{ConnectError: base}
	}
	return &base
}

// classifyStart sorts a synchronous rws_engine_connect failure: name
// resolution runs in that call, so an unknown host fails there.
func classifyStart(url string, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != ResultIO {
		return err
	}
	lower := strings.ToLower(e.Message)
	if strings.Contains(lower, "lookup") || strings.Contains(lower, "name or service") ||
		strings.Contains(lower, "no address") || strings.Contains(lower, "name resolution") {
		return &UnknownHostError{ConnectError: ConnectError{URL: url, Message: e.Message}, Host: hostOf(url)}
	}
	if strings.Contains(lower, "refused") {
		return &RefusedError{ConnectError{URL: url, Message: e.Message}}
	}
	return err
}

func hostOf(url string) string {
	rest := url
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.Index(rest, "]"); i >= 0 {
			return rest[1:i]
		}
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		return rest[:i]
	}
	return rest
}

// openTimeout is the error of a Dial whose context deadline passed.
func openTimeout(url string, ctx context.Context) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	return &TimeoutError{
		ConnectError: ConnectError{URL: url, Message: "the context's deadline passed before the connection opened"},
		What:         "open", Err: context.DeadlineExceeded,
	}
}
