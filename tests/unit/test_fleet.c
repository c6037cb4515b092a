/* Unit tests of proto/fleet.h: members in key order, their latest STATEs, and the quorum rules of
 * DESIGN section 7 (votes, network height, restart slots). Not tested here: signatures, seqs. */
#include "fleet.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "v2"
#define UPGRADE_HEIGHT 1000
#define NOW_MS 1000000 /* the caller's clock, any value */
#define FRESH_MS 3000  /* three heartbeats of one second */

static const uint8_t SHA_A[WIRE_SHA256_LEN] = {0xa1, 0xa2};
static const uint8_t SHA_B[WIRE_SHA256_LEN] = {0xb1, 0xb2};

/* Key number i: keys sort as their numbers do, and key i's hex starts with i's two digits. */
static void s_key(uint8_t key[IDENTITY_PUBKEY_LEN], int i)
{
    memset(key, 0, IDENTITY_PUBKEY_LEN);
    key[0] = (uint8_t)(i & 0xff);
    key[1] = (uint8_t)(i >> 8);
}

static fleet_member_t *s_member(fleet_t *f, int i)
{
    uint8_t key[IDENTITY_PUBKEY_LEN];
    s_key(key, i);
    fleet_member_t *m = fleet_find(f, key);
    if (m == NULL)
        fail_msg("no member %d", i);
    return m;
}

/* A fleet of validators with keys 1..validators and observers with keys 101.. . */
static fleet_t *s_fleet(int validators, int observers, quorum_rule_t rule)
{
    fleet_t *f = fleet_new(rule);
    assert_non_null(f);
    wv_err_t err = {{0}};
    uint8_t key[IDENTITY_PUBKEY_LEN];
    for (int i = 1; i <= validators; i++) {
        s_key(key, i);
        assert_int_equal(fleet_add(f, key, true, &err), 0);
    }
    for (int i = 101; i <= 100 + observers; i++) {
        s_key(key, i);
        assert_int_equal(fleet_add(f, key, false, &err), 0);
    }
    return f;
}

/* Member i reports its node at node_height in lifecycle state `node`, and, unless phase is NULL,
 * one upgrade NAME at (up_height, sha) in that phase; heard at now_ms. */
static void s_report(fleet_t *f, int i, int64_t node_height, const char *node, const char *phase,
                     int64_t up_height, const uint8_t *sha, int64_t now_ms)
{
    wire_state_t st;
    memset(&st, 0, sizeof st);
    st.height = node_height;
    snprintf(st.node, sizeof st.node, "%s", node);
    snprintf(st.role, sizeof st.role, "%s", WIRE_ROLE_VALIDATOR);
    if (phase != NULL) {
        st.n_upgrades = 1;
        snprintf(st.upgrades[0].name, sizeof st.upgrades[0].name, "%s", NAME);
        st.upgrades[0].height = up_height;
        memcpy(st.upgrades[0].sha256, sha, WIRE_SHA256_LEN);
        snprintf(st.upgrades[0].phase, sizeof st.upgrades[0].phase, "%s", phase);
        snprintf(st.upgrades[0].mode, sizeof st.upgrades[0].mode, "%s", WIRE_MODE_ROLLING);
    }
    wv_err_t err = {{0}};
    if (fleet_update(f, s_member(f, i), 1, &st, NULL, 0, true, now_ms, &err) != 0)
        fail_msg("fleet_update: %s", err.msg);
}

/* Member i, running and fresh, in `phase` for the triple (NAME, UPGRADE_HEIGHT, SHA_A). */
static void s_vote(fleet_t *f, int i, const char *phase)
{
    s_report(f, i, 900, "running", phase, UPGRADE_HEIGHT, SHA_A, NOW_MS);
}

static fleet_tally_t s_tally(fleet_t *f)
{
    fleet_tally_t t;
    fleet_tally(f, NAME, UPGRADE_HEIGHT, SHA_A, NOW_MS, FRESH_MS, &t);
    return t;
}

/* May validator i take a restart slot for the triple? why gets the reason. */
static bool s_slot(fleet_t *f, int i, char *why, size_t why_size)
{
    uint8_t key[IDENTITY_PUBKEY_LEN];
    s_key(key, i);
    return fleet_slot_free(f, key, NAME, UPGRADE_HEIGHT, SHA_A, NOW_MS, FRESH_MS, why, why_size);
}

/* ---- quorum arithmetic ---- */

static void test_quorum_sizes_for_1_to_13_validators(void **state)
{
    (void)state;
    /* wbft: f = floor((n-1)/3), q = n - f; ceil2n3: q = ceil(2n/3). Worked by hand. */
    static const int wbft[] = {1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9, 9};
    static const int ceil2n3[] = {1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9};
    for (int n = 1; n <= 13; n++) {
        assert_int_equal(quorum_size(n, QUORUM_WBFT), wbft[n - 1]);
        assert_int_equal(quorum_size(n, QUORUM_CEIL2N3), ceil2n3[n - 1]);
        assert_int_equal(quorum_tolerated(n, QUORUM_WBFT), n - wbft[n - 1]);
        assert_int_equal(quorum_tolerated(n, QUORUM_CEIL2N3), n - ceil2n3[n - 1]);
    }
    /* The older rule is never stricter, for any fleet size. */
    for (int n = 1; n <= 1000; n++)
        assert_true(quorum_size(n, QUORUM_CEIL2N3) <= quorum_size(n, QUORUM_WBFT));
    assert_int_equal(quorum_size(0, QUORUM_WBFT), 0);
    assert_int_equal(quorum_size(-3, QUORUM_CEIL2N3), 0);
    assert_int_equal(quorum_tolerated(0, QUORUM_WBFT), 0);
}

static void test_rule_parse_takes_the_two_words_only(void **state)
{
    (void)state;
    quorum_rule_t rule = QUORUM_CEIL2N3;
    wv_err_t err = {{0}};
    assert_int_equal(quorum_rule_parse("wbft", &rule, &err), 0);
    assert_int_equal(rule, QUORUM_WBFT);
    assert_int_equal(quorum_rule_parse("ceil2n3", &rule, &err), 0);
    assert_int_equal(rule, QUORUM_CEIL2N3);
    assert_string_equal(quorum_rule_name(QUORUM_WBFT), "wbft");
    assert_string_equal(quorum_rule_name(QUORUM_CEIL2N3), "ceil2n3");

    assert_int_equal(quorum_rule_parse("2/3", &rule, &err), -1);
    assert_int_equal(rule, QUORUM_CEIL2N3); /* untouched */
    tu_assert_contains(err.msg, "\"2/3\"");
    tu_assert_contains(err.msg, "wbft");
    tu_assert_contains(err.msg, "ceil2n3");
    assert_int_equal(quorum_rule_parse("", &rule, &err), -1);
}

/* ---- members ---- */

static void test_members_are_kept_in_key_order(void **state)
{
    (void)state;
    fleet_t *f = fleet_new(QUORUM_WBFT);
    wv_err_t err = {{0}};
    uint8_t key[IDENTITY_PUBKEY_LEN];
    const int order_added[] = {5, 0xab, 1, 3};
    for (size_t i = 0; i < 4; i++) {
        s_key(key, order_added[i]);
        assert_int_equal(fleet_add(f, key, order_added[i] != 3, &err), 0);
    }
    assert_int_equal(fleet_count(f), 4);
    assert_int_equal(fleet_validators(f), 3);
    assert_int_equal(fleet_quorum(f), 3);
    assert_int_equal(fleet_rule(f), QUORUM_WBFT);
    assert_int_equal(fleet_at(f, 0)->key[0], 1);
    assert_int_equal(fleet_at(f, 1)->key[0], 3);
    assert_int_equal(fleet_at(f, 2)->key[0], 5);
    assert_int_equal(fleet_at(f, 3)->key[0], 0xab);
    assert_false(fleet_at(f, 1)->validator);
    assert_string_equal(fleet_at(f, 3)->hex,
                        "ab00000000000000000000000000000000000000000000000000000000000000");
    /* A new member has heard nothing yet. */
    assert_false(fleet_at(f, 0)->has_state);
    assert_int_equal(fleet_at(f, 0)->heard_ms, 0);
    assert_null(fleet_at(f, 0)->raw);
    assert_null(fleet_member_upgrade(fleet_at(f, 0), NAME));

    /* Pointers handed out stay valid across later adds. */
    fleet_member_t *five = s_member(f, 5);
    s_key(key, 4);
    assert_int_equal(fleet_add(f, key, true, &err), 0);
    assert_ptr_equal(s_member(f, 5), five);
    assert_ptr_equal(fleet_at(f, 3), five);
    s_key(key, 9);
    assert_null(fleet_find(f, key));

    fleet_destroy(&f);
    assert_null(f);
    fleet_destroy(&f); /* twice is fine */
}

static void test_a_key_added_twice_is_refused(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(3, 0, QUORUM_WBFT);
    uint8_t key[IDENTITY_PUBKEY_LEN];
    s_key(key, 2);
    wv_err_t err = {{0}};
    assert_int_equal(fleet_add(f, key, false, &err), -1); /* even as an observer */
    tu_assert_contains(err.msg, "0200000000000000000000000000000000000000000000000000000000000000");
    tu_assert_contains(err.msg, "twice");
    assert_int_equal(fleet_count(f), 3);
    assert_true(s_member(f, 2)->validator);
    fleet_destroy(&f);
}

static void test_the_fleet_holds_at_most_FLEET_MEMBERS_MAX(void **state)
{
    (void)state;
    fleet_t *f = fleet_new(QUORUM_WBFT);
    wv_err_t err = {{0}};
    uint8_t key[IDENTITY_PUBKEY_LEN];
    for (int i = FLEET_MEMBERS_MAX - 1; i >= 0; i--) { /* backwards: every add inserts first */
        s_key(key, i);
        assert_int_equal(fleet_add(f, key, true, &err), 0);
    }
    assert_int_equal(fleet_count(f), FLEET_MEMBERS_MAX);
    for (size_t i = 0; i < FLEET_MEMBERS_MAX; i++)
        assert_int_equal(fleet_at(f, i)->key[0], i);
    s_key(key, FLEET_MEMBERS_MAX);
    assert_int_equal(fleet_add(f, key, true, &err), -1);
    char limit[16];
    snprintf(limit, sizeof limit, "%d", FLEET_MEMBERS_MAX);
    tu_assert_contains(err.msg, limit);
    assert_int_equal(fleet_count(f), FLEET_MEMBERS_MAX);
    assert_int_equal(fleet_validators(f), FLEET_MEMBERS_MAX);
    fleet_destroy(&f);
}

static void test_update_keeps_the_latest_state_and_envelope(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(2, 0, QUORUM_WBFT);
    fleet_member_t *m = s_member(f, 1);
    wire_state_t st;
    memset(&st, 0, sizeof st);
    st.height = 42;
    snprintf(st.node, sizeof st.node, "running");
    wv_err_t err = {{0}};

    const uint8_t first[] = {1, 2, 3};
    assert_int_equal(fleet_update(f, m, 7, &st, first, sizeof first, true, 5000, &err), 0);
    assert_true(m->has_state);
    assert_int_equal(m->seq, 7);
    assert_int_equal(m->state.height, 42);
    assert_string_equal(m->state.node, "running");
    assert_int_equal(m->heard_ms, 5000);
    assert_int_equal(m->direct_ms, 5000);
    assert_int_equal(m->raw_len, sizeof first);
    assert_memory_equal(m->raw, first, sizeof first);
    assert_true(m->raw != first); /* a copy */

    /* A relayed one: heard, not direct. The envelope is replaced, the old one freed (ASan and
     * valgrind would see a leak). */
    uint8_t second[100];
    memset(second, 0x5a, sizeof second);
    st.height = 43;
    assert_int_equal(fleet_update(f, m, 8, &st, second, sizeof second, false, 6000, &err), 0);
    assert_int_equal(m->seq, 8);
    assert_int_equal(m->state.height, 43);
    assert_int_equal(m->heard_ms, 6000);
    assert_int_equal(m->direct_ms, 5000);
    assert_int_equal(m->raw_len, sizeof second);
    assert_memory_equal(m->raw, second, sizeof second);
    second[0] = 0; /* the fleet's copy is its own */
    assert_int_equal(m->raw[0], 0x5a);

    /* No envelope (our own state): none kept. */
    assert_int_equal(fleet_update(f, m, 9, &st, NULL, 0, true, 7000, &err), 0);
    assert_null(m->raw);
    assert_int_equal(m->raw_len, 0);
    assert_int_equal(m->direct_ms, 7000);

    assert_int_equal(fleet_update(f, m, 10, &st, first, sizeof first, true, 8000, &err), 0);
    assert_false(s_member(f, 2)->has_state); /* only that member */
    fleet_destroy(&f);                       /* frees the last envelope */
}

/* ---- votes ---- */

static void test_phases_that_vote(void **state)
{
    (void)state;
    assert_true(fleet_phase_votes(WIRE_PHASE_READY));
    assert_true(fleet_phase_votes(WIRE_PHASE_ARMED));
    assert_true(fleet_phase_votes(WIRE_PHASE_BLOCKED));
    assert_true(fleet_phase_votes(WIRE_PHASE_SWITCHING));
    assert_true(fleet_phase_votes(WIRE_PHASE_DONE));
    assert_false(fleet_phase_votes(WIRE_PHASE_WAITING));
    assert_false(fleet_phase_votes(WIRE_PHASE_FAILED));
    assert_false(fleet_phase_votes(""));
    assert_false(fleet_phase_votes("Ready"));
    assert_false(fleet_phase_votes(NULL));
}

static void test_tally_counts_identical_triples_only(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(7, 0, QUORUM_WBFT);
    s_vote(f, 1, WIRE_PHASE_READY);
    s_vote(f, 2, WIRE_PHASE_ARMED);
    s_vote(f, 3, WIRE_PHASE_SWITCHING);
    s_vote(f, 4, WIRE_PHASE_DONE);
    /* Same name, another binary; same name, another height: conflicts, not votes. */
    s_report(f, 5, 900, "running", WIRE_PHASE_READY, UPGRADE_HEIGHT, SHA_B, NOW_MS);
    s_report(f, 6, 900, "running", WIRE_PHASE_ARMED, UPGRADE_HEIGHT + 1, SHA_A, NOW_MS);
    s_vote(f, 7, WIRE_PHASE_BLOCKED); /* still a vote, not armed */

    fleet_tally_t t = s_tally(f);
    assert_int_equal(t.validators, 7);
    assert_int_equal(t.quorum, 5);
    assert_int_equal(t.ready, 5);
    assert_int_equal(t.armed, 3);
    assert_int_equal(t.switching, 1);
    assert_int_equal(t.done, 1);
    assert_int_equal(t.conflicts, 2);
    assert_int_equal(t.missing, 0);

    /* Phases that are not votes are neither for nor against; nor is an entry for another name. */
    s_vote(f, 5, WIRE_PHASE_WAITING);
    s_report(f, 6, 900, "running", WIRE_PHASE_FAILED, UPGRADE_HEIGHT + 1, SHA_B, NOW_MS);
    s_report(f, 7, 900, "running", NULL, 0, NULL, NOW_MS);
    t = s_tally(f);
    assert_int_equal(t.ready, 4);
    assert_int_equal(t.conflicts, 0);
    assert_int_equal(t.missing, 0);

    /* The other triple's own tally sees the mirror image. */
    s_report(f, 5, 900, "running", WIRE_PHASE_READY, UPGRADE_HEIGHT, SHA_B, NOW_MS);
    fleet_tally(f, NAME, UPGRADE_HEIGHT, SHA_B, NOW_MS, FRESH_MS, &t);
    assert_int_equal(t.ready, 1);
    assert_int_equal(t.conflicts, 4);
    fleet_tally(f, "v3", UPGRADE_HEIGHT, SHA_A, NOW_MS, FRESH_MS, &t);
    assert_int_equal(t.ready, 0);
    assert_int_equal(t.conflicts, 0);
    fleet_destroy(&f);
}

static void test_observers_never_count(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(4, 3, QUORUM_WBFT);
    s_vote(f, 1, WIRE_PHASE_READY);
    s_vote(f, 101, WIRE_PHASE_READY);
    s_vote(f, 102, WIRE_PHASE_ARMED);
    s_report(f, 103, 900, "running", WIRE_PHASE_READY, UPGRADE_HEIGHT, SHA_B, NOW_MS);
    fleet_tally_t t = s_tally(f);
    assert_int_equal(t.validators, 4);
    assert_int_equal(t.quorum, 3);
    assert_int_equal(t.ready, 1);
    assert_int_equal(t.armed, 0);
    assert_int_equal(t.conflicts, 0);
    assert_int_equal(t.missing, 3); /* validators 2..4; silent observers are not missing */
    fleet_destroy(&f);
}

static void test_stale_states_count_as_missing(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(4, 0, QUORUM_WBFT);
    s_vote(f, 1, WIRE_PHASE_READY);
    s_report(f, 2, 900, "running", WIRE_PHASE_READY, UPGRADE_HEIGHT, SHA_A, NOW_MS - FRESH_MS);
    s_report(f, 3, 900, "running", WIRE_PHASE_ARMED, UPGRADE_HEIGHT, SHA_A, NOW_MS - FRESH_MS - 1);
    /* 4 never reported. */
    fleet_tally_t t = s_tally(f);
    assert_int_equal(t.ready, 2); /* exactly fresh_ms old is still fresh */
    assert_int_equal(t.armed, 0);
    assert_int_equal(t.missing, 2);

    /* fresh_ms = 0: any age counts; a member never heard is still missing. */
    fleet_tally(f, NAME, UPGRADE_HEIGHT, SHA_A, NOW_MS, 0, &t);
    assert_int_equal(t.ready, 3);
    assert_int_equal(t.armed, 1);
    assert_int_equal(t.missing, 1);

    /* A stale conflicting vote is missing, not a conflict. */
    s_report(f, 4, 900, "running", WIRE_PHASE_READY, UPGRADE_HEIGHT, SHA_B, 1);
    t = s_tally(f);
    assert_int_equal(t.conflicts, 0);
    assert_int_equal(t.missing, 2);
    fleet_destroy(&f);
}

static void test_votes_sent_before_the_start_do_not_count(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(4, 0, QUORUM_WBFT);
    for (int i = 1; i <= 3; i++)
        s_vote(f, i, WIRE_PHASE_READY); /* seq 1 */
    assert_int_equal(s_tally(f).ready, 3);
    /* An agent that started at time 100 has forgotten every member's last seq: a peer replaying
     * older signed votes would get them accepted. Sent before the start, they are no votes. */
    fleet_set_votes_since(f, 100);
    fleet_tally_t t = s_tally(f);
    assert_int_equal(t.ready, 0);
    assert_int_equal(t.missing, 4);
    /* member 2's next state, sent after the start, votes again */
    static wire_state_t st;
    st = s_member(f, 2)->state;
    wv_err_t err = {{0}};
    assert_int_equal(fleet_update(f, s_member(f, 2), 100, &st, NULL, 0, true, NOW_MS, &err), 0);
    t = s_tally(f);
    assert_int_equal(t.ready, 1);
    assert_int_equal(t.missing, 3);
    /* heights are not votes: an old report still counts for the network height */
    assert_int_equal(fleet_network_height(f), 900);
    fleet_destroy(&f);
}

/* ---- network height ---- */

static void test_network_height_is_the_qth_highest(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(4, 1, QUORUM_WBFT); /* q = 3 */
    s_report(f, 1, 105, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 2, 110, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 3, 103, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 4, 100, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 101, 5000, "running", NULL, 0, NULL, NOW_MS); /* an observer: ignored */
    assert_int_equal(fleet_network_height(f), 103);

    /* One validator far ahead (or lying) cannot move it. */
    s_report(f, 2, 1000000, "running", NULL, 0, NULL, NOW_MS);
    assert_int_equal(fleet_network_height(f), 103);

    /* A dead member's old report still counts (a height only grows), but as the lowest of four
     * it is below the q-th and moves nothing. */
    s_report(f, 4, 50, "stopped", NULL, 0, NULL, 1);
    assert_int_equal(fleet_network_height(f), 103);
    s_report(f, 3, 104, "running", NULL, 0, NULL, NOW_MS);
    assert_int_equal(fleet_network_height(f), 104);
    fleet_destroy(&f);

    /* With only three reports the dead one's 50 is the third highest. */
    f = s_fleet(4, 0, QUORUM_WBFT);
    s_report(f, 1, 105, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 2, 110, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 4, 50, "stopped", NULL, 0, NULL, 1);
    assert_int_equal(fleet_network_height(f), 50);
    fleet_destroy(&f);
}

static void test_network_height_needs_q_reports(void **state)
{
    (void)state;
    fleet_t *f = s_fleet(4, 2, QUORUM_WBFT);
    assert_int_equal(fleet_network_height(f), 0);
    s_report(f, 1, 105, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 2, 110, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 101, 120, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 102, 130, "running", NULL, 0, NULL, NOW_MS);
    assert_int_equal(fleet_network_height(f), 0); /* 2 validators < q = 3 */
    fleet_destroy(&f);

    f = fleet_new(QUORUM_WBFT); /* no validators at all */
    assert_int_equal(fleet_network_height(f), 0);
    fleet_destroy(&f);

    f = s_fleet(4, 0, QUORUM_CEIL2N3); /* q = 3 as well */
    s_report(f, 1, 105, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 2, 110, "running", NULL, 0, NULL, NOW_MS);
    s_report(f, 3, 90, "running", NULL, 0, NULL, NOW_MS);
    assert_int_equal(fleet_network_height(f), 90);
    fleet_destroy(&f);
}

/* ---- restart slots ---- */

/* n = 4, q = 3: one slot, all four running, fresh and armed. */
static fleet_t *s_armed_fleet(int n)
{
    fleet_t *f = s_fleet(n, 1, QUORUM_WBFT);
    for (int i = 1; i <= n; i++)
        s_vote(f, i, WIRE_PHASE_ARMED);
    return f;
}

static void test_slot_goes_to_the_lowest_armed_key(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(4);
    char why[256];
    assert_true(s_slot(f, 1, why, sizeof why));
    for (int i = 2; i <= 4; i++) {
        assert_false(s_slot(f, i, why, sizeof why));
        assert_string_equal(why, "waiting for 01000000 (lower key) to take the slot");
    }
    /* An observer that is down changes nothing. */
    s_report(f, 101, 900, "stopped", NULL, 0, NULL, 1);
    assert_true(s_slot(f, 1, why, sizeof why));

    /* The lowest is ready but not armed yet (the quorum's last vote is on its way to it): it
     * still goes first, so two validators arming in the same instant never both go. */
    s_vote(f, 1, WIRE_PHASE_READY);
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "not armed");
    assert_false(s_slot(f, 2, why, sizeof why));
    assert_string_equal(why, "waiting for 01000000 (lower key) to take the slot");

    /* A lowest that has no binary (waiting) is not in the queue: the next one goes. */
    s_vote(f, 1, WIRE_PHASE_WAITING);
    assert_true(s_slot(f, 2, why, sizeof why));
    assert_false(s_slot(f, 3, why, sizeof why));
    tu_assert_contains(why, "waiting for 02000000");
    fleet_destroy(&f);
}

static void test_no_slot_while_a_validator_switches(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(4);
    s_vote(f, 3, WIRE_PHASE_SWITCHING);
    char why[256];
    for (int i = 1; i <= 4; i++)
        assert_false(s_slot(f, i, why, sizeof why));
    assert_false(s_slot(f, 1, why, sizeof why));
    assert_string_equal(why, "1 validator down or switching, 0 of 1 restart slots free");

    /* Switching to something else holds a slot just the same. */
    s_report(f, 3, 900, "running", WIRE_PHASE_SWITCHING, UPGRADE_HEIGHT + 5, SHA_B, NOW_MS);
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "1 validator down or switching");
    fleet_destroy(&f);
}

static void test_no_slot_while_a_validator_is_silent_or_stopped(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(4);
    char why[256];
    s_report(f, 4, 900, "running", WIRE_PHASE_ARMED, UPGRADE_HEIGHT, SHA_A, NOW_MS - FRESH_MS - 1);
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "1 validator down");
    assert_false(s_slot(f, 2, why, sizeof why));

    s_vote(f, 4, WIRE_PHASE_ARMED);
    assert_true(s_slot(f, 1, why, sizeof why));
    s_report(f, 4, 900, "stopped", WIRE_PHASE_ARMED, UPGRADE_HEIGHT, SHA_A, NOW_MS);
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "0 of 1 restart slots free");
    fleet_destroy(&f);

    /* One that never reported is down too. */
    f = s_fleet(4, 0, QUORUM_WBFT);
    for (int i = 1; i <= 3; i++)
        s_vote(f, i, WIRE_PHASE_ARMED);
    assert_false(s_slot(f, 1, why, sizeof why));
    fleet_destroy(&f);
}

static void test_next_lowest_goes_after_the_lowest_is_done(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(4);
    char why[256];
    assert_true(s_slot(f, 1, why, sizeof why));
    s_vote(f, 1, WIRE_PHASE_SWITCHING); /* 1 takes the slot */
    assert_false(s_slot(f, 2, why, sizeof why));
    s_vote(f, 1, WIRE_PHASE_DONE); /* and gives it back, healthy */
    assert_true(s_slot(f, 2, why, sizeof why));
    assert_false(s_slot(f, 3, why, sizeof why));
    tu_assert_contains(why, "waiting for 02000000");
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "not armed (phase done)");
    s_vote(f, 2, WIRE_PHASE_DONE);
    s_vote(f, 3, WIRE_PHASE_DONE);
    assert_true(s_slot(f, 4, why, sizeof why));
    fleet_destroy(&f);
}

static void test_seven_validators_have_two_slots(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(7); /* q = 5, two may be down */
    char why[256];
    assert_true(s_slot(f, 1, why, sizeof why));
    assert_true(s_slot(f, 2, why, sizeof why));
    assert_false(s_slot(f, 3, why, sizeof why));
    assert_string_equal(why,
                        "waiting for 01000000, 02000000 (lower keys) to take the 2 free slots");
    assert_false(s_slot(f, 7, why, sizeof why));

    s_vote(f, 1, WIRE_PHASE_SWITCHING);
    assert_true(s_slot(f, 2, why, sizeof why)); /* the second slot */
    assert_false(s_slot(f, 3, why, sizeof why));
    tu_assert_contains(why, "waiting for 02000000 (lower key)");

    s_vote(f, 2, WIRE_PHASE_SWITCHING);
    assert_false(s_slot(f, 3, why, sizeof why));
    assert_string_equal(why, "2 validators down or switching, 0 of 2 restart slots free");
    fleet_destroy(&f);
}

static void test_only_known_armed_validators_take_slots(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(4);
    char why[256];
    assert_false(s_slot(f, 9, why, sizeof why));
    tu_assert_contains(why, "09000000");
    tu_assert_contains(why, "not in the fleet");
    s_vote(f, 101, WIRE_PHASE_ARMED);
    assert_false(s_slot(f, 101, why, sizeof why));
    tu_assert_contains(why, "observer");

    /* Armed for another binary or height is not armed for this triple. */
    s_report(f, 1, 900, "running", WIRE_PHASE_ARMED, UPGRADE_HEIGHT, SHA_B, NOW_MS);
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "not armed");
    assert_true(s_slot(f, 2, why, sizeof why)); /* 1 is running: not down, not queued */

    s_report(f, 2, 900, "running", NULL, 0, NULL, NOW_MS);
    assert_false(s_slot(f, 2, why, sizeof why));
    tu_assert_contains(why, "not armed");
    s_report(f, 2, 900, "running", WIRE_PHASE_ARMED, UPGRADE_HEIGHT, SHA_A, 1);
    assert_false(s_slot(f, 2, why, sizeof why));
    tu_assert_contains(why, "not fresh");
    s_report(f, 2, 900, "starting", WIRE_PHASE_ARMED, UPGRADE_HEIGHT, SHA_A, NOW_MS);
    assert_false(s_slot(f, 2, why, sizeof why));
    tu_assert_contains(why, "starting");
    assert_false(s_slot(f, 2, NULL, 0)); /* why is optional */
    fleet_destroy(&f);
}

static void test_three_validators_never_roll(void **state)
{
    (void)state;
    fleet_t *f = s_armed_fleet(3); /* q = 3: none may be down */
    char why[256];
    assert_false(s_slot(f, 1, why, sizeof why));
    tu_assert_contains(why, "0 of 0 restart slots free");
    tu_assert_contains(why, "none may be down");
    fleet_destroy(&f);

    /* A short buffer is cut, not overrun. */
    f = s_armed_fleet(4);
    char tiny[8];
    assert_false(s_slot(f, 2, tiny, sizeof tiny));
    assert_string_equal(tiny, "waiting");
    fleet_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum_sizes_for_1_to_13_validators),
        cmocka_unit_test(test_rule_parse_takes_the_two_words_only),
        cmocka_unit_test(test_members_are_kept_in_key_order),
        cmocka_unit_test(test_a_key_added_twice_is_refused),
        cmocka_unit_test(test_the_fleet_holds_at_most_FLEET_MEMBERS_MAX),
        cmocka_unit_test(test_update_keeps_the_latest_state_and_envelope),
        cmocka_unit_test(test_phases_that_vote),
        cmocka_unit_test(test_tally_counts_identical_triples_only),
        cmocka_unit_test(test_observers_never_count),
        cmocka_unit_test(test_stale_states_count_as_missing),
        cmocka_unit_test(test_votes_sent_before_the_start_do_not_count),
        cmocka_unit_test(test_network_height_is_the_qth_highest),
        cmocka_unit_test(test_network_height_needs_q_reports),
        cmocka_unit_test(test_slot_goes_to_the_lowest_armed_key),
        cmocka_unit_test(test_no_slot_while_a_validator_switches),
        cmocka_unit_test(test_no_slot_while_a_validator_is_silent_or_stopped),
        cmocka_unit_test(test_next_lowest_goes_after_the_lowest_is_done),
        cmocka_unit_test(test_seven_validators_have_two_slots),
        cmocka_unit_test(test_only_known_armed_validators_take_slots),
        cmocka_unit_test(test_three_validators_never_roll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
