/* inbox: the receiving half of the protocol. Checks run cheapest first (sizes, decode, chain,
 * key, seq) so that a flood of junk or duplicates costs no signature check; the fleet is only
 * touched by a message that passed all of them. */
#include "inbox.h"

#include <stdio.h>
#include <string.h>

static const char *const s_drop_names[INBOX_DROP_COUNT] = {
    "decode", "chain",  "unknown-key", "signature", "duplicate", "old",
    "stale",  "future", "type",        "version",   "oversize"};

const char *inbox_drop_name(inbox_drop_t reason)
{
    return reason < INBOX_DROP_COUNT ? s_drop_names[reason] : "?";
}

static inbox_result_t s_drop(inbox_stats_t *stats, inbox_drop_t why, inbox_drop_t *reason,
                             char *detail, size_t size, const char *text)
{
    stats->drops[why]++;
    *reason = why;
    snprintf(detail, size, "%s", text);
    return INBOX_DROPPED;
}

static inbox_drop_t s_seq_drop(wire_seq_verdict_t v)
{
    switch (v) {
    case WIRE_SEQ_DUPLICATE:
        return INBOX_DROP_DUPLICATE;
    case WIRE_SEQ_OLD:
        return INBOX_DROP_OLD;
    case WIRE_SEQ_STALE:
        return INBOX_DROP_STALE;
    default:
        return INBOX_DROP_FUTURE;
    }
}

inbox_result_t inbox_accept(fleet_t *fleet, const char *chain, const uint8_t *self_key,
                            size_t frames, const uint8_t *hop, size_t hop_len, const uint8_t *env,
                            size_t env_len, int64_t now_ms, uint64_t now_us, inbox_stats_t *stats,
                            inbox_drop_t *reason, char *detail, size_t detail_size)
{
    static wire_envelope_t e; /* 12 KiB: not on the stack; each process has one loop thread */
    wire_state_t st;
    wv_err_t err;
    stats->messages++;
    stats->bytes += hop_len + env_len;
    if (frames != 2 || hop_len != IDENTITY_PUBKEY_LEN)
        return s_drop(stats, INBOX_DROP_DECODE, reason, detail, detail_size,
                      "not [32-byte key, envelope]");
    if (env_len > WIRE_ENVELOPE_MAX)
        return s_drop(stats, INBOX_DROP_OVERSIZE, reason, detail, detail_size,
                      "envelope larger than the protocol allows");
    e.v = 0;
    if (wire_envelope_decode(env, env_len, &e, &err) != 0)
        return s_drop(stats,
                      e.v != 0 && e.v != WIRE_VERSION ? INBOX_DROP_VERSION : INBOX_DROP_DECODE,
                      reason, detail, detail_size, err.msg);
    if (strcmp(e.chain, chain) != 0)
        return s_drop(stats, INBOX_DROP_CHAIN, reason, detail, detail_size, e.chain);
    if (self_key != NULL && memcmp(e.from, self_key, IDENTITY_PUBKEY_LEN) == 0)
        return INBOX_SELF;
    fleet_member_t *m = fleet_find(fleet, e.from);
    if (m == NULL) {
        char hex[IDENTITY_HEX_LEN + 1];
        identity_hex(e.from, hex);
        return s_drop(stats, INBOX_DROP_UNKNOWN, reason, detail, detail_size, hex);
    }
    bool direct = memcmp(hop, e.from, IDENTITY_PUBKEY_LEN) == 0;
    wire_seq_verdict_t v = wire_seq_check(m->has_state, m->seq, e.seq, now_us);
    if (v != WIRE_SEQ_FRESH) {
        /* The latest message again, straight from its origin behind a relayed copy: the member
         * is heard directly after all (protocol.md 7), once per seq. An older one with the
         * origin's key frame is a replay: it must neither make the member look heard directly
         * (its "hears" bit would stop the relays it needs) nor cost a signature check. */
        if (v == WIRE_SEQ_DUPLICATE && direct && m->direct_ms < m->heard_ms &&
            wire_envelope_verify(&e))
            m->direct_ms = now_ms;
        return s_drop(stats, s_seq_drop(v), reason, detail, detail_size, m->hex);
    }
    if (strcmp(e.type, WIRE_TYPE_STATE) != 0)
        return s_drop(stats, INBOX_DROP_TYPE, reason, detail, detail_size, e.type);
    if (!wire_envelope_verify(&e))
        return s_drop(stats, INBOX_DROP_SIGNATURE, reason, detail, detail_size, m->hex);
    if (wire_state_decode(e.body, e.body_len, &st, &err) != 0)
        return s_drop(stats, INBOX_DROP_DECODE, reason, detail, detail_size, err.msg);
    if (fleet_update(fleet, m, e.seq, &st, env, env_len, direct, now_ms, &err) != 0)
        return s_drop(stats, INBOX_DROP_DECODE, reason, detail, detail_size, err.msg);
    stats->accepted++;
    return INBOX_ACCEPTED;
}
