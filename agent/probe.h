/* probe: a czmq actor that asks the node for its height, client version and sync state every
 * interval, off the agent's loop, and sends each result as one message to its owner.
 * It keeps no judgement: whether the node is healthy is decided by health.c. */
#ifndef WV_PROBE_H
#define WV_PROBE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define PROBE_VERSION_MAX 128
#define PROBE_ERROR_MAX 256

typedef struct {
    bool ok;                                /* eth_blockNumber answered */
    int64_t height;                         /* valid when ok */
    bool syncing;                           /* eth_syncing answered with an object */
    char client_version[PROBE_VERSION_MAX]; /* web3_clientVersion, "" when unknown */
    char error[PROBE_ERROR_MAX];            /* why not ok */
} probe_result_t;

/* Starts the actor. address is host:port; every interval_ms it calls eth_blockNumber, then
 * eth_syncing and web3_clientVersion (the last only until it has an answer, and again after a
 * failure), each bounded by timeout_ms, and sends one result. */
zactor_t *probe_new(const char *address, uint64_t interval_ms, uint64_t timeout_ms);

/* Asks for a probe now (the interval restarts from it). */
void probe_now(zactor_t *actor);

/* Reads one result; call when the actor is readable (zloop_reader on the actor). 0 on success,
 * -1 if the message was not a result. */
int probe_recv(zactor_t *actor, probe_result_t *out);

/* zactor_destroy(&actor) stops it within one timeout_ms. */

#endif
