/* status: what the agent reports about itself and its node — the `status --json` document,
 * the Prometheus /metrics text, and the human table the CLI prints from that document.
 * It renders a snapshot (status_view_t) filled by the runner; it reads no live state. */
#ifndef WV_STATUS_H
#define WV_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct {
    const char *state;  /* lifecycle: stopped, starting, running, ... */
    const char *health; /* healthy, stalled, ... (health_name) */
    bool want_running;  /* false after `wemixvisor stop` */
    pid_t pid;          /* 0 when not running */
    pid_t agent_pid;
    const char *version;        /* from the binary, "" if unknown */
    const char *client_version; /* from web3_clientVersion, "" if unknown */
    const char *current;        /* genesis or the upgrade name */
    int64_t height;             /* -1 when never seen */
    int64_t restarts;           /* in a row */
    int64_t restarts_total;
    int64_t max_restarts;
    uint64_t uptime_ms;
    bool has_exited;             /* last_status is meaningful */
    int last_status;             /* wait status, -1: could not be started */
    const char *pending_upgrade; /* NULL when none */
    int64_t pending_height;
    const char *pending_problem; /* why it waits, or NULL */
    const char *rpc_error;       /* last probe error, "" if none */
} status_view_t;

/* The status document (new reference). */
json_t *status_json(const status_view_t *v);

/* The /metrics body (heap, NUL-terminated), in the Prometheus text format. */
char *status_metrics(const status_view_t *v);

/* Prints a status document as a table for people. */
void status_print(FILE *out, json_t *doc);

#endif
