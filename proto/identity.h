/* identity: this agent's Ed25519 key (wemixvisor/identity.key) and signature checks (OpenSSL EVP).
 * It knows keys and signatures, nothing of messages; wire.c decides what is signed. */
#ifndef WV_IDENTITY_H
#define WV_IDENTITY_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_PUBKEY_LEN 32
#define IDENTITY_SIG_LEN 64
#define IDENTITY_HEX_LEN (2 * IDENTITY_PUBKEY_LEN) /* without the NUL */
#define IDENTITY_KEY_FILE_MAX 4096

typedef struct identity identity_t;

/* Loads the private key at path (PEM, PKCS#8, as `openssl genpkey -algorithm ed25519` writes).
 * Refuses a file readable by group or others (it must be 0600 or stricter), a file that is not
 * an Ed25519 key, or one larger than IDENTITY_KEY_FILE_MAX; err names the file and the fix. */
identity_t *identity_load(const char *path, wv_err_t *err);

/* Creates a new key at path (0600, temp file + fsync + rename) unless one exists; sets *created.
 * An existing key is loaded and checked as identity_load does. */
identity_t *identity_load_or_create(const char *path, bool *created, wv_err_t *err);

void identity_destroy(identity_t **self_p);

/* The 32-byte raw public key. */
const uint8_t *identity_pubkey(const identity_t *self);

/* Signs len bytes of msg. */
int identity_sign(const identity_t *self, const void *msg, size_t len,
                  uint8_t sig[IDENTITY_SIG_LEN], wv_err_t *err);

/* Is sig a valid signature of msg by the raw public key pub? Never fails otherwise. */
bool identity_verify(const uint8_t pub[IDENTITY_PUBKEY_LEN], const void *msg, size_t len,
                     const uint8_t sig[IDENTITY_SIG_LEN]);

/* Lowercase hex of a public key; out holds IDENTITY_HEX_LEN + 1 bytes. */
void identity_hex(const uint8_t pub[IDENTITY_PUBKEY_LEN], char out[IDENTITY_HEX_LEN + 1]);

/* Parses 64 hex digits (either case, nothing else, no prefix) into a raw key; err quotes the
 * text and says what a key looks like. */
int identity_parse_hex(const char *text, uint8_t out[IDENTITY_PUBKEY_LEN], wv_err_t *err);

#endif
