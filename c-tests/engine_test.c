/* The engine through the C ABI: a C echo server (callbacks, 2 threads) and C
 * clients (a batched engine) talking to each other: echo, broadcast,
 * publish/subscribe, close codes both ways, graceful stop, error paths. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "check.h"

#define CLIENTS 20
#define SUBSCRIBERS 5
#define MESSAGES 10

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int server_opens, server_closes, server_close_4001, server_close_1001;

static void on_open(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    if (ev->len == 6 && memcmp(ev->data, "/ticks", 6) == 0) CHECK_OK(rws_ctx_subscribe(ctx, "ticks"));
    pthread_mutex_lock(&lock);
    server_opens++;
    pthread_mutex_unlock(&lock);
}

static void on_message(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    CHECK(rws_ctx_conn(ctx) == ev->conn);
    CHECK_OK(rws_ctx_send(ctx, ev->type_ == RWS_EVENT_TEXT ? RWS_OPCODE_TEXT : RWS_OPCODE_BINARY, ev->data, ev->len));
}

static void on_close(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    CHECK(ctx == NULL);
    pthread_mutex_lock(&lock);
    server_closes++;
    if (ev->close_code == 4001) server_close_4001++;
    if (ev->close_code == 1001) server_close_1001++;
    pthread_mutex_unlock(&lock);
}

static int locked_read(int *v) {
    int x;
    pthread_mutex_lock(&lock);
    x = *v;
    pthread_mutex_unlock(&lock);
    return x;
}

/* Polls the client engine until `want` events of `type` arrived (10 s limit),
 * applying `each` to every event. Returns how many arrived. */
typedef void (*visit_fn)(const rws_event *ev, void *arg);
static int wait_events(rws_engine *e, rws_event_type type, int want, visit_fn each, void *arg) {
    rws_event evs[64];
    int got = 0;
    time_t start = time(NULL);
    while (got < want && time(NULL) - start < 10) {
        size_t n = 0, i;
        CHECK_OK(rws_engine_poll_events(e, evs, 64, 100, &n));
        for (i = 0; i < n; i++) {
            if (each) each(&evs[i], arg);
            if (evs[i].type_ == type) got++;
        }
    }
    return got;
}

static uint64_t client_ids[CLIENTS + SUBSCRIBERS];
static int echoes_ok;

static void on_client_event(const rws_event *ev, void *arg) {
    rws_engine *clients = (rws_engine *)arg;
    if (ev->type_ == RWS_EVENT_OPEN) {
        int i;
        char msg[32];
        client_ids[ev->tag] = ev->conn;
        if (ev->tag >= CLIENTS) return; /* subscribers only listen */
        for (i = 0; i < MESSAGES; i++) {
            int n = sprintf(msg, "%d:%d", (int)ev->tag, i);
            CHECK_OK(rws_engine_send(clients, ev->conn, RWS_OPCODE_TEXT, (const uint8_t *)msg, (size_t)n));
        }
    } else if (ev->type_ == RWS_EVENT_TEXT) {
        echoes_ok += ev->len >= 3 && memchr(ev->data, ':', ev->len) != NULL;
    } else if (ev->type_ == RWS_EVENT_CONNECT_ERROR) {
        fprintf(stderr, "connect error: %.*s\n", (int)ev->len, (const char *)ev->data);
        exit(1);
    }
}

static void count_ticks(const rws_event *ev, void *arg) {
    int *ticks = (int *)arg;
    if ((ev->type_ == RWS_EVENT_TEXT || ev->type_ == RWS_EVENT_BINARY) && ev->len == 4 && memcmp(ev->data, "tick", 4) == 0) (*ticks)++;
}

static void expect_close(const rws_event *ev, void *arg) {
    if (ev->type_ == RWS_EVENT_CLOSE) CHECK(ev->close_code == *(uint16_t *)arg);
}

/* A batched server whose consumer falls behind: past max_queued_bytes the
 * engine stops reading, so the queue stays near the cap while the sender's
 * bytes wait in TCP; every message still arrives, in order, through
 * rws_engine_poll_batch's columns. */
#define FLOOD 4000
#define FLOOD_SIZE 1000
#define QUEUE_CAP 65536
static void flow_control_test(void) {
    const char *listen[] = {"127.0.0.1:0"};
    rws_engine_config cfg;
    rws_engine *server, *client;
    rws_event ev;
    rws_event_batch b;
    uint8_t msg[FLOOD_SIZE];
    uint64_t conn = 0;
    size_t n, i, first_batch = 0;
    uint32_t next = 0;
    char url[64];
    time_t start;
    struct timespec pause = {0, 300000000};

    CHECK_OK(rws_engine_config_init(&cfg));
    CHECK(cfg.max_queued_bytes == 64u << 20);
    cfg.listen = listen;
    cfg.listen_count = 1;
    cfg.threads = 1;
    cfg.max_queued_bytes = QUEUE_CAP;
    server = rws_engine_start_batched(&cfg);
    CHECK(server != NULL);
    CHECK_OK(rws_engine_config_init(&cfg));
    cfg.threads = 1;
    client = rws_engine_start_batched(&cfg);
    CHECK(client != NULL);
    CHECK(rws_engine_poll_batch(server, 1, 0, NULL) == RWS_ERR_NULL);

    sprintf(url, "ws://127.0.0.1:%u/flood", (unsigned)rws_engine_port(server));
    CHECK_OK(rws_engine_connect(client, url, 7));
    start = time(NULL);
    while (conn == 0 && time(NULL) - start < 10) {
        CHECK_OK(rws_engine_poll_events(client, &ev, 1, 100, &n));
        if (n == 1 && ev.type_ == RWS_EVENT_OPEN) conn = ev.conn;
    }
    CHECK(conn != 0);
    for (i = 0; i < FLOOD; i++) {
        uint32_t seq = (uint32_t)i;
        memset(msg, (int)(i & 0xff), sizeof msg);
        memcpy(msg, &seq, sizeof seq);
        CHECK_OK(rws_engine_send(client, conn, RWS_OPCODE_BINARY, msg, sizeof msg));
    }
    nanosleep(&pause, NULL); /* the server reads until the cap, then stops */

    start = time(NULL);
    while (next < FLOOD && time(NULL) - start < 20) {
        size_t bytes;
        CHECK_OK(rws_engine_poll_batch(server, 100000, 100, &b));
        bytes = b.count ? (size_t)(b.offsets[b.count] - b.offsets[0]) : 0;
        if (first_batch == 0 && b.count > 1) first_batch = bytes;
        for (i = 0; i < b.count; i++) {
            const uint8_t *p = b.data + b.offsets[i];
            size_t len = (size_t)(b.offsets[i + 1] - b.offsets[i]);
            uint32_t seq;
            if (b.types[i] == RWS_EVENT_OPEN) {
                CHECK(len == 6 && memcmp(p, "/flood", 6) == 0);
                continue;
            }
            CHECK(b.types[i] == RWS_EVENT_BINARY && len == FLOOD_SIZE && b.close_codes[i] == 0 && b.tags[i] == 0);
            memcpy(&seq, p, sizeof seq);
            CHECK(seq == next);
            CHECK(p[FLOOD_SIZE - 1] == (uint8_t)(next & 0xff));
            next++;
        }
    }
    CHECK(next == FLOOD);
    /* The cap, plus what the reads that crossed it brought (64 KiB each). */
    CHECK(first_batch > 0 && first_batch <= QUEUE_CAP + 2 * 65536);
    CHECK_OK(rws_engine_pause_reading(server, b.conns[0]));
    CHECK_OK(rws_engine_resume_reading(server, b.conns[0]));
    rws_engine_free(client);
    rws_engine_free(server);
}

/* A zeroed config (no rws_engine_config_init) takes every default: a 0
 * buffer limit must not drop connections, a 0 timeout must not mean "never"
 * or "at once". A callback that frees its own engine is refused, and the
 * engine goes on serving. */
static rws_engine *zero_server;
static int zero_free_refused;

static void echo_and_free(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    rws_engine_free(zero_server); /* from a callback: must do nothing */
    if (rws_last_error_code() == RWS_ERR_INVALID_ARGUMENT) {
        pthread_mutex_lock(&lock);
        zero_free_refused++;
        pthread_mutex_unlock(&lock);
    }
    CHECK_OK(rws_ctx_send(ctx, RWS_OPCODE_BINARY, ev->data, ev->len));
}

static void zero_config_test(void) {
    const char *listen[] = {"127.0.0.1:0"};
    static uint8_t big[100000];
    rws_engine_config cfg;
    rws_callbacks cb;
    rws_engine *client;
    rws_event evs[16];
    uint64_t conn = 0;
    int echoes = 0, i;
    char url[64];
    time_t start;

    memset(&cfg, 0, sizeof cfg);
    cfg.listen = listen;
    cfg.listen_count = 1;
    cfg.threads = 1;
    memset(&cb, 0, sizeof cb);
    cb.on_message = echo_and_free;
    zero_server = rws_engine_start(&cfg, &cb);
    CHECK(zero_server != NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.threads = 1;
    client = rws_engine_start_batched(&cfg);
    CHECK(client != NULL);
    sprintf(url, "ws://127.0.0.1:%u/", (unsigned)rws_engine_port(zero_server));
    CHECK_OK(rws_engine_connect(client, url, 1));
    memset(big, 'z', sizeof big);
    start = time(NULL);
    while (echoes < 3 && time(NULL) - start < 10) {
        size_t n = 0, k;
        CHECK_OK(rws_engine_poll_events(client, evs, 16, 100, &n));
        for (k = 0; k < n; k++) {
            if (evs[k].type_ == RWS_EVENT_OPEN) {
                conn = evs[k].conn;
                for (i = 0; i < 3; i++) CHECK_OK(rws_engine_send(client, conn, RWS_OPCODE_BINARY, big, sizeof big));
            }
            CHECK(evs[k].type_ != RWS_EVENT_CLOSE); /* nothing is dropped */
            if (evs[k].type_ == RWS_EVENT_BINARY) {
                CHECK(evs[k].len == sizeof big);
                echoes++;
            }
        }
    }
    CHECK(echoes == 3);
    CHECK(locked_read(&zero_free_refused) == 3);
    rws_engine_free(client);
    rws_engine_free(zero_server);
}

int main(void) {
    const char *listen[] = {"127.0.0.1:0"};
    const char *bad_listen[] = {"not an address"};
    rws_engine_config cfg;
    rws_callbacks cb;
    rws_engine *server, *clients;
    char url[64];
    int i, ticks = 0;
    uint16_t expected;
    rws_event ev;
    size_t n;

    CHECK_OK(rws_engine_config_init(&cfg));
    cfg.listen = bad_listen;
    cfg.listen_count = 1;
    memset(&cb, 0, sizeof cb);
    CHECK(rws_engine_start(&cfg, &cb) == NULL);
    CHECK(rws_last_error_code() == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_engine_start(NULL, &cb) == NULL);
    CHECK(rws_last_error_code() == RWS_ERR_NULL);

    cfg.listen = listen;
    cfg.threads = 2;
    cb.on_open = on_open;
    cb.on_message = on_message;
    cb.on_close = on_close;
    server = rws_engine_start(&cfg, &cb);
    CHECK(server != NULL && rws_engine_port(server) != 0);
    CHECK(rws_engine_poll_events(server, &ev, 1, 0, &n) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_engine_event_fd(server) == -1);

    CHECK_OK(rws_engine_config_init(&cfg));
    cfg.threads = 1;
    clients = rws_engine_start_batched(&cfg);
    CHECK(clients != NULL && rws_engine_event_fd(clients) >= 0);
    CHECK(rws_engine_connect(clients, "http://nope", 1) == RWS_ERR_INVALID_ARGUMENT);

    /* Echo: CLIENTS connections, MESSAGES each. */
    sprintf(url, "ws://127.0.0.1:%u/", (unsigned)rws_engine_port(server));
    for (i = 0; i < CLIENTS; i++) CHECK_OK(rws_engine_connect(clients, url, (uint64_t)i));
    sprintf(url, "ws://127.0.0.1:%u/ticks", (unsigned)rws_engine_port(server));
    for (i = CLIENTS; i < CLIENTS + SUBSCRIBERS; i++) CHECK_OK(rws_engine_connect(clients, url, (uint64_t)i));
    CHECK(wait_events(clients, RWS_EVENT_TEXT, CLIENTS * MESSAGES, on_client_event, clients) == CLIENTS * MESSAGES);
    CHECK(echoes_ok == CLIENTS * MESSAGES);
    while (locked_read(&server_opens) < CLIENTS + SUBSCRIBERS) { struct timespec t = {0, 10000000}; nanosleep(&t, NULL); }

    /* Broadcast reaches everyone; publish reaches the subscribers only. */
    CHECK_OK(rws_engine_broadcast(server, RWS_OPCODE_TEXT, (const uint8_t *)"tick", 4));
    CHECK(wait_events(clients, RWS_EVENT_TEXT, CLIENTS + SUBSCRIBERS, count_ticks, &ticks) == CLIENTS + SUBSCRIBERS);
    ticks = 0;
    CHECK_OK(rws_engine_publish(server, "ticks", RWS_OPCODE_BINARY, (const uint8_t *)"tick", 4));
    CHECK(wait_events(clients, RWS_EVENT_BINARY, SUBSCRIBERS, count_ticks, &ticks) == SUBSCRIBERS);
    CHECK(rws_engine_publish(server, "ticks", RWS_OPCODE_TEXT, (const uint8_t *)"\xff", 1) == RWS_ERR_UTF8);

    /* A client closes with 4001: both sides see the code. */
    expected = 4001;
    CHECK_OK(rws_engine_close(clients, client_ids[0], 4001, (const uint8_t *)"done", 4));
    CHECK(rws_engine_close(clients, client_ids[1], 1005, NULL, 0) == RWS_ERR_INVALID_ARGUMENT);
    CHECK(wait_events(clients, RWS_EVENT_CLOSE, 1, expect_close, &expected) == 1);
    while (locked_read(&server_close_4001) < 1) { struct timespec t = {0, 10000000}; nanosleep(&t, NULL); }

    /* Graceful stop: every other client hears 1001 Going Away. */
    CHECK_OK(rws_engine_stop(server, 2000));
    expected = 1001;
    CHECK(wait_events(clients, RWS_EVENT_CLOSE, CLIENTS + SUBSCRIBERS - 1, expect_close, &expected) == CLIENTS + SUBSCRIBERS - 1);
    CHECK(locked_read(&server_closes) == CLIENTS + SUBSCRIBERS);
    CHECK(locked_read(&server_close_1001) == CLIENTS + SUBSCRIBERS - 1);
    CHECK(rws_engine_send(server, client_ids[2], RWS_OPCODE_TEXT, (const uint8_t *)"x", 1) == RWS_ERR_STOPPED);
    CHECK_OK(rws_engine_stop(server, 0)); /* twice is fine */
    rws_engine_free(server);
    rws_engine_free(clients);
    rws_engine_free(NULL);
    flow_control_test();
    zero_config_test();
    printf("engine_test: %d checks passed\n", checks_run);
    return 0;
}
