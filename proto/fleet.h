/* fleet: what is known of every member of the network (validators and observers) from their
 * signed STATEs, and the quorum arithmetic of DESIGN section 7 over it. Shared by the agent and
 * wvcoord. It holds no sockets and reads no clock: callers pass the time. */
#ifndef WV_FLEET_H
#define WV_FLEET_H

#include "err.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLEET_MEMBERS_MAX 256

typedef enum { QUORUM_WBFT = 0, QUORUM_CEIL2N3 } quorum_rule_t;

/* "wbft" (q = n - floor((n-1)/3), the default) or "ceil2n3" (q = ceil(2n/3)). */
int quorum_rule_parse(const char *text, quorum_rule_t *out, wv_err_t *err);
const char *quorum_rule_name(quorum_rule_t rule);
/* q for n validators (n >= 1); 0 for n <= 0. */
int quorum_size(int n, quorum_rule_t rule);
/* n - q: how many validators may be down at once without halting the chain. */
int quorum_tolerated(int n, quorum_rule_t rule);

typedef struct {
    uint8_t key[IDENTITY_PUBKEY_LEN];
    char hex[IDENTITY_HEX_LEN + 1];
    bool validator;
    bool has_state;     /* a verified STATE has been received (or set, for ourselves) */
    wire_state_t state; /* the latest one */
    uint64_t seq;       /* its seq */
    int64_t heard_ms;   /* when it arrived (directly or relayed), caller's clock; 0 never */
    int64_t direct_ms;  /* when one last arrived straight from the member; 0 never */
    uint8_t *raw;       /* the latest envelope as received, kept for relaying; NULL if none */
    size_t raw_len;
    uint64_t relayed_seq; /* seq of the last envelope of this member we relayed, 0 if none */
} fleet_member_t;

typedef struct fleet fleet_t;

fleet_t *fleet_new(quorum_rule_t rule);
void fleet_destroy(fleet_t **self_p);

/* Adds a member (members are kept sorted by key); a key added twice is an error. */
int fleet_add(fleet_t *self, const uint8_t key[IDENTITY_PUBKEY_LEN], bool validator, wv_err_t *err);
/* Adds every key of a comma-separated list of hex keys (WEMIXVISOR_VALIDATORS or _OBSERVERS;
 * var names it in errors); NULL adds nothing. A key listed twice, here or before, is an error. */
int fleet_add_list(fleet_t *self, const char *var, const char *list, bool validator, wv_err_t *err);
fleet_member_t *fleet_find(fleet_t *self, const uint8_t key[IDENTITY_PUBKEY_LEN]);
size_t fleet_count(const fleet_t *self);
fleet_member_t *fleet_at(fleet_t *self, size_t i); /* in key order */
quorum_rule_t fleet_rule(const fleet_t *self);
int fleet_validators(const fleet_t *self); /* n */
int fleet_quorum(const fleet_t *self);     /* q */

/* Votes count only from states sent at or after since_us (their seq: the sender's clock in
 * microseconds). An agent sets the time it started: a receiver that restarted has forgotten the
 * members' last seqs, so a peer replaying a member's older signed STATE (a vote since withdrawn)
 * would get it accepted until the member's next one arrives; sent before we started, it is not a
 * vote here. 0, the default: every state may vote (wvcoord, which never votes). */
void fleet_set_votes_since(fleet_t *self, uint64_t since_us);

/* Records a verified STATE of a member (raw: the envelope, copied; may be NULL). The caller has
 * checked the signature and the seq. */
int fleet_update(fleet_t *self, fleet_member_t *m, uint64_t seq, const wire_state_t *st,
                 const uint8_t *raw, size_t raw_len, bool direct, int64_t now_ms, wv_err_t *err);

/* The index of validator m among the validators in key order (its bit in "hears"); -1 for an
 * observer. */
int fleet_validator_index(const fleet_t *self, const fleet_member_t *m);

/* The "hears" bitmap of a STATE (wire.h): the validators heard directly within fresh_ms (and
 * `me`, which hears itself), bit i for the i-th validator in key order. */
void fleet_hears(const fleet_t *self, const fleet_member_t *me, int64_t now_ms, int64_t fresh_ms,
                 uint8_t out[WIRE_HEARS_MAX], size_t *out_len);

/* Should `me` relay member m's latest signed envelope now? Once per seq of m, while it is fresh,
 * and only for a gap someone reports: a validator x with a fresh state whose "hears" lacks m but
 * has `me`, and `me` among the two lowest keys x hears that hear m directly (or, when none does,
 * among the two lowest keys x hears). In a full mesh nothing is relayed; a missing link gets two
 * relayers, not the whole fleet. quiet_ms is unused (kept for the callers' clarity). */
bool fleet_relay_due(const fleet_t *self, const fleet_member_t *me, const fleet_member_t *m,
                     int64_t now_ms, int64_t quiet_ms, int64_t fresh_ms);

/* The member's entry for upgrade `name`, or NULL. */
const wire_upgrade_t *fleet_member_upgrade(const fleet_member_t *m, const char *name);

/* Is this phase a vote for its triple? ready, armed, blocked, switching, done. */
bool fleet_phase_votes(const char *phase);

/* The votes for one triple (name, height, sha256) among validators whose state is not older
 * than fresh_ms (fresh_ms = 0: any age). */
typedef struct {
    int validators; /* n */
    int quorum;     /* q */
    int ready;      /* validators voting for exactly this triple */
    int armed;      /* of those, armed or further (switching, done) */
    int done;
    int switching;
    int conflicts; /* validators voting for the same name with another height or sha256 */
    int missing;   /* validators with no fresh state (or none sent since fleet_set_votes_since) */
} fleet_tally_t;
void fleet_tally(const fleet_t *self, const char *name, int64_t height,
                 const uint8_t sha256[WIRE_SHA256_LEN], int64_t now_ms, int64_t fresh_ms,
                 fleet_tally_t *out);

/* The network height: the q-th highest height reported by validators with a state (whatever its
 * age: a height only grows); 0 when fewer than q have reported one. */
int64_t fleet_network_height(const fleet_t *self);

/* Rolling upgrades: may validator `self_key` take a restart slot for the triple now?
 * down = other validators with no fresh state, a node not "running", or any upgrade "switching";
 * slots = (n - q) - down; waiting = validators (self included) fresh, node running, phase
 * "armed" (or, for those with a lower key than self, "ready") for the triple, in key order; yes
 * iff self is among the first `slots` of them.
 * On no, why says it ("1 validator down or switching, 0 slots free", "waiting for <hex8>"). */
bool fleet_slot_free(const fleet_t *self, const uint8_t self_key[IDENTITY_PUBKEY_LEN],
                     const char *name, int64_t height, const uint8_t sha256[WIRE_SHA256_LEN],
                     int64_t now_ms, int64_t fresh_ms, char *why, size_t why_size);

#endif
