/*
 * Torvyn C API. Generated from src/ffi by cbindgen; do not edit.
 *
 * Conventions:
 * - Handles (torvyn_host, torvyn_pipeline, torvyn_flow, torvyn_buffer,
 *   torvyn_error) are opaque. A NULL, stale, freed or foreign handle gives
 *   an error status, never a crash. *_free(NULL) does nothing.
 * - Fallible functions return torvyn_status and, when out_error is not NULL,
 *   store an owned torvyn_error there on failure (NULL on success); free it
 *   with torvyn_error_free.
 * - Strings Torvyn returns as `char *` are freed with torvyn_string_free;
 *   `const char *` results are owned by the object they came from.
 * - Timeouts are in milliseconds: negative waits without limit, 0 does not wait.
 */

#ifndef TORVYN_H
#define TORVYN_H

#include <stdint.h>
#include <stddef.h>

#define TORVYN_VERSION_MAJOR 0
#define TORVYN_VERSION_MINOR 1
#define TORVYN_VERSION_PATCH 0


// `TORVYN_OBSERVABILITY_OFF`: nothing beyond the end-of-flow summary.
#define TORVYN_OBSERVABILITY_OFF 0

// `TORVYN_OBSERVABILITY_PRODUCTION`: counters and (sampled) histograms.
#define TORVYN_OBSERVABILITY_PRODUCTION 1

// `TORVYN_OBSERVABILITY_DIAGNOSTIC`: every call timed.
#define TORVYN_OBSERVABILITY_DIAGNOSTIC 2

// Version of the C ABI. It changes whenever a signature, struct layout or
// enum value of this header changes incompatibly; the Python and Go
// wrappers refuse a library whose ABI version differs from theirs.
#define TORVYN_ABI_VERSION 1

// Result of every fallible call.
typedef enum {
  // Success.
  TORVYN_STATUS_OK = 0,
  // A null, malformed or out-of-range argument, or a bad manifest.
  TORVYN_STATUS_INVALID_ARGUMENT = 1,
  // No such flow, port or file.
  TORVYN_STATUS_NOT_FOUND = 2,
  // The call would have to wait and was asked not to (timeout 0).
  TORVYN_STATUS_WOULD_BLOCK = 3,
  // The timeout passed first.
  TORVYN_STATUS_TIMEOUT = 4,
  // An egress has no more elements: the flow completed.
  TORVYN_STATUS_END_OF_STREAM = 5,
  // The flow was cancelled.
  TORVYN_STATUS_CANCELLED = 6,
  // A component trapped or overran its deadline; its flow failed.
  TORVYN_STATUS_TRAP = 7,
  // A component does not implement what its node needs.
  TORVYN_STATUS_CONTRACT_MISMATCH = 8,
  // A file could not be read.
  TORVYN_STATUS_IO = 9,
  // A panic inside Torvyn was caught at the boundary (a bug; please report).
  TORVYN_STATUS_PANIC = 10,
  // An internal error (a bug; please report).
  TORVYN_STATUS_INTERNAL = 11,
  // The handle was freed or released already, or was never issued.
  TORVYN_STATUS_STALE_HANDLE = 12,
  // The input was closed, or the host shut down.
  TORVYN_STATUS_CLOSED = 13,
  // The flow failed for another reason (see the message).
  TORVYN_STATUS_FAILED = 14,
} torvyn_status;

// Where a flow is in its life.
typedef enum {
  TORVYN_FLOW_CREATED = 0,
  TORVYN_FLOW_INITIALIZING = 1,
  TORVYN_FLOW_RUNNING = 2,
  TORVYN_FLOW_DRAINING = 3,
  TORVYN_FLOW_COMPLETED = 4,
  TORVYN_FLOW_CANCELLED = 5,
  TORVYN_FLOW_FAILED = 6,
} torvyn_flow_state;

// Severity of a log record.
typedef enum {
  TORVYN_LOG_ERROR = 1,
  TORVYN_LOG_WARN = 2,
  TORVYN_LOG_INFO = 3,
  TORVYN_LOG_DEBUG = 4,
  TORVYN_LOG_TRACE = 5,
} torvyn_log_level;

// An element taken from an egress: a borrow of a host buffer (opaque).
typedef struct torvyn_buffer torvyn_buffer;

// An error: a status and a message (opaque, owned by the caller).
typedef struct torvyn_error torvyn_error;

// A started flow (opaque).
typedef struct torvyn_flow torvyn_flow;

// A Torvyn host (opaque).
typedef struct torvyn_host torvyn_host;

// A loaded pipeline manifest (opaque).
typedef struct torvyn_pipeline torvyn_pipeline;

// Receives one audit event as a JSON object (borrowed for the call; see
// docs/security.md for its fields).
typedef void (*torvyn_audit_fn)(void *user_data, const char *event_json);

// Frees the `user_data` given with a callback once Torvyn no longer uses it.
typedef void (*torvyn_free_fn)(void *user_data);

// Options for `torvyn_host_new`. Set `struct_size = sizeof(torvyn_host_options)`
// (or call `torvyn_host_options_init`), so later versions can add fields.
// A zero field means "the default".
typedef struct {
  // `sizeof(torvyn_host_options)` as the caller compiled it.
  uint32_t struct_size;
  // Reactor threads (default 1).
  uint32_t worker_threads;
  // Ceiling on each component instance's linear memory, in bytes (default 256 MiB).
  uint64_t memory_limit;
  // Capacity of every edge queue of flows on this host, overriding the
  // manifest's `queue_depth` (default: the manifest's).
  uint32_t queue_depth;
  // Log detail sent to the log callback: 0 warnings and errors, 1 info,
  // 2 debug, 3 trace (default 0).
  uint32_t observability_level;
} torvyn_host_options;

// Receives one log record. `target` is the emitting module; guest output
// has target "torvyn::guest" and `node` set to the node that printed it
// (otherwise `node` is NULL). All strings are borrowed for the call only.
typedef void (*torvyn_log_fn)(void *user_data,
                              torvyn_log_level level,
                              const char *target,
                              const char *node,
                              const char *message);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The flow's audit trail now as a JSON array in `*out_json` (its last
// 4,096 events: every capability denial and each grant's first use per
// node). Free with `torvyn_string_free`. Thread-safe.
torvyn_status torvyn_flow_audit_json(const torvyn_flow *flow,
                                     char **out_json,
                                     torvyn_error **out_error);

// Send the audit events of flows this host starts from now on to
// `callback` (the manifest's `audit_target = "event-sink"`), replacing any
// earlier one; NULL stops it. Flows whose manifest names a file or stdout
// keep that destination.
//
// Threads: the callback runs on an audit writer thread of its own, one event
// at a time and in order, never on a worker; it may call any Torvyn
// function. Events it cannot keep up with (4,096 queued) are dropped and
// counted. `user_data_free` runs once the callback will not be called again
// (the host and the flows that used it are gone). Thread-safe.
torvyn_status torvyn_host_set_audit_callback(const torvyn_host *host,
                                             torvyn_audit_fn callback,
                                             void *user_data,
                                             torvyn_free_fn user_data_free,
                                             torvyn_error **out_error);

// A read-only view of the payload: `*out_data` points into the host buffer
// itself (no copy) and `*out_len` is its length. The view is valid until
// `torvyn_buffer_release(buffer)`; the bytes do not change meanwhile. Do
// not write through it or free it. Thread-safe.
torvyn_status torvyn_buffer_borrow(const torvyn_buffer *buffer,
                                   const uint8_t **out_data,
                                   size_t *out_len,
                                   torvyn_error **out_error);

// The element's sequence number in its stream. Thread-safe.
torvyn_status torvyn_buffer_sequence(const torvyn_buffer *buffer,
                                     uint64_t *out_sequence,
                                     torvyn_error **out_error);

// Wall-clock nanoseconds since the Unix epoch when the element entered the
// flow. Thread-safe.
torvyn_status torvyn_buffer_timestamp_ns(const torvyn_buffer *buffer,
                                         uint64_t *out_timestamp_ns,
                                         torvyn_error **out_error);

// The content type (possibly empty) in `*out_content_type`, a string owned
// by the buffer: valid until `torvyn_buffer_release`. Thread-safe.
torvyn_status torvyn_buffer_content_type(const torvyn_buffer *buffer,
                                         const char **out_content_type,
                                         torvyn_error **out_error);

// End the borrow: the buffer returns to its pool and the handle becomes
// invalid. Releasing twice, or a handle that was never issued, returns
// `TORVYN_STATUS_STALE_HANDLE` and changes nothing. Thread-safe.
torvyn_status torvyn_buffer_release(torvyn_buffer *buffer, torvyn_error **out_error);

// The status of `error`. A null or stale error gives `TORVYN_STATUS_INVALID_ARGUMENT`.
// Thread-safe.
torvyn_status torvyn_error_status(const torvyn_error *error);

// The message of `error`, UTF-8, owned by the error: valid until
// `torvyn_error_free(error)`. A null or stale error gives a static message.
// Thread-safe.
const char *torvyn_error_message(const torvyn_error *error);

// Free an error. `torvyn_error_free(NULL)` does nothing; freeing twice is
// detected and ignored. Thread-safe.
void torvyn_error_free(torvyn_error *error);

// Start flow `flow_name` of `pipeline` on `host` (NULL name: `main`, or the
// manifest's only flow). Components are compiled (cached per host) and
// checked first; an error here means nothing ran. On success `*out_flow`
// owns a new flow handle: free it with `torvyn_flow_free` (which does not
// stop the flow). Thread-safe.
torvyn_status torvyn_flow_start(torvyn_host *host,
                                const torvyn_pipeline *pipeline,
                                const char *flow_name,
                                torvyn_flow **out_flow,
                                torvyn_error **out_error);

// `torvyn_flow_start`, continuing the W3C trace `traceparent`
// (`00-<32 hex>-<16 hex>-<2 hex>`; NULL: a new trace). A malformed one is
// `TORVYN_STATUS_INVALID_ARGUMENT` and nothing starts. Thread-safe.
torvyn_status torvyn_flow_start_traced(torvyn_host *host,
                                       const torvyn_pipeline *pipeline,
                                       const char *flow_name,
                                       const char *traceparent,
                                       torvyn_flow **out_flow,
                                       torvyn_error **out_error);

// The flow's trace as JSON in `*out_json`: `trace_id`, `traceparent` (its
// root span, to pass on), `sampled`, `promoted`, and the `spans` it keeps
// (recorded at the diagnostic level, or with `tracing_enabled`). Free with
// `torvyn_string_free`. Thread-safe.
torvyn_status torvyn_flow_trace_json(const torvyn_flow *flow,
                                     char **out_json,
                                     torvyn_error **out_error);

// The flow's current state in `*out_state`. Thread-safe.
torvyn_status torvyn_flow_get_state(const torvyn_flow *flow,
                                    torvyn_flow_state *out_state,
                                    torvyn_error **out_error);

// Wait until the flow ends, up to `timeout_ms` (negative: no limit).
// Returns OK when it completed, `TORVYN_STATUS_CANCELLED` when cancelled,
// `TORVYN_STATUS_TRAP` when a component trapped or overran its deadline,
// `TORVYN_STATUS_FAILED` for any other failure (with the message), and
// `TORVYN_STATUS_TIMEOUT` if it is still running. Thread-safe; any number
// of threads may wait while another cancels.
torvyn_status torvyn_flow_wait(const torvyn_flow *flow,
                               int64_t timeout_ms,
                               torvyn_error **out_error);

// Ask the flow to stop. Returns at once; callable from any thread,
// including while another thread waits on the flow.
torvyn_status torvyn_flow_cancel(const torvyn_flow *flow, torvyn_error **out_error);

// The flow's summary as JSON in `*out_json` (elements, copies, bytes
// copied, per-stage and per-edge figures, duration_ms, error). While the
// flow runs, only `flow_id`, `flow` and `state` are present. The caller
// frees the string with `torvyn_string_free`. Thread-safe.
torvyn_status torvyn_flow_summary_json(const torvyn_flow *flow,
                                       char **out_json,
                                       torvyn_error **out_error);

// Push `len` bytes at `data` (borrowed for the call; may be NULL when len
// is 0) into the ingress node `port`: they are copied once into a pooled
// host buffer. `content_type` may be NULL. If the ingress is full, waits
// up to `timeout_ms` (0: `TORVYN_STATUS_WOULD_BLOCK` at once; negative: no
// limit; then `TORVYN_STATUS_TIMEOUT`). Thread-safe.
torvyn_status torvyn_flow_push(const torvyn_flow *flow,
                               const char *port,
                               const uint8_t *data,
                               size_t len,
                               const char *content_type,
                               int64_t timeout_ms,
                               torvyn_error **out_error);

// No more input on the ingress node `port`: the flow drains and completes.
// Later pushes return `TORVYN_STATUS_CLOSED`. Thread-safe.
torvyn_status torvyn_flow_close_input(const torvyn_flow *flow,
                                      const char *port,
                                      torvyn_error **out_error);

// Take the next element from the egress node `port`, waiting up to
// `timeout_ms` (0: do not wait; negative: no limit). On success
// `*out_buffer` owns a borrow of the host buffer: read it in place with
// `torvyn_buffer_borrow` and end it with `torvyn_buffer_release`. Returns
// `TORVYN_STATUS_END_OF_STREAM` once the flow completed and every element
// was taken, `TORVYN_STATUS_TIMEOUT` when nothing arrived in time.
// Thread-safe.
torvyn_status torvyn_flow_next(const torvyn_flow *flow,
                               const char *port,
                               int64_t timeout_ms,
                               torvyn_buffer **out_buffer,
                               torvyn_error **out_error);

// Free a flow handle. The flow itself keeps running (cancel it first to
// stop it); once it has ended and no handle to it remains, its host forgets
// it and frees everything it held. NULL does nothing; a stale handle is
// ignored. Thread-safe.
void torvyn_flow_free(torvyn_flow *flow);

// Fill `options` with defaults and the right `struct_size`. Thread-safe.
torvyn_status torvyn_host_options_init(torvyn_host_options *options);

// Create a host. `options` may be NULL for defaults. On success `*out_host`
// owns a new host: free it with `torvyn_host_free`. Thread-safe.
torvyn_status torvyn_host_new(const torvyn_host_options *options,
                              torvyn_host **out_host,
                              torvyn_error **out_error);

// Create a host from JSON options, e.g.
// `{"worker_threads": 2, "memory_limit": 268435456, "queue_depth": 64,
// "observability_level": 1, "max_instances": 1000, "pool_max_bytes": 536870912,
// "compilation_cache_dir": "/var/cache/myapp/torvyn"}` (every key optional;
// `compilation_cache_dir` is a path, `""` for no disk cache; default the
// user cache directory; unknown keys are an error; a value outside its
// range is `TORVYN_STATUS_INVALID_ARGUMENT` naming the key and the range).
// Ownership as for `torvyn_host_new`. Thread-safe.
torvyn_status torvyn_host_new_json(const char *options_json,
                                   torvyn_host **out_host,
                                   torvyn_error **out_error);

// Cancel every flow of `host`, tear its components down and stop its
// threads, waiting up to `timeout_ms` (negative: no limit). The host handle
// stays valid (it refuses new flows) until `torvyn_host_free`. Returns
// `TORVYN_STATUS_TIMEOUT` if a worker did not stop in time. Thread-safe.
torvyn_status torvyn_host_shutdown(torvyn_host *host, int64_t timeout_ms, torvyn_error **out_error);

// Free a host: shuts it down first if needed (up to 10 s). Flows and
// buffers obtained from it stay valid handles but report the host as shut
// down. `torvyn_host_free(NULL)` does nothing; a stale handle is ignored.
// Thread-safe, but must not race with other calls on the same host.
void torvyn_host_free(torvyn_host *host);

// Route Torvyn's log records and guests' captured output to `callback`,
// replacing any earlier callback (whose `user_data_free` then runs, once no
// call to it is in progress). NULL `callback` stops delivery (a
// `user_data_free` given with it runs at once).
//
// Threads: the callback runs on Torvyn's own log thread, one record at a
// time and in order, never on a reactor worker or under a Torvyn lock: it
// may call any Torvyn function (wait on a flow, release a buffer). Records
// are queued (up to 4096); if the callback falls behind, the excess is
// dropped and a warning record says how many. Replacing or removing the
// callback first delivers every record queued so far (waiting up to 5 s),
// so records logged before this call reach the old callback.
//
// Fails with `TORVYN_STATUS_INTERNAL` if the process already has another
// `log` logger (a Rust program embedding Torvyn directly).
torvyn_status torvyn_log_set_callback(torvyn_log_fn callback,
                                      void *user_data,
                                      torvyn_free_fn user_data_free,
                                      torvyn_error **out_error);

// The flow's metrics now as JSON in `*out_json` (counts, histograms with
// p50/p90/p99/p999/max, per node, edge and pool tier; see
// docs/observability.md). Free with `torvyn_string_free`. Thread-safe;
// takes the flow's buffer lock for a moment (as its worker does per buffer
// operation).
torvyn_status torvyn_flow_metrics_json(const torvyn_flow *flow,
                                       char **out_json,
                                       torvyn_error **out_error);

// What the flow records from now on: one of `TORVYN_OBSERVABILITY_OFF`,
// `_PRODUCTION`, `_DIAGNOSTIC` (anything else is
// `TORVYN_STATUS_INVALID_ARGUMENT`). Thread-safe.
torvyn_status torvyn_flow_set_observability_level(const torvyn_flow *flow,
                                                  uint32_t level,
                                                  torvyn_error **out_error);

// Every flow's metrics and the host's own (active flows and components,
// memory, scheduler) as JSON in `*out_json`. Free with
// `torvyn_string_free`. Thread-safe.
torvyn_status torvyn_host_metrics_json(const torvyn_host *host,
                                       char **out_json,
                                       torvyn_error **out_error);

// The same as Prometheus (OpenMetrics) text in `*out_text`, ready to
// serve from the embedder's own `/metrics` (content type
// `application/openmetrics-text; version=1.0.0; charset=utf-8`). Free with
// `torvyn_string_free`. Thread-safe.
torvyn_status torvyn_host_metrics_text(const torvyn_host *host,
                                       char **out_text,
                                       torvyn_error **out_error);

// Load a manifest from `path`: a `Torvyn.toml`, a `.json` file, or a folder
// holding `Torvyn.toml`. On success `*out_pipeline` owns a new pipeline:
// free it with `torvyn_pipeline_free`. Component paths are resolved now:
// an `oci://` component not yet in the user's cache is pulled now (network
// I/O, up to the registry's timeouts; `[registry] offline = true` forbids
// it), verified, and signature-checked when the manifest requires it.
// Components are compiled when a flow starts. Thread-safe.
torvyn_status torvyn_pipeline_load_file(const char *path,
                                        torvyn_pipeline **out_pipeline,
                                        torvyn_error **out_error);

// Grant `capability` (e.g. "filesystem:read:/data/**"; see docs/security.md)
// to the node named `target`, or to every node running `[[component]]`
// `target`, in every flow of `pipeline`: as `[security.grants.<target>]`
// would. Flows started before keep their grants. An unknown capability is
// `TORVYN_STATUS_INVALID_ARGUMENT` naming the closest one; a target naming
// nothing is `TORVYN_STATUS_NOT_FOUND`. Thread-safe.
torvyn_status torvyn_pipeline_grant(torvyn_pipeline *pipeline,
                                    const char *target,
                                    const char *capability,
                                    torvyn_error **out_error);

// Load a manifest from TOML text (borrowed for the call). Relative
// component paths resolve against `base_dir` (NULL: the current directory).
// Ownership as for `torvyn_pipeline_load_file`. Thread-safe.
torvyn_status torvyn_pipeline_load_toml(const char *toml,
                                        const char *base_dir,
                                        torvyn_pipeline **out_pipeline,
                                        torvyn_error **out_error);

// Load a manifest from JSON text with the same structure as the TOML.
// Ownership as for `torvyn_pipeline_load_file`. Thread-safe.
torvyn_status torvyn_pipeline_load_json(const char *json,
                                        const char *base_dir,
                                        torvyn_pipeline **out_pipeline,
                                        torvyn_error **out_error);

// Number of flows the manifest defines, in `*out_count`. Thread-safe.
torvyn_status torvyn_pipeline_flow_count(const torvyn_pipeline *pipeline,
                                         size_t *out_count,
                                         torvyn_error **out_error);

// Name of flow number `index` (0-based, manifest order) in `*out_name`, a
// new string the caller frees with `torvyn_string_free`. Thread-safe.
torvyn_status torvyn_pipeline_flow_name(const torvyn_pipeline *pipeline,
                                        size_t index,
                                        char **out_name,
                                        torvyn_error **out_error);

// Free a pipeline. Flows started from it keep running. NULL does nothing; a
// stale handle is ignored. Thread-safe.
void torvyn_pipeline_free(torvyn_pipeline *pipeline);

// Free a string returned by Torvyn (`torvyn_flow_summary_json`,
// `torvyn_pipeline_flow_name`, …). `NULL` does nothing; a pointer Torvyn did
// not hand out, or one already freed, is ignored. Thread-safe.
void torvyn_string_free(char *s);

// The library version as "MAJOR.MINOR.PATCH" (static; never free it).
// Thread-safe.
const char *torvyn_version(void);

// The C ABI version (see `TORVYN_ABI_VERSION`). Thread-safe.
uint32_t torvyn_abi_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* TORVYN_H */
