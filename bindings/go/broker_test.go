package rocwebsocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startRedis runs redis-server on a free port for one test
// (scripts/test-cluster.sh, run before this, installs it).
func startRedis(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server (scripts/test-cluster.sh installs it): %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "redis-server up", func() bool { return numsub(port, "x") == 0 })
	return port
}

func numsub(port int, topic string) int {
	out, err := exec.Command("redis-cli", "-p", fmt.Sprint(port), "PUBSUB", "NUMSUB", topic).Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) != 2 {
		return -1
	}
	var n int
	fmt.Sscan(f[1], &n)
	return n
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBrokerCarriesPublishAcrossEngines(t *testing.T) {
	port := startRedis(t)
	url := fmt.Sprintf("redis://127.0.0.1:%d", port)
	start := func() *Engine {
		e, err := Start(Options{Listen: []string{"127.0.0.1:0"}, Threads: 1, Broker: BrokerOptions{URL: url}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	a, b := start(), start()
	subscribed := make(chan error, 1)
	go func() {
		c, err := b.Accept(context.Background())
		if err == nil {
			err = c.Subscribe("prices")
		}
		subscribed <- err
	}()
	cl := startClient(t)
	ctx := ctxT(t)
	c, err := cl.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", b.Port()))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-subscribed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b subscribed at the broker", func() bool { return numsub(port, "prices") == 1 })
	if err := a.Publish("prices", MessageText, []byte("p1")); err != nil {
		t.Fatal(err)
	}
	if typ, got, err := c.Read(ctx); err != nil || typ != MessageText || string(got) != "p1" {
		t.Fatalf("got %v %q %v", typ, got, err)
	}
	// The counters are bumped after the broker answered and after the frame
	// was handed to b's loop: they may trail the read.
	waitFor(t, "a counted it", func() bool {
		s, err := a.BrokerStats()
		return err == nil && s.Published == 1
	})
	waitFor(t, "b counted it", func() bool {
		s, err := b.BrokerStats()
		return err == nil && s.Received == 1 && s.Connected
	})
	var e *Error
	if _, err := cl.BrokerStats(); !errors.As(err, &e) || e.Code != ResultUnsupported {
		t.Fatalf("no broker: %v", err)
	}
}
