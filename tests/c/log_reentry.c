/* A log callback may call Torvyn: release a buffer, push into a flow and
 * wait for its output. Records are delivered on Torvyn's log thread, never
 * on the worker that logged, so none of this can deadlock the worker.
 * Argument: the repository root. */
#include <pthread.h>
#include <time.h>

#include "check.h"

static char path[4096];
static torvyn_flow *embed_flow;
static torvyn_buffer *held;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int outcome_value; /* 0 pending, 1 ok, 2 failed */

static int outcome(void) {
    pthread_mutex_lock(&lock);
    int v = outcome_value;
    pthread_mutex_unlock(&lock);
    return v;
}

static void set_outcome(int v) {
    pthread_mutex_lock(&lock);
    outcome_value = v;
    pthread_mutex_unlock(&lock);
}

static const char *at(const char *rel, const char *root) {
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return path;
}

static void on_log(void *user, torvyn_log_level level, const char *target, const char *node, const char *message) {
    (void)user; (void)level; (void)node; (void)message;
    if (strcmp(target, "torvyn::guest") != 0 || outcome() != 0) return;
    /* Release a buffer, push, and wait for the flow (on the same worker as
     * the flow that printed) to answer. */
    int ok = torvyn_buffer_release(held, NULL) == TORVYN_STATUS_OK;
    ok = ok && torvyn_flow_push(embed_flow, "input", (const uint8_t *)"y", 1, NULL, 10000, NULL) == TORVYN_STATUS_OK;
    torvyn_buffer *buf = NULL;
    ok = ok && torvyn_flow_next(embed_flow, "output", 10000, &buf, NULL) == TORVYN_STATUS_OK;
    const uint8_t *data = NULL;
    size_t len = 0;
    ok = ok && torvyn_buffer_borrow(buf, &data, &len, NULL) == TORVYN_STATUS_OK && len == 1 && data[0] == 'Y';
    if (buf) torvyn_buffer_release(buf, NULL);
    set_outcome(ok ? 1 : 2);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *root = argv[1];
    torvyn_host *host = NULL;
    torvyn_pipeline *embed = NULL, *hello = NULL;
    torvyn_flow *hello_flow = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_new(NULL, &host, ERR)); /* one worker */
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_file(at("examples/embed", root), &embed, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_file(at("examples/hello-world", root), &hello, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, embed, NULL, &embed_flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_push(embed_flow, "input", (const uint8_t *)"x", 1, NULL, -1, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_next(embed_flow, "output", 10000, &held, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_log_set_callback(on_log, NULL, NULL, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, hello, NULL, &hello_flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_wait(hello_flow, 30000, ERR));
    for (int i = 0; i < 3000 && outcome() == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_log_set_callback(NULL, NULL, NULL, ERR));
    if (outcome() != 1) {
        fprintf(stderr, "the callback could not use Torvyn (outcome %d)\n", outcome());
        return 1;
    }
    torvyn_flow_cancel(embed_flow, NULL);
    torvyn_flow_free(hello_flow);
    torvyn_flow_free(embed_flow);
    torvyn_pipeline_free(hello);
    torvyn_pipeline_free(embed);
    torvyn_host_free(host);
    printf("ok log callback calls torvyn\n");
    return 0;
}
