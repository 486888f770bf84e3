package rocwebsocket

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawHandshake sends an upgrade request over a plain socket and reads the
// answer's head byte by byte (nothing past it).
func rawHandshake(t *testing.T, port int, origin string) (net.Conn, string) {
	t.Helper()
	nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "GET /up?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Origin: %s\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n\r\n", origin)
	var head []byte
	one := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := nc.Read(one); err != nil {
			break
		}
		head = append(head, one[0])
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, string(head)
}

// originCheck is the example: only pages of https://good.example may open
// a socket; they get chat.v2 when offered and an extra header.
func originCheck(r *UpgradeRequest) UpgradeDecision {
	if r.Origin() != "https://good.example" {
		return RejectUpgrade(http.StatusForbidden, "bad origin")
	}
	protocol := ""
	for _, p := range r.Protocols {
		if p == "chat.v2" {
			protocol = p
		}
	}
	return AcceptUpgrade(protocol, http.Header{"X-Served-By": {"go"}})
}

func TestUpgradeOriginCheck(t *testing.T) {
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1, OnUpgrade: originCheck})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	nc, head := rawHandshake(t, srv.Port(), "https://evil.example")
	if !strings.HasPrefix(head, "HTTP/1.1 403 ") || strings.Contains(head, "101") {
		t.Fatalf("wrong origin got %q", head)
	}
	nc.Close()

	nc, head = rawHandshake(t, srv.Port(), "https://good.example")
	defer nc.Close()
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("right origin got %q", head)
	}
	if !strings.Contains(head, "\r\nSec-WebSocket-Protocol: chat.v2\r\n") {
		t.Fatalf("no chosen subprotocol in %q", head)
	}
	if !strings.Contains(head, "\r\nX-Served-By: go\r\n") {
		t.Fatalf("no added header in %q", head)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := srv.Accept(ctx)
	if err != nil || c.Path() != "/up?x=1" {
		t.Fatalf("accept: %v %v", c, err)
	}
}

func TestUpgradeBadAnswerIs500(t *testing.T) {
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1,
		OnUpgrade: func(r *UpgradeRequest) UpgradeDecision {
			return AcceptUpgrade("", http.Header{"Sec-Websocket-Accept": {"forged"}})
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc, head := rawHandshake(t, srv.Port(), "https://good.example")
	defer nc.Close()
	if !strings.HasPrefix(head, "HTTP/1.1 500 ") || strings.Contains(head, "forged") {
		t.Fatalf("got %q", head)
	}
}

func TestBackpressureAndDrain(t *testing.T) {
	const maxBuffered = 256 << 10
	var mu sync.Mutex
	var pressure uint64
	backpressured := make(chan *Conn, 1)
	drained := make(chan *Conn, 1)
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1, MaxBuffered: maxBuffered,
		OnBackpressure: func(c *Conn, buffered uint64) {
			mu.Lock()
			pressure = buffered
			mu.Unlock()
			backpressured <- c
		},
		OnDrain: func(c *Conn) { drained <- c },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", srv.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := srv.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var sent uint64
	var got *Conn
	for got == nil && sent < 64<<20 {
		if err := c.Write(ctx, MessageBinary, chunk); err != nil {
			t.Fatal(err)
		}
		sent += uint64(len(chunk))
		select {
		case got = <-backpressured:
		case <-drained:
			t.Fatal("drained while the client does not read")
		default:
		}
	}
	if got != c {
		t.Fatalf("no backpressure after %d bytes", sent)
	}
	mu.Lock()
	p := pressure
	mu.Unlock()
	if p <= maxBuffered {
		t.Fatalf("backpressure at %d bytes", p)
	}
	// Asked from this goroutine, not the poller's.
	n, err := c.BufferedAmount()
	if err != nil || n <= maxBuffered || n > sent {
		t.Fatalf("buffered amount %d (%v), sent %d", n, err, sent)
	}
	go func() {
		buf := make([]byte, 1<<16)
		for {
			if _, err := br.Read(buf); err != nil {
				return
			}
		}
	}()
	select {
	case got = <-drained:
	case <-ctx.Done():
		t.Fatal("no drain once the client reads")
	}
	if n, err := c.BufferedAmount(); got != c || err != nil || n != 0 {
		t.Fatalf("after drain: %d (%v)", n, err)
	}
}
