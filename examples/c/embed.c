/* Push the program's own records through a Wasm processor and read the
 * results back, zero-copy, from an egress.
 *
 *   embed <embed-manifest-folder> [records]
 *
 * A producer thread pushes records into ingress `input` (blocking while the
 * flow is full: backpressure reaches the program); the main thread takes
 * elements from egress `output` and reads each payload in place. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torvyn.h"

struct producer {
    torvyn_flow *flow;
    int records;
    int failed;
};

static void *produce(void *arg) {
    struct producer *p = arg;
    char line[64];
    for (int i = 0; i < p->records; i++) {
        int n = snprintf(line, sizeof line, "record %d from c", i);
        torvyn_error *err = NULL;
        if (torvyn_flow_push(p->flow, "input", (const uint8_t *)line, (size_t)n, "text/plain", -1, &err) != TORVYN_STATUS_OK) {
            fprintf(stderr, "push %d: %s\n", i, torvyn_error_message(err));
            torvyn_error_free(err);
            p->failed = 1;
            break;
        }
    }
    torvyn_flow_close_input(p->flow, "input", NULL);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <embed-manifest-folder> [records]\n", argv[0]);
        return 2;
    }
    int records = argc > 2 ? atoi(argv[2]) : 5;
    torvyn_error *err = NULL;
    torvyn_host *host = NULL;
    torvyn_pipeline *pipeline = NULL;
    torvyn_flow *flow = NULL;
    if (torvyn_host_new(NULL, &host, &err) != TORVYN_STATUS_OK ||
        torvyn_pipeline_load_file(argv[1], &pipeline, &err) != TORVYN_STATUS_OK ||
        torvyn_flow_start(host, pipeline, "main", &flow, &err) != TORVYN_STATUS_OK) {
        fprintf(stderr, "setup failed: %s\n", torvyn_error_message(err));
        torvyn_error_free(err);
        return 1;
    }

    struct producer p = {flow, records, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, produce, &p);

    int received = 0;
    for (;;) {
        torvyn_buffer *buffer = NULL;
        torvyn_status st = torvyn_flow_next(flow, "output", 10000, &buffer, &err);
        if (st == TORVYN_STATUS_END_OF_STREAM) {
            torvyn_error_free(err);
            break;
        }
        if (st != TORVYN_STATUS_OK) {
            fprintf(stderr, "next: %s\n", torvyn_error_message(err));
            torvyn_error_free(err);
            break;
        }
        const uint8_t *data = NULL;
        size_t len = 0;
        uint64_t seq = 0;
        const char *content_type = NULL;
        torvyn_buffer_borrow(buffer, &data, &len, NULL);
        torvyn_buffer_sequence(buffer, &seq, NULL);
        torvyn_buffer_content_type(buffer, &content_type, NULL);
        printf("%llu %s %.*s\n", (unsigned long long)seq, content_type, (int)len, (const char *)data);
        torvyn_buffer_release(buffer, NULL);
        received++;
    }
    pthread_join(thread, NULL);

    torvyn_status waited = torvyn_flow_wait(flow, 10000, NULL);
    char *summary = NULL;
    torvyn_flow_summary_json(flow, &summary, NULL);
    printf("received %d\nsummary %s\n", received, summary ? summary : "{}");
    torvyn_string_free(summary);
    torvyn_flow_free(flow);
    torvyn_pipeline_free(pipeline);
    torvyn_host_free(host);
    return (waited == TORVYN_STATUS_OK && received == records && !p.failed) ? 0 : 1;
}
