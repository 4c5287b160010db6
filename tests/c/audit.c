/* Grants and the audit trail from C: a probe that imports clocks, files and
 * sockets is refused until granted through torvyn_pipeline_grant; its
 * connect outside the grant reaches the host's audit callback and the
 * flow's audit JSON. Prints what the Rust side checks.
 * Arguments: repository root, a TCP port nobody is granted. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int denials = 0;
static int freed = 0;

static void on_event(void *user_data, const char *json) {
    (void)user_data;
    pthread_mutex_lock(&lock);
    if (strstr(json, "\"kind\":\"cap_denied_runtime\"") && strstr(json, "\"capability\":\"network:tcp-connect\"")) {
        denials++;
        printf("callback %s\n", json);
    }
    pthread_mutex_unlock(&lock);
}

static void on_free(void *user_data) {
    (void)user_data;
    freed = 1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    char toml[8192];
    snprintf(toml, sizeof toml,
             "[flow.main.nodes.src]\ncomponent = \"%s/examples/components/wasm/counting-source.wasm\"\nconfig = '{\"count\": 2}'\n\n"
             "[flow.main.nodes.probe]\ncomponent = \"%s/examples/components/wasm/wasi-probe.wasm\"\nconfig = '{\"connect\": \"127.0.0.1:%s\"}'\n\n"
             "[flow.main.nodes.sink]\ncomponent = \"%s/examples/components/wasm/printing-sink.wasm\"\n\n"
             "[[flow.main.edges]]\nfrom = \"src\"\nto = \"probe\"\n\n[[flow.main.edges]]\nfrom = \"probe\"\nto = \"sink\"\n",
             argv[1], argv[1], argv[2], argv[1]);
    torvyn_host *host = NULL;
    torvyn_pipeline *p = NULL;
    torvyn_flow *flow = NULL;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_new(NULL, &host, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_load_toml(toml, NULL, &p, ERR));
    /* Nothing granted: refused before it runs. */
    EXPECT_STATUS(TORVYN_STATUS_CONTRACT_MISMATCH, "imports wasi:clocks/monotonic-clock", torvyn_flow_start(host, p, "main", &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "did you mean `clock:wall`", torvyn_pipeline_grant(p, "probe", "clock:wal", ERR));
    EXPECT_STATUS(TORVYN_STATUS_NOT_FOUND, "no node or component named `nobody`", torvyn_pipeline_grant(p, "nobody", "clock:wall", ERR));
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "", torvyn_pipeline_grant(NULL, "probe", "clock:wall", ERR));
    const char *grants[] = {"clock:wall", "clock:monotonic", "filesystem", "network:tcp-connect:192.0.2.1:9"};
    for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++) {
        EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_pipeline_grant(p, "probe", grants[i], ERR));
    }
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "", torvyn_host_set_audit_callback(NULL, on_event, NULL, on_free, ERR));
    if (!freed) { fprintf(stderr, "user_data_free not called on a failed set\n"); return 1; }
    freed = 0;
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_set_audit_callback(host, on_event, NULL, on_free, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_start(host, p, "main", &flow, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_wait(flow, 60000, ERR));
    char *json = NULL;
    EXPECT_STATUS(TORVYN_STATUS_INVALID_ARGUMENT, "out_json", torvyn_flow_audit_json(flow, NULL, ERR));
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_flow_audit_json(flow, &json, ERR));
    printf("trail %s\n", json);
    torvyn_string_free(json);
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&lock);
        int seen = denials;
        pthread_mutex_unlock(&lock);
        if (seen > 0) break;
        struct timespec ten_ms = {0, 10000000};
        nanosleep(&ten_ms, NULL);
    }
    printf("denials %d\n", denials);
    torvyn_flow_free(flow);
    torvyn_pipeline_free(p);
    /* A NULL callback stops delivery for new flows. */
    EXPECT_STATUS(TORVYN_STATUS_OK, "", torvyn_host_set_audit_callback(host, NULL, NULL, NULL, ERR));
    torvyn_host_free(host);
    return 0;
}
