// Package rocwebsocket is a Go binding (cgo) to the rocwebsocket engine's C ABI,
// shaped like gorilla/websocket and coder/websocket: a Conn with Read and
// Write taking a context.Context, and errors that wrap the close status.
//
// Underneath is the batched engine (rws_engine_start_batched): one goroutine
// per Engine polls events in batches (one cgo call carries up to
// Options.BatchSize events, never one per message), copies each payload into
// Go memory, and dispatches it to its Conn. C never keeps a Go pointer: the
// event array is C memory, and bytes handed to C are copied during the call.
//
// An Engine is a server (Options.Listen), a client (Dial), or both.
//
//	srv, _ := rocwebsocket.Start(rocwebsocket.Options{Listen: []string{"127.0.0.1:0"}})
//	defer srv.Close()
//	go func() {
//		for {
//			c, err := srv.Accept(ctx)
//			if err != nil {
//				return
//			}
//			go func() {
//				for {
//					typ, msg, err := c.Read(ctx)
//					if err != nil {
//						return // rocwebsocket.CloseStatus(err) says why
//					}
//					c.Write(ctx, typ, msg)
//				}
//			}()
//		}
//	}()
package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// MessageType is the kind of a data message.
type MessageType int

// Message types (the WebSocket opcodes).
const (
	MessageText   MessageType = 1
	MessageBinary MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "MessageText"
	case MessageBinary:
		return "MessageBinary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// Options configure an Engine; zero values take the library's defaults
// (see rws_engine_config_init in include/rocwebsocket.h).
type Options struct {
	// Deflate negotiates permessage-deflate (RFC 7692): accepted from
	// clients and offered to servers, with the engine's default settings.
	Deflate bool
	// Listen holds addresses to serve on ("127.0.0.1:0", "[::1]:9001",
	// "unix:/path"); empty for a client-only engine.
	Listen []string
	// Threads is the number of event-loop threads; 0 means one per core.
	Threads int
	// MaxConnections refuses connections beyond it with 503; 0: no limit.
	MaxConnections int
	// MaxFrameSize and MaxMessageSize fail larger ones with 1009.
	MaxFrameSize, MaxMessageSize uint64
	// MaxBuffered is the unsent bytes per connection before it is dropped (1008).
	MaxBuffered uint64
	// Timeouts; zero keeps the default (handshake 10 s, pong 10 s, close
	// 5 s) or, for IdleTimeout and PingInterval, disables them.
	HandshakeTimeout, IdleTimeout, PingInterval, PongTimeout, CloseTimeout time.Duration
	// Protocols are the subprotocols supported, in preference order.
	Protocols []string
	// TLSCertFile and TLSKeyFile (PEM) serve wss://: on TLSListen, or, when
	// it is empty, on every Listen address. TLSClientCAFile asks clients
	// for a certificate from one of its CAs (mutual TLS).
	TLSCertFile, TLSKeyFile, TLSClientCAFile string
	// TLSListen holds wss:// addresses beside the plain Listen ones.
	TLSListen []string
	// BatchSize is how many events one cgo call may carry (default 1024).
	// 1 makes a crossing per event, which only a benchmark wants.
	BatchSize int
	// MaxQueue and MaxQueueBytes bound each Conn's read queue (messages not
	// yet taken by Read): past either, the engine stops reading from that
	// connection, so TCP pushes back on the peer, until Read has taken the
	// queue down to half of both; nothing is dropped. 0 means the default
	// (DefaultMaxQueue, DefaultMaxQueueBytes), negative no limit. A queue
	// can pass its limit by what the engine had already read for it when
	// the pause came, which MaxQueuedBytes bounds. See flow.go.
	MaxQueue, MaxQueueBytes int
	// MaxQueuedBytes is the engine's own cap on events read and not yet
	// taken by the poller, all connections together (0: 64 MiB): past it the
	// engine pauses the connections that deliver more until the next poll.
	MaxQueuedBytes uint64
	// OnMessage, when set, gets every message on the engine's poller
	// goroutine instead of the Conn's read queue (Read then only reports the
	// close). data is a copy the callee owns. It must not block, nor call
	// Conn.Close or Engine.Stop/Close (use Conn.StartClose).
	OnMessage func(c *Conn, typ MessageType, data []byte)
	// OnUpgrade, when set, decides every upgrade request before any answer
	// is written: check r.Origin(), choose one of r.Protocols, add headers,
	// or reject with an HTTP status. It runs on the poller goroutine and
	// must not block (the handshake timeout runs meanwhile).
	OnUpgrade func(r *UpgradeRequest) UpgradeDecision
	// Accept, when set and OnUpgrade is not, decides upgrade requests by
	// origin and subprotocol (see AcceptOptions).
	Accept *AcceptOptions
	// OnBackpressure, when set, keeps a connection whose unsent bytes pass
	// MaxBuffered open (instead of dropping it with 1008) and is told so,
	// with the amount; OnDrain is told when its queue emptied again. Both
	// run on the poller goroutine and must not block.
	OnBackpressure func(c *Conn, buffered uint64)
	OnDrain        func(c *Conn)
	// Broker carries topics across engines (see broker.go).
	Broker BrokerOptions
}

// pollSliceMs bounds one wait inside rws_engine_poll_events, so Stop (which
// must not overlap other calls, per the C contract) is never held up longer.
const pollSliceMs = 50

// Engine is a running batched engine. Its methods are safe for concurrent use.
// Close it when done: that stops it (1001 to every connection) and frees it.
type Engine struct {
	// mu: read-held around every C call, write-held by Stop and Close, which
	// the C contract says must not race with other calls on the engine.
	mu      sync.RWMutex
	ptr     *C.rws_engine
	stopped bool
	freed   bool

	events    *C.rws_event // C memory: BatchSize events
	batch     int
	port      int
	tlsPort   int
	tlsServer *C.rws_tls_server // ours to free; the engine holds its own share
	onMessage func(*Conn, MessageType, []byte)
	onUpgrade func(*UpgradeRequest) UpgradeDecision
	upgraded  map[uint64]acceptedUpgrade // answered upgrades not yet open (poller's alone)
	pingSeq   uint64                     // the last ping payload (atomic)
	onBackpr  func(*Conn, uint64)
	onDrain   func(*Conn)
	limits    queueLimits // per-connection read queue limits

	conns map[uint64]*Conn // the poller goroutine's alone
	full  []*Conn          // queues paused for their limit in this batch (the poller's)

	dialMu  sync.Mutex
	dials   map[uint64]chan dialResult
	nextTag uint64

	acceptMu     sync.Mutex
	acceptQ      []*Conn
	acceptNotify chan struct{}

	// polls and polled count the poller's cgo calls and the events they
	// carried (read by the benchmark once the poller has finished, or racy).
	polls, polled uint64

	done      chan struct{} // closed when the poller goroutine has finished
	closeOnce sync.Once
	closeErr  error
	pollErr   error
}

// dialResult is a dial's outcome: the Conn, or the CONNECT_ERROR's text and code.
type dialResult struct {
	c       *Conn
	message string
	code    int
}

// Start starts an engine with its poller goroutine.
func Start(opts Options) (*Engine, error) {
	var tlsServer *C.rws_tls_server
	if opts.TLSCertFile != "" || opts.TLSKeyFile != "" || len(opts.TLSListen) > 0 {
		var err error
		if tlsServer, err = newTLSServer(opts.TLSCertFile, opts.TLSKeyFile, opts.TLSClientCAFile); err != nil {
			return nil, err
		}
		if len(opts.TLSListen) == 0 {
			opts.TLSListen, opts.Listen = opts.Listen, nil
		}
	}
	if opts.OnUpgrade == nil && opts.Accept != nil {
		opts.OnUpgrade = opts.Accept.decide
	}
	cfg, strs, err := opts.config()
	defer func() {
		for _, s := range strs {
			s.free()
		}
	}()
	if err != nil {
		C.rws_tls_server_free(tlsServer)
		return nil, err
	}
	cfg.tls_server = tlsServer
	r := C.rwsgo_start(&cfg)
	if r.engine == nil {
		C.rws_tls_server_free(tlsServer)
		return nil, newError("rws_engine_start_batched", ResultStartFailed, takeMessage(r.msg))
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = 1024
	}
	e := &Engine{
		ptr:          r.engine,
		events:       (*C.rws_event)(C.calloc(C.size_t(batch), C.size_t(unsafe.Sizeof(C.rws_event{})))),
		batch:        batch,
		port:         int(C.rws_engine_port(r.engine)),
		tlsPort:      int(C.rws_engine_tls_port(r.engine)),
		tlsServer:    tlsServer,
		onMessage:    opts.OnMessage,
		onUpgrade:    opts.OnUpgrade,
		onBackpr:     opts.OnBackpressure,
		onDrain:      opts.OnDrain,
		limits:       newQueueLimits(&opts),
		conns:        make(map[uint64]*Conn),
		upgraded:     make(map[uint64]acceptedUpgrade),
		dials:        make(map[uint64]chan dialResult),
		acceptNotify: make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	go e.run()
	return e, nil
}

// Port is the TCP port of the first TCP listener (the real one after port 0), or 0.
func (e *Engine) Port() int { return e.port }

// ConnectionCount is the number of connections open or opening.
func (e *Engine) ConnectionCount() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.freed {
		return 0
	}
	return int(C.rws_engine_connection_count(e.ptr))
}

// Done is closed once the engine has stopped and every event was dispatched.
func (e *Engine) Done() <-chan struct{} { return e.done }

// call runs one C call under the read lock, refusing a freed engine.
func (e *Engine) call(op string, f func() C.rwsgo_res) error {
	e.mu.RLock()
	if e.freed {
		e.mu.RUnlock()
		return newError(op, ResultStopped, "the engine was closed")
	}
	r := f()
	e.mu.RUnlock()
	return resultError(op, r)
}

// Broadcast sends one message to every open server-side connection; the frame
// is encoded once and shared. data is copied.
func (e *Engine) Broadcast(typ MessageType, data []byte) error {
	p, n := bytesArg(data)
	return e.call("rws_engine_broadcast", func() C.rwsgo_res {
		return C.rwsgo_broadcast(e.ptr, C.uint8_t(typ), p, n)
	})
}

// Publish sends one message to every connection subscribed to topic (Conn.Subscribe).
func (e *Engine) Publish(topic string, typ MessageType, data []byte) error {
	t := C.CString(topic)
	defer C.free(unsafe.Pointer(t))
	p, n := bytesArg(data)
	return e.call("rws_engine_publish", func() C.rwsgo_res {
		return C.rwsgo_publish(e.ptr, t, C.uint8_t(typ), p, n)
	})
}

func (e *Engine) subscribe(id uint64, topic string, on bool) error {
	t := C.CString(topic)
	defer C.free(unsafe.Pointer(t))
	return e.call("rws_engine_subscribe", func() C.rwsgo_res {
		return C.rwsgo_subscribe(e.ptr, C.uint64_t(id), t, C.bool(on))
	})
}

func (e *Engine) send(id uint64, typ MessageType, data []byte) error {
	p, n := bytesArg(data)
	return e.call("rws_engine_send", func() C.rwsgo_res {
		return C.rwsgo_send(e.ptr, C.uint64_t(id), C.uint8_t(typ), p, n)
	})
}

func (e *Engine) closeConn(id uint64, code StatusCode, reason string) error {
	p, n := bytesArg([]byte(reason))
	return e.call("rws_engine_close", func() C.rwsgo_res {
		return C.rwsgo_close(e.ptr, C.uint64_t(id), C.uint16_t(code), p, n)
	})
}

// Dial opens a client connection to url (ws://host:port/path or
// ws+unix:///path) and waits until it is open or ctx ends. A malformed URL
// fails at once with ErrInvalidArgument; the other failures as the
// package-level Dial says (*RefusedError, *UnknownHostError, ...).
func (e *Engine) Dial(ctx context.Context, url string) (*Conn, error) {
	return e.dial(ctx, url, func(u *C.char, tag uint64) C.rwsgo_res {
		return C.rwsgo_connect(e.ptr, u, C.uint64_t(tag))
	})
}

// dial registers a tag, runs connect under the engine lock and waits.
func (e *Engine) dial(ctx context.Context, url string, connect func(u *C.char, tag uint64) C.rwsgo_res) (*Conn, error) {
	if ctx.Err() != nil { // ended already: no connection attempt at all
		return nil, openTimeout(url, ctx)
	}
	tag := atomic.AddUint64(&e.nextTag, 1)
	ch := make(chan dialResult, 1)
	e.dialMu.Lock()
	e.dials[tag] = ch
	e.dialMu.Unlock()
	u := C.CString(url)
	err := e.call("rws_engine_connect", func() C.rwsgo_res {
		return connect(u, tag)
	})
	C.free(unsafe.Pointer(u))
	if err != nil {
		e.dialMu.Lock()
		delete(e.dials, tag)
		e.dialMu.Unlock()
		return nil, classifyStart(url, err)
	}
	select {
	case r := <-ch:
		if r.c == nil {
			return nil, classifyConnect(url, r.message, r.code)
		}
		r.c.remote = remoteOf(url) // before anyone else sees the Conn
		return r.c, nil
	case <-ctx.Done():
	case <-e.done:
	}
	e.dialMu.Lock()
	_, pending := e.dials[tag]
	delete(e.dials, tag)
	e.dialMu.Unlock()
	if !pending { // the result was sent meanwhile: undo an open
		if r := <-ch; r.c != nil {
			_ = r.c.StartClose(StatusGoingAway, "")
		}
	}
	if ctx.Err() != nil {
		return nil, openTimeout(url, ctx)
	}
	return nil, newError("rws_engine_connect", ResultStopped, "the engine stopped")
}

// Accept returns the next new server-side connection, waiting until one
// comes, ctx ends, or the engine stops (then an error matching ErrStopped).
func (e *Engine) Accept(ctx context.Context) (*Conn, error) {
	stopped := false
	for {
		e.acceptMu.Lock()
		if len(e.acceptQ) > 0 {
			c := e.acceptQ[0]
			e.acceptQ[0] = nil
			e.acceptQ = e.acceptQ[1:]
			if len(e.acceptQ) > 0 {
				notify(e.acceptNotify)
			}
			e.acceptMu.Unlock()
			return c, nil
		}
		e.acceptMu.Unlock()
		if stopped {
			return nil, newError("accept", ResultStopped, "the engine stopped")
		}
		select {
		case <-e.acceptNotify:
		case <-e.done:
			stopped = true
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Stop stops gracefully: listeners close, every connection gets 1001 (going
// away), closing handshakes get up to grace. It returns when the engine's
// threads have finished; the connections then see their close (Read returns
// a CloseError). Calling it again is fine.
func (e *Engine) Stop(grace time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.freed {
		return nil
	}
	r := C.rwsgo_stop(e.ptr, millis(grace))
	e.stopped = true
	return resultError("rws_engine_stop", r)
}

// Close stops the engine (grace of 1 s) if it runs, waits until every event
// was dispatched, and frees it. Later calls on the engine fail with ErrStopped.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closeErr = e.Stop(time.Second)
		<-e.done
		e.mu.Lock()
		e.freed = true
		C.rws_engine_free(e.ptr)
		C.rws_tls_server_free(e.tlsServer)
		e.tlsServer = nil
		e.ptr = nil
		C.free(unsafe.Pointer(e.events))
		e.events = nil
		e.mu.Unlock()
		if e.closeErr == nil {
			e.closeErr = e.pollErr
		}
	})
	return e.closeErr
}

// run is the poller goroutine: one cgo call per batch, then dispatch in Go.
func (e *Engine) run() {
	defer e.finish()
	evs := unsafe.Slice(e.events, e.batch)
	for {
		e.mu.RLock()
		stopped := e.stopped
		r := C.rwsgo_poll(e.ptr, e.events, C.size_t(e.batch), pollSliceMs)
		e.mu.RUnlock()
		if err := resultError("rws_engine_poll_events", r); err != nil {
			e.pollErr = err
			return
		}
		// Event data stays valid until the next poll, and only this goroutine
		// polls: dispatch copies what it keeps before that.
		n := int(r.count)
		e.polls++
		e.polled += uint64(n)
		for i := 0; i < n; i++ {
			e.dispatch(&evs[i])
		}
		for i, c := range e.full {
			c.inFull = false
			e.full[i] = nil
		}
		e.full = e.full[:0]
		if n == 0 && stopped {
			return // stopped before this poll, and nothing was left
		}
	}
}

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

func goString(p *C.uint8_t, n C.size_t) string {
	if n == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

func (e *Engine) dispatch(ev *C.rws_event) {
	id := uint64(ev.conn)
	switch ev.type_ {
	case C.RWS_EVENT_TEXT, C.RWS_EVENT_BINARY:
		c := e.conns[id]
		if c == nil {
			return
		}
		typ := MessageType(ev.type_)
		if c.overLimit(int(ev.len)) {
			return
		}
		data := goBytes(ev.data, ev.len)
		if e.onMessage != nil {
			e.onMessage(c, typ, data)
		} else if c.push(typ, data) && !c.inFull {
			// Past its limit: pause now, before the rest of the batch. Once
			// per batch, also when already paused: the engine resumes a
			// connection it paused for its own queue when polled.
			c.inFull = true
			e.full = append(e.full, c)
			c.pauseIfFull()
		}
	case C.RWS_EVENT_OPEN:
		tag := uint64(ev.tag)
		c := newConn(e, id, goString(ev.data, ev.len), tag)
		if u, ok := e.upgraded[id]; ok {
			delete(e.upgraded, id)
			c.reqHeader = u.header
		}
		c.protocol = e.protocolOf(id)
		e.conns[id] = c
		if tag == 0 {
			e.acceptMu.Lock()
			e.acceptQ = append(e.acceptQ, c)
			e.acceptMu.Unlock()
			notify(e.acceptNotify)
			return
		}
		e.dialMu.Lock()
		ch, ok := e.dials[tag]
		delete(e.dials, tag)
		if ok {
			ch <- dialResult{c: c}
		}
		e.dialMu.Unlock()
		if !ok { // the dialer gave up
			_ = c.StartClose(StatusGoingAway, "")
		}
	case C.RWS_EVENT_CLOSE:
		delete(e.upgraded, id)
		c := e.conns[id]
		if c == nil {
			return
		}
		delete(e.conns, id)
		c.setClosed(CloseError{Code: StatusCode(ev.close_code), Reason: goString(ev.data, ev.len)})
	case C.RWS_EVENT_PONG:
		if c := e.conns[id]; c != nil {
			c.pong(goBytes(ev.data, ev.len))
		}
	case C.RWS_EVENT_UPGRADE:
		if e.onUpgrade != nil {
			e.answerUpgrade(id, goBytes(ev.data, ev.len))
		}
	case C.RWS_EVENT_BACKPRESSURE:
		if c := e.conns[id]; c != nil && e.onBackpr != nil && ev.len == 8 {
			var amount uint64 // native byte order, as the C event says
			copy((*[8]byte)(unsafe.Pointer(&amount))[:], goBytes(ev.data, ev.len))
			e.onBackpr(c, amount)
		}
	case C.RWS_EVENT_DRAIN:
		if c := e.conns[id]; c != nil && e.onDrain != nil {
			e.onDrain(c)
		}
	case C.RWS_EVENT_CONNECT_ERROR:
		tag := uint64(ev.tag)
		e.dialMu.Lock()
		if ch, ok := e.dials[tag]; ok {
			delete(e.dials, tag)
			ch <- dialResult{message: goString(ev.data, ev.len), code: int(ev.close_code)}
		}
		e.dialMu.Unlock()
	}
}

// finish runs when the poller ends: connections still open (only after a
// poll error) are closed with 1006, waiting dialers and acceptors released.
func (e *Engine) finish() {
	for id, c := range e.conns {
		delete(e.conns, id)
		c.setClosed(CloseError{Code: StatusAbnormalClosure, Reason: "engine stopped"})
	}
	close(e.done)
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
