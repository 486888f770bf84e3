package rocwebsocket

/*
#include "rwsgo.h"

static inline rwsgo_res rwsgo_set_reading(const rws_engine *e, uint64_t c, bool reading) {
	return rwsgo_done(reading ? rws_engine_resume_reading(e, c) : rws_engine_pause_reading(e, c));
}
*/
import "C"

// Flow control of a Conn's read queue.
//
// The poller copies each message into its Conn's queue until Read takes it.
// Past Options.MaxQueue messages or Options.MaxQueueBytes payload bytes the
// engine stops reading from that connection (rws_engine_pause_reading): its
// socket is left unread, so TCP flow control pushes back on the peer and
// nothing is dropped. Once Read has taken the queue down to half of both
// limits, reading resumes (rws_engine_resume_reading).
//
// Defaults: 4096 messages and 16 MiB. The byte limit bounds what large
// messages can pin; the message limit bounds tiny messages, whose per-message
// cost is far above their payload. 4096 is four poll batches of the default
// BatchSize: a reader that keeps up never pauses.

const (
	// DefaultMaxQueue is the messages queued on a Conn before its reading pauses.
	DefaultMaxQueue = 4096
	// DefaultMaxQueueBytes is the payload bytes queued on a Conn before its reading pauses.
	DefaultMaxQueueBytes = 16 << 20
)

// queueLimits are an engine's per-connection read queue limits (0: none).
type queueLimits struct {
	messages, bytes int
}

func newQueueLimits(o *Options) queueLimits {
	pick := func(v, def int) int {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	return queueLimits{pick(o.MaxQueue, DefaultMaxQueue), pick(o.MaxQueueBytes, DefaultMaxQueueBytes)}
}

// overLocked says whether c's queue is past a limit; c.mu held.
func (c *Conn) overLocked() bool {
	l, n := c.e.limits, len(c.queue)-c.head
	return (l.messages > 0 && n > l.messages) || (l.bytes > 0 && c.queuedBytes > l.bytes)
}

// belowHalfLocked says whether c's queue is down to half of both limits; c.mu held.
func (c *Conn) belowHalfLocked() bool {
	l, n := c.e.limits, len(c.queue)-c.head
	return n <= l.messages/2 && c.queuedBytes <= l.bytes/2
}

// pauseIfFull pauses reading when the queue is (still) past a limit. The
// poller calls it once per batch for a connection whose queue is past a
// limit, also when already paused: the engine may have resumed a connection
// it had paused for its own queue, and the call is idempotent.
//
// flowMu orders the decisions with the C calls that carry them out, so a
// resume decided after a pause is also made after it in the engine.
func (c *Conn) pauseIfFull() {
	c.flowMu.Lock()
	defer c.flowMu.Unlock()
	c.mu.Lock()
	over := c.closed == nil && c.overLocked()
	if over {
		c.readPaused = true
	}
	c.mu.Unlock()
	if over {
		c.e.setReading(c.id, false)
	}
}

// resumeIfDrained resumes reading when the queue is down to half its limits.
func (c *Conn) resumeIfDrained() {
	c.flowMu.Lock()
	defer c.flowMu.Unlock()
	c.mu.Lock()
	resume := c.readPaused && c.belowHalfLocked()
	if resume {
		c.readPaused = false
	}
	open := c.closed == nil
	c.mu.Unlock()
	if resume && open {
		c.e.setReading(c.id, true)
	}
}

// setReading pauses or resumes a connection; one that is gone (or an engine
// that stopped) needs neither, so errors are ignored.
func (e *Engine) setReading(id uint64, reading bool) {
	_ = e.call("rws_engine_pause_reading", func() C.rwsgo_res {
		return C.rwsgo_set_reading(e.ptr, C.uint64_t(id), C.bool(reading))
	})
}

// QueueDepth is the number of messages received and not yet taken by Read,
// and their payload bytes.
func (c *Conn) QueueDepth() (messages, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) - c.head, c.queuedBytes
}

// ReadPaused says whether reading from the peer is paused because the read
// queue passed Options.MaxQueue or Options.MaxQueueBytes.
func (c *Conn) ReadPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readPaused
}
