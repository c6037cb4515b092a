/* inbox: the checks every received gossip message goes through before the fleet sees it, in one
 * place for the agent and wvcoord (docs/protocol.md, "Receiving"): frames, size, decoding, chain,
 * known key, seq, type, signature, body. It reads no socket and no clock: callers pass both. */
#ifndef WV_INBOX_H
#define WV_INBOX_H

#include "fleet.h"

#include <stddef.h>
#include <stdint.h>

/* Why a received message was refused. */
typedef enum {
    INBOX_DROP_DECODE =
        0,              /* not [32-byte key, envelope], or an envelope or body that won't decode */
    INBOX_DROP_CHAIN,   /* another chain id */
    INBOX_DROP_UNKNOWN, /* signed by a key that is neither a validator nor an observer */
    INBOX_DROP_SIGNATURE, /* a bad signature */
    INBOX_DROP_DUPLICATE, /* the same seq again (a relayed copy of a message already heard) */
    INBOX_DROP_OLD,       /* a seq below the last one accepted: a replay */
    INBOX_DROP_STALE,     /* a seq (time) too far in the past */
    INBOX_DROP_FUTURE,    /* a seq (time) too far in the future */
    INBOX_DROP_TYPE,      /* a message type this version does not know (ignored) */
    INBOX_DROP_VERSION,   /* an envelope of another protocol version */
    INBOX_DROP_OVERSIZE,  /* an envelope larger than WIRE_ENVELOPE_MAX */
    INBOX_DROP_COUNT
} inbox_drop_t;
const char *inbox_drop_name(inbox_drop_t reason);

typedef struct {
    uint64_t messages, bytes;         /* everything that arrived */
    uint64_t accepted;                /* states recorded in the fleet */
    uint64_t drops[INBOX_DROP_COUNT]; /* the rest, by reason */
} inbox_stats_t;

typedef enum {
    INBOX_ACCEPTED = 0, /* the member's state in the fleet is the new one */
    INBOX_SELF,         /* our own message, relayed back: ignored, not counted as a drop */
    INBOX_DROPPED       /* refused; *reason says why, detail says more (for a log line) */
} inbox_result_t;

/* Checks one message made of `frames` frames (hop: the publisher's key frame, env: the envelope)
 * against the fleet, our chain id and our key (self_key may be NULL), and records it when it
 * passes. now_ms: the caller's monotonic clock (fleet bookkeeping); now_us: wall clock in
 * microseconds (seq freshness). */
inbox_result_t inbox_accept(fleet_t *fleet, const char *chain, const uint8_t *self_key,
                            size_t frames, const uint8_t *hop, size_t hop_len, const uint8_t *env,
                            size_t env_len, int64_t now_ms, uint64_t now_us, inbox_stats_t *stats,
                            inbox_drop_t *reason, char *detail, size_t detail_size);

#endif
