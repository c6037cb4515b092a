/* Unit tests of proto/wire.h against hostile input: every truncation of a valid envelope, headers
 * that announce huge sizes, random bytes and random mutations. Each case must be refused or
 * decoded, never crash, leak or read out of bounds (run under ASan and valgrind), and nothing but
 * the original message may verify. Not tested here: field-by-field strictness (test_wire). */
#include "identity.h"
#include "wire.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN "wemix-testnet-1"
#define T0 1700000000000000ULL /* a plausible clock, in microseconds */
#define FUZZ_ROUNDS 10000

typedef struct {
    char dir[64];
    identity_t *id;
    uint8_t *env; /* a valid sealed STATE envelope */
    size_t env_len;
    uint8_t *body; /* its body */
    size_t body_len;
} fixture_t;

/* A STATE with every kind of field, so mutations reach all of the decoder. */
static void s_sample_state(wire_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->height = 123456;
    snprintf(st->version, sizeof st->version, "v1.2.3");
    snprintf(st->node, sizeof st->node, "running");
    snprintf(st->health, sizeof st->health, "healthy");
    snprintf(st->role, sizeof st->role, WIRE_ROLE_VALIDATOR);
    st->n_upgrades = 2;
    for (size_t i = 0; i < 2; i++) {
        wire_upgrade_t *u = &st->upgrades[i];
        snprintf(u->name, sizeof u->name, "v2.0.%zu", i);
        u->height = 200000 * (int64_t)i;
        memset(u->sha256, 0xa0 + (int)i, sizeof u->sha256);
        snprintf(u->phase, sizeof u->phase, i == 0 ? WIRE_PHASE_BLOCKED : WIRE_PHASE_READY);
        snprintf(u->mode, sizeof u->mode, i == 0 ? WIRE_MODE_AT_HEIGHT : WIRE_MODE_ROLLING);
    }
    snprintf(st->upgrades[0].reason, sizeof st->upgrades[0].reason, "2/3 ready, need 3");
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL || tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    char path[PATH_MAX];
    bool created = false;
    wv_err_t err = {{0}};
    wire_state_t st;
    s_sample_state(&st);
    snprintf(path, sizeof path, "%s/a.key", fx->dir);
    fx->id = identity_load_or_create(path, &created, &err);
    if (fx->id == NULL || wire_state_encode(&st, &fx->body, &fx->body_len, &err) != 0 ||
        wire_envelope_seal(fx->id, CHAIN, T0, WIRE_TYPE_STATE, fx->body, fx->body_len, &fx->env,
                           &fx->env_len, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    identity_destroy(&fx->id);
    free(fx->env);
    free(fx->body);
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

static void test_every_truncation_is_refused(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t env;
    for (size_t len = 0; len < fx->env_len; len++) {
        /* a copy of exactly len bytes, so a read past it is caught by ASan and valgrind */
        uint8_t *cut = malloc(len > 0 ? len : 1);
        assert_non_null(cut);
        memcpy(cut, fx->env, len);
        wv_err_t err = {{0}};
        if (wire_envelope_decode(cut, len, &env, &err) == 0)
            fail_msg("a prefix of %zu of %zu bytes decoded", len, fx->env_len);
        assert_true(err.msg[0] != '\0');
        free(cut);
    }
    for (size_t len = 0; len < fx->body_len; len++) {
        uint8_t *cut = malloc(len > 0 ? len : 1);
        assert_non_null(cut);
        memcpy(cut, fx->body, len);
        wire_state_t st;
        wv_err_t err = {{0}};
        if (wire_state_decode(cut, len, &st, &err) == 0)
            fail_msg("a STATE prefix of %zu of %zu bytes decoded", len, fx->body_len);
        free(cut);
    }
}

/* msgpack-c allocates what a container header announces before reading the items: headers that
 * announce billions of items in a few bytes must be refused without trying. */
static void test_huge_announced_sizes_are_refused_cheaply(void **state)
{
    (void)state;
    static const uint8_t cases[][16] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},                   /* array of 2^32-1 */
        {0xdf, 0xff, 0xff, 0xff, 0xff},                   /* map of 2^32-1 pairs */
        {0x81, 0xa1, 'v', 0xdd, 0x7f, 0xff, 0xff, 0xff},  /* nested in a map */
        {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},              /* str of 4 GB */
        {0xc6, 0xff, 0xff, 0xff, 0xff, 0},                /* bin of 4 GB */
        {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 0},             /* ext of 4 GB */
        {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91}, /* nesting cut short */
        {0xc1},                                           /* never used */
    };
    static const size_t lens[] = {5, 5, 8, 6, 6, 7, 8, 1};
    static wire_envelope_t env;
    wire_state_t st;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        wv_err_t err = {{0}};
        assert_int_equal(wire_envelope_decode(cases[i], lens[i], &env, &err), -1);
        assert_int_equal(wire_state_decode(cases[i], lens[i], &st, &err), -1);
    }
    /* nesting deeper than msgpack-c's stack, complete: an error, not a crash */
    uint8_t deep[200];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x00;
    wv_err_t err = {{0}};
    assert_int_equal(wire_envelope_decode(deep, sizeof deep, &env, &err), -1);
}

/* xorshift64*: a fixed sequence, so a failure can be run again */
static uint64_t s_rand(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}

static void test_random_bytes_are_refused_without_harm(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t env;
    uint64_t seed = 0x5eed0001;
    int decoded = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        size_t len = (size_t)(s_rand(&seed) % 600);
        uint8_t *buf = malloc(len > 0 ? len : 1);
        assert_non_null(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)s_rand(&seed);
        /* a third start like an envelope, so the decoder gets past the first byte */
        size_t keep = round % 3 == 0 ? (size_t)(s_rand(&seed) % fx->env_len) : 0;
        if (keep > len)
            keep = len;
        memcpy(buf, fx->env, keep);
        wv_err_t err = {{0}};
        if (wire_envelope_decode(buf, len, &env, &err) == 0) {
            /* only an envelope's own bytes with a random tail (in its signature) decode */
            assert_true(keep > 0);
            assert_false(wire_envelope_verify(&env));
        }
        wire_state_t st;
        if (wire_state_decode(buf, len, &st, &err) == 0)
            decoded++;
        free(buf);
    }
    assert_int_equal(decoded, 0);
}

/* Does env carry exactly the message the fixture sealed? */
static bool s_same_message(const fixture_t *fx, const wire_envelope_t *env)
{
    return env->v == WIRE_VERSION && strcmp(env->chain, CHAIN) == 0 &&
           memcmp(env->from, identity_pubkey(fx->id), IDENTITY_PUBKEY_LEN) == 0 && env->seq == T0 &&
           strcmp(env->type, "STATE") == 0 && env->body_len == fx->body_len &&
           memcmp(env->body, fx->body, fx->body_len) == 0;
}

/* One random change: flip bits, overwrite, insert, delete, cut or repeat. */
static size_t s_mutate(uint8_t *buf, size_t len, size_t cap, uint64_t *seed)
{
    size_t at = len > 0 ? (size_t)(s_rand(seed) % len) : 0;
    switch (s_rand(seed) % 6) {
    case 0:
        buf[at] ^= (uint8_t)(1u << (s_rand(seed) % 8));
        return len;
    case 1:
        buf[at] = (uint8_t)s_rand(seed);
        return len;
    case 2:
        if (len < cap) {
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = (uint8_t)s_rand(seed);
            return len + 1;
        }
        return len;
    case 3:
        if (len > 0)
            memmove(buf + at, buf + at + 1, len - at - 1);
        return len > 0 ? len - 1 : 0;
    case 4:
        return at;
    default: {
        size_t n = (size_t)(s_rand(seed) % 8);
        if (len + n <= cap && at + n <= len) {
            memmove(buf + at + n, buf + at, len - at);
            return len + n; /* bytes at..at+n repeated */
        }
        return len;
    }
    }
}

static void test_random_mutations_never_forge(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t env;
    uint64_t seed = 0x5eed0002;
    size_t cap = fx->env_len + 64;
    int decoded = 0, verified = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        memcpy(buf, fx->env, fx->env_len);
        size_t len = fx->env_len;
        int changes = 1 + (int)(s_rand(&seed) % 4);
        for (int c = 0; c < changes; c++)
            len = s_mutate(buf, len, cap, &seed);
        /* exactly len bytes, so a read past the end is caught */
        uint8_t *exact = malloc(len > 0 ? len : 1);
        assert_non_null(exact);
        memcpy(exact, buf, len);
        free(buf);
        wv_err_t err = {{0}};
        if (wire_envelope_decode(exact, len, &env, &err) == 0) {
            decoded++;
            /* a mutation may leave a decodable envelope, but only the original message can
             * carry a valid signature */
            if (wire_envelope_verify(&env)) {
                verified++;
                assert_true(s_same_message(fx, &env));
            }
            wire_state_t st;
            (void)wire_state_decode(env.body, env.body_len, &st, &err);
        }
        free(exact);
    }
    /* some mutations land in the signature or body and still decode: the verify path ran */
    assert_true(decoded > 0);
    print_message("%d of %d mutations decoded, %d verified\n", decoded, FUZZ_ROUNDS, verified);
}

/* Any STATE that decodes is one this agent could send too, and comes back the same. */
static void test_random_state_mutations_decode_consistently(void **state)
{
    fixture_t *fx = *state;
    uint64_t seed = 0x5eed0003;
    size_t cap = fx->body_len + 64;
    int decoded = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        memcpy(buf, fx->body, fx->body_len);
        size_t len = fx->body_len;
        int changes = 1 + (int)(s_rand(&seed) % 3);
        for (int c = 0; c < changes; c++)
            len = s_mutate(buf, len, cap, &seed);
        wire_state_t st, again;
        wv_err_t err = {{0}};
        if (wire_state_decode(buf, len, &st, &err) == 0) {
            decoded++;
            uint8_t *data = NULL;
            size_t data_len = 0;
            if (wire_state_encode(&st, &data, &data_len, &err) != 0)
                fail_msg("a decoded STATE does not encode: %s", err.msg);
            assert_int_equal(wire_state_decode(data, data_len, &again, &err), 0);
            assert_memory_equal(&again, &st, sizeof st);
            free(data);
        }
        free(buf);
    }
    assert_true(decoded > 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_truncation_is_refused),
        T(test_huge_announced_sizes_are_refused_cheaply),
        T(test_random_bytes_are_refused_without_harm),
        T(test_random_mutations_never_forge),
        T(test_random_state_mutations_decode_consistently),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
