/* Every misuse of the C API returns the right status with a message and
 * never crashes. Argument: the repository root. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

static char path[4096];

static const char *at(const char *rel, const char *root) {
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return path;
}

struct canceller {
    torvyn_flow *flow;
};

static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    torvyn_flow_cancel(c->flow, NULL);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *root = argv[1];
    torvyn_host *host = NULL;
    torvyn_pipeline *embed = NULL;
    torvyn_flow *flow = NULL;
    torvyn_buffer *buf = NULL;

    /* Null handles and out-parameters. */
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "out_host", torvyn_host_new(NULL, NULL, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "torvyn_flow handle is null", torvyn_flow_wait(NULL, 0, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "torvyn_host handle is null", torvyn_flow_start(NULL, NULL, NULL, &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`path` is null", torvyn_pipeline_load_file(NULL, &embed, ERR));
    torvyn_host_free(NULL);
    torvyn_flow_free(NULL);
    torvyn_pipeline_free(NULL);
    torvyn_error_free(NULL);
    torvyn_string_free(NULL);
    printf("ok null handles\n");

    /* Options: bad struct size, bad JSON key. */
    torvyn_host_options opts;
    torvyn_host_options_init(&opts);
    opts.struct_size = 4;
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "struct_size", torvyn_host_new(&opts, &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "unknown key `threads`", torvyn_host_new_json("{\"threads\": 2}", &host, ERR));
    /* Every option is checked against its range before anything is reserved. */
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`queue_depth` is 4000000000; allowed: 1 to 1048576",
                  torvyn_host_new_json("{\"queue_depth\": 4000000000}", &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`memory_limit` is 8589934592; allowed: 1 MiB to 4 GiB",
                  torvyn_host_new_json("{\"memory_limit\": 8589934592}", &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`worker_threads` is 100000; allowed: 1 to 256",
                  torvyn_host_new_json("{\"worker_threads\": 100000}", &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`observability_level` is 9",
                  torvyn_host_new_json("{\"observability_level\": 9}", &host, ERR));
    torvyn_host_options_init(&opts);
    opts.memory_limit = 1000;
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`memory_limit` is 1000", torvyn_host_new(&opts, &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_new_json("{\"worker_threads\": 2, \"queue_depth\": 2}", &host, ERR));
    printf("ok options\n");

    /* Manifests: missing file, bad key located by line, contract mismatch. */
    torvyn_pipeline *bad = NULL;
    EXPECT_STATUS(TORVYN_STATUS_NOT_FOUND, "cannot read manifest", torvyn_pipeline_load_file(at("no/such/Torvyn.toml", root), &bad, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "manifest:2:1: `flow.main.nodes.a.colour`: unknown key",
                  torvyn_pipeline_load_toml("[flow.main.nodes.a]\ncolour = 1\n", NULL, &bad, ERR));
    snprintf(path, sizeof path,
             "[flow.main.nodes.a]\ncomponent = \"%s/examples/components/wasm/printing-sink.wasm\"\ninterface = \"torvyn:streaming/source\"\n"
             "[flow.main.nodes.b]\nendpoint = \"egress\"\n[[flow.main.edges]]\nfrom = \"a\"\nto = \"b\"\n",
             root);
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_toml(path, NULL, &bad, ERR));
    EXPECT_STATUS(TORVYN_STATUS_CONTRACT_MISMATCH, "is declared torvyn:streaming/source", torvyn_flow_start(host, bad, NULL, &flow, ERR));
    torvyn_pipeline_free(bad);
    printf("ok manifests\n");

    /* Endpoints: wrong port, would block, timeout, double release, use after release, push after close. */
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_file(at("examples/embed", root), &embed, ERR));
    size_t count = 0;
    char *name = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_flow_count(embed, &count, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_flow_name(embed, 0, &name, ERR));
    if (count != 1 || strcmp(name, "main") != 0) return 1;
    torvyn_string_free(name);
    torvyn_string_free(name); /* already freed: ignored */
    EXPECT_STATUS(TORVYN_STATUS_NOT_FOUND, "out of range", torvyn_pipeline_flow_name(embed, 7, &name, ERR));
    EXPECT_STATUS(TORVYN_STATUS_NOT_FOUND, "no flow named `nope`", torvyn_flow_start(host, embed, "nope", &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, embed, "main", &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_NOT_FOUND, "no ingress named `inptu`", torvyn_flow_push(flow, "inptu", (const uint8_t *)"x", 1, NULL, 0, ERR));
    EXPECT_STATUS(TORVYN_STATUS_NOT_FOUND, "no egress named `input`", torvyn_flow_next(flow, "input", 0, &buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "`data` is null", torvyn_flow_push(flow, "input", NULL, 3, NULL, 0, ERR));
    EXPECT_STATUS(TORVYN_STATUS_TIMEOUT, "within", torvyn_flow_next(flow, "output", 0, &buf, ERR));
    /* Fill the flow (queues of 2) until the ingress refuses. */
    torvyn_status st = TORVYN_STATUS_OK;
    int pushed = 0;
    for (int i = 0; i < 1000 && st == TORVYN_STATUS_OK; i++) {
        torvyn_error *err = NULL;
        st = torvyn_flow_push(flow, "input", (const uint8_t *)"abc", 3, "text/plain", 0, &err);
        if (st == TORVYN_STATUS_OK) pushed++;
        else if (st != TORVYN_STATUS_WOULD_BLOCK || !strstr(torvyn_error_message(err), "is full")) return 1;
        torvyn_error_free(err);
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (st != TORVYN_STATUS_WOULD_BLOCK || pushed > 8) {
        fprintf(stderr, "backpressure did not reach the program (pushed %d)\n", pushed);
        return 1;
    }
    EXPECT_STATUS(TORVYN_STATUS_TIMEOUT, "stayed full", torvyn_flow_push(flow, "input", (const uint8_t *)"abc", 3, NULL, 20, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_next(flow, "output", 5000, &buf, ERR));
    const uint8_t *data = NULL;
    size_t len = 0;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_borrow(buf, &data, &len, ERR));
    if (len != 3 || memcmp(data, "ABC", 3) != 0) return 1;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_buffer_release(buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_STALE_HANDLE, "not live", torvyn_buffer_release(buf, ERR));
    EXPECT_STATUS(TORVYN_STATUS_STALE_HANDLE, "not live", torvyn_buffer_borrow(buf, &data, &len, ERR));
    EXPECT_STATUS(TORVYN_STATUS_STALE_HANDLE, "not live", torvyn_buffer_sequence(buf, (uint64_t *)&len, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "is not a torvyn_buffer", torvyn_buffer_release((torvyn_buffer *)flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_STALE_HANDLE, "not live", torvyn_buffer_release((torvyn_buffer *)(uintptr_t)0x0400000000001234ull, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_close_input(flow, "input", ERR));
    EXPECT_STATUS(TORVYN_STATUS_CLOSED, "was closed", torvyn_flow_push(flow, "input", (const uint8_t *)"x", 1, NULL, 0, ERR));
    int drained = 1;
    for (;;) {
        torvyn_error *err = NULL;
        st = torvyn_flow_next(flow, "output", 5000, &buf, &err);
        torvyn_error_free(err);
        if (st != TORVYN_STATUS_OK) break;
        torvyn_buffer_release(buf, NULL);
        drained++;
    }
    if (st != TORVYN_STATUS_END_OF_STREAM || drained != pushed) {
        fprintf(stderr, "drained %d of %d, last status %d\n", drained, pushed, (int)st);
        return 1;
    }
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_wait(flow, 5000, ERR));
    torvyn_flow_state state;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_get_state(flow, &state, ERR));
    if (state != TORVYN_FLOW_COMPLETED) return 1;
    torvyn_flow_free(flow);
    EXPECT_STATUS(TORVYN_STATUS_STALE_HANDLE, "not live", torvyn_flow_wait(flow, 0, ERR));
    torvyn_flow_free(flow); /* double free: ignored */
    printf("ok endpoints\n");

    /* A trapping component; cancel from another thread while this one waits. */
    snprintf(path, sizeof path,
             "[flow.main.nodes.in]\nendpoint = \"ingress\"\n[flow.main.nodes.bad]\ncomponent = \"%s/examples/components/wasm/faulty-processor.wasm\"\n"
             "config = '{\"trap_at\": 0}'\n[flow.main.nodes.out]\nendpoint = \"egress\"\n"
             "[[flow.main.edges]]\nfrom = \"in\"\nto = \"bad\"\n[[flow.main.edges]]\nfrom = \"bad\"\nto = \"out\"\n",
             root);
    torvyn_pipeline *trap = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_toml(path, NULL, &trap, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, trap, NULL, &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_push(flow, "in", (const uint8_t *)"boom", 4, NULL, -1, ERR));
    EXPECT_STATUS(TORVYN_STATUS_TRAP, "node `bad`", torvyn_flow_wait(flow, 10000, ERR));
    torvyn_flow_free(flow);
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, trap, NULL, &flow, ERR));
    struct canceller c = {flow};
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, &c);
    EXPECT_STATUS(TORVYN_STATUS_CANCELLED, "cancelled", torvyn_flow_wait(flow, -1, ERR));
    pthread_join(t, NULL);
    EXPECT_STATUS(TORVYN_STATUS_CANCELLED, "cancelled", torvyn_flow_push(flow, "in", (const uint8_t *)"x", 1, NULL, 0, ERR));
    torvyn_flow_free(flow);
    torvyn_pipeline_free(trap);
    printf("ok trap and cancel\n");

    /* A shut-down host refuses new flows; its handle stays safe to use. */
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_shutdown(host, 10000, ERR));
    EXPECT_STATUS(TORVYN_STATUS_CLOSED, "shut down", torvyn_flow_start(host, embed, NULL, &flow, ERR));
    torvyn_host_free(host);
    EXPECT_STATUS(TORVYN_STATUS_STALE_HANDLE, "not live", torvyn_flow_start(host, embed, NULL, &flow, ERR));
    torvyn_host_free(host); /* double free: ignored */
    torvyn_pipeline_free(embed);
    printf("ok shutdown\n");
    return 0;
}
