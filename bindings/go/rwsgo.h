// Small C wrappers for the cgo side of the Go binding (static inline: each
// cgo file that includes this gets its own copies).
#ifndef ROCWEBSOCKET_GO_H
#define ROCWEBSOCKET_GO_H

#include <stdlib.h>
#include <string.h>
#include "rocwebsocket.h"

// rws_last_error_message is per OS thread, and a goroutine may change
// threads between two cgo calls: each wrapper reads the message in the same
// C call as the failure, into malloc'd memory the Go side frees. Nothing is
// passed in but C memory and plain values; the result comes back by value.
typedef struct {
	rws_result code;
	size_t count;
	char *msg;
} rwsgo_res;

static inline char *rwsgo_message(void) {
	size_t n = rws_last_error_message(NULL, 0);
	char *m = malloc(n + 1);
	if (m != NULL) rws_last_error_message(m, n + 1);
	return m;
}

static inline rwsgo_res rwsgo_done(rws_result r) {
	rwsgo_res out = {r, 0, NULL};
	if (r != RWS_OK) out.msg = rwsgo_message();
	return out;
}

typedef struct {
	rws_engine *engine;
	char *msg;
} rwsgo_start_res;

static inline rwsgo_start_res rwsgo_start(const rws_engine_config *cfg) {
	rwsgo_start_res out = {rws_engine_start_batched(cfg), NULL};
	if (out.engine == NULL) out.msg = rwsgo_message();
	return out;
}

static inline rwsgo_res rwsgo_poll(const rws_engine *e, rws_event *ev, size_t max, int32_t timeout_ms) {
	size_t n = 0;
	rwsgo_res out = rwsgo_done(rws_engine_poll_events(e, ev, max, timeout_ms, &n));
	out.count = n;
	return out;
}

static inline rwsgo_res rwsgo_send(const rws_engine *e, uint64_t c, uint8_t op, const uint8_t *d, size_t n) {
	return rwsgo_done(rws_engine_send(e, c, op, d, n));
}

static inline rwsgo_res rwsgo_close(const rws_engine *e, uint64_t c, uint16_t code, const uint8_t *r, size_t n) {
	return rwsgo_done(rws_engine_close(e, c, code, r, n));
}

static inline rwsgo_res rwsgo_broadcast(const rws_engine *e, uint8_t op, const uint8_t *d, size_t n) {
	return rwsgo_done(rws_engine_broadcast(e, op, d, n));
}

static inline rwsgo_res rwsgo_publish(const rws_engine *e, const char *t, uint8_t op, const uint8_t *d, size_t n) {
	return rwsgo_done(rws_engine_publish(e, t, op, d, n));
}

static inline rwsgo_res rwsgo_subscribe(const rws_engine *e, uint64_t c, const char *t, bool on) {
	return rwsgo_done(rws_engine_subscribe(e, c, t, on));
}

static inline rwsgo_res rwsgo_connect_opts(const rws_engine *e, const char *url, rws_connect_options *o) {
	o->struct_size = sizeof *o;
	return rwsgo_done(rws_engine_connect_opts(e, url, o));
}

static inline rwsgo_res rwsgo_connect(const rws_engine *e, const char *url, uint64_t tag) {
	return rwsgo_done(rws_engine_connect(e, url, tag));
}

typedef struct {
	rws_tls_server *server;
	char *msg;
} rwsgo_tls_server_res;

// Certificates from PEM bytes in C memory (client_ca may be NULL).
static inline rwsgo_tls_server_res rwsgo_tls_server_new(const char *cert, size_t cert_len, const char *key,
                                                        size_t key_len, const char *ca, size_t ca_len) {
	rwsgo_tls_server_res out = {rws_tls_server_new((const uint8_t *)cert, cert_len, (const uint8_t *)key,
	                                               key_len, (const uint8_t *)ca, ca_len),
	                            NULL};
	if (out.server == NULL) out.msg = rwsgo_message();
	return out;
}

static inline rwsgo_res rwsgo_tls_server_reload(const rws_tls_server *s, const char *cert, const char *key) {
	return rwsgo_done(rws_tls_server_reload_files(s, cert, key));
}

typedef struct {
	rws_tls_client *client;
	char *msg;
} rwsgo_tls_client_res;

static inline rwsgo_tls_client_res rwsgo_tls_client_new(const char *ca, size_t ca_len, const char *cert,
                                                        size_t cert_len, const char *key, size_t key_len,
                                                        bool danger) {
	rws_tls_client_config c;
	rwsgo_tls_client_res out;
	memset(&c, 0, sizeof c);
	c.ca_pem = (const uint8_t *)ca;
	c.ca_pem_len = ca_len;
	c.cert_pem = (const uint8_t *)cert;
	c.cert_pem_len = cert_len;
	c.key_pem = (const uint8_t *)key;
	c.key_pem_len = key_len;
	c.danger_accept_invalid_certs = danger;
	out.client = rws_tls_client_new(&c);
	out.msg = out.client == NULL ? rwsgo_message() : NULL;
	return out;
}

static inline rwsgo_res rwsgo_accept_upgrade(const rws_engine *e, uint64_t c, const char *protocol,
                                            const char *const *headers, size_t n) {
	return rwsgo_done(rws_engine_accept_upgrade(e, c, protocol, headers, n));
}

static inline rwsgo_res rwsgo_reject_upgrade(const rws_engine *e, uint64_t c, uint16_t status, const uint8_t *b,
                                            size_t n) {
	return rwsgo_done(rws_engine_reject_upgrade(e, c, status, b, n));
}

static inline rwsgo_res rwsgo_buffered_amount(const rws_engine *e, uint64_t c, size_t *out) {
	return rwsgo_done(rws_engine_buffered_amount(e, c, out));
}

static inline rwsgo_res rwsgo_stop(const rws_engine *e, uint32_t grace_ms) {
	return rwsgo_done(rws_engine_stop(e, grace_ms));
}

// Log records to Go (rwsgoLog is exported from logexport.go). The strings
// are valid only during the call: the Go side copies them.
extern void rwsgoLog(uint32_t level, char *target, char *message, size_t n);

static inline void rwsgo_log_cb(void *user, rws_log_level level, const char *target, const char *message,
                                size_t len) {
	(void)user;
	rwsgoLog((uint32_t)level, (char *)target, (char *)message, len);
}

static inline rwsgo_res rwsgo_set_log(uint32_t level) {
	return rwsgo_done(rws_set_log_callback(level, level ? rwsgo_log_cb : NULL, NULL));
}

#endif
