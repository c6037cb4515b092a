/* noderpc: JSON-RPC calls to the node over HTTP with libcurl, synchronous and time-bounded.
 * Runs off the agent's loop (in the probe actor or a command); it never retries by itself. */
#ifndef WV_NODERPC_H
#define WV_NODERPC_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODERPC_REPLY_MAX (1024 * 1024) /* a reply larger than this is an error */

typedef struct noderpc noderpc_t;

/* address is host:port (DAEMON_RPC_ADDRESS); calls go to http://address/ as POST with
 * Content-Type: application/json. Every call is bounded by timeout_ms (connect included). */
noderpc_t *noderpc_new(const char *address, uint64_t timeout_ms);
void noderpc_destroy(noderpc_t **self_p);

/* Calls method with params (JSON array text; NULL means []). On success *result is a new
 * reference to the "result" member. A reply with an "error" object is an error whatever its
 * code; so are HTTP statuses other than 200, bodies that are not JSON-RPC 2.0, and a missing
 * "result". err says which, with the address and method. */
int noderpc_call(noderpc_t *self, const char *method, const char *params, json_t **result,
                 wv_err_t *err);

/* eth_blockNumber as an integer. */
int noderpc_block_number(noderpc_t *self, int64_t *height, wv_err_t *err);
/* web3_clientVersion. */
int noderpc_client_version(noderpc_t *self, char *buf, size_t size, wv_err_t *err);
/* eth_syncing: false, or an object (then true). */
int noderpc_syncing(noderpc_t *self, bool *syncing, wv_err_t *err);

/* Parses an Ethereum hex quantity strictly: "0x" then 1 to 16 lower- or upper-case hex digits,
 * no leading zeros except "0x0", value at most INT64_MAX. */
int noderpc_parse_quantity(const char *text, int64_t *out, wv_err_t *err);

#endif
