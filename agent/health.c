/* health: turns a stream of probe results into one verdict with time windows.
 * A stalled validator may be waiting for its peers, so "stalled" is reported, never acted on. */
#include "health.h"

#include <stdio.h>
#include <string.h>

#define STALL_INTERVALS 2        /* height unchanged this many intervals: stalled */
#define UNRESPONSIVE_INTERVALS 1 /* no answer this many intervals after answering */
#define STARTUP_INTERVALS 2      /* no answer this many intervals since the start */

static const char *const s_names[HEALTH_STATE_COUNT] = {"down",    "starting", "healthy",
                                                        "syncing", "stalled",  "unresponsive"};

const char *health_name(health_state_t state)
{
    return state < HEALTH_STATE_COUNT ? s_names[state] : "?";
}

void health_init(health_t *h, uint64_t interval_ms)
{
    memset(h, 0, sizeof *h);
    h->state = HEALTH_DOWN;
    h->interval_ms = interval_ms;
    h->height = -1;
}

void health_node_started(health_t *h, uint64_t now_ms)
{
    h->state = HEALTH_STARTING;
    h->started_ms = now_ms;
    h->height_changed_ms = now_ms;
    h->last_ok_ms = 0;
    h->advanced = false;
    h->error[0] = '\0';
}

void health_node_stopped(health_t *h)
{
    h->state = HEALTH_DOWN;
}

health_state_t health_update(health_t *h, const probe_result_t *r, uint64_t now_ms)
{
    if (h->state == HEALTH_DOWN)
        return h->state; /* a late answer from a node that is gone */
    if (!r->ok) {
        snprintf(h->error, sizeof h->error, "%s", r->error);
        uint64_t since = h->last_ok_ms ? h->last_ok_ms : h->started_ms;
        uint64_t window =
            (h->last_ok_ms ? UNRESPONSIVE_INTERVALS : STARTUP_INTERVALS) * h->interval_ms;
        if (now_ms - since >= window)
            h->state = HEALTH_UNRESPONSIVE;
        return h->state;
    }
    bool first = h->last_ok_ms == 0;
    h->error[0] = '\0';
    h->last_ok_ms = now_ms;
    if (r->client_version[0] != '\0')
        snprintf(h->client_version, sizeof h->client_version, "%s", r->client_version);
    if (first || r->height != h->height) {
        h->advanced = h->advanced || !first;
        h->height = r->height;
        h->height_changed_ms = now_ms;
    }
    if (r->syncing)
        h->state = HEALTH_SYNCING;
    else if (now_ms - h->height_changed_ms >= STALL_INTERVALS * h->interval_ms)
        h->state = HEALTH_STALLED;
    else if (h->advanced)
        h->state = HEALTH_HEALTHY;
    else
        h->state = HEALTH_STARTING; /* answering, no block produced since the start yet */
    return h->state;
}
