/* health: the verdict on a running node from its probe results — healthy, syncing, stalled,
 * unresponsive or still starting. Pure bookkeeping: it starts, stops and restarts nothing. */
#ifndef WV_HEALTH_H
#define WV_HEALTH_H

#include "probe.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    HEALTH_DOWN = 0,     /* the node is not running */
    HEALTH_STARTING,     /* running, its RPC has not answered yet */
    HEALTH_HEALTHY,      /* RPC answers and the height advances */
    HEALTH_SYNCING,      /* RPC says it is syncing */
    HEALTH_STALLED,      /* RPC answers, the height has not advanced for 2 intervals */
    HEALTH_UNRESPONSIVE, /* RPC has not answered for an interval (2 since the start) */
    HEALTH_STATE_COUNT
} health_state_t;

typedef struct {
    health_state_t state;
    uint64_t interval_ms;       /* DAEMON_HEALTH_CHECK_INTERVAL: the unit of the windows */
    int64_t height;             /* last height seen, -1 when never */
    uint64_t height_changed_ms; /* when it last changed (or the node started) */
    uint64_t last_ok_ms;        /* last answer, 0 if none since the start */
    uint64_t started_ms;        /* when the node was started */
    bool advanced;              /* the height has moved since the start */
    char client_version[PROBE_VERSION_MAX];
    char error[PROBE_ERROR_MAX]; /* the last probe error, "" after an answer */
} health_t;

void health_init(health_t *h, uint64_t interval_ms);
/* The node was (re)started or stopped at now_ms. The last height is kept. */
void health_node_started(health_t *h, uint64_t now_ms);
void health_node_stopped(health_t *h);
/* Takes one probe result at now_ms; returns the new verdict. */
health_state_t health_update(health_t *h, const probe_result_t *r, uint64_t now_ms);
const char *health_name(health_state_t state);

#endif
