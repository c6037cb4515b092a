/* identity: the agent's Ed25519 key in a PEM PKCS#8 file, signing and verifying with OpenSSL EVP.
 * It does not decide what is signed or whose signature counts; wire.c and the fleet do. */
#include "identity.h"
#include "fsutil.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDENTITY_FILE_MODE 0600

struct identity {
    EVP_PKEY *pkey;                   /* the private key (owns it) */
    uint8_t pub[IDENTITY_PUBKEY_LEN]; /* its raw public key, read once at load */
};

/* The first queued OpenSSL error as text, and the queue emptied, so a later message does not
 * carry an old reason. */
static const char *s_ssl_reason(char *buf, size_t size)
{
    unsigned long code = ERR_get_error();
    if (code == 0)
        snprintf(buf, size, "no reason given by OpenSSL");
    else
        ERR_error_string_n(code, buf, size);
    ERR_clear_error();
    return buf;
}

/* PEM reading would ask the terminal for a passphrase when a key is encrypted; an agent must
 * never block on a prompt, so every passphrase request fails instead. */
static int s_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static identity_t *s_from_pkey(EVP_PKEY *pkey, const char *path, wv_err_t *err)
{
    char reason[256];
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        err_set(err,
                "%s is not an Ed25519 key; move it away and run `wemixvisor init`, or create one "
                "with `openssl genpkey -algorithm ed25519 -out %s`",
                path, path);
        return NULL;
    }
    identity_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        EVP_PKEY_free(pkey);
        err_set(err, "out of memory");
        return NULL;
    }
    size_t len = sizeof self->pub;
    if (EVP_PKEY_get_raw_public_key(pkey, self->pub, &len) != 1 || len != sizeof self->pub) {
        err_set(err, "%s: cannot read the public key: %s", path,
                s_ssl_reason(reason, sizeof reason));
        EVP_PKEY_free(pkey);
        free(self);
        return NULL;
    }
    self->pkey = pkey;
    return self;
}

/* Reads the key file through one descriptor, so the mode that is checked is the mode of the
 * bytes that are read. */
static int s_read_key_file(const char *path, char *buf, size_t size, size_t *len, wv_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot open the identity key %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, "identity key %s is not a regular file", path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return err_set(err,
                       "identity key %s is open to group or others (mode %04o); run "
                       "`chmod 600 %s`",
                       path, (unsigned)(st.st_mode & 07777), path);
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(err, "cannot read the identity key %s", path);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == size) {
            close(fd);
            return err_set(err,
                           "identity key %s is larger than %d bytes: not a key file; move it "
                           "away and run `wemixvisor init`",
                           path, IDENTITY_KEY_FILE_MAX);
        }
    }
    close(fd);
    *len = got;
    return 0;
}

identity_t *identity_load(const char *path, wv_err_t *err)
{
    assert(path != NULL);
    /* one byte more than the limit, so a file of exactly the limit is told from a longer one */
    char buf[IDENTITY_KEY_FILE_MAX + 1];
    size_t len = 0;
    if (s_read_key_file(path, buf, sizeof buf, &len, err) != 0)
        return NULL;

    char reason[256];
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    if (bio != NULL) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, s_no_passphrase, NULL);
        BIO_free(bio);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (pkey == NULL) {
        err_set(err,
                "%s is not a PEM private key (unencrypted PKCS#8, as `openssl genpkey -algorithm "
                "ed25519` writes): %s; move it away and run `wemixvisor init`",
                path, s_ssl_reason(reason, sizeof reason));
        return NULL;
    }
    return s_from_pkey(pkey, path, err);
}

/* Generates a key and writes it to path with mode 0600 (temp file, fsync, rename). */
static identity_t *s_create(const char *path, wv_err_t *err)
{
    char reason[256];
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
        EVP_PKEY_CTX_free(ctx);
        err_set(err, "cannot generate an Ed25519 key: %s", s_ssl_reason(reason, sizeof reason));
        return NULL;
    }
    EVP_PKEY_CTX_free(ctx);

    /* a secure-memory BIO wipes the PEM text when it is freed */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(bio);
        EVP_PKEY_free(pkey);
        err_set(err, "cannot encode the new key: %s", s_ssl_reason(reason, sizeof reason));
        return NULL;
    }
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(bio, &pem);
    int rc = pem_len > 0 ? fs_write_atomic(path, pem, (size_t)pem_len, IDENTITY_FILE_MODE, err)
                         : err_set(err, "cannot encode the new key: empty PEM");
    BIO_free(bio);
    if (rc != 0) {
        EVP_PKEY_free(pkey);
        err_wrap(err, "creating the identity key");
        return NULL;
    }
    return s_from_pkey(pkey, path, err);
}

identity_t *identity_load_or_create(const char *path, bool *created, wv_err_t *err)
{
    assert(path != NULL && created != NULL);
    *created = false;
    struct stat st;
    if (lstat(path, &st) == 0)
        return identity_load(path, err);
    if (errno != ENOENT) {
        err_sys(err, "cannot look at the identity key %s", path);
        return NULL;
    }
    identity_t *self = s_create(path, err);
    if (self != NULL)
        *created = true;
    return self;
}

void identity_destroy(identity_t **self_p)
{
    assert(self_p != NULL);
    identity_t *self = *self_p;
    if (self == NULL)
        return;
    EVP_PKEY_free(self->pkey);
    free(self);
    *self_p = NULL;
}

const uint8_t *identity_pubkey(const identity_t *self)
{
    assert(self != NULL);
    return self->pub;
}

int identity_sign(const identity_t *self, const void *msg, size_t len,
                  uint8_t sig[IDENTITY_SIG_LEN], wv_err_t *err)
{
    assert(self != NULL && sig != NULL);
    assert(msg != NULL || len == 0);
    char reason[256];
    static const uint8_t empty[1] = {0};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = IDENTITY_SIG_LEN;
    /* Ed25519 is "pure" (RFC 8032): no digest is named, the whole message goes in one call */
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, self->pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, len > 0 ? msg : empty, len) != 1 ||
        sig_len != IDENTITY_SIG_LEN) {
        EVP_MD_CTX_free(ctx);
        return err_set(err, "cannot sign: %s", s_ssl_reason(reason, sizeof reason));
    }
    EVP_MD_CTX_free(ctx);
    return 0;
}

bool identity_verify(const uint8_t pub[IDENTITY_PUBKEY_LEN], const void *msg, size_t len,
                     const uint8_t sig[IDENTITY_SIG_LEN])
{
    assert(pub != NULL && sig != NULL);
    assert(msg != NULL || len == 0);
    static const uint8_t empty[1] = {0};
    bool ok = false;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, IDENTITY_PUBKEY_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (pkey != NULL && ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
        ok = EVP_DigestVerify(ctx, sig, IDENTITY_SIG_LEN, len > 0 ? msg : empty, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    /* a refused signature queues an error; the next OpenSSL message must not show it */
    ERR_clear_error();
    return ok;
}

void identity_hex(const uint8_t pub[IDENTITY_PUBKEY_LEN], char out[IDENTITY_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < IDENTITY_PUBKEY_LEN; i++) {
        out[2 * i] = digits[pub[i] >> 4];
        out[2 * i + 1] = digits[pub[i] & 0x0f];
    }
    out[IDENTITY_HEX_LEN] = '\0';
}

static int s_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int identity_parse_hex(const char *text, uint8_t out[IDENTITY_PUBKEY_LEN], wv_err_t *err)
{
    assert(text != NULL && out != NULL);
    size_t len = strnlen(text, IDENTITY_HEX_LEN + 1);
    bool ok = len == IDENTITY_HEX_LEN;
    uint8_t key[IDENTITY_PUBKEY_LEN];
    for (size_t i = 0; ok && i < IDENTITY_PUBKEY_LEN; i++) {
        int hi = s_hex_digit(text[2 * i]);
        int lo = s_hex_digit(text[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            key[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!ok)
        return err_set(err,
                       "\"%.80s%s\" is not a public key: a key is %d hex digits, without 0x "
                       "(`wemixvisor init` prints this agent's)",
                       text, len > 80 ? "..." : "", IDENTITY_HEX_LEN);
    memcpy(out, key, sizeof key);
    return 0;
}
