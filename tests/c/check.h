/* Tiny assertion helpers for the C tests. */
#ifndef TORVYN_TEST_CHECK_H
#define TORVYN_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "torvyn.h"

/* Expect `call` (which takes &err last) to return `want`, with a message
 * containing `needle` when it fails. */
#define EXPECT_STATUS(want, needle, call)                                                        \
    do {                                                                                         \
        torvyn_error *err_ = NULL;                                                               \
        torvyn_error **errp_ = &err_;                                                            \
        torvyn_status got_ = (call);                                                             \
        (void)errp_;                                                                             \
        if (got_ != (want)) {                                                                    \
            fprintf(stderr, "%s:%d: %s returned %d, want %d: %s\n", __FILE__, __LINE__, #call,   \
                    (int)got_, (int)(want), err_ ? torvyn_error_message(err_) : "(no error)");   \
            exit(1);                                                                             \
        }                                                                                        \
        if ((want) != TORVYN_STATUS_OK) {                                                        \
            if (!err_ || torvyn_error_status(err_) != (want) ||                                  \
                !strstr(torvyn_error_message(err_), (needle))) {                                 \
                fprintf(stderr, "%s:%d: %s: error message lacks \"%s\": %s\n", __FILE__,          \
                        __LINE__, #call, (needle), err_ ? torvyn_error_message(err_) : "(null)"); \
                exit(1);                                                                         \
            }                                                                                    \
        } else if (err_ != NULL) {                                                               \
            fprintf(stderr, "%s:%d: success left an error object\n", __FILE__, __LINE__);        \
            exit(1);                                                                             \
        }                                                                                        \
        torvyn_error_free(err_);                                                                 \
    } while (0)

#define ERR (errp_)

#endif
