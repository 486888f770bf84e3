package rocwebsocket

import (
	"errors"
	"fmt"
)

// Result is an rws_result code of the C ABI. Values are stable.
type Result int

// The rws_result codes that the engine functions return.
const (
	ResultOK                Result = 0
	ResultNull              Result = 1
	ResultInvalidArgument   Result = 2
	ResultPanic             Result = 3
	ResultProtocol          Result = 6
	ResultUTF8              Result = 7
	ResultClosing           Result = 8
	ResultHandshake         Result = 10
	ResultIO                Result = 11
	ResultStopped           Result = 12
	ResultUnknownConnection Result = 13
	ResultUnsupported       Result = 14
	// ResultStartFailed is not an rws_result: rws_engine_start* returned NULL.
	ResultStartFailed Result = -1
)

// Error is a failing C call: which one, its rws_result and the library's
// message (rws_last_error_message, read in the same C call). Compare with
// errors.Is against ErrInvalidArgument, ErrUTF8, ErrStopped, ...
type Error struct {
	Op      string // the C function, e.g. "rws_engine_send"
	Code    Result
	Name    string // "RWS_ERR_UTF8", or "NULL" for ResultStartFailed
	Message string
}

func newError(op string, code Result, message string) *Error {
	name := "NULL"
	if code != ResultStartFailed {
		name = resultName(code)
	}
	return &Error{Op: op, Code: code, Name: name, Message: message}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("rocwebsocket: %s: %s", e.Op, e.Name)
	}
	return fmt.Sprintf("rocwebsocket: %s: %s: %s", e.Op, e.Name, e.Message)
}

// Is matches another *Error with the same Code (the sentinels below).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument   = &Error{Code: ResultInvalidArgument, Name: "RWS_ERR_INVALID_ARGUMENT"}
	ErrUTF8              = &Error{Code: ResultUTF8, Name: "RWS_ERR_UTF8"}
	ErrClosing           = &Error{Code: ResultClosing, Name: "RWS_ERR_CLOSING"}
	ErrIO                = &Error{Code: ResultIO, Name: "RWS_ERR_IO"}
	ErrStopped           = &Error{Code: ResultStopped, Name: "RWS_ERR_STOPPED"}
	ErrUnknownConnection = &Error{Code: ResultUnknownConnection, Name: "RWS_ERR_UNKNOWN_CONNECTION"}
	ErrStartFailed       = &Error{Code: ResultStartFailed, Name: "NULL"}
)

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode int

// Close codes; 3000-4999 are free for applications.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005 // local only
	StatusAbnormalClosure         StatusCode = 1006 // local only
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015 // local only
)

// CloseError says a connection is closed, with the code and reason of its
// close. Read returns it (wrapped) once every earlier message was read.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e CloseError) Error() string {
	return fmt.Sprintf("websocket closed: status = %d, reason = %q", int(e.Code), e.Reason)
}

// CloseStatus is the close code inside err, or -1 when err holds no CloseError.
func CloseStatus(err error) StatusCode {
	var ce CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// ConnectError is a client connection that failed before it opened
// (connection refused, handshake refused, ...).
type ConnectError struct {
	URL     string
	Message string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("rocwebsocket: connect %s: %s", e.URL, e.Message)
}
