/* The codec layer through the C ABI: masking at every SIMD level, UTF-8,
 * frame headers (RFC 6455 section 5.7 examples), close codes, the sans-IO
 * connection, the handshake, and argument checking. */
#include <string.h>
#include "check.h"

static void reference_mask(uint8_t *buf, size_t len, const uint8_t key[4], size_t offset) {
    size_t i;
    for (i = 0; i < len; i++) buf[i] ^= key[(offset + i) % 4];
}

static void test_mask(void) {
    static uint8_t a[4096 + 64], b[4096 + 64];
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    unsigned level;
    for (level = RWS_SIMD_SCALAR; level <= RWS_SIMD_NEON; level++) {
        size_t len, off, align;
        if (rws_simd_force(level) != RWS_OK) continue; /* not this CPU */
        CHECK(rws_simd_active_level() == (rws_simd_level)level);
        for (len = 0; len < 300; len += 7)
            for (off = 0; off < 4; off++)
                for (align = 0; align < 33; align += 3) {
                    size_t i;
                    for (i = 0; i < len; i++) a[align + i] = b[align + i] = (uint8_t)(i * 31 + len);
                    CHECK_OK(rws_mask(a + align, len, key, off));
                    reference_mask(b + align, len, key, off);
                    CHECK(memcmp(a + align, b + align, len) == 0);
                }
    }
    CHECK(rws_simd_force(99) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_mask(NULL, 0, key, 0));
    CHECK(rws_mask(NULL, 5, key, 0) == RWS_ERR_NULL);
    CHECK(rws_mask(a, 5, NULL, 0) == RWS_ERR_NULL);
}

static void test_utf8(void) {
    const char *good = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x8e\x89";
    const char *surrogate = "ok \xed\xa0\x80";
    rws_utf8_validator *v = rws_utf8_validator_new();
    CHECK(v != NULL);
    CHECK_OK(rws_utf8_validate((const uint8_t *)good, strlen(good)));
    CHECK(rws_utf8_validate((const uint8_t *)surrogate, strlen(surrogate)) == RWS_ERR_UTF8);
    /* A euro sign split over three chunks is fine... */
    CHECK_OK(rws_utf8_validator_feed(v, (const uint8_t *)"\xe2", 1));
    CHECK_OK(rws_utf8_validator_feed(v, (const uint8_t *)"\x82", 1));
    CHECK_OK(rws_utf8_validator_feed(v, (const uint8_t *)"\xac", 1));
    CHECK_OK(rws_utf8_validator_finish(v));
    /* ...F4 90 is invalid before the code point ends: fail fast... */
    CHECK(rws_utf8_validator_feed(v, (const uint8_t *)"\xf4\x90", 2) == RWS_ERR_UTF8);
    rws_utf8_validator_finish(v);
    /* ...and a truncated end fails at finish. */
    CHECK_OK(rws_utf8_validator_feed(v, (const uint8_t *)"a\xe2\x82", 3));
    CHECK(rws_utf8_validator_finish(v) == RWS_ERR_UTF8);
    rws_utf8_validator_free(v);
    rws_utf8_validator_free(NULL);
}

static void test_frames(void) {
    /* RFC 6455 5.7: a single-frame masked text message "Hello". */
    const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t out[RWS_MAX_HEADER_LEN], payload[5];
    size_t n = 0, cut;
    uint16_t code = 0;
    rws_frame_header h;
    CHECK_OK(rws_frame_parse_header(masked_hello, sizeof masked_hello, RWS_ROLE_SERVER, 0, &h, &code));
    CHECK(h.fin && h.opcode == RWS_OPCODE_TEXT && h.masked && h.payload_len == 5 && h.header_len == 6);
    CHECK(memcmp(h.mask, key, 4) == 0);
    memcpy(payload, masked_hello + 6, 5);
    CHECK_OK(rws_mask(payload, 5, h.mask, 0));
    CHECK(memcmp(payload, "Hello", 5) == 0);
    for (cut = 0; cut < 6; cut++)
        CHECK(rws_frame_parse_header(masked_hello, cut, RWS_ROLE_SERVER, 0, &h, &code) == RWS_NEED_MORE);
    CHECK_OK(rws_frame_encode_header(out, true, RWS_OPCODE_TEXT, key, 5, &n));
    CHECK(n == 6 && memcmp(out, masked_hello, 6) == 0);
    /* 256 bytes, unmasked: 0x82 0x7E 0x01 0x00. */
    CHECK_OK(rws_frame_encode_header(out, true, RWS_OPCODE_BINARY, NULL, 256, &n));
    CHECK(n == 4 && out[0] == 0x82 && out[1] == 0x7e && out[2] == 1 && out[3] == 0);
    /* Errors: reserved opcode, unmasked client frame, 2^63 length, long control. */
    CHECK(rws_frame_parse_header((const uint8_t *)"\x83\x80", 2, RWS_ROLE_SERVER, 0, &h, &code) == RWS_ERR_PROTOCOL);
    CHECK(code == RWS_CLOSE_PROTOCOL_ERROR);
    CHECK(rws_frame_parse_header((const uint8_t *)"\x81\x05", 2, RWS_ROLE_SERVER, 0, &h, &code) == RWS_ERR_PROTOCOL);
    CHECK(rws_frame_parse_header((const uint8_t *)"\x82\x7f\x80", 3, RWS_ROLE_CLIENT, 0, &h, NULL) == RWS_ERR_PROTOCOL);
    CHECK(rws_frame_encode_header(out, true, RWS_OPCODE_PING, NULL, 126, &n) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_frame_encode_header(out, true, 3, NULL, 1, &n) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_frame_parse_header(masked_hello, 11, 7, 0, &h, &code) == RWS_ERR_INVALID_ARGUMENT);
}

static void test_close_codes(void) {
    CHECK(rws_close_code_is_sendable(1000) && rws_close_code_is_sendable(4999));
    CHECK(!rws_close_code_is_sendable(1005) && !rws_close_code_is_sendable(1006));
    CHECK(!rws_close_code_is_sendable(1004) && !rws_close_code_is_sendable(1015));
    CHECK(strcmp(rws_close_code_name(RWS_CLOSE_TOO_BIG), "message too big") == 0);
    CHECK(strcmp(rws_close_code_name(2000), "invalid") == 0);
}

/* Moves every queued byte from one connection into the other. */
static void pump(rws_conn *from, rws_conn *to) {
    const uint8_t *data;
    size_t len;
    for (;;) {
        CHECK_OK(rws_conn_pending_output(from, &data, &len));
        if (len == 0) return;
        CHECK_OK(rws_conn_feed(to, data, len));
        CHECK_OK(rws_conn_consume_output(from, len));
    }
}

static void test_conn(void) {
    rws_conn_config cfg;
    rws_conn *server, *client;
    rws_event ev;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_message_size = 1000;
    server = rws_conn_new(RWS_ROLE_SERVER, &cfg);
    client = rws_conn_new(RWS_ROLE_CLIENT, NULL);
    CHECK(server && client);
    CHECK(rws_conn_new(5, NULL) == NULL);

    CHECK_OK(rws_conn_send(client, RWS_OPCODE_TEXT, (const uint8_t *)"hi there", 8));
    CHECK_OK(rws_conn_send(client, RWS_OPCODE_PING, (const uint8_t *)"p", 1));
    CHECK(rws_conn_send(client, RWS_OPCODE_TEXT, (const uint8_t *)"\xff", 1) == RWS_ERR_UTF8);
    pump(client, server);
    CHECK_OK(rws_conn_next_event(server, &ev));
    CHECK(ev.type_ == RWS_EVENT_TEXT && ev.len == 8 && memcmp(ev.data, "hi there", 8) == 0);
    CHECK_OK(rws_conn_next_event(server, &ev));
    CHECK(ev.type_ == RWS_EVENT_PING);
    CHECK(rws_conn_next_event(server, &ev) == RWS_NONE);
    pump(server, client); /* the automatic pong */
    CHECK_OK(rws_conn_next_event(client, &ev));
    CHECK(ev.type_ == RWS_EVENT_PONG && ev.len == 1);

    /* Too big: the server fails the connection with 1009. */
    {
        static uint8_t big[2000];
        CHECK_OK(rws_conn_send(client, RWS_OPCODE_BINARY, big, sizeof big));
        pump(client, server);
        CHECK_OK(rws_conn_next_event(server, &ev));
        CHECK(ev.type_ == RWS_EVENT_ERROR && ev.close_code == RWS_CLOSE_TOO_BIG);
        pump(server, client);
        CHECK_OK(rws_conn_next_event(client, &ev));
        CHECK(ev.type_ == RWS_EVENT_CLOSE && ev.close_code == RWS_CLOSE_TOO_BIG);
        CHECK(rws_conn_should_close(server));
        CHECK(rws_conn_send(server, RWS_OPCODE_TEXT, (const uint8_t *)"x", 1) == RWS_ERR_CLOSING);
    }
    CHECK(rws_conn_close(client, 1005, NULL, 0) == RWS_ERR_CLOSING);
    rws_conn_free(server);
    rws_conn_free(client);
    rws_conn_free(NULL);
    CHECK(rws_conn_buffered_amount(NULL) == 0);
}

static void test_handshake(void) {
    const char *protocols[] = {"chat", "superchat"};
    uint8_t req[1024], resp[1024];
    size_t req_len = 0, resp_len = 0, consumed = 0;
    uint16_t status = 0;
    rws_request *r = NULL;
    rws_client_handshake *hs = rws_client_handshake_new("localhost:9001", "/feed?x=1", protocols, 2, req, sizeof req, &req_len);
    CHECK(hs != NULL);
    CHECK(rws_handshake_parse_request(req, req_len - 1, 0, &r, &consumed, &status) == RWS_NEED_MORE);
    CHECK_OK(rws_handshake_parse_request(req, req_len, 0, &r, &consumed, &status));
    CHECK(consumed == req_len && status == 101);
    CHECK(strcmp(rws_request_path(r), "/feed?x=1") == 0);
    CHECK(strcmp(rws_request_header(r, "host"), "localhost:9001") == 0);
    CHECK(rws_request_header(r, "x-missing") == NULL);
    CHECK(rws_request_protocol_count(r) == 2 && strcmp(rws_request_protocol(r, 1), "superchat") == 0);
    CHECK(rws_request_protocol(r, 2) == NULL);
    CHECK(rws_handshake_write_accept(r, "superchat", resp, 10, &resp_len) == RWS_ERR_BUFFER_TOO_SMALL);
    CHECK(resp_len > 10);
    CHECK_OK(rws_handshake_write_accept(r, "superchat", resp, sizeof resp, &resp_len));
    CHECK(rws_handshake_write_accept(r, "nope", resp, sizeof resp, &resp_len) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_handshake_write_accept(r, "superchat", resp, sizeof resp, &resp_len));
    CHECK_OK(rws_client_handshake_check(hs, resp, resp_len, &consumed, &status));
    CHECK(strcmp(rws_client_handshake_protocol(hs), "superchat") == 0);
    rws_request_free(r);

    /* A bad version gets 426 with the version header. */
    {
        const char *bad = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
        r = NULL;
        CHECK(rws_handshake_parse_request((const uint8_t *)bad, strlen(bad), 0, &r, &consumed, &status) == RWS_ERR_HANDSHAKE);
        CHECK(status == 426 && r == NULL);
        CHECK_OK(rws_handshake_write_error(status, resp, sizeof resp - 1, &resp_len));
        resp[resp_len] = 0;
        CHECK(strstr((const char *)resp, "Sec-WebSocket-Version: 13\r\n") != NULL);
        CHECK(rws_handshake_write_error(200, resp, sizeof resp, &resp_len) == RWS_ERR_INVALID_ARGUMENT);
    }
    {
        const char *forbidden = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        CHECK(rws_client_handshake_check(hs, (const uint8_t *)forbidden, strlen(forbidden), &consumed, &status) == RWS_ERR_HANDSHAKE);
        CHECK(status == 403);
    }
    rws_client_handshake_free(hs);
    CHECK(rws_client_handshake_new(NULL, "/", NULL, 0, req, sizeof req, &req_len) == NULL);
}

static void test_errors_and_version(void) {
    char msg[8];
    size_t full;
    CHECK(rws_conn_feed(NULL, NULL, 0) == RWS_ERR_NULL);
    CHECK(rws_last_error_code() == RWS_ERR_NULL);
    full = rws_last_error_message(msg, sizeof msg);
    CHECK(full > sizeof msg - 1 && strlen(msg) == sizeof msg - 1); /* cut short, NUL-terminated */
    CHECK(rws_last_error_message(NULL, 0) == full);
    CHECK(strcmp(rws_result_name(RWS_ERR_NULL), "RWS_ERR_NULL") == 0);
    CHECK(strcmp(rws_result_name(999), "RWS_UNKNOWN") == 0); /* any integer is safe */
    CHECK(rws_version_number() >= 100 && strlen(rws_version()) >= 5);
}

/* Keepalive driven by the host's own clock: a ping at the interval, the
 * pong deadline, any received byte answering it, and RWS_TIMED_OUT. */
static void test_timeouts(void) {
    rws_conn *c = rws_conn_new(RWS_ROLE_SERVER, NULL);
    rws_timeouts t;
    uint64_t at = 0;
    const uint8_t *out;
    size_t len;
    /* a masked, empty pong from the client */
    static const uint8_t pong[] = {0x8a, 0x80, 1, 2, 3, 4};
    rws_event ev;
    memset(&t, 0, sizeof t);
    t.ping_interval_ms = 200;
    t.pong_timeout_ms = 50;
    CHECK(c != NULL);
    CHECK(rws_conn_next_timeout(c, 1000, &at) == RWS_NONE); /* defaults: no keepalive */
    CHECK_OK(rws_conn_set_timeouts(c, &t));
    CHECK_OK(rws_conn_next_timeout(c, 1000, &at));
    CHECK(at == 1200);
    CHECK_OK(rws_conn_on_timeout(c, 1100)); /* early: nothing */
    CHECK(rws_conn_buffered_amount(c) == 0);
    CHECK_OK(rws_conn_on_timeout(c, 1200));
    CHECK_OK(rws_conn_pending_output(c, &out, &len));
    CHECK(len == 2 && out[0] == 0x89 && out[1] == 0x00); /* the ping */
    CHECK_OK(rws_conn_consume_output(c, len));
    CHECK_OK(rws_conn_next_timeout(c, 1200, &at));
    CHECK(at == 1250);
    CHECK_OK(rws_conn_feed(c, pong, sizeof pong));
    CHECK_OK(rws_conn_next_event(c, &ev));
    CHECK(ev.type_ == RWS_EVENT_PONG);
    /* fed bytes prove the peer alive: the keepalive restarts from the next time passed in */
    CHECK_OK(rws_conn_next_timeout(c, 1240, &at));
    CHECK(at == 1440);
    CHECK_OK(rws_conn_on_timeout(c, 1250));
    rws_conn_free(c);
    c = rws_conn_new(RWS_ROLE_SERVER, NULL);
    CHECK_OK(rws_conn_set_timeouts(c, &t));
    CHECK_OK(rws_conn_next_timeout(c, 0, &at));
    CHECK_OK(rws_conn_on_timeout(c, 200));
    CHECK(rws_conn_on_timeout(c, 250) == RWS_TIMED_OUT);
    CHECK(rws_last_error_code() == RWS_TIMED_OUT);
    CHECK(rws_conn_next_timeout(NULL, 0, &at) == RWS_ERR_NULL);
    CHECK(rws_conn_next_timeout(c, 0, NULL) == RWS_ERR_NULL);
    rws_conn_free(c);
}

int main(void) {
    test_mask();
    test_utf8();
    test_frames();
    test_close_codes();
    test_conn();
    test_handshake();
    test_errors_and_version();
    test_timeouts();
    printf("codec_test: %d checks passed (rocwebsocket %s)\n", checks_run, rws_version());
    return 0;
}
