// The callback engine (rws_engine_start) for the FFI-crossing benchmark,
// which compares a C->Go call per message with the public package's batches.
// rwsgoBenchOnEvent is exported from export.go; `user` is a runtime/cgo.Handle
// value, not a Go pointer.
#ifndef ROCWEBSOCKET_CBENCH_H
#define ROCWEBSOCKET_CBENCH_H

#include <stdlib.h>
#include <string.h>
#include "rocwebsocket.h"

extern void rwsgoBenchOnEvent(uintptr_t user, rws_event *event);

static inline void cbench_callback(void *user, rws_ctx *ctx, const rws_event *event) {
	(void)ctx;
	rwsgoBenchOnEvent((uintptr_t)user, (rws_event *)event);
}

// Starts a one-thread client engine whose events all go to cbench_callback.
static inline rws_engine *cbench_start(uintptr_t user) {
	rws_engine_config cfg;
	if (rws_engine_config_init(&cfg) != RWS_OK) return NULL;
	cfg.threads = 1;
	rws_callbacks cb;
	memset(&cb, 0, sizeof cb);
	cb.user = (void *)user;
	cb.on_open = cbench_callback;
	cb.on_message = cbench_callback;
	cb.on_close = cbench_callback;
	cb.on_error = cbench_callback;
	return rws_engine_start(&cfg, &cb);
}

#endif
