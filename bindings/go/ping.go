package rocwebsocket

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// opPing is RWS_OPCODE_PING: rws_engine_send sends a ping frame with it.
const opPing = 9

// Ping sends a ping and waits for its pong, or until ctx ends, as
// coder/websocket's Ping.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.PingRTT(ctx)
	return err
}

// PingRTT is Ping that also returns the round-trip time (from the send
// call to the pong's dispatch on the poller goroutine).
func (c *Conn) PingRTT(ctx context.Context) (time.Duration, error) {
	var payload [8]byte
	seq := atomic.AddUint64(&c.e.pingSeq, 1)
	binary.BigEndian.PutUint64(payload[:], seq)
	ch := make(chan struct{})
	c.mu.Lock()
	if c.closed != nil {
		ce := *c.closed
		c.mu.Unlock()
		return 0, fmt.Errorf("rocwebsocket: ping: %w", ce)
	}
	if c.pings == nil {
		c.pings = make(map[uint64]chan struct{})
	}
	c.pings[seq] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pings, seq)
		c.mu.Unlock()
	}
	start := time.Now()
	if err := c.e.send(c.id, opPing, payload[:]); err != nil {
		forget()
		return 0, err
	}
	select {
	case <-ch:
		return time.Since(start), nil
	case <-c.done:
		forget()
		return 0, fmt.Errorf("rocwebsocket: ping: %w", *c.CloseStatus())
	case <-ctx.Done():
		forget()
		return 0, ctx.Err()
	}
}

// pong runs on the poller goroutine for a PONG event: it wakes the Ping
// whose payload it echoes (unsolicited pongs match nothing).
func (c *Conn) pong(data []byte) {
	if len(data) != 8 {
		return
	}
	seq := binary.BigEndian.Uint64(data)
	c.mu.Lock()
	ch, ok := c.pings[seq]
	delete(c.pings, seq)
	c.mu.Unlock()
	if ok {
		close(ch)
	}
}

// SetReadLimit sets the largest message this connection accepts from now
// on; a bigger one closes the connection with 1009 (message too big) and is
// not delivered. 0 or less: only the engine's MaxMessageSize applies (the
// default). Unlike coder/websocket there is no 32 KiB default: the engine
// already bounds messages (16 MiB unless Options.MaxMessageSize).
func (c *Conn) SetReadLimit(n int64) { atomic.StoreInt64(&c.readLimit, n) }

// overLimit says whether a message of n bytes is past the read limit,
// starting the close if so (poller goroutine).
func (c *Conn) overLimit(n int) bool {
	limit := atomic.LoadInt64(&c.readLimit)
	if limit <= 0 || int64(n) <= limit {
		return false
	}
	_ = c.StartClose(StatusMessageTooBig, fmt.Sprintf("message of %d bytes over the read limit %d", n, limit))
	return true
}

// Reader returns the next message as an io.Reader, as coder/websocket's
// Reader. The engine assembles whole messages (bounded by MaxMessageSize
// and SetReadLimit) before handing them over, so the reader is over a
// complete message in Go memory: it never blocks.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	typ, data, err := c.Read(ctx)
	if err != nil {
		return 0, nil, err
	}
	return typ, bytes.NewReader(data), nil
}

// Writer returns a writer for one message of type typ, as coder/websocket's
// Writer: what is written is collected and sent as one message by Close
// (the engine sends whole messages; nothing is sent before Close).
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ce := c.CloseStatus(); ce != nil {
		return nil, fmt.Errorf("rocwebsocket: writer: %w", *ce)
	}
	return &messageWriter{c: c, ctx: ctx, typ: typ}, nil
}

type messageWriter struct {
	c      *Conn
	ctx    context.Context
	typ    MessageType
	buf    bytes.Buffer
	closed bool
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("rocwebsocket: write to a closed message writer")
	}
	return w.buf.Write(p)
}

// Close sends the message; calling it again does nothing.
func (w *messageWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.c.Write(w.ctx, w.typ, w.buf.Bytes())
}
