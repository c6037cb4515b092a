/* coord: wvcoord's view of the fleet. It subscribes to every agent's PUB endpoint (one SUB
 * socket each, so it knows which address a node speaks from), checks every message with the
 * agents' own inbox (proto/inbox.c), and renders the fleet as JSON, Prometheus text and
 * problems. It never publishes: it has no key, casts no vote and can change nothing. */
#ifndef WV_COORD_H
#define WV_COORD_H

#include "err.h"
#include "fleet.h"
#include "inbox.h"

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define COORD_SILENT_BEATS 3 /* a node not heard for this many heartbeats is shown silent */
#define COORD_AGENTS_MAX FLEET_MEMBERS_MAX

typedef struct {
    char *agents;      /* comma-separated PUB endpoints of the agents (--agents, WVCOORD_AGENTS) */
    char *chain;       /* WEMIXVISOR_CHAIN_ID */
    char *validators;  /* WEMIXVISOR_VALIDATORS: keys */
    char *observers;   /* WEMIXVISOR_OBSERVERS: keys, may be NULL */
    char *quorum_rule; /* wbft or ceil2n3 */
    uint64_t heartbeat_ms; /* WEMIXVISOR_HEARTBEAT: the agents' */
    bool curve;            /* WEMIXVISOR_CURVE */
    char *curve_cert;      /* WVCOORD_CURVE_CERT: our secret cert (zcert), with CURVE */
    char *curve_peers;     /* WEMIXVISOR_CURVE_PEERS: the agents' public certs (endpoint meta) */
} coord_opts_t;

typedef struct coord coord_t;

/* Validates opts (every value; the error names the flag or variable) and connects. */
coord_t *coord_new(zloop_t *loop, const coord_opts_t *opts, wv_err_t *err);
void coord_destroy(coord_t **self_p);

uint64_t coord_heartbeat_ms(const coord_t *self);
/* Members heard from at least once. */
size_t coord_heard(const coord_t *self);
size_t coord_members(const coord_t *self);

/* /api/fleet: fleetview_json plus, per member, "address", "silent" and "lag" (blocks behind the
 * network height), and "heartbeat_ms", "received", "dropped" by reason, "problems". */
json_t *coord_fleet_json(coord_t *self);
/* /api/upgrades: the upgrades array of the fleet document, with "done_by" and "blocked_by". */
json_t *coord_upgrades_json(coord_t *self);
/* /metrics body (heap). */
char *coord_metrics(coord_t *self);
/* What an operator must look at (a node down, stalled, failed or silent; an upgrade blocked or
 * short of quorum), as strings; an empty array when all is well. */
json_t *coord_problems(coord_t *self);

#endif
