/* A market-data feed client in C: one connection with reconnect (backoff
 * with jitter), an application keepalive ({"op":"ping"} answered by
 * {"op":"pong"}), the exchange's own pings ({"ping":N}) answered inside the
 * engine, and RTT pings; it subscribes again on every (re)open and checks
 * that sequence numbers only grow.
 *
 *   feed_client URL RECONNECTS   (e.g. against `rocws exchange-sim`)
 *
 * Runs until the connection has been re-established RECONNECTS times and
 * data flowed after the last one, then prints a summary line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rocwebsocket.h"

#define TAG 7

static int fail(const char *what) {
    char msg[256];
    rws_last_error_message(msg, sizeof msg);
    fprintf(stderr, "feed_client: %s: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: feed_client URL RECONNECTS\n");
        return 2;
    }
    long want = strtol(argv[2], NULL, 10);
    rws_engine_config cfg;
    rws_engine_config_init(&cfg);
    cfg.threads = 1;
    rws_engine *e = rws_engine_start_batched(&cfg);
    if (!e) return fail("start");

    static const char ping[] = "{\"op\":\"ping\"}", pong[] = "{\"op\":\"pong\"}";
    rws_auto_reply exchange_ping = {
        (const uint8_t *)"{\"ping\":", 8, (const uint8_t *)"}", 1, 20,
        (const uint8_t *)"{\"pong\":", 8, (const uint8_t *)"}", 1,
    };
    rws_connect_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.tag = TAG;
    o.reconnect = 1;
    o.reconnect_initial_ms = 50;
    o.reconnect_max_ms = 1000;
    o.keepalive_payload = (const uint8_t *)ping;
    o.keepalive_payload_len = strlen(ping);
    o.keepalive_reply = (const uint8_t *)pong;
    o.keepalive_reply_len = strlen(pong);
    o.keepalive_interval_ms = 100;
    o.keepalive_deadline_ms = 1000;
    o.auto_replies = &exchange_ping;
    o.auto_reply_count = 1;
    o.rtt_ping_interval_ms = 100;
    if (rws_engine_connect_opts(e, argv[1], &o) != RWS_OK) return fail("connect");

    long reconnects = 0, messages = 0, since_open = 0;
    unsigned long long last_seq = 0;
    uint64_t conn = 0;
    int status = 0;
    while (status == 0 && !(reconnects >= want && since_open >= 20)) {
        rws_event evs[64];
        size_t n = 0;
        if (rws_engine_poll_events(e, evs, 64, 5000, &n) != RWS_OK) return fail("poll");
        if (n == 0) {
            fprintf(stderr, "feed_client: nothing for 5 s\n");
            status = 1;
        }
        for (size_t i = 0; i < n; i++) {
            rws_event *ev = &evs[i];
            uint32_t attempt;
            uint64_t down_ms;
            switch (ev->type_) {
            case RWS_EVENT_OPEN:
                conn = ev->conn;
                since_open = 0;
                if (rws_engine_reconnect_info(e, conn, &attempt, &down_ms)) {
                    reconnects++;
                    printf("reconnected: attempt %u after %llu ms down\n", attempt,
                           (unsigned long long)down_ms);
                }
                rws_engine_send(e, conn, RWS_OPCODE_TEXT,
                                (const uint8_t *)"{\"op\":\"subscribe\"}", 18);
                break;
            case RWS_EVENT_TEXT: {
                char text[128];
                size_t len = ev->len < sizeof text - 1 ? ev->len : sizeof text - 1;
                unsigned long long seq;
                memcpy(text, ev->data, len);
                text[len] = 0;
                if (strstr(text, "ping") || strstr(text, "pong")) {
                    fprintf(stderr, "feed_client: a ping reached the application: %s\n", text);
                    status = 1;
                } else if (sscanf(text, "{\"seq\":%llu}", &seq) == 1) {
                    if (seq <= last_seq) {
                        fprintf(stderr, "feed_client: seq %llu after %llu\n", seq, last_seq);
                        status = 1;
                    }
                    last_seq = seq;
                    messages++;
                    since_open++;
                }
                break;
            }
            case RWS_EVENT_CLOSE:
                printf("closed: %u\n", (unsigned)ev->close_code);
                break;
            case RWS_EVENT_CONNECT_ERROR:
                fprintf(stderr, "feed_client: gave up\n");
                status = 1;
                break;
            default:
                break;
            }
        }
    }
    rws_conn_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    /* The exchange may have cut it just now: then there are no statistics. */
    int have_stats = rws_engine_conn_stats(e, conn, &st) == RWS_OK;
    rws_engine_stop_reconnecting(e, TAG);
    rws_engine_close(e, conn, 1000, NULL, 0);
    rws_engine_free(e);
    if (status == 0) printf("feed: %ld messages, %ld reconnects, last seq %llu\n", messages, reconnects, last_seq);
    if (status == 0 && have_stats)
        printf("rtt: app %llu us, websocket %llu us (averages)\n",
               (unsigned long long)st.app_rtt_avg_us, (unsigned long long)st.ws_rtt_avg_us);
    return status;
}
