/* wire: the gossip protocol's messages (docs/protocol.md): the signed msgpack envelope
 * {v, chain, from, seq, type, body, sig} and the STATE body. Decoding is strict and never trusts
 * a length it has not checked; it does not decide who may speak (that is the fleet's business). */
#ifndef WV_WIRE_H
#define WV_WIRE_H

#include "err.h"
#include "identity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_ENVELOPE_MAX 16384 /* bytes of one encoded envelope, at most */
#define WIRE_BODY_MAX 12288     /* bytes of one encoded body, at most */
#define WIRE_CHAIN_MAX 64       /* chain id: [A-Za-z0-9._-]{1,64} */
#define WIRE_TYPE_MAX 16
#define WIRE_TYPE_STATE "STATE"

#define WIRE_UPGRADES_MAX 16 /* upgrades one STATE may carry */
#define WIRE_NAME_MAX 128    /* upgrade names, as DESIGN section 5 */
#define WIRE_VERSION_MAX 64  /* node version text */
#define WIRE_WORD_MAX 32     /* node state, health, role, phase, mode */
#define WIRE_REASON_MAX 160  /* why an upgrade is blocked or failed */
#define WIRE_SHA256_LEN 32
#define WIRE_HEARS_MAX 32 /* bytes of the "hears" bitmap: 256 validators */

/* Sequence numbers are microseconds since the epoch at least (see seqgen): a receiver refuses one
 * further than this from its own clock, so a replay after the receiver restarts is bounded. */
#define WIRE_MAX_AGE_US (10ULL * 60 * 1000 * 1000)
#define WIRE_MAX_SKEW_US (10ULL * 60 * 1000 * 1000)

/* The local phases of an upgrade (DESIGN section 7). A vote for (name, height, sha256) is any
 * phase from "ready" on except "failed". */
#define WIRE_PHASE_WAITING "waiting"     /* known; binary not present or not verified yet */
#define WIRE_PHASE_READY "ready"         /* binary present and verified: a vote */
#define WIRE_PHASE_ARMED "armed"         /* has seen a quorum ready for the same triple */
#define WIRE_PHASE_BLOCKED "blocked"     /* at the height without a quorum: nothing switched */
#define WIRE_PHASE_SWITCHING "switching" /* node stopped for the switch (holds a restart slot) */
#define WIRE_PHASE_DONE "done"           /* the new binary runs and passed verification */
#define WIRE_PHASE_FAILED "failed"       /* rolled back */

#define WIRE_MODE_AT_HEIGHT "at-height"
#define WIRE_MODE_ROLLING "rolling"

#define WIRE_ROLE_VALIDATOR "validator"
#define WIRE_ROLE_OBSERVER "observer"

typedef struct {
    char name[WIRE_NAME_MAX + 1];
    int64_t height; /* >= 0; 0: no height (a rolling patch release) */
    uint8_t sha256[WIRE_SHA256_LEN];
    char phase[WIRE_WORD_MAX + 1];
    char mode[WIRE_WORD_MAX + 1];
    char reason[WIRE_REASON_MAX + 1]; /* "" unless blocked or failed */
} wire_upgrade_t;

typedef struct {
    int64_t height;                     /* the node's head, 0 if unknown */
    char version[WIRE_VERSION_MAX + 1]; /* running version, "" if unknown */
    char node[WIRE_WORD_MAX + 1];       /* lifecycle state: running, stopped, ... */
    char health[WIRE_WORD_MAX + 1];     /* healthy, syncing, stalled, unresponsive, unknown */
    char role[WIRE_WORD_MAX + 1];       /* validator or observer */
    size_t n_upgrades;
    wire_upgrade_t upgrades[WIRE_UPGRADES_MAX];
    /* Which validators the sender hears directly (fresh): bit i (i % 8 of byte i / 8) for the
     * i-th key of WEMIXVISOR_VALIDATORS in ascending byte order. Peers relay to it what it
     * misses, so a partial mesh converges. hears_len 0: not sent (the sender relays nothing). */
    uint8_t hears[WIRE_HEARS_MAX];
    size_t hears_len;
} wire_state_t;

typedef struct {
    uint64_t v;
    char chain[WIRE_CHAIN_MAX + 1];
    uint8_t from[IDENTITY_PUBKEY_LEN];
    uint64_t seq;
    char type[WIRE_TYPE_MAX + 1];
    uint8_t body[WIRE_BODY_MAX];
    size_t body_len;
    uint8_t sig[IDENTITY_SIG_LEN];
} wire_envelope_t;

/* Checks a chain id: [A-Za-z0-9._-]{1,64}. */
int wire_chain_check(const char *chain, wv_err_t *err);

/* Encodes a STATE body; *out is malloc'ed (free it). Refuses fields over their limits. */
int wire_state_encode(const wire_state_t *st, uint8_t **out, size_t *out_len, wv_err_t *err);
/* Decodes a STATE body strictly: a map; known keys with the right types and sizes; required:
 * height, node, role, upgrades; unknown keys ignored. */
int wire_state_decode(const uint8_t *data, size_t len, wire_state_t *out, wv_err_t *err);

/* Builds and signs an envelope; *out is malloc'ed. */
int wire_envelope_seal(const identity_t *id, const char *chain, uint64_t seq, const char *type,
                       const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len,
                       wv_err_t *err);
/* Decodes an envelope strictly (v must be WIRE_VERSION); does not check the signature. */
int wire_envelope_decode(const uint8_t *data, size_t len, wire_envelope_t *out, wv_err_t *err);
/* Does sig sign the canonical encoding of the other fields, by `from`? */
bool wire_envelope_verify(const wire_envelope_t *env);

/* Replay check of a sender's seq against the last one accepted from it (none if !seen) and the
 * receiver's clock (microseconds since the epoch). */
typedef enum {
    WIRE_SEQ_FRESH = 0, /* accept */
    WIRE_SEQ_DUPLICATE, /* == last: the same message again (a relay) */
    WIRE_SEQ_OLD,       /* < last: a replay, or a sender that went back */
    WIRE_SEQ_STALE,     /* older than WIRE_MAX_AGE_US */
    WIRE_SEQ_FUTURE     /* further ahead than WIRE_MAX_SKEW_US */
} wire_seq_verdict_t;
wire_seq_verdict_t wire_seq_check(bool seen, uint64_t last, uint64_t seq, uint64_t now_us);
const char *wire_seq_verdict_name(wire_seq_verdict_t v);

#endif
