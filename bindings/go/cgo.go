package rocwebsocket

/*
#cgo pkg-config: rocwebsocket
#include "rwsgo.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

// resultError turns a wrapper's result into nil or an *Error (freeing the message).
func resultError(op string, r C.rwsgo_res) error {
	if r.code == C.RWS_OK {
		return nil
	}
	return newError(op, Result(r.code), takeMessage(r.msg))
}

func takeMessage(msg *C.char) string {
	if msg == nil {
		return ""
	}
	s := C.GoString(msg)
	C.free(unsafe.Pointer(msg))
	return s
}

func resultName(r Result) string {
	if r < 0 || r > C.RWS_ERR_UNSUPPORTED {
		return "RWS_RESULT_UNKNOWN"
	}
	return C.GoString(C.rws_result_name(C.uint32_t(r)))
}

// bytesArg is the pointer and length to hand C for the duration of one call
// (C copies the bytes; cgo allows passing Go memory that holds no Go pointers).
func bytesArg(data []byte) (*C.uint8_t, C.size_t) {
	if len(data) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))
}

// cStrings copies strings into one malloc'd array of malloc'd C strings.
type cStrings struct {
	ptr   **C.char
	items []*C.char
}

func newCStrings(list []string) *cStrings {
	cs := &cStrings{}
	if len(list) == 0 {
		return cs
	}
	cs.ptr = (**C.char)(C.malloc(C.size_t(len(list)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	arr := unsafe.Slice(cs.ptr, len(list))
	for i, s := range list {
		arr[i] = C.CString(s)
		cs.items = append(cs.items, arr[i])
	}
	return cs
}

func (cs *cStrings) free() {
	for _, p := range cs.items {
		C.free(unsafe.Pointer(p))
	}
	if cs.ptr != nil {
		C.free(unsafe.Pointer(cs.ptr))
	}
}

func millis(d time.Duration) C.uint32_t {
	if d <= 0 {
		return 0
	}
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if ms > 0xFFFFFFFF {
		ms = 0xFFFFFFFF
	}
	return C.uint32_t(ms)
}

// config builds an rws_engine_config from opts; call free on the strings
// after the engine started (the C side copies them).
func (o *Options) config() (C.rws_engine_config, []*cStrings, error) {
	var cfg C.rws_engine_config
	if r := C.rws_engine_config_init(&cfg); r != C.RWS_OK {
		return cfg, nil, newError("rws_engine_config_init", Result(r), "")
	}
	listen := newCStrings(o.Listen)
	protocols := newCStrings(o.Protocols)
	cfg.listen = listen.ptr
	cfg.listen_count = C.size_t(len(o.Listen))
	cfg.protocols = protocols.ptr
	cfg.protocol_count = C.size_t(len(o.Protocols))
	cfg.threads = C.uint32_t(o.Threads)
	cfg.max_connections = C.uint32_t(o.MaxConnections)
	if o.MaxFrameSize > 0 {
		cfg.conn.max_frame_size = C.uint64_t(o.MaxFrameSize)
	}
	if o.MaxMessageSize > 0 {
		cfg.conn.max_message_size = C.uint64_t(o.MaxMessageSize)
	}
	if o.MaxBuffered > 0 {
		cfg.max_buffered = C.uint64_t(o.MaxBuffered)
	}
	if o.MaxQueuedBytes > 0 {
		cfg.max_queued_bytes = C.uint64_t(o.MaxQueuedBytes)
	}
	if o.HandshakeTimeout > 0 {
		cfg.handshake_timeout_ms = millis(o.HandshakeTimeout)
	}
	cfg.idle_timeout_ms = millis(o.IdleTimeout)
	cfg.ping_interval_ms = millis(o.PingInterval)
	if o.PongTimeout > 0 {
		cfg.pong_timeout_ms = millis(o.PongTimeout)
	}
	if o.CloseTimeout > 0 {
		cfg.close_timeout_ms = millis(o.CloseTimeout)
	}
	cfg.decide_upgrades = C.bool(o.OnUpgrade != nil)
	// permessage-deflate (RFC 7692) with the engine's default settings.
	cfg.deflate.enabled = C.bool(o.Deflate)
	if o.OnBackpressure != nil {
		cfg.backpressure = C.RWS_BACKPRESSURE_NOTIFY
	}
	tlsListen := newCStrings(o.TLSListen)
	cfg.tls_listen = tlsListen.ptr
	cfg.tls_listen_count = C.size_t(len(o.TLSListen))
	broker := o.Broker.apply(&cfg)
	return cfg, []*cStrings{listen, protocols, tlsListen, broker}, nil
}
