/* A tiny assertion helper for the C tests: prints the failing line and the
 * library's last error, then exits non-zero. */
#ifndef ROCWS_CHECK_H
#define ROCWS_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include "rocwebsocket.h"

static int checks_run = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks_run++;                                                            \
        if (!(cond)) {                                                           \
            char msg_[256];                                                      \
            rws_last_error_message(msg_, sizeof msg_);                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #cond, msg_);                            \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define CHECK_OK(expr) CHECK((expr) == RWS_OK)

#endif
