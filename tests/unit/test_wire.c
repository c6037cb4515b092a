/* Unit tests of proto/wire.h: the signed envelope and the STATE body, their strict decoding of
 * malformed input built field by field, and the replay check. Not tested here: truncated and
 * random input (test_wire_fuzz), keys (test_identity) or who may speak (test_fleet). */
#include "identity.h"
#include "wire.h"
#include "testutil.h"

#include <msgpack.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN "wemix-testnet-1"
#define T0 1700000000000000ULL /* a plausible clock, in microseconds */
#define U(x) ((uint64_t)(x))
#define Z(x) ((size_t)(x))

typedef struct {
    char dir[64];
    identity_t *id;
    identity_t *other;
    uint8_t *env; /* a valid sealed STATE envelope */
    size_t env_len;
    uint8_t *body; /* its body */
    size_t body_len;
    wire_state_t st; /* what the body says */
} fixture_t;

/* ---- building msgpack by hand ---------------------------------------------------------------
 * s_mp appends to sb what fmt says, so a test can write any message, valid or not:
 *   Mn / An  a map of n pairs / an array of n items (the items follow)
 *   u        an unsigned integer (uint64_t), smallest encoding
 *   W        an unsigned integer (uint64_t), always 9 bytes (0xcf): a valid, longer encoding
 *   i        a signed integer (int64_t)
 *   s        a string (const char *)
 *   S        a string of a given length (const char *, size_t), may hold NUL
 *   b        binary (const void *, size_t)
 *   n        nil
 *   r        raw bytes copied as they are (const void *, size_t)
 * Spaces are ignored. */
static void s_vmp(msgpack_sbuffer *sb, const char *fmt, va_list ap)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (const char *p = fmt; *p != '\0'; p++) {
        char c = *p;
        if (c == ' ')
            continue;
        if (c == 'M' || c == 'A') {
            char *end = NULL;
            unsigned long n = strtoul(p + 1, &end, 10);
            p = end - 1;
            if (c == 'M')
                msgpack_pack_map(&pk, n);
            else
                msgpack_pack_array(&pk, n);
            continue;
        }
        const char *s = NULL;
        const void *b = NULL;
        size_t len = 0;
        uint64_t u = 0;
        uint8_t wide[9] = {0xcf};
        switch (c) {
        case 'u':
            msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
            break;
        case 'W':
            u = va_arg(ap, uint64_t);
            for (int i = 0; i < 8; i++)
                wide[1 + i] = (uint8_t)(u >> (56 - 8 * i));
            msgpack_sbuffer_write(sb, (const char *)wide, sizeof wide);
            break;
        case 'i':
            msgpack_pack_int64(&pk, va_arg(ap, int64_t));
            break;
        case 's':
            s = va_arg(ap, const char *);
            msgpack_pack_str_with_body(&pk, s, strlen(s));
            break;
        case 'S':
            s = va_arg(ap, const char *);
            len = va_arg(ap, size_t);
            msgpack_pack_str_with_body(&pk, s, len);
            break;
        case 'b':
            b = va_arg(ap, const void *);
            len = va_arg(ap, size_t);
            msgpack_pack_bin_with_body(&pk, b, len);
            break;
        case 'n':
            msgpack_pack_nil(&pk);
            break;
        case 'r':
            b = va_arg(ap, const void *);
            len = va_arg(ap, size_t);
            msgpack_sbuffer_write(sb, b, len);
            break;
        default:
            fail_msg("s_mp: unknown format character '%c'", c);
        }
    }
}

static void s_mp(msgpack_sbuffer *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmp(sb, fmt, ap);
    va_end(ap);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static void s_sample_state(wire_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->height = 123456;
    snprintf(st->version, sizeof st->version, "v1.2.3-abcdef");
    snprintf(st->node, sizeof st->node, "running");
    snprintf(st->health, sizeof st->health, "healthy");
    snprintf(st->role, sizeof st->role, WIRE_ROLE_VALIDATOR);
    st->n_upgrades = 2;
    wire_upgrade_t *u = &st->upgrades[0];
    snprintf(u->name, sizeof u->name, "v2.0.0");
    u->height = 200000;
    memset(u->sha256, 0xab, sizeof u->sha256);
    snprintf(u->phase, sizeof u->phase, WIRE_PHASE_BLOCKED);
    snprintf(u->mode, sizeof u->mode, WIRE_MODE_AT_HEIGHT);
    snprintf(u->reason, sizeof u->reason, "2/3 ready, need 3");
    u = &st->upgrades[1];
    snprintf(u->name, sizeof u->name, "patch-2.0.1");
    u->height = 0;
    for (size_t i = 0; i < sizeof u->sha256; i++)
        u->sha256[i] = (uint8_t)i;
    snprintf(u->phase, sizeof u->phase, WIRE_PHASE_READY);
    snprintf(u->mode, sizeof u->mode, WIRE_MODE_ROLLING);
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL || tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    char path[PATH_MAX];
    bool created = false;
    wv_err_t err = {{0}};
    snprintf(path, sizeof path, "%s/a.key", fx->dir);
    fx->id = identity_load_or_create(path, &created, &err);
    snprintf(path, sizeof path, "%s/b.key", fx->dir);
    fx->other = identity_load_or_create(path, &created, &err);
    s_sample_state(&fx->st);
    if (fx->id == NULL || fx->other == NULL ||
        wire_state_encode(&fx->st, &fx->body, &fx->body_len, &err) != 0 ||
        wire_envelope_seal(fx->id, CHAIN, T0, WIRE_TYPE_STATE, fx->body, fx->body_len, &fx->env,
                           &fx->env_len, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    identity_destroy(&fx->id);
    identity_destroy(&fx->other);
    free(fx->env);
    free(fx->body);
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

static void s_decode_ok(const uint8_t *data, size_t len, wire_envelope_t *env)
{
    wv_err_t err = {{0}};
    if (wire_envelope_decode(data, len, env, &err) != 0)
        fail_msg("wire_envelope_decode: %s", err.msg);
}

/* Decoding must fail, with err containing `part`. */
static void s_decode_fails(const msgpack_sbuffer *sb, const char *part)
{
    static wire_envelope_t env; /* large: not on the stack */
    wv_err_t err = {{0}};
    if (wire_envelope_decode((const uint8_t *)sb->data, sb->size, &env, &err) == 0)
        fail_msg("decoded, expected an error containing \"%s\"", part);
    tu_assert_contains(err.msg, part);
}

static void s_state_fails(const msgpack_sbuffer *sb, const char *part)
{
    wire_state_t st;
    wv_err_t err = {{0}};
    if (wire_state_decode((const uint8_t *)sb->data, sb->size, &st, &err) == 0)
        fail_msg("STATE decoded, expected an error containing \"%s\"", part);
    tu_assert_contains(err.msg, part);
}

/* ---- STATE ------------------------------------------------------------------------------- */

static void test_state_round_trip(void **state)
{
    fixture_t *fx = *state;
    wire_state_t back;
    wv_err_t err = {{0}};
    assert_int_equal(wire_state_decode(fx->body, fx->body_len, &back, &err), 0);
    assert_int_equal(back.height, 123456);
    assert_string_equal(back.version, "v1.2.3-abcdef");
    assert_string_equal(back.node, "running");
    assert_string_equal(back.health, "healthy");
    assert_string_equal(back.role, "validator");
    assert_int_equal(back.n_upgrades, 2);
    assert_string_equal(back.upgrades[0].name, "v2.0.0");
    assert_int_equal(back.upgrades[0].height, 200000);
    assert_memory_equal(back.upgrades[0].sha256, fx->st.upgrades[0].sha256, WIRE_SHA256_LEN);
    assert_string_equal(back.upgrades[0].phase, "blocked");
    assert_string_equal(back.upgrades[0].mode, "at-height");
    assert_string_equal(back.upgrades[0].reason, "2/3 ready, need 3");
    assert_string_equal(back.upgrades[1].reason, "");
    assert_string_equal(back.upgrades[1].mode, "rolling");
    assert_memory_equal(&back, &fx->st, sizeof back); /* nothing else differs either */

    /* the smallest state: no optional fields, no upgrades */
    wire_state_t small;
    memset(&small, 0, sizeof small);
    snprintf(small.node, sizeof small.node, "stopped");
    snprintf(small.role, sizeof small.role, "observer");
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(wire_state_encode(&small, &data, &len, &err), 0);
    assert_int_equal(wire_state_decode(data, len, &back, &err), 0);
    assert_memory_equal(&back, &small, sizeof back);
    free(data);
}

/* Every field at its limit still fits a body, and comes back whole. */
static void test_largest_state_round_trips(void **state)
{
    (void)state;
    static wire_state_t st, back;
    memset(&st, 0, sizeof st);
    st.height = INT64_MAX;
    memset(st.version, 'v', WIRE_VERSION_MAX);
    memset(st.node, 'n', WIRE_WORD_MAX);
    memset(st.health, 'h', WIRE_WORD_MAX);
    snprintf(st.role, sizeof st.role, "validator");
    st.n_upgrades = WIRE_UPGRADES_MAX;
    for (size_t i = 0; i < WIRE_UPGRADES_MAX; i++) {
        wire_upgrade_t *u = &st.upgrades[i];
        memset(u->name, 'a', WIRE_NAME_MAX);
        snprintf(u->name, 4, "%03zu", i); /* keeps the names apart */
        u->name[3] = 'a';
        u->height = INT64_MAX;
        memset(u->sha256, (int)i, WIRE_SHA256_LEN);
        snprintf(u->phase, sizeof u->phase, "switching");
        snprintf(u->mode, sizeof u->mode, "at-height");
        memset(u->reason, 'r', WIRE_REASON_MAX);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    wv_err_t err = {{0}};
    if (wire_state_encode(&st, &data, &len, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(len <= WIRE_BODY_MAX);
    assert_int_equal(wire_state_decode(data, len, &back, &err), 0);
    assert_memory_equal(&back, &st, sizeof back);
    free(data);
}

static void test_state_encode_refuses_what_peers_would_drop(void **state)
{
    fixture_t *fx = *state;
    uint8_t *data = NULL;
    size_t len = 0;
    wv_err_t err = {{0}};
    wire_state_t st;

#define REFUSED(change, part)                                                                      \
    do {                                                                                           \
        st = fx->st;                                                                               \
        change;                                                                                    \
        data = NULL;                                                                               \
        assert_int_equal(wire_state_encode(&st, &data, &len, &err), -1);                           \
        assert_null(data);                                                                         \
        tu_assert_contains(err.msg, part);                                                         \
    } while (0)

    REFUSED(st.role[0] = '\0', "\"role\" is empty");
    REFUSED(snprintf(st.role, sizeof st.role, "king"), "not validator or observer");
    REFUSED(st.node[0] = '\0', "\"node\" is empty");
    REFUSED(memset(st.node, 'x', sizeof st.node), "longer than"); /* no NUL */
    REFUSED(st.height = -1, "negative");
    REFUSED(st.upgrades[1].height = -5, "negative");
    REFUSED(st.n_upgrades = WIRE_UPGRADES_MAX + 1, "at most");
    REFUSED(snprintf(st.upgrades[0].phase, WIRE_WORD_MAX, "maybe"), "not a phase");
    REFUSED(snprintf(st.upgrades[0].mode, WIRE_WORD_MAX, "soon"), "not at-height or rolling");
    REFUSED(snprintf(st.upgrades[0].name, WIRE_NAME_MAX, ".."), "not an upgrade name");
    REFUSED(snprintf(st.upgrades[0].name, WIRE_NAME_MAX, "a/b"), "not an upgrade name");
    REFUSED(snprintf(st.upgrades[1].name, WIRE_NAME_MAX, "v2.0.0"), "appears twice");
    REFUSED(snprintf(st.version, sizeof st.version, "v1\n"), "printable");
#undef REFUSED
}

#define SHA_ARGS(sha) (const void *)(sha), Z(WIRE_SHA256_LEN)

static void test_state_decode_is_strict(void **state)
{
    (void)state;
    uint8_t sha[WIRE_SHA256_LEN] = {1};
    msgpack_sbuffer sb;
#define STATE_FAILS(part, fmt, ...)                                                                \
    do {                                                                                           \
        msgpack_sbuffer_init(&sb);                                                                 \
        s_mp(&sb, fmt, __VA_ARGS__);                                                               \
        s_state_fails(&sb, part);                                                                  \
        msgpack_sbuffer_destroy(&sb);                                                              \
    } while (0)
/* the head of a state without "upgrades", and one valid upgrade's pairs */
#define HEAD "M4 s u s s s s s"
#define HEAD_ARGS "height", U(10), "node", "running", "role", "validator", "upgrades"
#define UPG "M5 s s s u s b s s s s"
#define UPG_ARGS(name, phase, mode)                                                                \
    "name", name, "height", U(20), "sha256", SHA_ARGS(sha), "phase", phase, "mode", mode

    /* the valid one, to show what the others differ from */
    wire_state_t st;
    wv_err_t err = {{0}};
    msgpack_sbuffer_init(&sb);
    s_mp(&sb, HEAD " A1 " UPG, HEAD_ARGS, UPG_ARGS("v2", "ready", "rolling"));
    assert_int_equal(wire_state_decode((uint8_t *)sb.data, sb.size, &st, &err), 0);
    assert_string_equal(st.upgrades[0].name, "v2");
    msgpack_sbuffer_destroy(&sb);

    STATE_FAILS("not a map", "A1 u", U(1));
    STATE_FAILS("\"height\" is missing", "M3 s s s s s A0", "node", "x", "role", "observer",
                "upgrades");
    STATE_FAILS("\"node\" is missing", "M3 s u s s s A0", "height", U(1), "role", "observer",
                "upgrades");
    STATE_FAILS("\"role\" is missing", "M3 s u s s s A0", "height", U(1), "node", "x", "upgrades");
    STATE_FAILS("\"upgrades\" is missing", "M3 s u s s s s", "height", U(1), "node", "x", "role",
                "observer");
    STATE_FAILS("appears twice", "M5 s u s s s s s A0 s u", HEAD_ARGS, "height", U(2));
    STATE_FAILS("not validator or observer", "M4 s u s s s s s A0", "height", U(1), "node", "x",
                "role", "king", "upgrades");
    STATE_FAILS("at most", "M4 s u s s s s s A0", "height", U(1) << 63, "node", "x", "role",
                "observer", "upgrades");
    STATE_FAILS("not an unsigned integer", "M4 s i s s s s s A0", "height", (int64_t)-1, "node",
                "x", "role", "observer", "upgrades");
    STATE_FAILS("\"node\" is 33 bytes", "M4 s u s s s s s A0", "height", U(1), "node",
                "123456789012345678901234567890123", "role", "observer", "upgrades");
    STATE_FAILS("printable", "M4 s u s S s s s A0", "height", U(1), "node", "run\0ning", Z(8),
                "role", "observer", "upgrades");
    STATE_FAILS("not a string", "M4 s u s b s s s A0", "height", U(1), "node", "x", Z(1), "role",
                "observer", "upgrades");
    STATE_FAILS("\"upgrades\" is not an array", HEAD " M0", HEAD_ARGS);
    STATE_FAILS("at most 16", HEAD " A17 n n n n n n n n n n n n n n n n n", HEAD_ARGS);
    STATE_FAILS("upgrade 0: not a map", HEAD " A1 s", HEAD_ARGS, "v2");
    STATE_FAILS("\"sha256\" is 31 bytes", HEAD " A1 M5 s s s u s b s s s s", HEAD_ARGS, "name",
                "v2", "height", U(20), "sha256", (const void *)sha, Z(31), "phase", "ready", "mode",
                "rolling");
    STATE_FAILS("\"sha256\" is not binary", HEAD " A1 M5 s s s u s s s s s s", HEAD_ARGS, "name",
                "v2", "height", U(20), "sha256", "abc", "phase", "ready", "mode", "rolling");
    STATE_FAILS("\"phase\" is missing", HEAD " A1 M4 s s s u s b s s", HEAD_ARGS, "name", "v2",
                "height", U(20), "sha256", SHA_ARGS(sha), "mode", "rolling");
    STATE_FAILS("\"name\" appears twice", HEAD " A1 M6 s s s u s b s s s s s s", HEAD_ARGS,
                UPG_ARGS("v2", "ready", "rolling"), "name", "v3");
    STATE_FAILS("not a phase", HEAD " A1 " UPG, HEAD_ARGS, UPG_ARGS("v2", "Ready", "rolling"));
    STATE_FAILS("not at-height or rolling", HEAD " A1 " UPG, HEAD_ARGS,
                UPG_ARGS("v2", "ready", "later"));
    STATE_FAILS("not an upgrade name", HEAD " A1 " UPG, HEAD_ARGS,
                UPG_ARGS(".", "ready", "rolling"));
    STATE_FAILS("not an upgrade name", HEAD " A1 " UPG, HEAD_ARGS,
                UPG_ARGS("../x", "ready", "rolling"));
    STATE_FAILS("appears twice", HEAD " A2 " UPG " " UPG, HEAD_ARGS,
                UPG_ARGS("v2", "ready", "rolling"), UPG_ARGS("v2", "armed", "rolling"));
    STATE_FAILS("bytes after the end", HEAD " A0 u", HEAD_ARGS, U(1));
#undef STATE_FAILS
}

static void test_state_unknown_keys_are_ignored_at_every_level(void **state)
{
    (void)state;
    uint8_t sha[WIRE_SHA256_LEN] = {7};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    /* a newer sender: extra keys of any type at the top and in an upgrade, an integer key */
    s_mp(&sb, "M6 s M2 s A2 n u u s s u s s s s u s s A1 M7 s s u b s u s b s s s s s A1 M1 s s",
         "future", "nested", U(5), U(1), "y", "height", U(42), "node", "running", "role",
         "observer", U(3), "x", "upgrades", "name", "v9", U(77), "\x01", Z(1), "height", U(900),
         "sha256", SHA_ARGS(sha), "phase", "done", "mode", "at-height", "later", "a", "b");
    wire_state_t st;
    wv_err_t err = {{0}};
    if (wire_state_decode((uint8_t *)sb.data, sb.size, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(st.height, 42);
    assert_string_equal(st.node, "running");
    assert_string_equal(st.health, "");
    assert_int_equal(st.n_upgrades, 1);
    assert_string_equal(st.upgrades[0].name, "v9");
    assert_int_equal(st.upgrades[0].height, 900);
    assert_string_equal(st.upgrades[0].phase, "done");
    msgpack_sbuffer_destroy(&sb);
}

/* ---- the envelope ------------------------------------------------------------------------- */

static void test_envelope_round_trip_and_verify(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t env;
    s_decode_ok(fx->env, fx->env_len, &env);
    assert_int_equal(env.v, WIRE_VERSION);
    assert_string_equal(env.chain, CHAIN);
    assert_memory_equal(env.from, identity_pubkey(fx->id), IDENTITY_PUBKEY_LEN);
    assert_int_equal(env.seq, T0);
    assert_string_equal(env.type, "STATE");
    assert_int_equal(env.body_len, fx->body_len);
    assert_memory_equal(env.body, fx->body, fx->body_len);
    assert_true(wire_envelope_verify(&env));

    wire_state_t st;
    wv_err_t err = {{0}};
    assert_int_equal(wire_state_decode(env.body, env.body_len, &st, &err), 0);
    assert_memory_equal(&st, &fx->st, sizeof st);

    /* an empty body is a valid message too */
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(wire_envelope_seal(fx->id, CHAIN, 1, "PING_X", NULL, 0, &data, &len, &err), 0);
    s_decode_ok(data, len, &env);
    assert_int_equal(env.body_len, 0);
    assert_true(wire_envelope_verify(&env));
    free(data);
}

/* The signature covers the msgpack array [v, chain, from, seq, type, body], as the spec says. */
static void test_signature_covers_the_canonical_array(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t env;
    s_decode_ok(fx->env, fx->env_len, &env);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    s_mp(&sb, "A6 u s b u s b", U(1), CHAIN, (const void *)identity_pubkey(fx->id),
         Z(IDENTITY_PUBKEY_LEN), T0, "STATE", (const void *)fx->body, fx->body_len);
    assert_true(identity_verify(identity_pubkey(fx->id), sb.data, sb.size, env.sig));
    msgpack_sbuffer_destroy(&sb);
}

static void test_tampered_envelope_does_not_verify(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t good, env;
    s_decode_ok(fx->env, fx->env_len, &good);

    env = good;
    snprintf(env.chain, sizeof env.chain, "wemix-mainnet");
    assert_false(wire_envelope_verify(&env));
    env = good;
    memcpy(env.from, identity_pubkey(fx->other), IDENTITY_PUBKEY_LEN);
    assert_false(wire_envelope_verify(&env));
    env = good;
    env.seq++;
    assert_false(wire_envelope_verify(&env));
    env = good;
    snprintf(env.type, sizeof env.type, "STATF");
    assert_false(wire_envelope_verify(&env));
    env = good;
    env.body[env.body_len / 2] ^= 0x01;
    assert_false(wire_envelope_verify(&env));
    env = good;
    env.body_len--;
    assert_false(wire_envelope_verify(&env));
    env = good;
    env.sig[10] ^= 0x80;
    assert_false(wire_envelope_verify(&env));
    env = good;
    env.v = 2;
    assert_false(wire_envelope_verify(&env));
    env = good;
    assert_true(wire_envelope_verify(&env)); /* and the copy itself is fine */

    /* another key's signature over the same fields */
    uint8_t *data = NULL;
    size_t len = 0;
    wv_err_t err = {{0}};
    assert_int_equal(wire_envelope_seal(fx->other, CHAIN, T0, "STATE", fx->body, fx->body_len,
                                        &data, &len, &err),
                     0);
    s_decode_ok(data, len, &env);
    memcpy(env.from, good.from, IDENTITY_PUBKEY_LEN);
    assert_false(wire_envelope_verify(&env));
    free(data);
}

/* The receiver rebuilds the signed bytes from values: another key order, longer integer
 * encodings and unknown keys (of any type, nested) leave the signature valid. */
static void test_map_layout_and_unknown_keys_do_not_matter(void **state)
{
    fixture_t *fx = *state;
    static wire_envelope_t good, env;
    s_decode_ok(fx->env, fx->env_len, &good);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    s_mp(&sb, "M11 s b u n s W s b s M1 s A2 n n s s s b s W s s A0 u s s", "sig",
         (const void *)good.sig, Z(IDENTITY_SIG_LEN), U(99), "seq", T0, "body",
         (const void *)good.body, good.body_len, "ext", "deep", "type", "STATE", "from",
         (const void *)good.from, Z(IDENTITY_PUBKEY_LEN), "v", U(1), "chain", CHAIN, U(1), "z",
         "zz");
    s_decode_ok((uint8_t *)sb.data, sb.size, &env);
    assert_memory_equal(&env, &good, sizeof env);
    assert_true(wire_envelope_verify(&env));
    msgpack_sbuffer_destroy(&sb);
}

static uint8_t big[WIRE_ENVELOPE_MAX + 1];

/* A well-formed envelope (v 1, chain CHAIN, 32 bytes from, seq T0, type STATE, a 10-byte body
 * and a 64-byte junk sig), with one pair changed: the value of `key` is what fmt says (s_mp);
 * fmt NULL leaves the pair out; fmt "+..." keeps it and adds the key again with that value. */
static void s_env(msgpack_sbuffer *sb, const char *key, const char *fmt, ...)
{
    static const char *const keys[] = {"v", "chain", "from", "seq", "type", "body", "sig"};
    bool twice = fmt != NULL && fmt[0] == '+';
    s_mp(sb, fmt == NULL ? "M6" : twice ? "M8" : "M7");
    va_list ap;
    for (size_t i = 0; i < 7; i++) {
        bool changed = key != NULL && strcmp(keys[i], key) == 0;
        if (changed && fmt == NULL)
            continue;
        s_mp(sb, "s", keys[i]);
        if (changed && !twice) {
            va_start(ap, fmt);
            s_vmp(sb, fmt, ap);
            va_end(ap);
            continue;
        }
        static const size_t bin_len[] = {0, 0, IDENTITY_PUBKEY_LEN, 0, 0, 10, IDENTITY_SIG_LEN};
        if (i == 0 || i == 3)
            s_mp(sb, "u", i == 0 ? U(1) : T0);
        else if (i == 1 || i == 4)
            s_mp(sb, "s", i == 1 ? CHAIN : "STATE");
        else
            s_mp(sb, "b", (const void *)big, bin_len[i]);
    }
    if (twice) {
        s_mp(sb, "s", key);
        va_start(ap, fmt);
        s_vmp(sb, fmt + 1, ap);
        va_end(ap);
    }
}

#define ENV_FAILS(part, key, ...)                                                                  \
    do {                                                                                           \
        msgpack_sbuffer_init(&sb);                                                                 \
        s_env(&sb, key, __VA_ARGS__);                                                              \
        s_decode_fails(&sb, part);                                                                 \
        msgpack_sbuffer_destroy(&sb);                                                              \
    } while (0)

static void test_envelope_decode_is_strict(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    static wire_envelope_t env;
    wv_err_t err = {{0}};

    /* the well-formed one decodes (its signature is junk, which decoding does not check) */
    msgpack_sbuffer_init(&sb);
    s_env(&sb, NULL, "");
    assert_int_equal(wire_envelope_decode((uint8_t *)sb.data, sb.size, &env, &err), 0);
    assert_string_equal(env.chain, CHAIN);
    assert_int_equal(env.body_len, 10);
    assert_false(wire_envelope_verify(&env));
    msgpack_sbuffer_destroy(&sb);

    /* another protocol version is refused as such, and out->v says which */
    ENV_FAILS("protocol version 2", "v", "u", U(2));
    ENV_FAILS("protocol version 0", "v", "u", U(0));
    msgpack_sbuffer_init(&sb);
    s_mp(&sb, "M2 s u s A0", "v", U(7), "chain"); /* a v7 message may look quite different */
    assert_int_equal(wire_envelope_decode((uint8_t *)sb.data, sb.size, &env, &err), -1);
    tu_assert_contains(err.msg, "version 7");
    assert_int_equal(env.v, 7);
    msgpack_sbuffer_destroy(&sb);

    /* sizes, checked before anything is copied */
    ENV_FAILS("\"chain\" is 65 bytes", "chain", "S", (const char *)big, Z(65));
    ENV_FAILS("chain id", "chain", "s", "");
    ENV_FAILS("chain id", "chain", "s", "wemix/1");
    ENV_FAILS("\"from\" is 31 bytes", "from", "b", (const void *)big, Z(31));
    ENV_FAILS("\"from\" is 33 bytes", "from", "b", (const void *)big, Z(33));
    ENV_FAILS("\"sig\" is 63 bytes", "sig", "b", (const void *)big, Z(63));
    ENV_FAILS("\"sig\" is 65 bytes", "sig", "b", (const void *)big, Z(65));
    ENV_FAILS("\"body\" is 12289 bytes", "body", "b", (const void *)big, Z(WIRE_BODY_MAX + 1));
    ENV_FAILS("\"type\" is 17 bytes", "type", "s", "ABCDEFGHIJKLMNOPQ");
    ENV_FAILS("message type", "type", "s", "state");
    ENV_FAILS("message type", "type", "s", "");
    ENV_FAILS("printable", "chain", "S", "ab\0c", Z(4));
    /* the whole: refused before decoding, whatever it holds */
    msgpack_sbuffer_init(&sb);
    s_mp(&sb, "r", (const void *)big, Z(WIRE_ENVELOPE_MAX + 1));
    s_decode_fails(&sb, "at most 16384");
    msgpack_sbuffer_destroy(&sb);

    /* types */
    ENV_FAILS("\"v\" is not an unsigned integer", "v", "s", "1");
    ENV_FAILS("\"seq\" is not an unsigned integer", "seq", "i", (int64_t)-5);
    ENV_FAILS("\"seq\" is not an unsigned integer", "seq", "n");
    ENV_FAILS("\"from\" is not binary", "from", "s", "0123456789abcdef0123456789abcdef");
    ENV_FAILS("\"body\" is not binary", "body", "M0");
    ENV_FAILS("\"chain\" is not a string", "chain", "b", (const void *)CHAIN, Z(5));
    ENV_FAILS("\"sig\" is not binary", "sig", "A1 u", U(1));
    msgpack_sbuffer_init(&sb);
    s_mp(&sb, "A2 u s", U(1), CHAIN);
    s_decode_fails(&sb, "not a map");
    msgpack_sbuffer_destroy(&sb);

    /* not exactly one object */
    msgpack_sbuffer_init(&sb);
    s_env(&sb, NULL, "");
    s_mp(&sb, "n");
    s_decode_fails(&sb, "1 bytes after the end");
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_init(&sb);
    s_decode_fails(&sb, "not a complete msgpack object");
    msgpack_sbuffer_destroy(&sb);
}

static void test_duplicate_and_missing_keys_are_refused(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    /* a key twice is refused even with the same value: another decoder could take either */
    ENV_FAILS("\"v\" appears twice", "v", "+u", U(1));
    ENV_FAILS("\"chain\" appears twice", "chain", "+s", CHAIN);
    ENV_FAILS("\"from\" appears twice", "from", "+b", (const void *)big, Z(32));
    ENV_FAILS("\"seq\" appears twice", "seq", "+u", T0);
    ENV_FAILS("\"type\" appears twice", "type", "+s", "STATE");
    ENV_FAILS("\"body\" appears twice", "body", "+b", (const void *)big, Z(10));
    ENV_FAILS("\"sig\" appears twice", "sig", "+b", (const void *)big, Z(64));

    static const char *const keys[] = {"v", "chain", "from", "seq", "type", "body", "sig"};
    for (size_t k = 0; k < 7; k++) {
        char part[32];
        snprintf(part, sizeof part, "\"%s\" is missing", keys[k]);
        ENV_FAILS(part, keys[k], NULL);
    }
}

static void test_seal_refuses_what_peers_would_drop(void **state)
{
    fixture_t *fx = *state;
    uint8_t *data = NULL;
    size_t len = 0;
    wv_err_t err = {{0}};
    assert_int_equal(
        wire_envelope_seal(fx->id, "bad chain", 1, "STATE", NULL, 0, &data, &len, &err), -1);
    tu_assert_contains(err.msg, "chain id \"bad chain\"");
    assert_int_equal(wire_envelope_seal(fx->id, CHAIN, 1, "State", NULL, 0, &data, &len, &err), -1);
    tu_assert_contains(err.msg, "message type");
    assert_int_equal(
        wire_envelope_seal(fx->id, CHAIN, 1, "STATE", big, WIRE_BODY_MAX + 1, &data, &len, &err),
        -1);
    tu_assert_contains(err.msg, "at most 12288");
    assert_null(data);

    /* the largest body fits an envelope */
    assert_int_equal(
        wire_envelope_seal(fx->id, CHAIN, 1, "STATE", big, WIRE_BODY_MAX, &data, &len, &err), 0);
    assert_true(len <= WIRE_ENVELOPE_MAX);
    static wire_envelope_t env;
    s_decode_ok(data, len, &env);
    assert_true(wire_envelope_verify(&env));
    free(data);
}

static void test_chain_check(void **state)
{
    (void)state;
    wv_err_t err = {{0}};
    assert_int_equal(wire_chain_check("wemix-mainnet_1.0", &err), 0);
    assert_int_equal(wire_chain_check("a", &err), 0);
    assert_int_equal(
        wire_chain_check("1234567890123456789012345678901234567890123456789012345678901234", &err),
        0);
    static const char *const bad[] = {
        "",  "a b",     "a/b",
        "ü", "chain\n", "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&err);
        if (wire_chain_check(bad[i], &err) == 0)
            fail_msg("\"%s\" was accepted", bad[i]);
        tu_assert_contains(err.msg, "WEMIXVISOR_CHAIN_ID");
    }
}

/* ---- the replay check --------------------------------------------------------------------- */

static void test_seq_check_table(void **state)
{
    (void)state;
    static const struct {
        bool seen;
        uint64_t last, seq, now;
        wire_seq_verdict_t want;
    } table[] = {
        {false, 0, T0, T0, WIRE_SEQ_FRESH},
        {false, 0, T0 - 1, T0, WIRE_SEQ_FRESH},
        {false, 0, T0 - WIRE_MAX_AGE_US, T0, WIRE_SEQ_FRESH},     /* at the edge */
        {false, 0, T0 - WIRE_MAX_AGE_US - 1, T0, WIRE_SEQ_STALE}, /* past it */
        {false, 0, T0 + WIRE_MAX_SKEW_US, T0, WIRE_SEQ_FRESH},
        {false, 0, T0 + WIRE_MAX_SKEW_US + 1, T0, WIRE_SEQ_FUTURE},
        {true, T0, T0 + 1, T0, WIRE_SEQ_FRESH},
        {true, T0, T0, T0, WIRE_SEQ_DUPLICATE},
        {true, T0, T0 - 1, T0, WIRE_SEQ_OLD},
        {true, T0 - 5, T0, T0, WIRE_SEQ_FRESH},
        /* the time window is judged first */
        {true, 0, 0, T0, WIRE_SEQ_STALE},
        {true, T0 - 2 * WIRE_MAX_AGE_US, T0 - 2 * WIRE_MAX_AGE_US, T0, WIRE_SEQ_STALE},
        {true, T0 + 2 * WIRE_MAX_SKEW_US, T0 + 2 * WIRE_MAX_SKEW_US, T0, WIRE_SEQ_FUTURE},
        {true, UINT64_MAX, T0 + 2 * WIRE_MAX_SKEW_US, T0, WIRE_SEQ_FUTURE},
        /* no wrap-around at the ends of the range */
        {false, 0, UINT64_MAX, T0, WIRE_SEQ_FUTURE},
        {false, 0, 0, 5, WIRE_SEQ_FRESH},
        {false, 0, 0, UINT64_MAX, WIRE_SEQ_STALE},
        {true, UINT64_MAX, UINT64_MAX, UINT64_MAX, WIRE_SEQ_DUPLICATE},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        wire_seq_verdict_t got =
            wire_seq_check(table[i].seen, table[i].last, table[i].seq, table[i].now);
        if (got != table[i].want)
            fail_msg("row %zu: %s, expected %s", i, wire_seq_verdict_name(got),
                     wire_seq_verdict_name(table[i].want));
    }
    assert_string_equal(wire_seq_verdict_name(WIRE_SEQ_FRESH), "fresh");
    assert_string_equal(wire_seq_verdict_name(WIRE_SEQ_DUPLICATE), "duplicate");
    assert_string_equal(wire_seq_verdict_name(WIRE_SEQ_OLD), "old");
    assert_string_equal(wire_seq_verdict_name(WIRE_SEQ_STALE), "stale");
    assert_string_equal(wire_seq_verdict_name(WIRE_SEQ_FUTURE), "future");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_state_round_trip),
        T(test_largest_state_round_trips),
        T(test_state_encode_refuses_what_peers_would_drop),
        T(test_state_decode_is_strict),
        T(test_state_unknown_keys_are_ignored_at_every_level),
        T(test_envelope_round_trip_and_verify),
        T(test_signature_covers_the_canonical_array),
        T(test_tampered_envelope_does_not_verify),
        T(test_map_layout_and_unknown_keys_do_not_matter),
        T(test_envelope_decode_is_strict),
        T(test_duplicate_and_missing_keys_are_refused),
        T(test_seal_refuses_what_peers_would_drop),
        T(test_chain_check),
        T(test_seq_check_table),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
