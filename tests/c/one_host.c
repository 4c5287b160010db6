/* Run many flows one after another on ONE host (issue 9, item 4): an ended
 * flow whose last handle is freed must be forgotten by its host, so the
 * process's resident memory stays flat. Arguments: repository root and,
 * optionally, the number of flows (default 10000). Each flow pushes a
 * 64 KiB payload through examples/embed and checks the upper-cased result.
 * Prints the resident set size after the first tenth of the flows and at
 * the end; exits 1 if it grew by 16 MiB or more. */
#include "check.h"

#define PAYLOAD_LEN (64 * 1024)
#define MAX_GROWTH_KIB (16 * 1024)

/* VmRSS from /proc/self/status, in KiB. */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static uint8_t payload[PAYLOAD_LEN];
static uint8_t expected[PAYLOAD_LEN];

static void one_flow(torvyn_host *host, const torvyn_pipeline *p, int i) {
    torvyn_flow *flow = NULL;
    torvyn_buffer *buf = NULL;
    for (size_t j = 0; j < PAYLOAD_LEN; j++) {
        payload[j] = (uint8_t)('a' + (i + j) % 26);
        expected[j] = (uint8_t)('A' + (i + j) % 26);
    }
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, p, NULL, &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_push(flow, "input", payload, PAYLOAD_LEN, "text/plain", 30000, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_close_input(flow, "input", ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_next(flow, "output", 30000, &buf, ERR));
    const uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_borrow(buf, &data, &len, ERR));
    if (len != PAYLOAD_LEN || memcmp(data, expected, PAYLOAD_LEN) != 0) {
        fprintf(stderr, "flow %d: got %zu bytes, not the upper-cased %d-byte payload\n", i, len, PAYLOAD_LEN);
        exit(1);
    }
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_release(buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_END_OF_STREAM, "end of its stream", torvyn_flow_next(flow, "output", 30000, &buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_wait(flow, 30000, ERR));
    torvyn_flow_free(flow);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int flows = argc > 2 ? atoi(argv[2]) : 10000;
    if (flows < 10) return 2;
    int warmup = flows / 10;
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/examples/embed", argv[1]);

    torvyn_host *host = NULL;
    torvyn_pipeline *p = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_new(NULL, &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_file(manifest, &p, ERR));
    long before = 0;
    for (int i = 0; i < flows; i++) {
        one_flow(host, p, i);
        if (i + 1 == warmup) before = rss_kib();
    }
    long after = rss_kib();
    printf("%d flows on one host: rss after %d = %ld KiB, after %d = %ld KiB, growth %ld KiB\n", flows, warmup,
           before, flows, after, after - before);
    fflush(stdout);
    torvyn_pipeline_free(p);
    torvyn_host_free(host);
    if (before <= 0 || after <= 0) {
        fprintf(stderr, "could not read VmRSS from /proc/self/status\n");
        return 1;
    }
    if (after - before >= MAX_GROWTH_KIB) {
        fprintf(stderr, "resident memory grew by %ld KiB over %d flows on one host (limit %d KiB)\n",
                after - before, flows - warmup, MAX_GROWTH_KIB);
        return 1;
    }
    return 0;
}
