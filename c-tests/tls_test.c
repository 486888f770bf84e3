/* wss:// through the C ABI: a callback echo server with a plain and a TLS
 * listener, a batched client engine; trust by CA file and by PEM bytes, the
 * system store refusing the test CA (CONNECT_ERROR with 1015), a wrong
 * name, a certificate swapped while a connection stays open, error paths.
 * argv[1] is a directory holding ca.pem, cert.pem, key.pem (for localhost)
 * and ca2.pem, cert2.pem, key2.pem (another CA's), made by the Rust test. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>
#include "check.h"

static void on_message(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    CHECK_OK(rws_ctx_send(ctx, ev->type_ == RWS_EVENT_TEXT ? RWS_OPCODE_TEXT : RWS_OPCODE_BINARY, ev->data, ev->len));
}

static char *slurp(const char *dir, const char *name, size_t *len) {
    char path[1024];
    FILE *f;
    char *buf;
    long n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    n = ftell(f);
    CHECK(n > 0);
    rewind(f);
    buf = (char *)malloc((size_t)n);
    CHECK(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Waits for the next event of `tag` (10 s): copies it into `out`. */
static void next_event(rws_engine *e, uint64_t tag, rws_event *out) {
    time_t start = time(NULL);
    while (time(NULL) - start < 10) {
        rws_event ev;
        size_t n = 0;
        CHECK_OK(rws_engine_poll_events(e, &ev, 1, 100, &n));
        if (n == 1 && (ev.tag == tag || ev.type_ == RWS_EVENT_TEXT)) {
            *out = ev;
            return;
        }
    }
    CHECK(!"an event in time");
}

static uint64_t open_conn(rws_engine *e, uint64_t tag) {
    rws_event ev;
    next_event(e, tag, &ev);
    if (ev.type_ != RWS_EVENT_OPEN) fprintf(stderr, "tag %u: %.*s\n", (unsigned)tag, (int)ev.len, (const char *)ev.data);
    CHECK(ev.type_ == RWS_EVENT_OPEN);
    return ev.conn;
}

static void expect_tls_failure(rws_engine *e, uint64_t tag, const char *words) {
    rws_event ev;
    next_event(e, tag, &ev);
    if (ev.type_ != RWS_EVENT_CONNECT_ERROR || ev.close_code != 1015)
        fprintf(stderr, "tag %u: event %d, code %u: %.*s\n", (unsigned)tag, (int)ev.type_, (unsigned)ev.close_code, (int)ev.len, (const char *)ev.data);
    CHECK(ev.type_ == RWS_EVENT_CONNECT_ERROR && ev.close_code == 1015);
    CHECK(ev.len > 5 && memcmp(ev.data, "TLS: ", 5) == 0);
    if (strstr((const char *)ev.data, words) == NULL) {
        /* data is not NUL-terminated: compare within len */
        size_t i, w = strlen(words);
        int found = 0;
        for (i = 0; i + w <= ev.len; i++) found |= memcmp(ev.data + i, words, w) == 0;
        if (!found) fprintf(stderr, "expected '%s' in: %.*s\n", words, (int)ev.len, (const char *)ev.data);
        CHECK(found);
    }
}

static void echo(rws_engine *e, uint64_t conn, const char *text) {
    rws_event ev;
    CHECK_OK(rws_engine_send(e, conn, RWS_OPCODE_TEXT, (const uint8_t *)text, strlen(text)));
    next_event(e, (uint64_t)-1, &ev);
    CHECK(ev.type_ == RWS_EVENT_TEXT && ev.conn == conn && ev.len == strlen(text) && memcmp(ev.data, text, ev.len) == 0);
}

int main(int argc, char **argv) {
    const char *listen[] = {"127.0.0.1:0"};
    const char *tls_listen[] = {"127.0.0.1:0"};
    char path[1024], key_path[1024], url[128];
    rws_engine_config cfg;
    rws_callbacks cb;
    rws_engine *server, *client;
    rws_tls_server *certs;
    rws_tls_client *by_file, *by_bytes, *danger, *fresh;
    rws_tls_client_config tc;
    uint64_t first, second;
    size_t ca2_len, cert2_len, key2_len;
    char *ca2, *cert2, *key2;
    uint8_t pin[32] = {0};

    CHECK(argc == 2);
    snprintf(path, sizeof path, "%s/cert.pem", argv[1]);
    snprintf(key_path, sizeof key_path, "%s/key.pem", argv[1]);

    /* Error paths. */
    CHECK(rws_tls_server_new((const uint8_t *)"junk", 4, (const uint8_t *)"junk", 4, NULL, 0) == NULL);
    CHECK(rws_last_error_code() == RWS_ERR_INVALID_ARGUMENT);
    CHECK(rws_tls_server_new(NULL, 5, NULL, 0, NULL, 0) == NULL);
    CHECK(rws_last_error_code() == RWS_ERR_NULL);
    CHECK(rws_tls_server_new_files("/nonexistent/cert.pem", key_path) == NULL);
    CHECK(rws_last_error_code() == RWS_ERR_IO);
    CHECK(rws_tls_client_new(NULL) == NULL && rws_last_error_code() == RWS_ERR_NULL);
    rws_tls_server_free(NULL);
    rws_tls_client_free(NULL);
    CHECK_OK(rws_engine_config_init(&cfg));
    CHECK(cfg.tls_listen == NULL && cfg.tls_listen_count == 0 && cfg.tls_server == NULL);
    cfg.tls_listen = tls_listen;
    cfg.tls_listen_count = 1;
    memset(&cb, 0, sizeof cb);
    CHECK(rws_engine_start(&cfg, &cb) == NULL && rws_last_error_code() == RWS_ERR_NULL);

    /* An echo server: plain and TLS listeners. The engine keeps its share
     * of the certificates; ours stays for the swap below. */
    certs = rws_tls_server_new_files(path, key_path);
    CHECK(certs != NULL);
    cfg.listen = listen;
    cfg.listen_count = 1;
    cfg.threads = 1;
    cfg.tls_server = certs;
    cb.on_message = on_message;
    server = rws_engine_start(&cfg, &cb);
    CHECK(server != NULL);
    CHECK(rws_engine_port(server) != 0 && rws_engine_tls_port(server) != 0);
    CHECK(rws_engine_port(server) != rws_engine_tls_port(server));

    CHECK_OK(rws_engine_config_init(&cfg));
    cfg.threads = 1;
    client = rws_engine_start_batched(&cfg);
    CHECK(client != NULL && rws_engine_tls_port(client) == 0);

    snprintf(path, sizeof path, "%s/ca.pem", argv[1]);
    by_file = rws_tls_client_new_ca_file(path);
    CHECK(by_file != NULL);
    snprintf(url, sizeof url, "wss://localhost:%u/c", (unsigned)rws_engine_tls_port(server));
    CHECK_OK(rws_engine_connect_tls(client, url, 1, by_file, NULL));
    first = open_conn(client, 1);
    echo(client, first, "hello over TLS from C");

    /* The system's store does not know the test CA; a wrong name fails too. */
    CHECK_OK(rws_engine_connect(client, url, 2));
    {
        rws_event ev;
        next_event(client, 2, &ev);
        CHECK(ev.type_ == RWS_EVENT_CONNECT_ERROR);
        /* 1015 with the certificate error, unless the machine has no CA store at all */
        CHECK(ev.close_code == 1015 || ev.close_code == 0);
    }
    CHECK_OK(rws_engine_connect_tls(client, url, 3, by_file, "wrong.example"));
    expect_tls_failure(client, 3, "not valid for name");

    /* Swap in another CA's certificate from PEM bytes. */
    cert2 = slurp(argv[1], "cert2.pem", &cert2_len);
    key2 = slurp(argv[1], "key2.pem", &key2_len);
    ca2 = slurp(argv[1], "ca2.pem", &ca2_len);
    CHECK(rws_tls_server_set_cert(certs, (const uint8_t *)"junk", 4, (const uint8_t *)key2, key2_len) == RWS_ERR_INVALID_ARGUMENT);
    CHECK_OK(rws_tls_server_set_cert(certs, (const uint8_t *)cert2, cert2_len, (const uint8_t *)key2, key2_len));
    rws_tls_server_free(certs); /* the engine keeps serving with its share */
    memset(&tc, 0, sizeof tc);
    tc.ca_pem = (const uint8_t *)ca2;
    tc.ca_pem_len = ca2_len;
    by_bytes = rws_tls_client_new(&tc);
    CHECK(by_bytes != NULL);
    /* A fresh configuration: `by_file` holds a session the server would
     * resume (resumption skips certificates; the old session stays valid). */
    fresh = rws_tls_client_new_ca_file(path);
    CHECK(fresh != NULL);
    CHECK_OK(rws_engine_connect_tls(client, url, 4, fresh, NULL));
    expect_tls_failure(client, 4, "UnknownIssuer");
    rws_tls_client_free(fresh);
    CHECK_OK(rws_engine_connect_tls(client, url, 5, by_bytes, NULL));
    second = open_conn(client, 5);
    echo(client, second, "new certificate");
    echo(client, first, "the old connection is still open");

    /* A pin that matches nothing refuses; the dangerous option accepts. */
    tc.pins_sha256 = pin;
    tc.pin_count = 1;
    rws_tls_client_free(by_bytes);
    by_bytes = rws_tls_client_new(&tc);
    CHECK(by_bytes != NULL);
    CHECK_OK(rws_engine_connect_tls(client, url, 6, by_bytes, NULL));
    expect_tls_failure(client, 6, "pinned");
    memset(&tc, 0, sizeof tc);
    tc.danger_accept_invalid_certs = true;
    danger = rws_tls_client_new(&tc);
    CHECK(danger != NULL);
    CHECK_OK(rws_engine_connect_tls(client, url, 7, danger, "anything.example"));
    echo(client, open_conn(client, 7), "no checks");

    rws_tls_client_free(by_file);
    rws_tls_client_free(by_bytes);
    rws_tls_client_free(danger);
    free(ca2);
    free(cert2);
    free(key2);
    rws_engine_free(client);
    rws_engine_free(server);
    printf("tls_test: %d checks passed\n", checks_run);
    return 0;
}
