/* rws_connect_options through the C ABI, with two batched engines on
 * loopback (a server that decides upgrades, and a client):
 * - struct_size rules: 0 refused, a larger struct with unknown non-zero
 *   options refused, with a zero tail accepted, a shorter (older) struct
 *   accepted; bad headers and NULL lists refused at the call;
 * - the extra headers and offered subprotocols reach the server's request,
 *   the tag comes back on OPEN, the server's subprotocol choice is readable
 *   on both ends with rws_engine_protocol (snprintf-like truncation);
 * - a per-connection max_message_size fails a larger message with 1009;
 * - a per-connection handshake timeout against a peer that never answers
 *   ends in CONNECT_ERROR. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "check.h"

/* Waits (up to 10 s) for an event of `type` on `e`, copying its payload
 * (NUL-terminated) into `text`; other events are skipped. */
static rws_event wait_for(rws_engine *e, rws_event_type type, char *text, size_t cap) {
    for (int round = 0; round < 100; round++) {
        rws_event evs[16];
        size_t n = 0;
        CHECK_OK(rws_engine_poll_events(e, evs, 16, 100, &n));
        for (size_t i = 0; i < n; i++) {
            if (evs[i].type_ != type) continue;
            if (text) {
                size_t len = evs[i].len < cap - 1 ? evs[i].len : cap - 1;
                memcpy(text, evs[i].data, len);
                text[len] = 0;
            }
            return evs[i];
        }
    }
    fprintf(stderr, "no event of type %d\n", (int)type);
    exit(1);
}

static rws_engine *start(int listen) {
    rws_engine_config cfg;
    const char *addr = "127.0.0.1:0";
    CHECK_OK(rws_engine_config_init(&cfg));
    cfg.threads = 1;
    if (listen) {
        cfg.listen = &addr;
        cfg.listen_count = 1;
        cfg.decide_upgrades = true;
    }
    rws_engine *e = rws_engine_start_batched(&cfg);
    CHECK(e != NULL);
    return e;
}

static void refusals(rws_engine *client, const char *url) {
    rws_connect_options o;
    memset(&o, 0, sizeof o);
    /* struct_size 0: the caller forgot it. */
    CHECK(rws_engine_connect_opts(client, url, &o) == RWS_ERR_INVALID_ARGUMENT);

    /* A newer caller's struct: unknown options set are refused, a zero tail is fine. */
    struct {
        rws_connect_options known;
        uint64_t newer;
    } big;
    memset(&big, 0, sizeof big);
    big.known.struct_size = sizeof big;
    big.known.handshake_timeout_ms = 1;
    big.newer = 7;
    CHECK(rws_engine_connect_opts(client, "ws://127.0.0.1:9/", &big.known) ==
          RWS_ERR_INVALID_ARGUMENT);

    /* NULL lists with counts, and headers a request cannot carry. */
    o.struct_size = sizeof o;
    o.header_count = 1;
    CHECK(rws_engine_connect_opts(client, url, &o) == RWS_ERR_NULL);
    const char *bad_name[] = {"Bad Name", "v"};
    o.headers = bad_name;
    CHECK(rws_engine_connect_opts(client, url, &o) == RWS_ERR_INVALID_ARGUMENT);
    const char *bad_value[] = {"X-Key", "a\r\nInjected: 1"};
    o.headers = bad_value;
    CHECK(rws_engine_connect_opts(client, url, &o) == RWS_ERR_INVALID_ARGUMENT);
    o.header_count = 0;
    o.protocol_count = 1;
    CHECK(rws_engine_connect_opts(client, url, &o) == RWS_ERR_NULL);
    const char *bad_protocol[] = {"has space"};
    o.protocols = bad_protocol;
    CHECK(rws_engine_connect_opts(client, url, &o) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_engine_connect_opts(NULL, url, &o) == RWS_ERR_NULL);
    CHECK(rws_engine_connect_opts(client, NULL, &o) == RWS_ERR_NULL);
    /* Not even a single event came of these. */
    rws_event ev;
    size_t n = 0;
    CHECK_OK(rws_engine_poll_events(client, &ev, 1, 50, &n));
    CHECK(n == 0);
}

static void headers_protocols_tag(rws_engine *server, rws_engine *client, const char *url) {
    const char *headers[] = {"X-Api-Key", "k-123", "X-Client", "feed test"};
    const char *offered[] = {"v2.feed", "v1.feed"};
    rws_connect_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.tag = 42;
    o.headers = headers;
    o.header_count = 2;
    o.protocols = offered;
    o.protocol_count = 2;
    CHECK_OK(rws_engine_connect_opts(client, url, &o));

    char head[2048];
    rws_event up = wait_for(server, RWS_EVENT_UPGRADE, head, sizeof head);
    CHECK(strstr(head, "\r\nX-Api-Key: k-123\r\n") != NULL);
    CHECK(strstr(head, "\r\nX-Client: feed test\r\n") != NULL);
    CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: v2.feed, v1.feed\r\n") != NULL);
    CHECK_OK(rws_engine_accept_upgrade(server, up.conn, "v1.feed", NULL, 0));

    char path[64];
    rws_event open = wait_for(client, RWS_EVENT_OPEN, path, sizeof path);
    CHECK(open.tag == 42);
    CHECK(strcmp(path, "/feed") == 0);
    char proto[32];
    CHECK(rws_engine_protocol(client, open.conn, proto, sizeof proto) == 7);
    CHECK(strcmp(proto, "v1.feed") == 0);
    /* Too small: truncated and NUL-terminated, the full length returned. */
    char small[4];
    CHECK(rws_engine_protocol(client, open.conn, small, sizeof small) == 7);
    CHECK(strcmp(small, "v1.") == 0);
    CHECK(rws_engine_protocol(client, open.conn, NULL, 0) == 7);
    rws_event sopen = wait_for(server, RWS_EVENT_OPEN, NULL, 0);
    CHECK(rws_engine_protocol(server, sopen.conn, proto, sizeof proto) == 7);
    CHECK(strcmp(proto, "v1.feed") == 0);
    /* Unknown connections and NULL engines have none. */
    CHECK(rws_engine_protocol(client, open.conn + 12345, proto, sizeof proto) == 0);
    CHECK(proto[0] == 0);
    CHECK(rws_engine_protocol(NULL, open.conn, proto, sizeof proto) == 0);

    /* Gone with the connection. */
    CHECK_OK(rws_engine_close(client, open.conn, 1000, NULL, 0));
    rws_event closed = wait_for(client, RWS_EVENT_CLOSE, NULL, 0);
    CHECK(closed.tag == 42);
    CHECK(rws_engine_protocol(client, open.conn, NULL, 0) == 0);
    wait_for(server, RWS_EVENT_CLOSE, NULL, 0);
}

static void message_limit(rws_engine *server, rws_engine *client, const char *url) {
    /* An older caller's struct (up to `tag`): the rest reads as 0. */
    rws_connect_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = (uint32_t)(offsetof(rws_connect_options, tag) + sizeof o.tag);
    o.tag = 7;
    CHECK_OK(rws_engine_connect_opts(client, url, &o));
    rws_event up = wait_for(server, RWS_EVENT_UPGRADE, NULL, 0);
    CHECK_OK(rws_engine_accept_upgrade(server, up.conn, NULL, NULL, 0));
    rws_event open = wait_for(client, RWS_EVENT_OPEN, NULL, 0);
    CHECK(open.tag == 7);
    CHECK(rws_engine_protocol(client, open.conn, NULL, 0) == 0);
    wait_for(server, RWS_EVENT_OPEN, NULL, 0);
    CHECK_OK(rws_engine_close(client, open.conn, 1000, NULL, 0));
    wait_for(client, RWS_EVENT_CLOSE, NULL, 0);
    wait_for(server, RWS_EVENT_CLOSE, NULL, 0);

    /* max_message_size 10 on this connection only. */
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.tag = 8;
    o.conn.max_message_size = 10;
    CHECK_OK(rws_engine_connect_opts(client, url, &o));
    up = wait_for(server, RWS_EVENT_UPGRADE, NULL, 0);
    CHECK_OK(rws_engine_accept_upgrade(server, up.conn, NULL, NULL, 0));
    open = wait_for(client, RWS_EVENT_OPEN, NULL, 0);
    CHECK(open.tag == 8);
    rws_event sopen = wait_for(server, RWS_EVENT_OPEN, NULL, 0);
    const char fits[] = "0123456789";
    const char big[] = "0123456789a";
    CHECK_OK(rws_engine_send(server, sopen.conn, RWS_OPCODE_TEXT, (const uint8_t *)fits, 10));
    char got[32];
    wait_for(client, RWS_EVENT_TEXT, got, sizeof got);
    CHECK(strcmp(got, fits) == 0);
    CHECK_OK(rws_engine_send(server, sopen.conn, RWS_OPCODE_TEXT, (const uint8_t *)big, 11));
    rws_event closed = wait_for(client, RWS_EVENT_CLOSE, NULL, 0);
    CHECK(closed.close_code == 1009);
    CHECK(closed.tag == 8);
    closed = wait_for(server, RWS_EVENT_CLOSE, NULL, 0);
    CHECK(closed.close_code == 1009);
}

static void handshake_timeout(rws_engine *client) {
    /* A listener nobody accepts on: the kernel completes the TCP handshake,
     * then nothing ever answers the upgrade request. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(fd, 4) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)ntohs(a.sin_port));
    rws_connect_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.tag = 9;
    o.handshake_timeout_ms = 300; /* the engine's is 10 s, past wait_for's patience */
    CHECK_OK(rws_engine_connect_opts(client, url, &o));
    char why[256];
    rws_event err = wait_for(client, RWS_EVENT_CONNECT_ERROR, why, sizeof why);
    CHECK(err.tag == 9);
    CHECK(strstr(why, "timed out") != NULL);
    close(fd);
}

int main(void) {
    rws_engine *server = start(1);
    rws_engine *client = start(0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/feed", (unsigned)rws_engine_port(server));

    refusals(client, url);
    headers_protocols_tag(server, client, url);
    message_limit(server, client, url);
    handshake_timeout(client);
    /* NULL options: all defaults, tag 0. */
    CHECK_OK(rws_engine_connect_opts(client, url, NULL));
    rws_event up = wait_for(server, RWS_EVENT_UPGRADE, NULL, 0);
    CHECK_OK(rws_engine_accept_upgrade(server, up.conn, NULL, NULL, 0));
    CHECK(wait_for(client, RWS_EVENT_OPEN, NULL, 0).tag == 0);

    rws_engine_free(client);
    rws_engine_free(server);
    printf("connect options: %d checks passed\n", checks_run);
    return 0;
}
