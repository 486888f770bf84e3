/* A minimal rocwebsocket echo server in C.
 *
 *   cc -std=c99 -Iinclude examples/c/echo_server.c target/release/librocwebsocket.a \
 *      -lpthread -ldl -lm -o echo_server
 *   ./echo_server 127.0.0.1:9001
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include "rocwebsocket.h"

/* Runs on an engine thread; `ev->data` is valid only during the call. */
static void on_message(void *user, rws_ctx *ctx, const rws_event *ev) {
    uint8_t opcode = ev->type_ == RWS_EVENT_TEXT ? RWS_OPCODE_TEXT : RWS_OPCODE_BINARY;
    (void)user;
    rws_ctx_send(ctx, opcode, ev->data, ev->len);
}

static void on_close(void *user, rws_ctx *ctx, const rws_event *ev) {
    (void)user;
    (void)ctx;
    printf("connection %llu closed: %u %s\n", (unsigned long long)ev->conn,
           (unsigned)ev->close_code, rws_close_code_name(ev->close_code));
}

int main(int argc, char **argv) {
    const char *listen[1];
    rws_engine_config config;
    rws_callbacks callbacks = {0};
    rws_engine *engine;
    sigset_t stop_signals;
    int sig;

    listen[0] = argc > 1 ? argv[1] : "127.0.0.1:9001";
    rws_engine_config_init(&config);
    config.listen = listen;
    config.listen_count = 1;
    callbacks.on_message = on_message;
    callbacks.on_close = on_close;

    /* Block SIGINT/SIGTERM before the engine starts its threads, then wait for one. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    engine = rws_engine_start(&config, &callbacks);
    if (engine == NULL) {
        char why[256];
        rws_last_error_message(why, sizeof why);
        fprintf(stderr, "cannot start: %s\n", why);
        return 1;
    }
    printf("echo server on %s (Ctrl-C stops)\n", listen[0]);
    fflush(stdout);
    sigwait(&stop_signals, &sig);
    rws_engine_stop(engine, 2000); /* 1001 Going Away to everyone, then wait */
    rws_engine_free(engine);
    return 0;
}
