/* Unit tests of proto/identity.h: the agent's Ed25519 key file, signatures and key hex.
 * Not tested here: what is signed (test_wire) or whose keys count (test_fleet). */
#include "identity.h"
#include "fsutil.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A temp dir and the key path in it (the file does not exist at the start). */
typedef struct {
    char dir[64];
    char path[PATH_MAX];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    if (tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/identity.key", fx->dir);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

static identity_t *s_create(const char *path)
{
    wv_err_t err = {{0}};
    bool created = false;
    identity_t *id = identity_load_or_create(path, &created, &err);
    if (id == NULL)
        fail_msg("identity_load_or_create: %s", err.msg);
    assert_true(created);
    return id;
}

static void test_created_key_is_private_and_loads_again(void **state)
{
    fixture_t *fx = *state;
    identity_t *id = s_create(fx->path);

    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    char *pem = NULL;
    wv_err_t err = {{0}};
    assert_int_equal(fs_read_file(fx->path, IDENTITY_KEY_FILE_MAX, &pem, NULL, &err), 0);
    tu_assert_contains(pem, "-----BEGIN PRIVATE KEY-----"); /* PKCS#8, unencrypted */
    free(pem);

    /* the second start finds the key and keeps it */
    bool created = true;
    identity_t *again = identity_load_or_create(fx->path, &created, &err);
    assert_non_null(again);
    assert_false(created);
    assert_memory_equal(identity_pubkey(again), identity_pubkey(id), IDENTITY_PUBKEY_LEN);
    identity_destroy(&again);

    identity_t *loaded = identity_load(fx->path, &err);
    assert_non_null(loaded);
    assert_memory_equal(identity_pubkey(loaded), identity_pubkey(id), IDENTITY_PUBKEY_LEN);
    identity_destroy(&loaded);

    identity_destroy(&id);
    assert_null(id);
    identity_destroy(&id); /* twice is fine */
}

static void test_two_created_keys_differ(void **state)
{
    fixture_t *fx = *state;
    char other[PATH_MAX];
    snprintf(other, sizeof other, "%s/other.key", fx->dir);
    identity_t *a = s_create(fx->path);
    identity_t *b = s_create(other);
    assert_memory_not_equal(identity_pubkey(a), identity_pubkey(b), IDENTITY_PUBKEY_LEN);
    identity_destroy(&a);
    identity_destroy(&b);
}

static void test_key_readable_by_others_is_refused(void **state)
{
    fixture_t *fx = *state;
    identity_t *id = s_create(fx->path);
    identity_destroy(&id);
    assert_int_equal(chmod(fx->path, 0644), 0);

    wv_err_t err = {{0}};
    assert_null(identity_load(fx->path, &err));
    tu_assert_contains(err.msg, fx->path);
    tu_assert_contains(err.msg, "0644");
    char fix[PATH_MAX + 16];
    snprintf(fix, sizeof fix, "chmod 600 %s", fx->path);
    tu_assert_contains(err.msg, fix);

    /* load_or_create refuses it too, and does not replace the operator's key */
    bool created = true;
    err_clear(&err);
    assert_null(identity_load_or_create(fx->path, &created, &err));
    assert_false(created);
    tu_assert_contains(err.msg, "chmod 600");

    assert_int_equal(chmod(fx->path, 0640), 0); /* group alone is refused as well */
    assert_null(identity_load(fx->path, &err));
    assert_int_equal(chmod(fx->path, 0400), 0); /* stricter than 0600 is fine */
    id = identity_load(fx->path, &err);
    assert_non_null(id);
    identity_destroy(&id);
}

static void test_garbage_is_refused(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};

    tu_write_file(fx->path, "not a key\n", 0600);
    assert_null(identity_load(fx->path, &err));
    tu_assert_contains(err.msg, fx->path);

    tu_write_file(fx->path, "", 0600);
    assert_null(identity_load(fx->path, &err));

    /* a PEM armour around nonsense */
    tu_write_file(fx->path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
    assert_null(identity_load(fx->path, &err));
    tu_assert_contains(err.msg, fx->path);

    /* larger than any key file */
    char *big = malloc(IDENTITY_KEY_FILE_MAX + 100);
    assert_non_null(big);
    memset(big, 'A', IDENTITY_KEY_FILE_MAX + 99);
    big[IDENTITY_KEY_FILE_MAX + 99] = '\0';
    tu_write_file(fx->path, big, 0600);
    free(big);
    err_clear(&err);
    assert_null(identity_load(fx->path, &err));
    tu_assert_contains(err.msg, "larger than");

    /* a missing file is an error for identity_load (only load_or_create creates) */
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/missing.key", fx->dir);
    assert_null(identity_load(missing, &err));
    tu_assert_contains(err.msg, missing);
}

/* A valid PKCS#8 key of another algorithm (X25519) is not an identity. */
static void test_key_of_another_algorithm_is_refused(void **state)
{
    fixture_t *fx = *state;
    static const char x25519[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VuBCIEIGDK1t0d2bBvm4nF3g5lGyHXeiNr0ezZD+nO4J2xRmBL\n"
        "-----END PRIVATE KEY-----\n";
    tu_write_file(fx->path, x25519, 0600);
    wv_err_t err = {{0}};
    assert_null(identity_load(fx->path, &err));
    tu_assert_contains(err.msg, "not an Ed25519 key");
    tu_assert_contains(err.msg, fx->path);
}

/* An encrypted key is refused at once: an agent must never wait on a passphrase prompt. */
static void test_encrypted_key_is_refused_without_a_prompt(void **state)
{
    fixture_t *fx = *state;
    static const char encrypted[] =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAj06Win215W1gICCAAw\n"
        "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEE4m+GeLw4VzBzZibB4F9p4EQFwM\n"
        "uqfKb36XIwxIm9J9wqWzgyIHB72asSLehM/viI1T/HDhrvg81ivhDuezOahMcvJS\n"
        "Y6IksEvbefhuIDgVd0A=\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n";
    tu_write_file(fx->path, encrypted, 0600);
    wv_err_t err = {{0}};
    assert_null(identity_load(fx->path, &err));
    tu_assert_contains(err.msg, "unencrypted");
    tu_assert_contains(err.msg, fx->path);
}

/* The file `openssl genpkey -algorithm ed25519` writes (RFC 8410 test key) loads, and gives the
 * public key RFC 8410 section 10.3 lists for it. */
static void test_openssl_genpkey_file_loads(void **state)
{
    fixture_t *fx = *state;
    static const char rfc8410[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
        "-----END PRIVATE KEY-----\n";
    tu_write_file(fx->path, rfc8410, 0600);
    wv_err_t err = {{0}};
    identity_t *id = identity_load(fx->path, &err);
    if (id == NULL)
        fail_msg("%s", err.msg);
    char hex[IDENTITY_HEX_LEN + 1];
    identity_hex(identity_pubkey(id), hex);
    assert_string_equal(hex, "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
    identity_destroy(&id);
}

static void test_signature_verifies_and_forgeries_do_not(void **state)
{
    fixture_t *fx = *state;
    char other_path[PATH_MAX];
    snprintf(other_path, sizeof other_path, "%s/other.key", fx->dir);
    identity_t *id = s_create(fx->path);
    identity_t *other = s_create(other_path);
    const uint8_t *pub = identity_pubkey(id);

    uint8_t msg[] = "STATE height=100 ready v2";
    uint8_t sig[IDENTITY_SIG_LEN];
    wv_err_t err = {{0}};
    assert_int_equal(identity_sign(id, msg, sizeof msg, sig, &err), 0);
    assert_true(identity_verify(pub, msg, sizeof msg, sig));

    /* Ed25519 is deterministic: the same message gives the same signature */
    uint8_t sig2[IDENTITY_SIG_LEN];
    assert_int_equal(identity_sign(id, msg, sizeof msg, sig2, &err), 0);
    assert_memory_equal(sig, sig2, sizeof sig);

    /* one flipped bit anywhere in the signature */
    for (size_t bit = 0; bit < 8 * IDENTITY_SIG_LEN; bit++) {
        uint8_t bad[IDENTITY_SIG_LEN];
        memcpy(bad, sig, sizeof bad);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(identity_verify(pub, msg, sizeof msg, bad));
    }
    /* one flipped bit anywhere in the message */
    for (size_t bit = 0; bit < 8 * sizeof msg; bit++) {
        uint8_t bad[sizeof msg];
        memcpy(bad, msg, sizeof bad);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(identity_verify(pub, bad, sizeof bad, sig));
    }
    /* a shorter message */
    assert_false(identity_verify(pub, msg, sizeof msg - 1, sig));
    /* another key: its own signature of the message does not pass as ours, nor ours as its */
    uint8_t other_sig[IDENTITY_SIG_LEN];
    assert_int_equal(identity_sign(other, msg, sizeof msg, other_sig, &err), 0);
    assert_false(identity_verify(pub, msg, sizeof msg, other_sig));
    assert_false(identity_verify(identity_pubkey(other), msg, sizeof msg, sig));
    assert_true(identity_verify(identity_pubkey(other), msg, sizeof msg, other_sig));
    /* a public key that is not a curve point, and all zeros */
    uint8_t junk[IDENTITY_PUBKEY_LEN];
    memset(junk, 0xff, sizeof junk);
    assert_false(identity_verify(junk, msg, sizeof msg, sig));
    memset(junk, 0, sizeof junk);
    uint8_t zero_sig[IDENTITY_SIG_LEN] = {0};
    assert_false(identity_verify(junk, msg, sizeof msg, zero_sig));

    /* an empty message can be signed too */
    assert_int_equal(identity_sign(id, NULL, 0, sig, &err), 0);
    assert_true(identity_verify(pub, NULL, 0, sig));
    assert_false(identity_verify(pub, msg, 1, sig));

    identity_destroy(&id);
    identity_destroy(&other);
}

/* RFC 8032 section 7.1, TEST 2: the key loaded from RFC 8410's PEM is not that one, so this
 * checks verification against a published vector on its own. */
static void test_rfc8032_vector_verifies(void **state)
{
    (void)state;
    uint8_t pub[IDENTITY_PUBKEY_LEN];
    wv_err_t err = {{0}};
    assert_int_equal(
        identity_parse_hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", pub,
                           &err),
        0);
    static const char sig_hex[] =
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
    /* the signature is two key-sized halves of hex */
    uint8_t sig[IDENTITY_SIG_LEN];
    char half[IDENTITY_HEX_LEN + 1];
    snprintf(half, sizeof half, "%.64s", sig_hex);
    assert_int_equal(identity_parse_hex(half, sig, &err), 0);
    snprintf(half, sizeof half, "%s", sig_hex + IDENTITY_HEX_LEN);
    assert_int_equal(identity_parse_hex(half, sig + IDENTITY_PUBKEY_LEN, &err), 0);
    uint8_t msg[1] = {0x72};
    assert_true(identity_verify(pub, msg, 1, sig));
    msg[0] = 0x73;
    assert_false(identity_verify(pub, msg, 1, sig));
}

static void test_hex_round_trip(void **state)
{
    fixture_t *fx = *state;
    identity_t *id = s_create(fx->path);
    char hex[IDENTITY_HEX_LEN + 1];
    identity_hex(identity_pubkey(id), hex);
    assert_int_equal(strlen(hex), IDENTITY_HEX_LEN);
    for (size_t i = 0; i < IDENTITY_HEX_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", hex[i]));

    uint8_t back[IDENTITY_PUBKEY_LEN];
    wv_err_t err = {{0}};
    assert_int_equal(identity_parse_hex(hex, back, &err), 0);
    assert_memory_equal(back, identity_pubkey(id), IDENTITY_PUBKEY_LEN);

    /* upper case is the same key */
    char upper[IDENTITY_HEX_LEN + 1];
    for (size_t i = 0; i <= IDENTITY_HEX_LEN; i++)
        upper[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 'a' + 'A') : hex[i];
    assert_int_equal(identity_parse_hex(upper, back, &err), 0);
    assert_memory_equal(back, identity_pubkey(id), IDENTITY_PUBKEY_LEN);
    identity_destroy(&id);

    uint8_t known[IDENTITY_PUBKEY_LEN];
    for (size_t i = 0; i < sizeof known; i++)
        known[i] = (uint8_t)(i * 8 + 1);
    identity_hex(known, hex);
    assert_string_equal(hex, "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
}

static void test_bad_hex_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "abc",
        "0x19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1", /* prefix */
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e",    /* 63 digits */
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e10",  /* 65 digits */
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166eg",   /* not hex */
        " 19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",  /* space */
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1\n", /* newline */
        "19bf44096984cdfe8541bac167dc3b96 85086aa30b6b6cb0c5c38ad703166e1",   /* inner space */
    };
    uint8_t out[IDENTITY_PUBKEY_LEN];
    memset(out, 0xaa, sizeof out);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wv_err_t err = {{0}};
        if (identity_parse_hex(bad[i], out, &err) == 0)
            fail_msg("\"%s\" was accepted", bad[i]);
        tu_assert_contains(err.msg, "64 hex digits");
        tu_assert_contains(err.msg, "is not a public key");
    }
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xaa); /* nothing written on failure */

    wv_err_t err = {{0}};
    assert_int_equal(identity_parse_hex("zz", out, &err), -1);
    tu_assert_contains(err.msg, "\"zz\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_key_is_private_and_loads_again, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_two_created_keys_differ, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_key_readable_by_others_is_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_key_of_another_algorithm_is_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_key_is_refused_without_a_prompt, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_openssl_genpkey_file_loads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_signature_verifies_and_forgeries_do_not, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_rfc8032_vector_verifies),
        cmocka_unit_test_setup_teardown(test_hex_round_trip, s_setup, s_teardown),
        cmocka_unit_test(test_bad_hex_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
