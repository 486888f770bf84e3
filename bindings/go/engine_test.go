package rocwebsocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts a server on port 0 whose connections are handled by
// handle (in a goroutine each); it is closed at the end of the test.
func startServer(t *testing.T, handle func(c *Conn)) (*Engine, string) {
	t.Helper()
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1})
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
			if handle != nil {
				go handle(c)
			}
		}
	}()
	return srv, fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port())
}

func startClient(t *testing.T) *Engine {
	t.Helper()
	cl, err := Start(Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func echo(c *Conn) {
	ctx := context.Background()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if c.Write(ctx, typ, msg) != nil {
			return
		}
	}
}

func TestEcho(t *testing.T) {
	_, url := startServer(t, echo)
	cl := startClient(t)
	ctx := ctxT(t)
	c, err := cl.Dial(ctx, url+"echo")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path() != "/echo" {
		t.Fatalf("path %q", c.Path())
	}
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		for _, typ := range []MessageType{MessageText, MessageBinary} {
			msg := bytes.Repeat([]byte("abcdefgh"), size/8+1)[:size]
			if err := c.Write(ctx, typ, msg); err != nil {
				t.Fatal(err)
			}
			gotTyp, got, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if gotTyp != typ || !bytes.Equal(got, msg) {
				t.Fatalf("size %d %v: got %v of %d bytes", size, typ, gotTyp, len(got))
			}
		}
	}
	// Many in flight, in order.
	const n = 5000
	go func() {
		for i := 0; i < n; i++ {
			_ = c.Write(ctx, MessageText, []byte(fmt.Sprint(i)))
		}
	}()
	for i := 0; i < n; i++ {
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q", i, got)
		}
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidUTF8Refused(t *testing.T) {
	_, url := startServer(t, echo)
	cl := startClient(t)
	c, err := cl.Dial(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Write(ctxT(t), MessageText, []byte{0xff, 0xfe})
	if !errors.Is(err, ErrUTF8) {
		t.Fatalf("got %v, want ErrUTF8", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Name != "RWS_ERR_UTF8" || e.Message == "" {
		t.Fatalf("error %#v", err)
	}
}

func TestBroadcastAndPublish(t *testing.T) {
	var mu sync.Mutex
	byName := map[string]*Conn{}
	srv, url := startServer(t, func(c *Conn) {
		_, name, err := c.Read(context.Background())
		if err != nil {
			return
		}
		mu.Lock()
		byName[string(name)] = c
		mu.Unlock()
		_ = c.Write(context.Background(), MessageText, []byte("hi "+string(name)))
	})
	cl := startClient(t)
	ctx := ctxT(t)
	conns := map[string]*Conn{}
	for _, name := range []string{"a", "b", "c"} {
		c, err := cl.Dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		conns[name] = c
		if err := c.Write(ctx, MessageText, []byte(name)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != "hi "+name {
			t.Fatalf("%s: %q %v", name, got, err)
		}
	}
	expect := func(name, want string) {
		t.Helper()
		typ, got, err := conns[name].Read(ctx)
		if err != nil || string(got) != want || typ != MessageBinary {
			t.Fatalf("%s: got %v %q %v, want %q", name, typ, got, err, want)
		}
	}
	if err := srv.Broadcast(MessageBinary, []byte("all")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		expect(name, "all")
	}
	mu.Lock()
	for _, name := range []string{"a", "b"} {
		if err := byName[name].Subscribe("prices"); err != nil {
			t.Fatal(err)
		}
	}
	if err := byName["c"].Subscribe("news"); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	for _, pub := range [][2]string{{"prices", "p1"}, {"news", "n1"}, {"nobody", "x"}} {
		if err := srv.Publish(pub[0], MessageBinary, []byte(pub[1])); err != nil {
			t.Fatal(err)
		}
	}
	expect("a", "p1")
	expect("b", "p1")
	expect("c", "n1")
	// The client engine has no server-side connections: nothing to broadcast to.
	if err := cl.Broadcast(MessageText, []byte("nobody")); err != nil {
		t.Fatal(err)
	}
}

func TestCloseCodes(t *testing.T) {
	serverSaw := make(chan error, 4)
	srv, url := startServer(t, func(c *Conn) {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				serverSaw <- err
				return
			}
		}
	})
	cl := startClient(t)
	ctx := ctxT(t)

	// Client closes with 4001: the server sees 4001.
	c, err := cl.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(4001, "bye"); err != nil {
		t.Fatal(err)
	}
	err = <-serverSaw
	var ce CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
		t.Fatalf("server saw %v", err)
	}
	if CloseStatus(err) != 4001 {
		t.Fatalf("CloseStatus %d", CloseStatus(err))
	}
	if err := c.Write(ctx, MessageText, []byte("late")); CloseStatus(err) != 4001 {
		t.Fatalf("write after close: %v", err)
	}

	// Server stops: every client sees 1001 (the server-side close of a
	// connection with its own code is TestServerCloseCodeReachesClient).
	c2, err := cl.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	c3, err := cl.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Conn{c2, c3} {
		_, _, err := c.Read(ctx)
		if CloseStatus(err) != StatusGoingAway {
			t.Fatalf("after stop: %v", err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := <-serverSaw; CloseStatus(err) != StatusGoingAway {
			t.Fatalf("server side after stop: %v", err)
		}
	}
	if _, err := srv.Accept(ctx); !errors.Is(err, ErrStopped) {
		t.Fatalf("accept after stop: %v", err)
	}
	if err := srv.Broadcast(MessageText, []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("broadcast after stop: %v", err)
	}
}

func TestServerCloseCodeReachesClient(t *testing.T) {
	srv, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl := startClient(t)
	ctx := ctxT(t)
	c, err := cl.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port()))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := srv.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Close(StatusPolicyViolation, "go away"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	var ce CloseError
	if !errors.As(err, &ce) || ce.Code != StatusPolicyViolation || ce.Reason != "go away" {
		t.Fatalf("client saw %v", err)
	}
	<-c.Done()
	if c.CloseStatus().Code != StatusPolicyViolation {
		t.Fatal(c.CloseStatus())
	}
}

func TestErrors(t *testing.T) {
	if _, err := Start(Options{Listen: []string{"nonsense"}}); !errors.Is(err, ErrStartFailed) ||
		!strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("bad listen address: %v", err)
	}
	cl := startClient(t)
	ctx := ctxT(t)
	if _, err := cl.Dial(ctx, "http://127.0.0.1:1/"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad URL: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = cl.Dial(ctx, "ws://"+addr+"/")
	var cerr *ConnectError
	if !errors.As(err, &cerr) || cerr.Message == "" {
		t.Fatalf("closed port: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	<-short.Done()
	if _, err := cl.Dial(short, "ws://"+addr+"/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
}

func TestOnMessageHandler(t *testing.T) {
	srv, err := Start(Options{
		Listen:  []string{"127.0.0.1:0"},
		Threads: 1,
		OnMessage: func(c *Conn, typ MessageType, data []byte) {
			_ = c.Write(context.Background(), typ, append([]byte("re: "), data...))
			if string(data) == "quit" {
				_ = c.StartClose(4003, "as asked")
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl := startClient(t)
	ctx := ctxT(t)
	c, err := cl.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port()))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"one", "quit"} {
		if err := c.Write(ctx, MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != "re: "+m {
			t.Fatalf("%q %v", got, err)
		}
	}
	if _, _, err := c.Read(ctx); CloseStatus(err) != 4003 {
		t.Fatalf("%v", err)
	}
}

func TestCloseTwiceAndAfterClose(t *testing.T) {
	e, err := Start(Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Dial(context.Background(), "ws://127.0.0.1:1/"); !errors.Is(err, ErrStopped) {
		t.Fatalf("dial after close: %v", err)
	}
}
