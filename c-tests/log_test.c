/* Logging through rws_set_log_callback: a peer that breaks the protocol
 * (unmasked frames from a client) is logged once, at INFO, naming the
 * connection id the OPEN event gave, however many bad frames it sends; a
 * higher threshold filters it out; a NULL callback turns logging off; an
 * unknown level is refused. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char logged[4096];
static int records, info_records;

static void on_log(void *user, rws_log_level level, const char *target, const char *message, size_t len) {
    CHECK(user == (void *)&records);
    CHECK(strlen(message) == len);
    CHECK(strncmp(target, "rocwebsocket", 12) == 0);
    pthread_mutex_lock(&lock);
    records++;
    if (level == RWS_LOG_INFO) info_records++;
    if (strlen(logged) + len + 2 < sizeof logged) {
        strcat(logged, message);
        strcat(logged, "\n");
    }
    pthread_mutex_unlock(&lock);
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Opens a TCP connection to the engine, upgrades it, sends `bad` unmasked
 * text frames, and waits for the server to fail it (reads to EOF). Returns
 * the connection id the batched engine's OPEN event carried. */
static uint64_t misbehave(rws_engine *server, int bad) {
    struct sockaddr_in addr;
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    char buf[1024];
    rws_event ev;
    size_t n = 0;
    uint64_t id = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), i;
    time_t start;
    CHECK(fd >= 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(rws_engine_port(server));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    CHECK(read(fd, buf, sizeof buf) > 12 && memcmp(buf, "HTTP/1.1 101", 12) == 0);
    start = time(NULL);
    while (id == 0 && time(NULL) - start < 10) {
        CHECK_OK(rws_engine_poll_events(server, &ev, 1, 100, &n));
        if (n == 1 && ev.type_ == RWS_EVENT_OPEN) id = ev.conn;
    }
    CHECK(id != 0);
    for (i = 0; i < bad; i++) {
        /* Unmasked, from a client: a protocol error (1002). Later frames meet a failed
         * connection; the peer may already have closed, so a write may fail. */
        if (send(fd, "\x81\x02hi", 4, MSG_NOSIGNAL) != 4) break;
    }
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
    return id;
}

static int count_lines_with(const char *needle) {
    int count = 0;
    const char *p = logged;
    pthread_mutex_lock(&lock);
    while ((p = strstr(p, needle)) != NULL) {
        count++;
        p += strlen(needle);
    }
    pthread_mutex_unlock(&lock);
    return count;
}

int main(void) {
    const char *listen[1] = {"127.0.0.1:0"};
    rws_engine_config config;
    rws_engine *server;
    uint64_t id;
    char needle[64];
    int i;

    CHECK(rws_set_log_callback(9, on_log, &records) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_set_log_callback(RWS_LOG_INFO, on_log, &records));

    CHECK_OK(rws_engine_config_init(&config));
    config.listen = listen;
    config.listen_count = 1;
    config.threads = 1;
    server = rws_engine_start_batched(&config);
    CHECK(server != NULL);

    id = misbehave(server, 50);
    snprintf(needle, sizeof needle, "connection %llu: failed with 1002", (unsigned long long)id);
    for (i = 0; i < 100 && count_lines_with(needle) == 0; i++) sleep_ms(20);
    sleep_ms(100); /* a second record, if any, would come now */
    CHECK(count_lines_with(needle) == 1);
    CHECK(info_records >= 1);

    /* Above the threshold: nothing about the next bad connection. */
    CHECK_OK(rws_set_log_callback(RWS_LOG_WARN, on_log, &records));
    id = misbehave(server, 3);
    snprintf(needle, sizeof needle, "connection %llu:", (unsigned long long)id);
    sleep_ms(100);
    CHECK(count_lines_with(needle) == 0);

    /* Off: no callback at all. */
    CHECK_OK(rws_set_log_callback(RWS_LOG_TRACE, NULL, NULL));
    pthread_mutex_lock(&lock);
    records = 0;
    pthread_mutex_unlock(&lock);
    misbehave(server, 3);
    sleep_ms(100);
    pthread_mutex_lock(&lock);
    CHECK(records == 0);
    pthread_mutex_unlock(&lock);

    rws_engine_free(server);
    printf("%d checks passed\n", checks_run);
    return 0;
}
