package rocwebsocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// startAcceptServer is startServer with AcceptOptions.
func startAcceptServer(t *testing.T, accept *AcceptOptions, handle func(c *Conn)) string {
	t.Helper()
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1, Accept: accept})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	go func() {
		for {
			c, err := srv.Accept(context.Background())
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port())
}

func TestDialErrorKinds(t *testing.T) {
	ctx := ctxT(t)
	cl := startClient(t)
	opts := &DialOptions{Engine: cl}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, err = Dial(ctx, "ws://"+closed+"/", opts)
	var refused *RefusedError
	var ce *ConnectError
	if !errors.As(err, &refused) || !errors.As(err, &ce) {
		t.Fatalf("closed port: want *RefusedError (and *ConnectError), got %T %v", err, err)
	}

	_, err = Dial(ctx, "ws://no-such-host.invalid:80/", opts)
	var unknown *UnknownHostError
	if !errors.As(err, &unknown) || unknown.Host != "no-such-host.invalid" {
		t.Fatalf("unknown host: want *UnknownHostError, got %T %v", err, err)
	}

	url := startAcceptServer(t, &AcceptOptions{}, echo)
	_, err = Dial(ctx, url, opts) // no Origin: passes
	if err != nil {
		t.Fatalf("no origin: %v", err)
	}

	// A listener that accepts TCP and never answers: the context's deadline.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = Dial(short, "ws://"+silent.Addr().String()+"/", opts)
	var timeout *TimeoutError
	if !errors.As(err, &timeout) || timeout.What != "open" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent server: want *TimeoutError{What: open}, got %T %v", err, err)
	}
	// The library's own handshake timeout, per connection.
	_, err = Dial(ctx, "ws://"+silent.Addr().String()+"/", &DialOptions{Engine: cl, HandshakeTimeout: 200 * time.Millisecond})
	if !errors.As(err, &timeout) || timeout.What != "handshake" || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handshake timeout: want *TimeoutError{What: handshake}, got %T %v", err, err)
	}

}

func TestDialHeadersSubprotocolsAndLimits(t *testing.T) {
	ctx := ctxT(t)
	got := make(chan *Conn, 4)
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1,
		OnUpgrade: func(r *UpgradeRequest) UpgradeDecision {
			if r.Header.Get("Authorization") != "Bearer k" {
				return RejectUpgrade(401, "no key")
			}
			for _, p := range r.Protocols {
				if p == "feed.v2" {
					return AcceptUpgrade(p, nil)
				}
			}
			return AcceptUpgrade("", nil)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept(context.Background())
			if err != nil {
				return
			}
			got <- c
			go echo(c)
		}
	}()
	url := fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port())
	cl := startClient(t)
	auth := http.Header{"Authorization": {"Bearer k"}}

	_, err = Dial(ctx, url, &DialOptions{Engine: cl, Subprotocols: []string{"feed.v2"}})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("without the header: %v", err)
	}
	c, err := Dial(ctx, url, &DialOptions{Engine: cl, HTTPHeader: auth, Subprotocols: []string{"feed.v1", "feed.v2"}})
	if err != nil {
		t.Fatal(err)
	}
	peer := <-got
	if c.Subprotocol() != "feed.v2" || peer.Subprotocol() != "feed.v2" {
		t.Fatalf("subprotocol: client %q, server %q", c.Subprotocol(), peer.Subprotocol())
	}
	if c.RequestHeader().Get("Authorization") != "Bearer k" || peer.RequestHeader().Get("Authorization") != "Bearer k" {
		t.Fatalf("request headers: %v / %v", c.RequestHeader(), peer.RequestHeader())
	}
	if _, err := Dial(ctx, url, &DialOptions{Engine: cl, HTTPHeader: http.Header{"Bad Name": {"x"}}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad header name: %v", err)
	}

	// Limits per connection on one engine: only the small one closes with 1009.
	small, err := Dial(ctx, url, &DialOptions{Engine: cl, HTTPHeader: auth, MaxMessageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	big, err := Dial(ctx, url, &DialOptions{Engine: cl, HTTPHeader: auth})
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("x"), 100)
	for _, conn := range []*Conn{small, big} {
		if err := conn.Write(ctx, MessageText, msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, m, err := big.Read(ctx); err != nil || !bytes.Equal(m, msg) {
		t.Fatalf("big: %v", err)
	}
	if _, _, err := small.Read(ctx); CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("small: want 1009, got %v", err)
	}
}

// A raw upgrade request with an Origin: the HTTP status line the server sends.
func upgradeStatus(t *testing.T, url, origin string) string {
	t.Helper()
	c, err := net.Dial("tcp", url[len("ws://"):len(url)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n", origin)
	buf := make([]byte, 12)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf[9:12])
}

func TestAcceptOriginPatternsAndSubprotocol(t *testing.T) {
	got := make(chan *Conn, 1)
	url := startAcceptServer(t, &AcceptOptions{
		OriginPatterns: []string{"*.example.com"},
		Subprotocols:   []string{"feed.v2", "feed.v1"},
	}, func(c *Conn) { got <- c })
	if s := upgradeStatus(t, url, "https://evil.test"); s != "403" {
		t.Fatalf("foreign origin: status %s, want 403", s)
	}
	if s := upgradeStatus(t, url, "https://app.example.com"); s != "101" {
		t.Fatalf("allowed origin: status %s, want 101", s)
	}
	c := <-got
	if c.Subprotocol() != "" || c.RequestHeader().Get("Origin") != "https://app.example.com" {
		t.Fatalf("subprotocol %q, origin %q", c.Subprotocol(), c.RequestHeader().Get("Origin"))
	}
	d := &AcceptOptions{Subprotocols: []string{"feed.v2", "feed.v1"}}
	dec := d.decide(&UpgradeRequest{Protocols: []string{"feed.v1", "feed.v2"}, Header: map[string][]string{}})
	if dec.Status != 0 || dec.Protocol != "feed.v2" {
		t.Fatalf("server preference: %+v", dec)
	}
}

func TestHandshakeRejectedHasStatus(t *testing.T) {
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1,
		OnUpgrade: func(r *UpgradeRequest) UpgradeDecision { return RejectUpgrade(401, "who are you") }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = Dial(ctxT(t), fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port()), &DialOptions{Engine: startClient(t)})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("want *HandshakeError{Status: 401}, got %T %v", err, err)
	}
}

func TestPingReadLimitReaderWriter(t *testing.T) {
	_, url := startServer(t, echo)
	ctx := ctxT(t)
	c, err := Dial(ctx, url, nil) // the shared DefaultClient
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(StatusNormalClosure, "")
	if a, ok := c.RemoteAddr().(interface{ String() string }); !ok || a.String() != url[len("ws://"):len(url)-1] {
		t.Fatalf("RemoteAddr %v", c.RemoteAddr())
	}
	for i := 0; i < 3; i++ {
		rtt, err := c.PingRTT(ctx)
		if err != nil || rtt <= 0 {
			t.Fatalf("ping %d: %v %v", i, rtt, err)
		}
	}
	w, err := c.Writer(ctx, MessageText)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, "hello, ")
	_, _ = io.WriteString(w, "stream")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	typ, r, err := c.Reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	if typ != MessageText || string(body) != "hello, stream" {
		t.Fatalf("reader: %v %q", typ, body)
	}
	c.SetReadLimit(4)
	if err := c.Write(ctx, MessageBinary, []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("over the read limit: %v", err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("ping on a closed connection succeeded")
	}
}
