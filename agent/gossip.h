/* gossip: the agent's node of the validator gossip (DESIGN section 7, docs/protocol.md).
 * One PUB socket bound on WEMIXVISOR_LISTEN, one SUB socket connected to every WEMIXVISOR_PEERS
 * endpoint, both on the agent's loop; a signed STATE every WEMIXVISOR_HEARTBEAT; relaying of
 * members not heard directly; every refused message counted by reason. It decides nothing about
 * upgrades: the fleet it keeps is read by gate.c. */
#ifndef WV_GOSSIP_H
#define WV_GOSSIP_H

#include "config.h"
#include "err.h"
#include "fleet.h"
#include "inbox.h"
#include "layout.h"
#include "wire.h"

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>

#define GOSSIP_RELAY_AFTER_BEATS 3 /* relay a member not heard directly for this many beats */
#define GOSSIP_FRESH_BEATS 5       /* a state older than this many beats is not a live vote */
#define GOSSIP_IDENTITY_FILE "identity.key"
#define GOSSIP_SEQ_FILE "gossip.seq"
#define GOSSIP_CURVE_CERT "curve.cert" /* and curve.cert_secret, as zcert_save writes them */
#define GOSSIP_CURVE_PEERS_DIR "curve/peers"
#define GOSSIP_CURVE_DOMAIN "wemixvisor"

typedef struct gossip gossip_t;

/* Fills the agent's own STATE (called before every publish). */
typedef void(gossip_fill_fn)(wire_state_t *st, void *arg);
/* A member's state was accepted (the caller re-evaluates what depends on the fleet). */
typedef void(gossip_change_fn)(void *arg);

/* Is the gossip configured at all (WEMIXVISOR_LISTEN or WEMIXVISOR_PEERS, or VALIDATOR_MODE)? */
bool gossip_configured(const wv_config_t *cfg);

/* The checks of the configuration that span variables (chain id set, validators listed in
 * validator mode); run before anything is touched, so a mistake exits 2. */
int gossip_check_config(const wv_config_t *cfg, wv_err_t *err);

/* Checks the configuration (chain id, keys, own key among the validators in validator mode,
 * CURVE files), opens the sockets and starts the heartbeat. err says what to set or run. */
gossip_t *gossip_new(zloop_t *loop, const wv_config_t *cfg, const layout_t *layout,
                     gossip_fill_fn *fill, gossip_change_fn *changed, void *arg, wv_err_t *err);
void gossip_destroy(gossip_t **self_p);

/* Publishes the own state now (a phase changed), outside the heartbeat. */
void gossip_publish_now(gossip_t *self);

fleet_t *gossip_fleet(gossip_t *self);
const uint8_t *gossip_self_key(const gossip_t *self);
bool gossip_is_validator(const gossip_t *self);
/* Has the gossip run long enough to have heard every live peer (one vote window)? Before that,
 * a missing vote may only be one not heard yet. */
bool gossip_settled(const gossip_t *self);
/* How long a member may be silent before restart slots count it as down, in ms: shorter than a
 * vote's life, since a validator that went away (killed) can't say so. */
int64_t gossip_live_ms(const gossip_t *self);
/* How long a state stays a live vote, in ms. */
int64_t gossip_fresh_ms(const gossip_t *self);
/* What arrived: messages, bytes, accepted, dropped by reason (proto/inbox.h). */
const inbox_stats_t *gossip_inbox_stats(const gossip_t *self);

/* {"self","chain","role","rule","validators","quorum","tolerated","network_height","peers":[..],
 *  "upgrades":[..],"received","sent","relayed","dropped":{reason:count}} for `peers` and status. */
json_t *gossip_json(gossip_t *self, int64_t now_ms);
/* Prometheus lines (wemixvisor_peers_*, wemixvisor_gossip_*) appended to an open stream. */
void gossip_metrics(gossip_t *self, FILE *out, int64_t now_ms);

/* `wemixvisor init`: creates identity.key and the CURVE cert if they are missing. */
int gossip_init_keys(const layout_t *layout, wv_err_t *err);

#endif
