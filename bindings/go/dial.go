package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
	"unsafe"
)

// DialOptions are Dial's options, named as in coder/websocket. Zero fields
// take the engine's settings.
type DialOptions struct {
	// Engine runs the connection; nil uses a shared one-thread client
	// engine started on first use (DefaultClient).
	Engine *Engine
	// HTTPHeader holds extra upgrade request headers (an API key, a cookie).
	HTTPHeader http.Header
	// Subprotocols are offered in order of preference; the server's choice
	// is Conn.Subprotocol.
	Subprotocols []string
	// TLS holds the wss:// options (CA file, client certificate, server name).
	TLS DialTLS
	// HandshakeTimeout bounds TCP, TLS and the upgrade together, per
	// address tried (a *TimeoutError with What "handshake" past it);
	// the context given to Dial bounds the whole dial too.
	HandshakeTimeout time.Duration
	// IdleTimeout, PingInterval, PongTimeout and CloseTimeout override the
	// engine's for this connection (negative IdleTimeout/PingInterval: off).
	IdleTimeout, PingInterval, PongTimeout, CloseTimeout time.Duration
	// MaxFrameSize and MaxMessageSize close this connection with 1009
	// beyond them (SetReadLimit lowers the message limit later).
	MaxFrameSize, MaxMessageSize uint64
}

var (
	defaultOnce   sync.Once
	defaultClient *Engine
	defaultErr    error
)

// DefaultClient is the engine Dial uses without DialOptions.Engine: one
// event-loop thread, started on first use and kept for the process's life.
func DefaultClient() (*Engine, error) {
	defaultOnce.Do(func() {
		defaultClient, defaultErr = Start(Options{Threads: 1})
	})
	return defaultClient, defaultErr
}

// Dial opens a client connection to u (ws://, wss:// or ws+unix://) and waits
// until it is open or ctx ends, as coder/websocket's Dial. Its errors:
// *UnknownHostError, *RefusedError, *HandshakeError (with the HTTP status),
// *TimeoutError (ctx's deadline, or the engine's handshake timeout); each is
// also a *ConnectError for errors.As. A malformed URL matches ErrInvalidArgument.
func Dial(ctx context.Context, u string, opts *DialOptions) (*Conn, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	e := opts.Engine
	if e == nil {
		var err error
		if e, err = DefaultClient(); err != nil {
			return nil, err
		}
	}
	return e.DialOptions(ctx, u, opts)
}

// DialOptions is Dial on this engine (opts.Engine is ignored).
func (e *Engine) DialOptions(ctx context.Context, u string, opts *DialOptions) (*Conn, error) {
	var o C.rws_connect_options
	var list []string
	for name, values := range opts.HTTPHeader {
		for _, v := range values {
			list = append(list, name, v)
		}
	}
	headers := newCStrings(list)
	defer headers.free()
	o.headers = headers.ptr
	o.header_count = C.size_t(len(list) / 2)
	protocols := newCStrings(opts.Subprotocols)
	defer protocols.free()
	o.protocols = protocols.ptr
	o.protocol_count = C.size_t(len(opts.Subprotocols))
	o.handshake_timeout_ms = connMillis(opts.HandshakeTimeout)
	o.idle_timeout_ms = connMillis(opts.IdleTimeout)
	o.ping_interval_ms = connMillis(opts.PingInterval)
	o.pong_timeout_ms = connMillis(opts.PongTimeout)
	o.close_timeout_ms = connMillis(opts.CloseTimeout)
	o.conn.max_frame_size = C.uint64_t(opts.MaxFrameSize)
	o.conn.max_message_size = C.uint64_t(opts.MaxMessageSize)
	if opts.TLS != (DialTLS{}) {
		client, err := newTLSClient(opts.TLS)
		if err != nil {
			return nil, err
		}
		// The connection takes its own share: freed right after the call.
		defer C.rws_tls_client_free(client)
		o.tls = client
	}
	if opts.TLS.ServerName != "" {
		o.server_name = C.CString(opts.TLS.ServerName)
		defer C.free(unsafe.Pointer(o.server_name))
	}
	c, err := e.dial(ctx, u, func(url *C.char, tag uint64) C.rwsgo_res {
		o.tag = C.uint64_t(tag)
		return C.rwsgo_connect_opts(e.ptr, url, &o)
	})
	if c != nil && len(opts.HTTPHeader) > 0 {
		c.reqHeader = opts.HTTPHeader.Clone() // before anyone else sees the Conn
	}
	return c, err
}

// connMillis is a per-connection timeout for rws_connect_options: 0 keeps
// the engine's, negative turns it off (RWS_TIMEOUT_NEVER).
func connMillis(d time.Duration) C.uint32_t {
	if d < 0 {
		return C.RWS_TIMEOUT_NEVER
	}
	return millis(d)
}

// protocolOf is the subprotocol connection id agreed on (rws_engine_protocol).
func (e *Engine) protocolOf(id uint64) string {
	var buf [64]C.char
	n := C.rws_engine_protocol(e.ptr, C.uint64_t(id), &buf[0], C.size_t(len(buf)))
	if n == 0 {
		return ""
	}
	if int(n) < len(buf) {
		return C.GoStringN(&buf[0], C.int(n))
	}
	big := make([]C.char, int(n)+1)
	n = C.rws_engine_protocol(e.ptr, C.uint64_t(id), &big[0], C.size_t(len(big)))
	return C.GoStringN(&big[0], C.int(n))
}

// Version is the library's version ("0.1.0").
func Version() string { return C.GoString(C.rws_version()) }

// Subprotocol is the subprotocol agreed in the handshake
// (rws_engine_protocol): the server's choice among DialOptions.Subprotocols
// for a client, the one accepted with for a server; "" for none.
func (c *Conn) Subprotocol() string { return c.protocol }

// RequestHeader is, on the server side, the upgrade request's headers when
// Options.OnUpgrade or Options.Accept saw the request (else nil); on the
// client side the DialOptions.HTTPHeader sent.
func (c *Conn) RequestHeader() http.Header { return c.reqHeader }

// RemoteAddr is the peer's address as far as the binding knows it: for a
// client connection the URL's host and port (as dialed, not resolved); for
// a server connection nil (the library does not hand the peer address to
// batched engines outside the upgrade callback).
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// urlAddr is the host:port a client URL names.
type urlAddr struct{ network, addr string }

func (a urlAddr) Network() string { return a.network }
func (a urlAddr) String() string  { return a.addr }

func remoteOf(raw string) net.Addr {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	switch u.Scheme {
	case "ws+unix", "wss+unix":
		return &net.UnixAddr{Name: u.Path, Net: "unix"}
	case "ws", "wss":
		port := u.Port()
		if port == "" {
			port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
		}
		return urlAddr{"tcp", net.JoinHostPort(u.Hostname(), port)}
	}
	return nil
}
