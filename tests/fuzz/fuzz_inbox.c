/* fuzz_inbox: a burst of gossip messages through inbox_accept into a small fleet (two members,
 * keys of fuzzutil), then the fleet's arithmetic and fleetview over whatever was accepted. The
 * input is a list of records; a record is either raw envelope bytes, or a STATE body that this
 * target seals with a member's key so that the checks after the signature are reached too:
 *
 *   ctl  seq  len_hi  len_lo  data[len]
 *   ctl bits 0-1: 0 raw envelope, 1 seal data as a STATE, 2 seal data with type "PING",
 *                 3 the previous record's envelope again (a duplicate or a relay)
 *   ctl bit 2: signer (key 0 or 1); bit 3: hop frame is the other key (a relay);
 *   ctl bit 4: three frames; bit 5: another chain id; bit 6: key 1 is "self";
 *   seq: signed, in units of SEQ_STEP_US from the receiver's clock.
 * Not fuzzed here: sockets and the agent's reactions (gossip.c). */
#include "fleet.h"
#include "fleetview.h"
#include "fuzzutil.h"
#include "inbox.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN "wv-fuzz"
#define OTHER_CHAIN "wv-other"
#define NOW_US 1800000000000000ULL        /* the receiver's wall clock, fixed: runs must repeat */
#define NOW_MS 100000                     /* its monotonic clock at the first record */
#define STEP_MS 250                       /* between records */
#define SEQ_STEP_US (20ULL * 1000 * 1000) /* 127 steps reach past WIRE_MAX_AGE_US either way */
#define FRESH_MS 5000
#define RECORDS_MAX 16
#define RECORD_HEADER 4

enum { REC_RAW = 0, REC_STATE, REC_PING, REC_AGAIN };
#define CTL_KIND(c) ((c)&3)
#define CTL_SIGNER(c) (((c) >> 2) & 1)
#define CTL_RELAY(c) (((c) >> 3) & 1)
#define CTL_FRAMES3(c) (((c) >> 4) & 1)
#define CTL_OTHER_CHAIN(c) (((c) >> 5) & 1)
#define CTL_SELF(c) (((c) >> 6) & 1)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("inbox");
    for (int i = 0; i < FZ_IDENTITIES; i++)
        fz_identity(i);
    return 0;
}

/* The fleet's arithmetic over every upgrade any member reported: none of it may trip. */
static void s_exercise_fleet(fleet_t *fleet, int64_t now_ms)
{
    const uint8_t *self_key = identity_pubkey(fz_identity(0));
    for (size_t i = 0; i < fleet_count(fleet); i++) {
        fleet_member_t *m = fleet_at(fleet, i);
        (void)fleet_relay_due(fleet, fleet_find(fleet, self_key), m, now_ms, FRESH_MS, FRESH_MS);
        for (size_t j = 0; m->has_state && j < m->state.n_upgrades; j++) {
            const wire_upgrade_t *u = &m->state.upgrades[j];
            FZ_CHECK(fleet_member_upgrade(m, u->name) != NULL);
            fleet_tally_t t;
            fleet_tally(fleet, u->name, u->height, u->sha256, now_ms, FRESH_MS, &t);
            FZ_CHECK(t.ready <= t.validators && t.armed <= t.ready);
            char why[256];
            (void)fleet_slot_free(fleet, self_key, u->name, u->height, u->sha256, now_ms, FRESH_MS,
                                  why, sizeof why);
        }
    }
    FZ_CHECK(fleet_network_height(fleet) >= 0);
    json_t *view = fleetview_json(fleet, self_key, now_ms, FRESH_MS);
    FZ_CHECK(view != NULL);
    char *text = json_dumps(view, JSON_COMPACT);
    FZ_CHECK(text != NULL);
    free(text);
    json_decref(view);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fleet_t *fleet = fleet_new(QUORUM_WBFT);
    FZ_CHECK(fleet != NULL);
    wv_err_t err;
    FZ_CHECK(fleet_add(fleet, identity_pubkey(fz_identity(0)), true, &err) == 0);
    FZ_CHECK(fleet_add(fleet, identity_pubkey(fz_identity(1)), false, &err) == 0);

    inbox_stats_t stats;
    memset(&stats, 0, sizeof stats);
    uint64_t selves = 0;
    uint8_t *prev = NULL; /* the previous record's envelope */
    size_t prev_len = 0;
    int64_t now_ms = NOW_MS;
    size_t pos = 0;
    for (int r = 0; r < RECORDS_MAX && size - pos >= RECORD_HEADER; r++, now_ms += STEP_MS) {
        uint8_t ctl = data[pos];
        int8_t seq_step = (int8_t)data[pos + 1];
        size_t len = (size_t)data[pos + 2] << 8 | data[pos + 3];
        pos += RECORD_HEADER;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *rec = data + pos;
        pos += len;

        const identity_t *signer = fz_identity(CTL_SIGNER(ctl));
        const identity_t *other = fz_identity(!CTL_SIGNER(ctl));
        uint64_t seq = NOW_US + (uint64_t)((int64_t)seq_step * (int64_t)SEQ_STEP_US);
        const char *chain = CTL_OTHER_CHAIN(ctl) ? OTHER_CHAIN : CHAIN;
        uint8_t *env = NULL;
        size_t env_len = 0;
        switch (CTL_KIND(ctl)) {
        case REC_RAW:
            env = malloc(len > 0 ? len : 1);
            FZ_CHECK(env != NULL);
            memcpy(env, rec, len);
            env_len = len;
            break;
        case REC_STATE:
        case REC_PING:
            if (len > WIRE_BODY_MAX ||
                wire_envelope_seal(signer, chain, seq,
                                   CTL_KIND(ctl) == REC_STATE ? WIRE_TYPE_STATE : "PING", rec, len,
                                   &env, &env_len, &err) != 0)
                continue;
            break;
        case REC_AGAIN:
            if (prev == NULL)
                continue;
            env = malloc(prev_len > 0 ? prev_len : 1);
            FZ_CHECK(env != NULL);
            memcpy(env, prev, prev_len);
            env_len = prev_len;
            break;
        }
        const uint8_t *hop = identity_pubkey(CTL_RELAY(ctl) ? other : signer);
        const uint8_t *self_key = CTL_SELF(ctl) ? identity_pubkey(fz_identity(1)) : NULL;
        inbox_drop_t reason = INBOX_DROP_COUNT;
        char detail[WV_ERR_MAX];
        inbox_result_t res =
            inbox_accept(fleet, CHAIN, self_key, CTL_FRAMES3(ctl) ? 3 : 2, hop, IDENTITY_PUBKEY_LEN,
                         env, env_len, now_ms, NOW_US, &stats, &reason, detail, sizeof detail);
        if (res == INBOX_DROPPED) {
            FZ_CHECK(reason < INBOX_DROP_COUNT && strcmp(inbox_drop_name(reason), "?") != 0);
            FZ_CHECK(memchr(detail, '\0', sizeof detail) != NULL);
        } else if (res == INBOX_SELF) {
            selves++;
        } else {
            FZ_CHECK(res == INBOX_ACCEPTED);
            static wire_envelope_t e;
            FZ_CHECK(wire_envelope_decode(env, env_len, &e, &err) == 0 && wire_envelope_verify(&e));
            fleet_member_t *m = fleet_find(fleet, e.from);
            FZ_CHECK(m != NULL && m->has_state && m->seq == e.seq && m->heard_ms == now_ms);
            FZ_CHECK(m->raw_len == env_len && memcmp(m->raw, env, env_len) == 0);
        }
        free(prev);
        prev = env;
        prev_len = env_len;
    }
    free(prev);

    uint64_t dropped = 0;
    for (int i = 0; i < INBOX_DROP_COUNT; i++)
        dropped += stats.drops[i];
    FZ_CHECK(stats.accepted + dropped + selves == stats.messages);
    s_exercise_fleet(fleet, now_ms);
    fleet_destroy(&fleet);
    return 0;
}
