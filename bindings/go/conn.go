package rocwebsocket

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

type message struct {
	typ  MessageType
	data []byte
}

// Conn is one WebSocket connection of an Engine (accepted or dialed). Its
// messages queue up (copied into Go memory) until Read takes them; past
// Options.MaxQueue or MaxQueueBytes, reading from the peer pauses until Read
// catches up (see QueueDepth). Read
// should be called from one goroutine at a time; Write, Close and the rest
// from any.
type Conn struct {
	e    *Engine
	id   uint64
	path string
	tag  uint64

	mu          sync.Mutex
	queue       []message
	head        int
	queuedBytes int  // payload bytes in queue[head:]
	readPaused  bool // paused for a full queue (see flow.go)
	flowMu      sync.Mutex
	inFull      bool // in the poller's list of full queues (the poller's alone)
	closed      *CloseError
	notify      chan struct{}            // a message or the close arrived
	done        chan struct{}            // closed when the connection is gone
	pings       map[uint64]chan struct{} // Ping calls waiting, by payload (under mu)
	readLimit   int64                    // SetReadLimit (atomic)
	protocol    string                   // set before the Conn is handed out
	reqHeader   http.Header
	remote      net.Addr
}

func newConn(e *Engine, id uint64, path string, tag uint64) *Conn {
	return &Conn{e: e, id: id, path: path, tag: tag, notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// ID is the engine's id for the connection.
func (c *Conn) ID() uint64 { return c.id }

// Path is the request path (server side) or the URL path (client side).
func (c *Conn) Path() string { return c.path }

// Engine is the engine the connection belongs to.
func (c *Conn) Engine() *Engine { return c.e }

// Done is closed when the connection is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseStatus is the connection's close (nil while it is open).
func (c *Conn) CloseStatus() *CloseError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// push queues a message; it says whether the queue is past a limit.
func (c *Conn) push(typ MessageType, data []byte) bool {
	c.mu.Lock()
	c.queue = append(c.queue, message{typ, data})
	c.queuedBytes += len(data)
	over := c.overLocked()
	c.mu.Unlock()
	notify(c.notify)
	return over
}

func (c *Conn) setClosed(ce CloseError) {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = &ce
		close(c.done)
	}
	c.mu.Unlock()
	notify(c.notify)
}

// Read returns the next message. Messages that arrived before the close are
// returned first; then Read returns an error wrapping a CloseError
// (CloseStatus(err) gives the code). It returns ctx.Err() if ctx ends first.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	for {
		c.mu.Lock()
		if c.head < len(c.queue) {
			m := c.queue[c.head]
			c.queue[c.head] = message{}
			c.head++
			c.queuedBytes -= len(m.data)
			if c.head == len(c.queue) {
				c.queue, c.head = c.queue[:0], 0
			} else if c.head > 1024 && c.head*2 > len(c.queue) {
				n := copy(c.queue, c.queue[c.head:])
				c.queue, c.head = c.queue[:n], 0
			}
			more := c.head < len(c.queue)
			resume := c.readPaused && c.belowHalfLocked()
			c.mu.Unlock()
			if more {
				notify(c.notify) // another reader may be waiting
			}
			if resume {
				c.resumeIfDrained()
			}
			return m.typ, m.data, nil
		}
		if c.closed != nil {
			ce := *c.closed
			c.mu.Unlock()
			notify(c.notify)
			return 0, nil, fmt.Errorf("rocwebsocket: read: %w", ce)
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// Write sends a message; data is copied, and Write never waits for the
// network. Text must be UTF-8 (an error matching ErrUTF8 otherwise). Writing
// to a closed connection returns an error wrapping its CloseError.
func (c *Conn) Write(ctx context.Context, typ MessageType, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ce := c.CloseStatus(); ce != nil {
		return fmt.Errorf("rocwebsocket: write: %w", *ce)
	}
	return c.e.send(c.id, typ, data)
}

// StartClose starts the closing handshake with code (1000-1003, 1007-1014,
// 3000-4999) and a reason of at most 123 bytes, without waiting for it.
func (c *Conn) StartClose(code StatusCode, reason string) error {
	return c.e.closeConn(c.id, code, reason)
}

// Close starts the closing handshake and waits until the connection is gone
// (at most the engine's close timeout, 5 s by default, plus a margin).
// Closing a closed connection does nothing. Do not call it from an
// Options.OnMessage handler: use StartClose there.
func (c *Conn) Close(code StatusCode, reason string) error {
	if c.CloseStatus() != nil {
		return nil
	}
	if err := c.StartClose(code, reason); err != nil {
		if c.CloseStatus() != nil {
			return nil
		}
		return err
	}
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
		return fmt.Errorf("rocwebsocket: close of connection %#x did not finish", c.id)
	}
}

// Subscribe adds the connection to topic (Engine.Publish).
func (c *Conn) Subscribe(topic string) error { return c.e.subscribe(c.id, topic, true) }

// Unsubscribe removes the connection from topic.
func (c *Conn) Unsubscribe(topic string) error { return c.e.subscribe(c.id, topic, false) }
