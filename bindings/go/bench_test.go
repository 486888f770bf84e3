package rocwebsocket

// FFI-crossing micro-benchmark: how many small messages per second Go
// receives from a local feed server (`rocws serve --feed 0 --threads 1`,
// 100-byte text messages pushed as fast as the client engine reads them)
// when events cross from C to Go
//
//	batched   one cgo call per batch of up to 1024 events (the binding's default)
//	poll1     one cgo call per event (Options.BatchSize = 1)
//	callback  one C->Go call per event: an //export callback on an engine
//	          started with rws_engine_start, run on the engine's own thread
//	          (internal/cbench: not part of the public package)
//
// All three hand each message to the same handler (payload copied into
// a []byte, counted); one op is one message. Run from bindings/go:
//
//	for i in 1 2 3; do go test -run '^$' -bench FFI -benchtime 3s; done
//
// ROCWS_BIN overrides the rocws binary (default ../../target/release/rocws).

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocwebsocket/rocwebsocket/bindings/go/internal/cbench"
)

var (
	feedOnce sync.Once
	feedURL  string
	feedErr  error
	feedProc *exec.Cmd
)

func TestMain(m *testing.M) {
	code := m.Run()
	if feedProc != nil {
		_ = feedProc.Process.Kill()
		_ = feedProc.Wait()
	}
	os.Exit(code)
}

// feed starts the feed server once per test binary.
func feed(b *testing.B) string {
	feedOnce.Do(func() {
		bin := os.Getenv("ROCWS_BIN")
		if bin == "" {
			bin, _ = filepath.Abs("../../target/release/rocws")
		}
		if _, err := os.Stat(bin); err != nil {
			feedErr = fmt.Errorf("%s: %v (cargo build --release)", bin, err)
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			feedErr = err
			return
		}
		addr := l.Addr().String()
		l.Close()
		feedProc = exec.Command(bin, "serve", "--feed", "0", "--threads", "1", "--listen", addr)
		if feedErr = feedProc.Start(); feedErr != nil {
			return
		}
		for i := 0; i < 200; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				feedURL = "ws://" + addr + "/"
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		feedErr = fmt.Errorf("%s did not start listening on %s", bin, addr)
	})
	if feedErr != nil {
		b.Skip(feedErr)
	}
	return feedURL
}

// counter is the per-message handler shared by the modes: it copies nothing
// more (the payload is already a Go copy, or is copied here for callbacks),
// counts, and says when the timed stretch starts and ends.
type counter struct {
	n      int64
	target int64
	bytes  int64
	first  chan struct{}
	done   chan struct{}
}

func newCounter() *counter {
	return &counter{first: make(chan struct{}), done: make(chan struct{})}
}

func (c *counter) message(data []byte) {
	c.bytes += int64(len(data))
	n := atomic.AddInt64(&c.n, 1)
	if n == 1 {
		close(c.first)
	}
	if t := atomic.LoadInt64(&c.target); t > 0 && n == t {
		close(c.done)
	}
}

// measure waits for the first message (connection up), then times b.N more.
func measure(b *testing.B, c *counter) {
	select {
	case <-c.first:
	case <-time.After(10 * time.Second):
		b.Fatal("no message from the feed")
	}
	b.ResetTimer()
	start := time.Now()
	atomic.StoreInt64(&c.target, atomic.LoadInt64(&c.n)+int64(b.N))
	if atomic.LoadInt64(&c.n) >= atomic.LoadInt64(&c.target) {
		close(c.done)
	}
	<-c.done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
}

func benchPolling(b *testing.B, batch int) {
	url := feed(b)
	c := newCounter()
	e, err := Start(Options{Threads: 1, BatchSize: batch, OnMessage: func(_ *Conn, _ MessageType, data []byte) {
		c.message(data)
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Dial(context.Background(), url); err != nil {
		b.Fatal(err)
	}
	measure(b, c)
	_ = e.Close()
	// The average batch, counting the idle polls (0 events) too: far below
	// BatchSize means the consumer waited for the feed, not the other way round.
	b.ReportMetric(float64(e.polled)/float64(e.polls), "events/poll")
}

func BenchmarkFFI(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchPolling(b, 1024) })
	b.Run("poll1", func(b *testing.B) { benchPolling(b, 1) })
	b.Run("callback", func(b *testing.B) {
		url := feed(b)
		c := newCounter()
		e, err := cbench.Start(func(typ int, _, _ uint64, _ int, data []byte) {
			if typ == 1 || typ == 2 {
				c.message(append([]byte(nil), data...)) // data lives only during the call
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		if err := e.Connect(url, 1); err != nil {
			b.Fatal(err)
		}
		measure(b, c)
	})
}
