/* fuzz_wire: what a peer sends, straight into proto/wire.h: the bytes as an envelope
 * (wire_envelope_decode, wire_envelope_verify, then its body as a STATE) and the same bytes as a
 * STATE body (wire_state_decode). Properties: whatever decodes can be sent again (seal, encode)
 * and decodes to the same thing; a refused envelope keeps nothing but v. Not fuzzed here: who may
 * speak and replay checks (fuzz_inbox). */
#include "fuzzutil.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("wire");
    fz_identity(0);
    return 0;
}

/* A decoded STATE is one this agent could send: it encodes, and decodes to the same state. */
static void s_state_round_trip(const wire_state_t *st)
{
    static wire_state_t again;
    uint8_t *body = NULL;
    size_t len = 0;
    wv_err_t err;
    FZ_CHECK(wire_state_encode(st, &body, &len, &err) == 0);
    FZ_CHECK(len <= WIRE_BODY_MAX);
    FZ_CHECK(wire_state_decode(body, len, &again, &err) == 0);
    FZ_CHECK(memcmp(st, &again, sizeof again) == 0);
    free(body);
}

/* A decoded envelope's fields are ones seal accepts; the sealed copy decodes to the same fields
 * and verifies. */
static void s_envelope_round_trip(const wire_envelope_t *env)
{
    static wire_envelope_t again;
    const identity_t *id = fz_identity(0);
    uint8_t *out = NULL;
    size_t len = 0;
    wv_err_t err;
    FZ_CHECK(wire_envelope_seal(id, env->chain, env->seq, env->type, env->body, env->body_len, &out,
                                &len, &err) == 0);
    FZ_CHECK(wire_envelope_decode(out, len, &again, &err) == 0);
    FZ_CHECK(wire_envelope_verify(&again));
    FZ_CHECK(strcmp(again.chain, env->chain) == 0 && strcmp(again.type, env->type) == 0);
    FZ_CHECK(again.seq == env->seq && again.body_len == env->body_len);
    FZ_CHECK(memcmp(again.body, env->body, env->body_len) == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wire_envelope_t env; /* 12 KiB, as inbox keeps it */
    static wire_state_t st;
    wv_err_t err;
    if (wire_envelope_decode(data, size, &env, &err) == 0) {
        (void)wire_envelope_verify(&env);
        if (wire_state_decode(env.body, env.body_len, &st, &err) == 0)
            s_state_round_trip(&st);
        s_envelope_round_trip(&env);
    } else {
        static const wire_envelope_t zero;
        env.v = 0; /* kept on purpose: it tells "another version" apart */
        FZ_CHECK(memcmp(&env, &zero, sizeof env) == 0);
    }
    if (wire_state_decode(data, size, &st, &err) == 0)
        s_state_round_trip(&st);
    return 0;
}
