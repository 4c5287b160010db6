/* Load a manifest, run one flow to its end, print the summary as JSON.
 *
 *   run_pipeline <manifest-or-folder> [flow]
 *
 * Exit status: 0 when the flow completed, 1 otherwise. */
#include <stdio.h>
#include <string.h>

#include "torvyn.h"

static int fail(const char *what, torvyn_error *err) {
    fprintf(stderr, "%s failed (status %d): %s\n", what, (int)torvyn_error_status(err), torvyn_error_message(err));
    torvyn_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <manifest-or-folder> [flow]\n", argv[0]);
        return 2;
    }
    if (torvyn_abi_version() != TORVYN_ABI_VERSION) {
        fprintf(stderr, "libtorvyn ABI %u does not match this header's %u\n", torvyn_abi_version(), TORVYN_ABI_VERSION);
        return 1;
    }
    printf("torvyn %s\n", torvyn_version());

    torvyn_error *err = NULL;
    torvyn_host *host = NULL;
    if (torvyn_host_new(NULL, &host, &err) != TORVYN_STATUS_OK) return fail("torvyn_host_new", err);

    torvyn_pipeline *pipeline = NULL;
    if (torvyn_pipeline_load_file(argv[1], &pipeline, &err) != TORVYN_STATUS_OK) {
        torvyn_host_free(host);
        return fail("torvyn_pipeline_load_file", err);
    }

    torvyn_flow *flow = NULL;
    if (torvyn_flow_start(host, pipeline, argc > 2 ? argv[2] : NULL, &flow, &err) != TORVYN_STATUS_OK) {
        torvyn_pipeline_free(pipeline);
        torvyn_host_free(host);
        return fail("torvyn_flow_start", err);
    }

    torvyn_status waited = torvyn_flow_wait(flow, -1, &err);
    if (waited != TORVYN_STATUS_OK) {
        fprintf(stderr, "flow ended with status %d: %s\n", (int)waited, torvyn_error_message(err));
        torvyn_error_free(err);
    }

    char *summary = NULL;
    if (torvyn_flow_summary_json(flow, &summary, NULL) == TORVYN_STATUS_OK) {
        printf("%s\n", summary);
        torvyn_string_free(summary);
    }

    torvyn_flow_free(flow);
    torvyn_pipeline_free(pipeline);
    if (torvyn_host_shutdown(host, 10000, &err) != TORVYN_STATUS_OK) fail("torvyn_host_shutdown", err);
    torvyn_host_free(host);
    return waited == TORVYN_STATUS_OK ? 0 : 1;
}
