/* Metrics from C: push N records through examples/embed, then read the
 * flow's metrics as JSON, the host's as JSON and Prometheus text, and
 * change the level. Prints the documents for the Rust side to check.
 * Arguments: repository root, N. */
#include "check.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/examples/embed", argv[1]);
    int n = atoi(argv[2]);
    torvyn_host *host = NULL;
    torvyn_pipeline *p = NULL;
    torvyn_flow *flow = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_new(NULL, &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_file(manifest, &p, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "traceparent `00-x` is not valid", torvyn_flow_start_traced(host, p, NULL, "00-x", &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start_traced(host, p, NULL, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "is not one of TORVYN_OBSERVABILITY_OFF", torvyn_flow_set_observability_level(flow, 7, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_set_observability_level(flow, TORVYN_OBSERVABILITY_DIAGNOSTIC, ERR));
    for (int i = 0; i < n; i++) {
        char record[32];
        int len = snprintf(record, sizeof record, "record %d", i);
        EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_push(flow, "input", (const uint8_t *)record, (size_t)len, "text/plain", -1, ERR));
        torvyn_buffer *buf = NULL;
        EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_next(flow, "output", 10000, &buf, ERR));
        EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_release(buf, ERR));
    }
    /* While it runs: the host counts it active. */
    char *host_json = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_metrics_json(host, &host_json, ERR));
    printf("host-running %s\n", host_json);
    torvyn_string_free(host_json);
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_close_input(flow, "input", ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_wait(flow, 10000, ERR));
    char *json = NULL, *text = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_metrics_json(flow, &json, ERR));
    printf("flow %s\n", json);
    torvyn_string_free(json);
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "out_json", torvyn_flow_metrics_json(flow, NULL, ERR));
    char *trace = NULL;
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "out_json", torvyn_flow_trace_json(flow, NULL, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_trace_json(flow, &trace, ERR));
    printf("trace %s\n", trace);
    torvyn_string_free(trace);
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "", torvyn_host_metrics_text(NULL, &text, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_metrics_text(host, &text, ERR));
    /* One line for the Rust side: newlines as '|'. */
    for (char *c = text; *c; c++) if (*c == '\n') *c = '|';
    printf("text %s\n", text);
    torvyn_string_free(text);
    torvyn_flow_free(flow);
    torvyn_pipeline_free(p);
    torvyn_host_free(host);
    return 0;
}
