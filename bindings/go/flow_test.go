package rocwebsocket

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flood connects to 127.0.0.1:port as a WebSocket client over a plain socket
// and sends count binary messages of size bytes (each starting with its
// sequence number, big-endian) as fast as TCP lets it; sent counts them.
// It then sends a close frame and waits for the server's close.
func flood(port, count, size int, sent *int64) error {
	nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = nc.Write([]byte("GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n"))
	if err != nil {
		return err
	}
	br := bufio.NewReader(nc)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		return fmt.Errorf("handshake: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
	}
	// FIN + binary, masked with the key 0 (the payload goes as it is).
	var hdr []byte
	switch {
	case size < 126:
		hdr = []byte{0x82, 0x80 | byte(size), 0, 0, 0, 0}
	case size < 65536:
		hdr = []byte{0x82, 0x80 | 126, byte(size >> 8), byte(size), 0, 0, 0, 0}
	default:
		return fmt.Errorf("size %d too big for this peer", size)
	}
	const block = 256
	frame := len(hdr) + size
	buf := make([]byte, block*frame)
	for i := 0; i < block; i++ {
		copy(buf[i*frame:], hdr)
	}
	for n := 0; n < count; {
		k := block
		if count-n < k {
			k = count - n
		}
		for i := 0; i < k; i++ {
			binary.BigEndian.PutUint64(buf[i*frame+len(hdr):], uint64(n+i))
		}
		if _, err := nc.Write(buf[:k*frame]); err != nil {
			return err
		}
		n += k
		atomic.StoreInt64(sent, int64(n))
	}
	_, _ = nc.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, _ = br.WriteTo(discard{})
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A Conn whose reader does not read holds a bounded queue (the engine stops
// reading, TCP pushes back on the peer); then every message arrives in order.
func TestReadQueueBoundedThenInOrder(t *testing.T) {
	cases := []struct {
		name             string
		size, count      int
		opts             Options
		maxMsgs, maxByte int
	}{
		// Default limits; 1 KiB messages meet the message limit (4096) first.
		{"messages", 1024, 60000, Options{}, DefaultMaxQueue, DefaultMaxQueueBytes},
		// Only a byte limit: 16 KiB messages against 1 MiB.
		{"bytes", 16 << 10, 5000, Options{MaxQueue: -1, MaxQueueBytes: 1 << 20}, 0, 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Listen, opts.Threads = []string{"127.0.0.1:0"}, 1
			// What the engine itself may hold past a Conn's limit (read
			// before the pause came): 1 MiB here, so the bound is tight.
			const engineCap = 1 << 20
			opts.MaxQueuedBytes = engineCap
			srv, err := Start(opts)
			if err != nil {
				t.Fatal(err)
			}
			heapBefore := heapInUse()
			var sent int64
			done := make(chan error, 1)
			go func() { done <- flood(srv.Port(), tc.count, tc.size, &sent) }()
			defer func() { <-done }() // after Close, which ends the peer
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := srv.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Never read for 2 s; the depth is sampled meanwhile.
			mostMsgs, mostBytes := 0, 0
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
				time.Sleep(20 * time.Millisecond)
				m, b := c.QueueDepth()
				if m > mostMsgs {
					mostMsgs = m
				}
				if b > mostBytes {
					mostBytes = b
				}
			}
			growth := int64(heapInUse()) - int64(heapBefore)
			s := atomic.LoadInt64(&sent)
			t.Logf("%d B messages: most queued %d messages, %.1f MiB; heap +%.1f MiB; the peer sent %d of %d",
				tc.size, mostMsgs, float64(mostBytes)/(1<<20), float64(growth)/(1<<20), s, tc.count)
			if !c.ReadPaused() {
				t.Error("reading is not paused")
			}
			// The limit, plus what the engine had read before the pause took
			// effect: its queued events (at most the cap and one read per
			// wake-up, 64 KiB) in the batch being handed out and the next.
			slack := 2 * (engineCap + 64<<10)
			if tc.maxMsgs > 0 && (mostMsgs <= tc.maxMsgs || mostMsgs > tc.maxMsgs+slack/tc.size) {
				t.Errorf("most queued %d messages, limit %d", mostMsgs, tc.maxMsgs)
			}
			if (tc.maxMsgs == 0 && mostBytes <= tc.maxByte) || mostBytes > tc.maxByte+slack {
				t.Errorf("most queued %d bytes, limit %d", mostBytes, tc.maxByte)
			}
			if s >= int64(tc.count/2) {
				t.Errorf("the peer was not held back: sent %d of %d", s, tc.count)
			}
			if growth > 64<<20 {
				t.Errorf("heap grew by %d bytes", growth)
			}
			for i := 0; i < tc.count; i++ {
				_, msg, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if len(msg) != tc.size || binary.BigEndian.Uint64(msg) != uint64(i) {
					t.Fatalf("message %d: %d bytes, number %d", i, len(msg), binary.BigEndian.Uint64(msg))
				}
			}
			if m, b := c.QueueDepth(); m != 0 || b != 0 || c.ReadPaused() {
				t.Errorf("after reading everything: %d messages, %d bytes queued, paused %v", m, b, c.ReadPaused())
			}
			if _, _, err := c.Read(ctx); CloseStatus(err) != StatusNormalClosure {
				t.Errorf("after the last message: %v", err)
			}
			if err := <-done; err != nil {
				t.Error(err)
			}
			done <- nil
		})
	}
}
