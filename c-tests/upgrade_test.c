/* Upgrade decisions and backpressure through the C ABI, seen from a raw TCP
 * client that reads the server's HTTP answer byte for byte:
 * - callback engine: on_upgrade checks Origin (403 before any 101), picks an
 *   offered subprotocol, adds a response header; reserved headers and
 *   unoffered subprotocols are refused;
 * - batched engine with decide_upgrades: UPGRADE events answered from the
 *   polling thread (reject, accept with a subprotocol and a header), and an
 *   unanswered one dropped at the handshake timeout;
 * - backpressure (callback and batched): a client that never reads makes the
 *   buffered amount pass max_buffered -> BACKPRESSURE, seen also by
 *   rws_engine_buffered_amount from another thread; reading -> DRAIN. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

#define MAX_BUFFERED (256u << 10)

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- a raw client ---- */

static int dial(uint16_t port) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

static void send_request(int fd, const char *path, const char *origin, const char *protocols) {
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     path, origin, protocols);
    CHECK(n > 0 && (size_t)n < sizeof req);
    CHECK(write(fd, req, (size_t)n) == n);
}

/* Reads until the blank line ending the response head (or EOF, or 5 s);
 * returns the head, NUL-terminated, in `buf`. */
static size_t read_head(int fd, char *buf, size_t cap) {
    size_t have = 0;
    time_t start = time(NULL);
    while (have + 1 < cap && time(NULL) - start < 5) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&p, 1, 100) <= 0) continue;
        n = read(fd, buf + have, 1); /* byte by byte: nothing past the head */
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = 0;
        if (have >= 4 && memcmp(buf + have - 4, "\r\n\r\n", 4) == 0) break;
    }
    buf[have] = 0;
    return have;
}

/* Whether the server closed the socket within `ms` (reading what comes). */
static int closed_within(int fd, int ms) {
    char scratch[4096];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        long elapsed;
        clock_gettime(CLOCK_MONOTONIC, &t);
        elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (elapsed > ms) return 0;
        if (poll(&p, 1, 50) > 0 && read(fd, scratch, sizeof scratch) <= 0) return 1;
    }
}

/* ---- callback engine: on_upgrade ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int upgrades_seen, opens_seen;

static void on_upgrade(void *user, rws_upgrade *up) {
    size_t len = 0, i, n, nlen, vlen;
    const uint8_t *origin, *path, *peer, *name, *value;
    int found_origin = 0;
    (void)user;
    pthread_mutex_lock(&lock);
    upgrades_seen++;
    pthread_mutex_unlock(&lock);
    CHECK(rws_upgrade_conn(up) != 0);
    path = rws_upgrade_path(up, &len);
    CHECK(len == 7 && memcmp(path, "/up?x=1", 7) == 0);
    peer = rws_upgrade_peer(up, &len);
    CHECK(len > 10 && memcmp(peer, "127.0.0.1:", 10) == 0);
    /* Iteration sees Origin too, whatever its case. */
    n = rws_upgrade_header_count(up);
    CHECK(n >= 6);
    for (i = 0; i < n; i++) {
        CHECK_OK(rws_upgrade_header_at(up, i, &name, &nlen, &value, &vlen));
        if (nlen == 6 && memcmp(name, "Origin", 6) == 0) found_origin = 1;
    }
    CHECK(found_origin);
    CHECK(rws_upgrade_header_at(up, n, &name, &nlen, &value, &vlen) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_upgrade_header(up, "x-absent", &len) == NULL);
    origin = rws_upgrade_header(up, "origin", &len);
    CHECK(origin != NULL);
    if (len != 20 || memcmp(origin, "https://good.example", 20) != 0) {
        CHECK(rws_upgrade_reject(up, 200, NULL, 0) == RWS_ERR_INVALID_ARGUMENT);
        CHECK_OK(rws_upgrade_reject(up, 403, (const uint8_t *)"bad origin", 10));
        return;
    }
    /* Offered: "chat.v1, chat.v2"; choose the second. */
    CHECK(rws_upgrade_protocol_count(up) == 2);
    value = rws_upgrade_protocol_at(up, 1, &len);
    CHECK(len == 7 && memcmp(value, "chat.v2", 7) == 0);
    CHECK(rws_upgrade_protocol_at(up, 2, &len) == NULL);
    CHECK(rws_upgrade_accept(up, "chat.v9") == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_upgrade_accept(up, "chat.v2"));
    CHECK(rws_upgrade_add_header(up, "Sec-WebSocket-Protocol", "chat.v1") == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_upgrade_add_header(up, "upgrade", "x") == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_upgrade_add_header(up, "X-Bad", "a\r\nInjected: 1") == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_upgrade_add_header(up, "X-Served-By", "c-test"));
}

static void on_open_count(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    (void)ctx;
    (void)ev;
    pthread_mutex_lock(&lock);
    opens_seen++;
    pthread_mutex_unlock(&lock);
}

static int locked(int *v) {
    int x;
    pthread_mutex_lock(&lock);
    x = *v;
    pthread_mutex_unlock(&lock);
    return x;
}

static void callback_upgrades(void) {
    rws_engine_config cfg;
    rws_callbacks cb;
    const char *listen[] = {"127.0.0.1:0"};
    rws_engine *e;
    char head[4096];
    int fd;
    CHECK_OK(rws_engine_config_init(&cfg));
    cfg.listen = listen;
    cfg.listen_count = 1;
    cfg.threads = 1;
    memset(&cb, 0, sizeof cb);
    cb.on_upgrade = on_upgrade;
    cb.on_open = on_open_count;
    e = rws_engine_start(&cfg, &cb);
    CHECK(e != NULL);

    /* A page of another site: 403, no 101, the socket closes, no OPEN. */
    fd = dial(rws_engine_port(e));
    send_request(fd, "/up?x=1", "https://evil.example", "chat.v1, chat.v2");
    read_head(fd, head, sizeof head);
    CHECK(strncmp(head, "HTTP/1.1 403 ", 13) == 0);
    CHECK(strstr(head, "101") == NULL);
    CHECK(closed_within(fd, 2000));
    close(fd);
    CHECK(locked(&opens_seen) == 0);

    /* The right origin: 101 with the chosen subprotocol and the added header. */
    fd = dial(rws_engine_port(e));
    send_request(fd, "/up?x=1", "https://good.example", "chat.v1, chat.v2");
    read_head(fd, head, sizeof head);
    CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
    CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: chat.v2\r\n") != NULL);
    CHECK(strstr(head, "\r\nX-Served-By: c-test\r\n") != NULL);
    CHECK(strstr(head, "Injected") == NULL);
    {
        time_t start = time(NULL);
        while (locked(&opens_seen) < 1 && time(NULL) - start < 5) sleep_ms(1);
    }
    CHECK(locked(&opens_seen) == 1 && locked(&upgrades_seen) == 2);
    close(fd);
    rws_engine_free(e);
}

/* ---- batched engine: decide_upgrades ---- */

/* Polls until an event of `type` comes (5 s limit); copies it to `out`. */
static int wait_event(rws_engine *e, rws_event_type type, rws_event *out, uint8_t *data, size_t cap) {
    time_t start = time(NULL);
    while (time(NULL) - start < 5) {
        rws_event evs[16];
        size_t n = 0, i;
        CHECK_OK(rws_engine_poll_events(e, evs, 16, 50, &n));
        for (i = 0; i < n; i++) {
            if (evs[i].type_ != type) continue;
            *out = evs[i];
            if (data) {
                CHECK(evs[i].len < cap);
                memcpy(data, evs[i].data, evs[i].len);
                data[evs[i].len] = 0;
                out->data = data;
            }
            return 1;
        }
    }
    return 0;
}

static void batched_upgrades(void) {
    rws_engine_config cfg;
    const char *listen[] = {"127.0.0.1:0"};
    const char *headers[] = {"X-Batched", "yes", "Cache-Control", "no-store"};
    const char *reserved[] = {"Sec-WebSocket-Accept", "x"};
    rws_engine *e;
    rws_event ev;
    uint8_t data[4096];
    char head[4096];
    int fd, fd2;
    CHECK_OK(rws_engine_config_init(&cfg));
    CHECK(cfg.decide_upgrades == false);
    cfg.listen = listen;
    cfg.listen_count = 1;
    cfg.threads = 1;
    cfg.decide_upgrades = true;
    cfg.handshake_timeout_ms = 400;
    e = rws_engine_start_batched(&cfg);
    CHECK(e != NULL);

    /* Rejected on the Origin carried in the raw head. */
    fd = dial(rws_engine_port(e));
    send_request(fd, "/b", "https://evil.example", "chat.v1, chat.v2");
    CHECK(wait_event(e, RWS_EVENT_UPGRADE, &ev, data, sizeof data));
    CHECK(strncmp((const char *)data, "GET /b HTTP/1.1\r\n", 17) == 0);
    CHECK(strstr((const char *)data, "\r\nOrigin: https://evil.example\r\n") != NULL);
    CHECK(memcmp(data + ev.len - 4, "\r\n\r\n", 4) == 0);
    CHECK(rws_engine_reject_upgrade(e, ev.conn, 101, NULL, 0) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_engine_reject_upgrade(e, ev.conn, 403, (const uint8_t *)"bad origin", 10));
    read_head(fd, head, sizeof head);
    CHECK(strncmp(head, "HTTP/1.1 403 ", 13) == 0);
    CHECK(closed_within(fd, 2000));
    close(fd);

    /* Accepted with a subprotocol and headers; OPEN follows. */
    fd = dial(rws_engine_port(e));
    send_request(fd, "/b", "https://good.example", "chat.v1, chat.v2");
    CHECK(wait_event(e, RWS_EVENT_UPGRADE, &ev, data, sizeof data));
    /* Nothing is written before the host answers. */
    {
        struct pollfd p = {fd, POLLIN, 0};
        CHECK(poll(&p, 1, 100) == 0);
    }
    CHECK(rws_engine_accept_upgrade(e, ev.conn, NULL, reserved, 1) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_engine_accept_upgrade(e, ev.conn, "chat.v2", headers, 2));
    read_head(fd, head, sizeof head);
    CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
    CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: chat.v2\r\n") != NULL);
    CHECK(strstr(head, "\r\nX-Batched: yes\r\n") != NULL);
    CHECK(strstr(head, "\r\nCache-Control: no-store\r\n") != NULL);
    {
        uint64_t conn = ev.conn;
        CHECK(wait_event(e, RWS_EVENT_OPEN, &ev, NULL, 0));
        CHECK(ev.conn == conn);
    }

    /* Never answered: dropped at the handshake timeout, with no 101. */
    fd2 = dial(rws_engine_port(e));
    send_request(fd2, "/late", "https://good.example", "chat.v1");
    CHECK(wait_event(e, RWS_EVENT_UPGRADE, &ev, data, sizeof data));
    CHECK(closed_within(fd2, 3000));
    /* An answer after that is ignored (the connection is gone). */
    CHECK_OK(rws_engine_accept_upgrade(e, ev.conn, NULL, NULL, 0));
    close(fd2);
    close(fd);
    rws_engine_free(e);
}

/* ---- backpressure ---- */

struct query {
    rws_engine *e;
    uint64_t conn;
    size_t amount;
    rws_result result;
};

static void *query_thread(void *arg) {
    struct query *q = arg;
    q->result = rws_engine_buffered_amount(q->e, q->conn, &q->amount);
    return NULL;
}

/* The buffered amount of `conn`, asked from a thread of our own. */
static size_t buffered_elsewhere(rws_engine *e, uint64_t conn) {
    pthread_t t;
    struct query q = {e, conn, 0, RWS_ERR_PANIC};
    CHECK(pthread_create(&t, NULL, query_thread, &q) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_OK(q.result);
    return q.amount;
}

static int reading_flag;
static void *reader_thread(void *arg) {
    int fd = *(int *)arg;
    char buf[1 << 16];
    while (locked(&reading_flag)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0 && read(fd, buf, sizeof buf) <= 0) break;
    }
    return NULL;
}

static int open_ws(uint16_t port) {
    char head[4096];
    int fd = dial(port);
    int small = 16 << 10;
    /* A small receive window, so the server's queue grows sooner. */
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    send_request(fd, "/bp", "https://good.example", "chat.v1");
    read_head(fd, head, sizeof head);
    CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
    return fd;
}

static uint8_t chunk[64 << 10];
static uint64_t cb_conn;
static size_t cb_backpressure_amount;
static int cb_backpressures, cb_drains;

static void bp_open(void *user, rws_ctx *ctx, const rws_event *ev) {
    int i;
    (void)user;
    (void)ev;
    pthread_mutex_lock(&lock);
    cb_conn = rws_ctx_conn(ctx);
    pthread_mutex_unlock(&lock);
    /* 8 MiB queued at once: far past max_buffered and any socket buffer. */
    for (i = 0; i < 128; i++) CHECK_OK(rws_ctx_send(ctx, RWS_OPCODE_BINARY, chunk, sizeof chunk));
}

static void bp_backpressure(void *user, rws_ctx *ctx, const rws_event *ev) {
    uint64_t amount;
    (void)user;
    CHECK(ev->type_ == RWS_EVENT_BACKPRESSURE && ev->len == sizeof amount);
    memcpy(&amount, ev->data, sizeof amount);
    CHECK(amount > MAX_BUFFERED);
    CHECK(rws_ctx_buffered_amount(ctx) == amount);
    pthread_mutex_lock(&lock);
    cb_backpressures++;
    cb_backpressure_amount = (size_t)amount;
    pthread_mutex_unlock(&lock);
}

static void bp_drain(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    (void)ev;
    CHECK(rws_ctx_buffered_amount(ctx) == 0);
    pthread_mutex_lock(&lock);
    cb_drains++;
    pthread_mutex_unlock(&lock);
}

static void wait_until(int *v, int want) {
    time_t start = time(NULL);
    while (locked(v) < want && time(NULL) - start < 10) sleep_ms(1);
    CHECK(locked(v) >= want);
}

static void backpressure_config(rws_engine_config *cfg, const char **listen) {
    CHECK_OK(rws_engine_config_init(cfg));
    cfg->listen = listen;
    cfg->listen_count = 1;
    cfg->threads = 1;
    cfg->backpressure = RWS_BACKPRESSURE_NOTIFY;
    cfg->max_buffered = MAX_BUFFERED;
}

static void callback_backpressure(void) {
    rws_engine_config cfg;
    rws_callbacks cb;
    const char *listen[] = {"127.0.0.1:0"};
    rws_engine *e;
    pthread_t reader;
    size_t amount;
    int fd;
    backpressure_config(&cfg, listen);
    memset(&cb, 0, sizeof cb);
    cb.on_open = bp_open;
    cb.on_backpressure = bp_backpressure;
    cb.on_drain = bp_drain;
    e = rws_engine_start(&cfg, &cb);
    CHECK(e != NULL);
    fd = open_ws(rws_engine_port(e));
    wait_until(&cb_backpressures, 1);
    amount = buffered_elsewhere(e, cb_conn);
    CHECK(amount > MAX_BUFFERED);
    CHECK(amount <= 128u * sizeof chunk + 128u * 14);
    CHECK(locked(&cb_drains) == 0);
    /* The client reads: the queue drains. */
    reading_flag = 1;
    CHECK(pthread_create(&reader, NULL, reader_thread, &fd) == 0);
    wait_until(&cb_drains, 1);
    CHECK(buffered_elsewhere(e, cb_conn) == 0);
    CHECK(locked(&cb_backpressures) == 1);
    pthread_mutex_lock(&lock);
    reading_flag = 0;
    pthread_mutex_unlock(&lock);
    CHECK(pthread_join(reader, NULL) == 0);
    close(fd);
    rws_engine_free(e);
}

static void batched_backpressure(void) {
    rws_engine_config cfg;
    const char *listen[] = {"127.0.0.1:0"};
    rws_engine *e;
    rws_event ev;
    pthread_t reader;
    uint64_t conn, amount = 0;
    size_t sent = 0, after;
    int fd, got = 0;
    backpressure_config(&cfg, listen);
    e = rws_engine_start_batched(&cfg);
    CHECK(e != NULL);
    fd = open_ws(rws_engine_port(e));
    CHECK(wait_event(e, RWS_EVENT_OPEN, &ev, NULL, 0));
    conn = ev.conn;
    /* Send until the engine says the queue passed max_buffered (64 MiB at most). */
    while (!got && sent < (64u << 20)) {
        rws_event evs[16];
        size_t n = 0, i;
        CHECK_OK(rws_engine_send(e, conn, RWS_OPCODE_BINARY, chunk, sizeof chunk));
        sent += sizeof chunk;
        CHECK_OK(rws_engine_poll_events(e, evs, 16, 0, &n));
        for (i = 0; i < n; i++) {
            CHECK(evs[i].type_ != RWS_EVENT_DRAIN);
            if (evs[i].type_ != RWS_EVENT_BACKPRESSURE) continue;
            CHECK(evs[i].conn == conn && evs[i].len == sizeof amount);
            memcpy(&amount, evs[i].data, sizeof amount);
            got = 1;
        }
    }
    CHECK(got);
    CHECK(amount > MAX_BUFFERED);
    after = buffered_elsewhere(e, conn);
    CHECK(after > MAX_BUFFERED && after <= sent);
    reading_flag = 1;
    CHECK(pthread_create(&reader, NULL, reader_thread, &fd) == 0);
    CHECK(wait_event(e, RWS_EVENT_DRAIN, &ev, NULL, 0));
    CHECK(ev.conn == conn);
    CHECK(buffered_elsewhere(e, conn) == 0);
    pthread_mutex_lock(&lock);
    reading_flag = 0;
    pthread_mutex_unlock(&lock);
    CHECK(pthread_join(reader, NULL) == 0);
    close(fd);
    /* Gone: the query names no open connection. */
    CHECK(wait_event(e, RWS_EVENT_CLOSE, &ev, NULL, 0));
    CHECK(rws_engine_buffered_amount(e, conn, &after) == RWS_ERR_UNKNOWN_CONNECTION);
    CHECK(rws_engine_buffered_amount(e, conn, NULL) == RWS_ERR_NULL);
    rws_engine_free(e);
}

int main(void) {
    callback_upgrades();
    batched_upgrades();
    callback_backpressure();
    batched_backpressure();
    printf("upgrade_test: %d checks passed\n", checks_run);
    return 0;
}
