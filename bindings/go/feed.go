package rocwebsocket

/*
#include "rwsgo.h"

static inline rwsgo_res rwsgo_conn_stats(const rws_engine *e, uint64_t c, rws_conn_stats *s) {
	return rwsgo_done(rws_engine_conn_stats(e, c, s));
}
*/
import "C"

import (
	"context"
	"time"
	"unsafe"
)

// AppKeepalive is an application-level keepalive: Payload is sent every
// Interval; without a message equal to Reply (or starting with it, with
// Prefix) within Deadline of a send, the connection is dropped (closed
// with 1006). Replies are consumed by the engine, never read.
type AppKeepalive struct {
	Payload  []byte
	Reply    []byte
	Interval time.Duration
	Deadline time.Duration
	Prefix   bool
	Binary   bool
}

// AutoReply is a message the engine answers itself: Prefix + X + Suffix
// (X at most MaxCapture bytes; 0: exact) is answered with ReplyPrefix + X +
// ReplySuffix and never read ({"ping":N} -> {"pong":N}).
type AutoReply struct {
	Prefix, Suffix           []byte
	ReplyPrefix, ReplySuffix []byte
	MaxCapture               int
}

// FeedOptions are per-connection options for DialFeed (rws_connect_options);
// zero values take the engine's settings.
type FeedOptions struct {
	// Headers are extra request headers (an API key), name then value.
	Headers [][2]string
	// Protocols are the subprotocols offered; Conn.Protocol gives the choice.
	Protocols        []string
	HandshakeTimeout time.Duration
	PingInterval     time.Duration
	MaxMessageSize   uint64
	Keepalive        *AppKeepalive
	AutoReplies      []AutoReply
	// RTTPingInterval sends WebSocket pings stamped with their send time;
	// their pongs give Stats().WSRTT.
	RTTPingInterval time.Duration
}

// Reconnecting and rotating connections (the C and Python options
// reconnect and max_age) are not offered here yet: each re-open is a new
// connection the Go engine would have to hand out.

// cAlloc is C memory freed together after the connect call.
type cAlloc []unsafe.Pointer

func (a *cAlloc) bytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	p := C.CBytes(b)
	*a = append(*a, p)
	return (*C.uint8_t)(p), C.size_t(len(b))
}

func (a *cAlloc) free() {
	for _, p := range *a {
		C.free(p)
	}
}

func ms(d time.Duration) C.uint32_t {
	if d <= 0 {
		return 0
	}
	if d < time.Millisecond {
		return 1
	}
	return C.uint32_t(d / time.Millisecond)
}

// DialFeed is Dial with per-connection options (for wss:// options see DialWith).
func (e *Engine) DialFeed(ctx context.Context, url string, opts FeedOptions) (*Conn, error) {
	return e.dial(ctx, url, func(u *C.char, tag uint64) C.rwsgo_res {
		var mem cAlloc
		defer mem.free()
		var o C.rws_connect_options
		o.struct_size = C.uint32_t(unsafe.Sizeof(o))
		o.tag = C.uint64_t(tag)
		flat := make([]string, 0, 2*len(opts.Headers))
		for _, h := range opts.Headers {
			flat = append(flat, h[0], h[1])
		}
		headers := newCStrings(flat)
		defer headers.free()
		o.headers, o.header_count = headers.ptr, C.size_t(len(opts.Headers))
		protocols := newCStrings(opts.Protocols)
		defer protocols.free()
		o.protocols, o.protocol_count = protocols.ptr, C.size_t(len(opts.Protocols))
		o.handshake_timeout_ms = ms(opts.HandshakeTimeout)
		o.ping_interval_ms = ms(opts.PingInterval)
		o.conn.max_message_size = C.uint64_t(opts.MaxMessageSize)
		if k := opts.Keepalive; k != nil {
			o.keepalive_payload, o.keepalive_payload_len = mem.bytes(k.Payload)
			o.keepalive_reply, o.keepalive_reply_len = mem.bytes(k.Reply)
			o.keepalive_interval_ms = ms(k.Interval)
			o.keepalive_deadline_ms = ms(k.Deadline)
			if k.Prefix {
				o.keepalive_reply_prefix = 1
			}
			if k.Binary {
				o.keepalive_binary = 1
			}
		}
		if n := len(opts.AutoReplies); n > 0 {
			rules := (*C.rws_auto_reply)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.rws_auto_reply{}))))
			mem = append(mem, unsafe.Pointer(rules))
			for i, a := range unsafe.Slice(rules, n) {
				r := opts.AutoReplies[i]
				a.prefix, a.prefix_len = mem.bytes(r.Prefix)
				a.suffix, a.suffix_len = mem.bytes(r.Suffix)
				a.reply_prefix, a.reply_prefix_len = mem.bytes(r.ReplyPrefix)
				a.reply_suffix, a.reply_suffix_len = mem.bytes(r.ReplySuffix)
				a.max_capture = C.size_t(r.MaxCapture)
				unsafe.Slice(rules, n)[i] = a
			}
			o.auto_replies, o.auto_reply_count = rules, C.size_t(n)
		}
		o.rtt_ping_interval_ms = ms(opts.RTTPingInterval)
		return C.rwsgo_connect_opts(e.ptr, u, &o)
	})
}

// Protocol is the subprotocol the connection agreed on ("" for none).
func (c *Conn) Protocol() string {
	var buf [256]C.char
	c.e.mu.RLock()
	defer c.e.mu.RUnlock()
	if c.e.freed {
		return ""
	}
	n := C.rws_engine_protocol(c.e.ptr, C.uint64_t(c.id), &buf[0], C.size_t(len(buf)))
	if n == 0 || int(n) >= len(buf) {
		return ""
	}
	return C.GoString(&buf[0])
}

// RTT is a round-trip time summary.
type RTT struct {
	Last, Min, Avg time.Duration
	Samples        uint64
}

// Stats are a feed connection's counters and round-trip times.
type Stats struct {
	MessagesIn, BytesIn, BytesOut, Reconnects uint64
	WSRTT, AppRTT                             RTT
}

// Stats of a connection dialed with a keepalive, auto-replies or RTT pings
// (others: an error matching ErrUnknownConnection).
func (c *Conn) Stats() (Stats, error) {
	var s C.rws_conn_stats
	s.struct_size = C.uint32_t(unsafe.Sizeof(s))
	err := c.e.call("rws_engine_conn_stats", func() C.rwsgo_res {
		return C.rwsgo_conn_stats(c.e.ptr, C.uint64_t(c.id), &s)
	})
	us := func(v C.uint64_t) time.Duration { return time.Duration(v) * time.Microsecond }
	return Stats{
		MessagesIn: uint64(s.messages_in),
		BytesIn:    uint64(s.bytes_in),
		BytesOut:   uint64(s.bytes_out),
		Reconnects: uint64(s.reconnects),
		WSRTT:      RTT{us(s.ws_rtt_last_us), us(s.ws_rtt_min_us), us(s.ws_rtt_avg_us), uint64(s.ws_rtt_samples)},
		AppRTT:     RTT{us(s.app_rtt_last_us), us(s.app_rtt_min_us), us(s.app_rtt_avg_us), uint64(s.app_rtt_samples)},
	}, err
}
