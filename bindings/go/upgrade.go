package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"unsafe"
)

// UpgradeRequest is an upgrade request waiting for Options.OnUpgrade's
// decision, before any answer was written.
type UpgradeRequest struct {
	// Conn is the id the connection keeps if accepted.
	Conn uint64
	// Path is the request target ("/chat?room=1").
	Path string
	// Header holds the request headers (Header.Get is case-insensitive).
	Header http.Header
	// Protocols are the subprotocols the client offered, in its order.
	Protocols []string
	// Raw is the request head as received, request line to the blank line.
	Raw []byte
}

// Origin is the request's Origin header ("" when absent).
func (r *UpgradeRequest) Origin() string { return r.Header.Get("Origin") }

// UpgradeDecision is OnUpgrade's answer: build it with AcceptUpgrade or
// RejectUpgrade (the zero value accepts with no subprotocol).
type UpgradeDecision struct {
	// Status rejects the request with this HTTP status (400 to 599) when
	// non-zero; Body is then the text sent with it.
	Status int
	Body   string
	// Protocol is the chosen subprotocol (one of Protocols, or "").
	Protocol string
	// Header holds extra response headers for the 101 (Upgrade, Connection
	// and Sec-WebSocket-* are the engine's own and refused).
	Header http.Header
}

// acceptedUpgrade is what the Conn learns at OPEN from its upgrade's answer.
type acceptedUpgrade struct {
	header http.Header
}

// AcceptUpgrade accepts with subprotocol protocol ("" for none) and extra
// response headers (may be nil).
func AcceptUpgrade(protocol string, header http.Header) UpgradeDecision {
	return UpgradeDecision{Protocol: protocol, Header: header}
}

// RejectUpgrade refuses with an HTTP status (400 to 599) and a text body.
func RejectUpgrade(status int, body string) UpgradeDecision {
	return UpgradeDecision{Status: status, Body: body}
}

func parseUpgrade(conn uint64, raw []byte) (*UpgradeRequest, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	r := &UpgradeRequest{Conn: conn, Path: req.RequestURI, Header: req.Header, Raw: raw}
	for _, v := range req.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				r.Protocols = append(r.Protocols, p)
			}
		}
	}
	return r, nil
}

// answerUpgrade runs on the poller goroutine for an UPGRADE event: asks
// OnUpgrade and answers the engine (a bad request head or answer: 500).
func (e *Engine) answerUpgrade(conn uint64, raw []byte) {
	req, err := parseUpgrade(conn, raw)
	d := RejectUpgrade(500, "")
	if err == nil {
		d = e.onUpgrade(req)
	}
	if d.Status != 0 {
		body := []byte(d.Body)
		var p *C.uint8_t
		if len(body) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&body[0]))
		}
		if e.call("rws_engine_reject_upgrade", func() C.rwsgo_res {
			return C.rwsgo_reject_upgrade(e.ptr, C.uint64_t(conn), C.uint16_t(d.Status), p, C.size_t(len(body)))
		}) == nil {
			return
		}
		d = RejectUpgrade(500, "")
	} else {
		var list []string
		for name, values := range d.Header {
			for _, v := range values {
				list = append(list, name, v)
			}
		}
		headers := newCStrings(list)
		var proto *C.char
		if d.Protocol != "" {
			proto = C.CString(d.Protocol)
		}
		err := e.call("rws_engine_accept_upgrade", func() C.rwsgo_res {
			return C.rwsgo_accept_upgrade(e.ptr, C.uint64_t(conn), proto, headers.ptr, C.size_t(len(list)/2))
		})
		C.free(unsafe.Pointer(proto))
		headers.free()
		if err == nil {
			e.upgraded[conn] = acceptedUpgrade{header: req.Header}
			return
		}
	}
	_ = e.call("rws_engine_reject_upgrade", func() C.rwsgo_res {
		return C.rwsgo_reject_upgrade(e.ptr, C.uint64_t(conn), 500, nil, 0)
	})
}

// BufferedAmount is the bytes queued on the connection and not yet
// written, as the engine last recorded them; callable from any goroutine.
// An error (ResultUnknownConnection) once the connection is gone.
func (c *Conn) BufferedAmount() (uint64, error) {
	var out C.size_t
	err := c.e.call("rws_engine_buffered_amount", func() C.rwsgo_res {
		return C.rwsgo_buffered_amount(c.e.ptr, C.uint64_t(c.id), &out)
	})
	return uint64(out), err
}
