/* The engine's C ABI as a C user finds it:
 *  - TEXT sends are checked as UTF-8 (invalid, truncated, and a large valid
 *    non-ASCII text that must arrive intact);
 *  - a batched engine pings and sees the PONG (and the server, a callback
 *    engine, sees the PING through on_control, and pings back);
 *  - a URL with a fragment is refused by rws_engine_connect, and a server
 *    answers a request-target with '#' with 400;
 *  - tags: set in the server's OPEN callback, carried on every later event
 *    (message, control, CLOSE); a client's connect tag on every client event;
 *    rws_engine_set_tag retags from outside; ids are not reused;
 *  - after rws_engine_stop, blocking polls hand out the stop's events, then
 *    return RWS_ERR_STOPPED (a loop of them ends), timed polls RWS_OK and 0. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

#define SERVER_TAG 0x5e5e000000000001ull
#define CLIENT_TAG 77u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int server_pings, server_untagged, server_closes_tagged;
static uint64_t server_conns[2];
static int server_conn_count;

static void server_on_open(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    CHECK(ev->tag == 0 && rws_ctx_tag(ctx) == 0); /* a server connection starts untagged */
    CHECK_OK(rws_ctx_set_tag(ctx, SERVER_TAG + ev->conn));
    CHECK(rws_ctx_tag(ctx) == SERVER_TAG + ev->conn);
    pthread_mutex_lock(&lock);
    if (server_conn_count < 2) server_conns[server_conn_count++] = ev->conn;
    pthread_mutex_unlock(&lock);
}

static void server_on_message(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    pthread_mutex_lock(&lock);
    if (ev->tag != SERVER_TAG + ev->conn) server_untagged++;
    pthread_mutex_unlock(&lock);
    if (ev->len == 8 && memcmp(ev->data, "ping me!", 8) == 0) {
        CHECK_OK(rws_ctx_send(ctx, RWS_OPCODE_PING, (const uint8_t *)"srv", 3));
    }
    CHECK_OK(rws_ctx_send(ctx, ev->type_ == RWS_EVENT_TEXT ? RWS_OPCODE_TEXT : RWS_OPCODE_BINARY, ev->data, ev->len));
}

static void server_on_control(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    CHECK(ctx != NULL);
    pthread_mutex_lock(&lock);
    if (ev->tag != SERVER_TAG + ev->conn) server_untagged++;
    if (ev->type_ == RWS_EVENT_PING && ev->len == 5 && memcmp(ev->data, "hello", 5) == 0) server_pings++;
    pthread_mutex_unlock(&lock);
}

static void server_on_close(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    CHECK(ctx == NULL);
    pthread_mutex_lock(&lock);
    if (ev->tag == SERVER_TAG + ev->conn) server_closes_tagged++;
    pthread_mutex_unlock(&lock);
}

static int locked(int *v) {
    int x;
    pthread_mutex_lock(&lock);
    x = *v;
    pthread_mutex_unlock(&lock);
    return x;
}

/* Polls until an event of `type` comes (10 s limit); copies it to `out` and its data to `buf`. */
static void wait_event(rws_engine *e, rws_event_type type, rws_event *out, char *buf, size_t cap) {
    rws_event evs[16];
    time_t start = time(NULL);
    while (time(NULL) - start < 10) {
        size_t n = 0, i;
        CHECK_OK(rws_engine_poll_events(e, evs, 16, 100, &n));
        for (i = 0; i < n; i++) {
            if (evs[i].conn != 0) CHECK(evs[i].tag == CLIENT_TAG || evs[i].tag == CLIENT_TAG + 1);
            if (evs[i].type_ == type) {
                *out = evs[i];
                if (buf != NULL) {
                    CHECK(evs[i].len <= cap);
                    if (evs[i].len) memcpy(buf, evs[i].data, evs[i].len);
                }
                out->data = NULL;
                return;
            }
        }
    }
    fprintf(stderr, "no event of type %d within 10 s\n", (int)type);
    CHECK(0);
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Sends an upgrade request for `target` over raw TCP and returns the status line's code. */
static int raw_upgrade_status(uint16_t port, const char *target) {
    struct sockaddr_in addr;
    char req[512], resp[512];
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    CHECK(fd >= 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             target);
    CHECK(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
    n = read(fd, resp, sizeof resp - 1);
    CHECK(n > 12);
    resp[n] = 0;
    CHECK(sscanf(resp, "HTTP/1.1 %d", &status) == 1);
    close(fd);
    return status;
}

int main(void) {
    const char *listen[1] = {"127.0.0.1:0"};
    char url[96], frag[128], buf[70000];
    static char text[65536];
    rws_engine_config config;
    rws_callbacks cb;
    rws_engine *server, *client;
    rws_event ev;
    uint64_t conn, conn2;
    size_t i;

    /* A server with callbacks, on one thread. */
    CHECK_OK(rws_engine_config_init(&config));
    config.listen = listen;
    config.listen_count = 1;
    config.threads = 1;
    memset(&cb, 0, sizeof cb);
    cb.on_open = server_on_open;
    cb.on_message = server_on_message;
    cb.on_control = server_on_control;
    cb.on_close = server_on_close;
    server = rws_engine_start(&config, &cb);
    CHECK(server != NULL);
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/path", (unsigned)rws_engine_port(server));

    /* A batched client engine. */
    CHECK_OK(rws_engine_config_init(&config));
    config.threads = 1;
    client = rws_engine_start_batched(&config);
    CHECK(client != NULL);

    /* Fragments: refused by the client, and by the server on the wire. */
    snprintf(frag, sizeof frag, "%s#frag", url);
    CHECK(rws_engine_connect(client, frag, 1) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(raw_upgrade_status(rws_engine_port(server), "/path#frag") == 400);
    CHECK(raw_upgrade_status(rws_engine_port(server), "/path%23frag") == 101);

    CHECK_OK(rws_engine_connect(client, url, CLIENT_TAG));
    wait_event(client, RWS_EVENT_OPEN, &ev, NULL, 0);
    CHECK(ev.tag == CLIENT_TAG);
    conn = ev.conn;

    /* TEXT: invalid and truncated UTF-8 refused; 64 KiB of 2- and 3-byte code points echoed intact. */
    CHECK(rws_engine_send(client, conn, RWS_OPCODE_TEXT, (const uint8_t *)"ab\xff", 3) == RWS_ERR_UTF8);
    CHECK(rws_engine_send(client, conn, RWS_OPCODE_TEXT, (const uint8_t *)"ab\xe2\x82", 4) == RWS_ERR_UTF8);
    for (i = 0; i + 5 <= sizeof text; i += 5) memcpy(text + i, "\xc3\xa9\xe2\x82\xac", 5); /* é € */
    CHECK_OK(rws_engine_send(client, conn, RWS_OPCODE_TEXT, (const uint8_t *)text, i));
    wait_event(client, RWS_EVENT_TEXT, &ev, buf, sizeof buf);
    CHECK(ev.len == i && memcmp(buf, text, i) == 0 && ev.tag == CLIENT_TAG);

    /* Ping from the batched engine: the server sees PING, the client the PONG. */
    CHECK(rws_engine_send(client, conn, RWS_OPCODE_PING, (const uint8_t *)text, 126) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_engine_send(client, conn, RWS_OPCODE_PING, (const uint8_t *)"hello", 5));
    wait_event(client, RWS_EVENT_PONG, &ev, buf, sizeof buf);
    CHECK(ev.len == 5 && memcmp(buf, "hello", 5) == 0 && ev.conn == conn && ev.tag == CLIENT_TAG);
    for (i = 0; i < 100 && locked(&server_pings) == 0; i++) sleep_ms(10);
    CHECK(locked(&server_pings) == 1);

    /* The server pings from a callback; the batched client sees the PING (its pong is automatic). */
    CHECK_OK(rws_engine_send(client, conn, RWS_OPCODE_TEXT, (const uint8_t *)"ping me!", 8));
    wait_event(client, RWS_EVENT_PING, &ev, buf, sizeof buf);
    CHECK(ev.len == 3 && memcmp(buf, "srv", 3) == 0 && ev.tag == CLIENT_TAG);

    /* Retag from outside: later events carry the new tag. */
    CHECK_OK(rws_engine_set_tag(client, conn, CLIENT_TAG + 1));
    CHECK(rws_engine_set_tag(client, (uint64_t)1000 << 54, 1) == RWS_ERR_UNKNOWN_CONNECTION);
    CHECK_OK(rws_engine_send(client, conn, RWS_OPCODE_BINARY, (const uint8_t *)"bin", 3));
    wait_event(client, RWS_EVENT_BINARY, &ev, buf, sizeof buf);
    CHECK(ev.tag == CLIENT_TAG + 1);

    /* Close: the CLOSE event carries the tag on both sides. */
    CHECK_OK(rws_engine_close(client, conn, RWS_CLOSE_NORMAL, NULL, 0));
    wait_event(client, RWS_EVENT_CLOSE, &ev, NULL, 0);
    CHECK(ev.conn == conn && ev.tag == CLIENT_TAG + 1 && ev.close_code == RWS_CLOSE_NORMAL);
    for (i = 0; i < 100 && locked(&server_closes_tagged) < 2; i++) sleep_ms(10);
    /* Two server connections so far: the raw %23 upgrade and the client. */
    CHECK(locked(&server_closes_tagged) == 2);
    CHECK(locked(&server_untagged) == 0);

    /* Ids are not reused: a second connection (same thread, same slot) gets a new id. */
    CHECK_OK(rws_engine_connect(client, url, CLIENT_TAG));
    wait_event(client, RWS_EVENT_OPEN, &ev, NULL, 0);
    conn2 = ev.conn;
    CHECK(conn2 != conn);
    pthread_mutex_lock(&lock);
    CHECK(server_conn_count == 2 && server_conns[0] != server_conns[1]);
    pthread_mutex_unlock(&lock);

    /* Stop, then drain with blocking polls: the CLOSE (1001, tagged) comes, then STOPPED. */
    CHECK_OK(rws_engine_stop(client, 1000));
    {
        rws_event evs[8];
        rws_event_batch batch;
        size_t n = 0, k;
        int closes = 0, polls = 0;
        rws_result r;
        while ((r = rws_engine_poll_events(client, evs, 8, -1, &n)) == RWS_OK) {
            CHECK(++polls < 100);
            for (k = 0; k < n; k++) {
                if (evs[k].type_ == RWS_EVENT_CLOSE && evs[k].conn == conn2) {
                    CHECK(evs[k].close_code == RWS_CLOSE_GOING_AWAY && evs[k].tag == CLIENT_TAG);
                    closes++;
                }
            }
        }
        CHECK(r == RWS_ERR_STOPPED && n == 0 && closes == 1);
        CHECK_OK(rws_engine_poll_events(client, evs, 8, 0, &n));
        CHECK(n == 0);
        CHECK_OK(rws_engine_poll_events(client, evs, 8, 50, &n));
        CHECK(n == 0);
        batch.count = 99;
        CHECK(rws_engine_poll_batch(client, 8, -1, &batch) == RWS_ERR_STOPPED);
        CHECK(batch.count == 0);
    }

    rws_engine_free(client);
    rws_engine_free(server);
    printf("%d checks passed\n", checks_run);
    return 0;
}
