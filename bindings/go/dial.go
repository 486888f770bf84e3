package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
)

// DialOptions are Dial's options, named as in coder/websocket.
type DialOptions struct {
	// Engine runs the connection; nil uses a shared one-thread client
	// engine started on first use (DefaultClient).
	Engine *Engine
	// TLS holds the wss:// options (CA file, client certificate, server name).
	TLS DialTLS
	// HTTPHeader and Subprotocols go into the upgrade request. They need
	// the library's per-connection connect options (rws_engine_connect_opts);
	// until the binding is built against them, setting either makes Dial fail
	// with ErrUnsupportedOption rather than sending a request without them.
	HTTPHeader   http.Header
	Subprotocols []string
}

// ErrUnsupportedOption is returned by Dial for an option this build cannot
// send yet (see DialOptions).
var ErrUnsupportedOption = errors.New("rocwebsocket: dial option not supported by this build (needs rws_engine_connect_opts)")

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
	if len(opts.HTTPHeader) > 0 || len(opts.Subprotocols) > 0 {
		return nil, ErrUnsupportedOption
	}
	e := opts.Engine
	if e == nil {
		var err error
		if e, err = DefaultClient(); err != nil {
			return nil, err
		}
	}
	if opts.TLS != (DialTLS{}) {
		return e.DialWith(ctx, u, opts.TLS)
	}
	return e.Dial(ctx, u)
}

// Version is the library's version ("0.1.0").
func Version() string { return C.GoString(C.rws_version()) }

// Subprotocol is the subprotocol chosen in the handshake, as far as the
// binding knows it: on the server side when Options.OnUpgrade or
// Options.Accept made the choice; "" otherwise (and for client connections
// until the library reports the server's answer).
func (c *Conn) Subprotocol() string { return c.protocol }

// RequestHeader is the upgrade request's headers on the server side, when
// Options.OnUpgrade or Options.Accept saw the request; nil otherwise.
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
