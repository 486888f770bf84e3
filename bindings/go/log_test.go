package rocwebsocket

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// A peer that breaks the protocol (an unmasked client frame) is logged once
// at INFO by the library; the record reaches the Go handler.
func TestLogRecordsReachGo(t *testing.T) {
	var mu sync.Mutex
	var records []string
	if err := SetLogHandler(LogLevel(9), func(LogLevel, string, string) {}); err == nil {
		t.Fatal("level 9 accepted")
	}
	if err := SetLogHandler(LogInfo, func(level LogLevel, target, message string) {
		mu.Lock()
		records = append(records, level.String()+" "+target+": "+message)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = SetLogHandler(LogOff, nil) }()

	_, url := startServer(t, echo)
	c, err := net.Dial("tcp", url[len("ws://"):len(url)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	_, _ = c.Write([]byte{0x81, 0x02, 'h', 'i'}) // unmasked: 1002
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		for _, r := range records {
			if strings.HasPrefix(r, "INFO rocwebsocket") {
				mu.Unlock()
				return
			}
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("no INFO record from the library; got %q", records)
}
