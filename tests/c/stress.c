/* Create and free hosts, flows and buffers many times; the process's
 * resident memory must not grow. Arguments: repository root, iterations.
 * Prints the resident set size after a warm-up and at the end. */
#include "check.h"

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * 4;
}

static void once(const char *manifest, int i) {
    torvyn_host *host = NULL;
    torvyn_pipeline *p = NULL;
    torvyn_flow *flow = NULL;
    torvyn_buffer *buf = NULL;
    char record[32];
    int n = snprintf(record, sizeof record, "record %d", i);
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_new(NULL, &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_file(manifest, &p, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, p, NULL, &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_push(flow, "input", (const uint8_t *)record, (size_t)n, "text/plain", -1, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_close_input(flow, "input", ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_next(flow, "output", 10000, &buf, ERR));
    const uint8_t *data;
    size_t len;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_borrow(buf, &data, &len, ERR));
    if (len != (size_t)n || memcmp(data, "RECORD", 6) != 0) exit(1);
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_release(buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_END_OF_STREAM, "end of its stream", torvyn_flow_next(flow, "output", 10000, &buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_wait(flow, 10000, ERR));
    char *summary = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_summary_json(flow, &summary, ERR));
    torvyn_string_free(summary);
    torvyn_flow_free(flow);
    torvyn_pipeline_free(p);
    torvyn_host_free(host);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/examples/embed", argv[1]);
    int iterations = atoi(argv[2]);
    int warmup = iterations / 5;
    long before = 0;
    for (int i = 0; i < iterations; i++) {
        once(manifest, i);
        if (i + 1 == warmup) before = rss_kib();
    }
    long after = rss_kib();
    printf("iterations %d\nrss_after_warmup_kib %ld\nrss_at_end_kib %ld\ngrowth_kib %ld\n", iterations, before, after, after - before);
    return 0;
}
