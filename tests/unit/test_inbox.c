/* Tests of inbox: what a receiver (agent or wvcoord) accepts from the wire, and what it drops.
 * Three real Ed25519 identities sign real envelopes; the fleet knows two of them. */
#include "testutil.h"

#include "fleet.h"
#include "identity.h"
#include "inbox.h"
#include "seqgen.h"
#include "wire.h"

#include <stdlib.h>

#define CHAIN "wv-test"
#define NOW_US 1800000000000000ULL /* some time in 2027 */
#define NOW_MS 5000

typedef struct {
    char *dir;
    identity_t *a, *b, *stranger; /* a and b are validators, the stranger is not listed */
    fleet_t *fleet;
    inbox_stats_t stats;
} fx_t;

static identity_t *s_key(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    bool created;
    wv_err_t err;
    identity_t *id = identity_load_or_create(path, &created, &err);
    if (id == NULL)
        fail_msg("%s", err.msg);
    return id;
}

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp(dir, sizeof dir), 0);
    fx->dir = strdup(dir);
    fx->a = s_key(dir, "a");
    fx->b = s_key(dir, "b");
    fx->stranger = s_key(dir, "stranger");
    fx->fleet = fleet_new(QUORUM_WBFT);
    wv_err_t err;
    assert_int_equal(fleet_add(fx->fleet, identity_pubkey(fx->a), true, &err), 0);
    assert_int_equal(fleet_add(fx->fleet, identity_pubkey(fx->b), true, &err), 0);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    fleet_destroy(&fx->fleet);
    identity_destroy(&fx->a);
    identity_destroy(&fx->b);
    identity_destroy(&fx->stranger);
    tu_rm_rf(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* A sealed STATE of `id` at `height` with seq, for chain. */
static uint8_t *s_state(const identity_t *id, const char *chain, uint64_t seq, int64_t height,
                        size_t *len)
{
    wire_state_t st;
    memset(&st, 0, sizeof st);
    st.height = height;
    snprintf(st.node, sizeof st.node, "running");
    snprintf(st.role, sizeof st.role, "validator");
    uint8_t *body, *env;
    size_t body_len;
    wv_err_t err;
    if (wire_state_encode(&st, &body, &body_len, &err) != 0 ||
        wire_envelope_seal(id, chain, seq, WIRE_TYPE_STATE, body, body_len, &env, len, &err) != 0)
        fail_msg("%s", err.msg);
    free(body);
    return env;
}

/* Offers env as published by `hop` (the key of the agent that sent this copy). */
static inbox_result_t s_offer(fx_t *fx, const identity_t *hop, const uint8_t *env, size_t len,
                              uint64_t now_us, inbox_drop_t *reason)
{
    char detail[256];
    return inbox_accept(fx->fleet, CHAIN, NULL, 2, identity_pubkey(hop), IDENTITY_PUBKEY_LEN, env,
                        len, NOW_MS, now_us, &fx->stats, reason, detail, sizeof detail);
}

static void test_a_valid_state_is_recorded(void **state)
{
    fx_t *fx = *state;
    size_t len;
    uint8_t *env = s_state(fx->a, CHAIN, NOW_US, 42, &len);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->a, env, len, NOW_US, &why), INBOX_ACCEPTED);
    fleet_member_t *m = fleet_find(fx->fleet, identity_pubkey(fx->a));
    assert_true(m->has_state);
    assert_int_equal(m->state.height, 42);
    assert_int_equal(m->direct_ms, NOW_MS);
    assert_memory_equal(m->raw, env, len); /* kept, byte for byte, for relaying */
    assert_int_equal(fx->stats.accepted, 1);
    free(env);
}

static void test_wrong_chain_is_dropped(void **state)
{
    fx_t *fx = *state;
    size_t len;
    uint8_t *env = s_state(fx->a, "other-chain", NOW_US, 1, &len);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->a, env, len, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_CHAIN);
    assert_false(fleet_find(fx->fleet, identity_pubkey(fx->a))->has_state);
    free(env);
}

static void test_unknown_key_is_dropped(void **state)
{
    fx_t *fx = *state;
    size_t len;
    uint8_t *env = s_state(fx->stranger, CHAIN, NOW_US, 1, &len);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->stranger, env, len, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_UNKNOWN);
    assert_int_equal(fx->stats.drops[INBOX_DROP_UNKNOWN], 1);
    free(env);
}

/* The stranger re-signs a's message under a's key: the signature is not a's. */
static void test_forged_signature_is_dropped(void **state)
{
    fx_t *fx = *state;
    size_t len, forged_len;
    uint8_t *env = s_state(fx->a, CHAIN, NOW_US, 7, &len);
    wire_envelope_t *e = malloc(sizeof *e);
    wv_err_t err;
    assert_int_equal(wire_envelope_decode(env, len, e, &err), 0);
    uint8_t *forged;
    assert_int_equal(wire_envelope_seal(fx->stranger, CHAIN, e->seq, e->type, e->body, e->body_len,
                                        &forged, &forged_len, &err),
                     0);
    /* the forged envelope claims to be from a: swap the from field in place */
    uint8_t *at = memmem(forged, forged_len, identity_pubkey(fx->stranger), IDENTITY_PUBKEY_LEN);
    assert_non_null(at);
    memcpy(at, identity_pubkey(fx->a), IDENTITY_PUBKEY_LEN);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->a, forged, forged_len, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_SIGNATURE);
    assert_false(fleet_find(fx->fleet, identity_pubkey(fx->a))->has_state);
    /* and a flipped bit anywhere in the body of a genuine one */
    env[len - IDENTITY_SIG_LEN - 8] ^= 0x01;
    inbox_result_t r = s_offer(fx, fx->a, env, len, NOW_US, &why);
    assert_int_equal(r, INBOX_DROPPED);
    assert_true(why == INBOX_DROP_SIGNATURE || why == INBOX_DROP_DECODE);
    free(e);
    free(env);
    free(forged);
}

static void test_replays_are_dropped_and_relays_are_duplicates(void **state)
{
    fx_t *fx = *state;
    size_t l1, l2;
    uint8_t *first = s_state(fx->a, CHAIN, NOW_US, 10, &l1);
    uint8_t *second = s_state(fx->a, CHAIN, NOW_US + 1000, 11, &l2);
    inbox_drop_t why;
    /* b relays a's first message: accepted, but a was not heard directly */
    assert_int_equal(s_offer(fx, fx->b, first, l1, NOW_US, &why), INBOX_ACCEPTED);
    fleet_member_t *m = fleet_find(fx->fleet, identity_pubkey(fx->a));
    assert_int_equal(m->direct_ms, 0);
    /* the direct copy arrives: a duplicate, yet now a counts as heard directly */
    assert_int_equal(s_offer(fx, fx->a, first, l1, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_DUPLICATE);
    assert_int_equal(m->direct_ms, NOW_MS);
    assert_int_equal(s_offer(fx, fx->a, second, l2, NOW_US, &why), INBOX_ACCEPTED);
    assert_int_equal(m->state.height, 11);
    /* the first one replayed later: old */
    assert_int_equal(s_offer(fx, fx->b, first, l1, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_OLD);
    assert_int_equal(m->state.height, 11);
    /* and replayed verbatim, a's own key frame included, a second later: old, and it does not
     * make a look heard directly (its "hears" bit would stop the relays it may need) */
    char detail[256];
    assert_int_equal(inbox_accept(fx->fleet, CHAIN, NULL, 2, identity_pubkey(fx->a),
                                  IDENTITY_PUBKEY_LEN, first, l1, NOW_MS + 1000, NOW_US, &fx->stats,
                                  &why, detail, sizeof detail),
                     INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_OLD);
    assert_int_equal(m->direct_ms, NOW_MS);
    free(first);
    free(second);
}

static void test_stale_and_future_messages_are_dropped(void **state)
{
    fx_t *fx = *state;
    size_t l1, l2;
    uint8_t *old = s_state(fx->a, CHAIN, NOW_US - WIRE_MAX_AGE_US - 1, 1, &l1);
    uint8_t *ahead = s_state(fx->a, CHAIN, NOW_US + WIRE_MAX_SKEW_US + 1, 1, &l2);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->a, old, l1, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_STALE);
    assert_int_equal(s_offer(fx, fx->a, ahead, l2, NOW_US, &why), INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_FUTURE);
    free(old);
    free(ahead);
}

/* The sender restarts (its seqgen reopens from the file) even with its clock set back: the
 * receiver accepts what it sends next. A receiver that restarts (a new fleet) accepts too. */
static void test_sender_restart_is_not_a_replay(void **state)
{
    fx_t *fx = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/a.seq", fx->dir);
    seqgen_t g;
    wv_err_t err;
    uint64_t seq;
    assert_int_equal(seqgen_open(&g, path, NOW_US, &err), 0);
    assert_int_equal(seqgen_next(&g, NOW_US, &seq, &err), 0);
    size_t len;
    uint8_t *env = s_state(fx->a, CHAIN, seq, 5, &len);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->a, env, len, NOW_US, &why), INBOX_ACCEPTED);
    free(env);
    /* restart, the clock one second behind */
    assert_int_equal(seqgen_open(&g, path, NOW_US - 1000000, &err), 0);
    assert_int_equal(seqgen_next(&g, NOW_US - 1000000, &seq, &err), 0);
    env = s_state(fx->a, CHAIN, seq, 6, &len);
    assert_int_equal(s_offer(fx, fx->a, env, len, NOW_US, &why), INBOX_ACCEPTED);
    assert_int_equal(fleet_find(fx->fleet, identity_pubkey(fx->a))->state.height, 6);
    /* a receiver with no memory (restarted) takes it as well */
    fleet_t *fresh = fleet_new(QUORUM_WBFT);
    assert_int_equal(fleet_add(fresh, identity_pubkey(fx->a), true, &err), 0);
    char detail[128];
    assert_int_equal(inbox_accept(fresh, CHAIN, NULL, 2, identity_pubkey(fx->a),
                                  IDENTITY_PUBKEY_LEN, env, len, NOW_MS, NOW_US, &fx->stats, &why,
                                  detail, sizeof detail),
                     INBOX_ACCEPTED);
    fleet_destroy(&fresh);
    free(env);
}

static void test_own_messages_are_ignored_not_counted(void **state)
{
    fx_t *fx = *state;
    size_t len;
    uint8_t *env = s_state(fx->a, CHAIN, NOW_US, 1, &len);
    inbox_drop_t why;
    char detail[64];
    assert_int_equal(inbox_accept(fx->fleet, CHAIN, identity_pubkey(fx->a), 2,
                                  identity_pubkey(fx->b), IDENTITY_PUBKEY_LEN, env, len, NOW_MS,
                                  NOW_US, &fx->stats, &why, detail, sizeof detail),
                     INBOX_SELF);
    for (int i = 0; i < INBOX_DROP_COUNT; i++)
        assert_int_equal(fx->stats.drops[i], 0);
    free(env);
}

/* Random bytes, truncations and wrong framing: dropped as decode errors, never a crash. */
static void test_junk_is_dropped_as_decode(void **state)
{
    fx_t *fx = *state;
    size_t len;
    uint8_t *env = s_state(fx->a, CHAIN, NOW_US, 1, &len);
    inbox_drop_t why;
    char detail[256];
    uint8_t hop[IDENTITY_PUBKEY_LEN] = {0};
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(inbox_accept(fx->fleet, CHAIN, NULL, 2, hop, sizeof hop, env, cut, NOW_MS,
                                      NOW_US, &fx->stats, &why, detail, sizeof detail),
                         INBOX_DROPPED);
        assert_int_equal(why, INBOX_DROP_DECODE);
    }
    srandom(7);
    uint8_t junk[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)random() % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)random();
        assert_int_equal(inbox_accept(fx->fleet, CHAIN, NULL, 2, hop, sizeof hop, junk, n, NOW_MS,
                                      NOW_US, &fx->stats, &why, detail, sizeof detail),
                         INBOX_DROPPED);
    }
    /* one frame only; a short key frame */
    assert_int_equal(inbox_accept(fx->fleet, CHAIN, NULL, 1, hop, sizeof hop, env, len, NOW_MS,
                                  NOW_US, &fx->stats, &why, detail, sizeof detail),
                     INBOX_DROPPED);
    assert_int_equal(inbox_accept(fx->fleet, CHAIN, NULL, 2, hop, 31, env, len, NOW_MS, NOW_US,
                                  &fx->stats, &why, detail, sizeof detail),
                     INBOX_DROPPED);
    assert_int_equal(why, INBOX_DROP_DECODE);
    assert_false(fleet_find(fx->fleet, identity_pubkey(fx->a))->has_state);
    assert_int_equal(fx->stats.accepted, 0);
    free(env);
}

/* A partial mesh: me hears a and b, but b says (in its "hears") that it does not hear a: me must
 * pass a's state on, once per seq of a; once b hears a itself, nothing is relayed. */
static void test_relay_fills_the_gaps_others_report(void **state)
{
    fx_t *fx = *state;
    wv_err_t err;
    assert_int_equal(fleet_add(fx->fleet, identity_pubkey(fx->stranger), true, &err), 0);
    fleet_member_t *me = fleet_find(fx->fleet, identity_pubkey(fx->stranger));
    fleet_member_t *a = fleet_find(fx->fleet, identity_pubkey(fx->a));
    fleet_member_t *b = fleet_find(fx->fleet, identity_pubkey(fx->b));
    size_t la, lb;
    uint8_t *ea = s_state(fx->a, CHAIN, NOW_US, 1, &la);
    inbox_drop_t why;
    assert_int_equal(s_offer(fx, fx->a, ea, la, NOW_US, &why), INBOX_ACCEPTED);
    /* b's state: it hears itself and me, not a (three validators: one byte) */
    wire_state_t st;
    memset(&st, 0, sizeof st);
    snprintf(st.node, sizeof st.node, "running");
    snprintf(st.role, sizeof st.role, "validator");
    st.hears_len = 1;
    st.hears[0] = (uint8_t)(1u << fleet_validator_index(fx->fleet, b) |
                            1u << fleet_validator_index(fx->fleet, me));
    /* me's own published state hears a directly: it is the relayer chosen for b's gap */
    wire_state_t mine = st;
    fleet_hears(fx->fleet, me, NOW_MS, 3000, mine.hears, &mine.hears_len);
    assert_int_equal(fleet_update(fx->fleet, me, NOW_US, &mine, NULL, 0, true, NOW_MS, &err), 0);
    assert_int_equal(fleet_update(fx->fleet, b, NOW_US, &st, NULL, 0, true, NOW_MS, &err), 0);
    assert_true(fleet_relay_due(fx->fleet, me, a, NOW_MS, 600, 3000));
    a->relayed_seq = a->seq;
    assert_false(fleet_relay_due(fx->fleet, me, a, NOW_MS, 600, 3000)); /* once per seq */
    uint8_t *ea2 = s_state(fx->a, CHAIN, NOW_US + 1, 2, &la);
    assert_int_equal(s_offer(fx, fx->a, ea2, la, NOW_US, &why), INBOX_ACCEPTED);
    assert_true(fleet_relay_due(fx->fleet, me, a, NOW_MS, 600, 3000));
    /* b now hears a and everyone else: no gap left */
    fleet_hears(fx->fleet, me, NOW_MS, 3000, st.hears, &st.hears_len);
    assert_int_equal(st.hears[0], 0x07);
    assert_int_equal(fleet_update(fx->fleet, b, NOW_US + 2, &st, NULL, 0, true, NOW_MS, &err), 0);
    assert_false(fleet_relay_due(fx->fleet, me, a, NOW_MS, 600, 3000));
    /* our own state is never relayed */
    assert_false(fleet_relay_due(fx->fleet, me, me, NOW_MS, 600, 3000));
    (void)lb;
    free(ea);
    free(ea2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_valid_state_is_recorded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_chain_is_dropped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_is_dropped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forged_signature_is_dropped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replays_are_dropped_and_relays_are_duplicates, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_future_messages_are_dropped, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_sender_restart_is_not_a_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_own_messages_are_ignored_not_counted, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_junk_is_dropped_as_decode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_relay_fills_the_gaps_others_report, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
