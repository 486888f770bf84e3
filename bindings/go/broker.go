package rocwebsocket

/*
#include "rwsgo.h"
*/
import "C"

// BrokerOptions carry topics to and from other engines through a Redis
// broker (Options.Broker): Engine.Publish then reaches the subscribers of
// every engine on that broker, and each engine subscribes at the broker to
// a topic while one of its connections is subscribed to it.
type BrokerOptions struct {
	// URL is "redis://[user:password@]host:port", "rediss://..." (TLS) or
	// "unix:///path"; empty: topics stay on this engine.
	URL string
	// MaxQueued bounds the publishes waiting for the broker, past which
	// they are dropped and counted (BrokerStats.Dropped); 0: 65,536.
	MaxQueued uint32
}

// apply sets the broker fields of cfg; the caller frees the strings.
func (b *BrokerOptions) apply(cfg *C.rws_engine_config) *cStrings {
	if b.URL == "" {
		return newCStrings(nil)
	}
	url := newCStrings([]string{b.URL})
	cfg.broker_url = url.items[0]
	cfg.broker_max_queued = C.uint32_t(b.MaxQueued)
	return url
}

// BrokerStats are the counters of an engine's broker link.
type BrokerStats struct {
	Published  uint64 // messages sent to the broker
	Received   uint64 // messages of other engines received and delivered here
	Dropped    uint64 // publishes not sent: queue full, or the broker unreachable
	Reconnects uint64 // connections re-established after a loss
	Connected  bool   // whether the link is connected now
}

// BrokerStats reads the broker link's counters; an *Error with
// ResultUnsupported when the engine has no broker. Safe for concurrent use.
func (e *Engine) BrokerStats() (BrokerStats, error) {
	var out C.rws_broker_stats
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.freed {
		return BrokerStats{}, newError("rws_engine_broker_stats", ResultStopped, "the engine was closed")
	}
	if r := C.rws_engine_broker_stats(e.ptr, &out); r != C.RWS_OK {
		return BrokerStats{}, newError("rws_engine_broker_stats", Result(r), "")
	}
	return BrokerStats{
		Published:  uint64(out.published),
		Received:   uint64(out.received),
		Dropped:    uint64(out.dropped),
		Reconnects: uint64(out.reconnects),
		Connected:  bool(out.connected),
	}, nil
}
