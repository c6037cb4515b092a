/* wire: encoding and strict decoding of the gossip envelope and the STATE body (docs/protocol.md).
 * Everything on the wire is hostile until checked here; who may speak is not decided here. */
#include "wire.h"

#include <msgpack.h>

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_CANONICAL_FIELDS 6 /* [v, chain, from, seq, type, body] */
#define WIRE_ENVELOPE_FIELDS 7  /* the map: the canonical fields and sig */

/* ---- reading msgpack safely ----------------------------------------------------------------- */

/* Reads an n-byte big-endian length at data[*pos], if it is there. */
static int s_read_be(const uint8_t *data, size_t len, size_t *pos, size_t n, uint64_t *out)
{
    if (len - *pos < n)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | data[*pos + i];
    *pos += n;
    *out = v;
    return 0;
}

/* Walks the one msgpack object at the start of data without building it and puts its size in
 * *used; -1 if it is malformed or cut short.
 * Why: msgpack-c allocates room for every element an array or map header announces before it
 * reads them, so a 5-byte header could ask for 100 GB. Here every announced element is checked
 * against the bytes left (each takes one at least) before msgpack-c sees the input, which bounds
 * what it allocates by the input's length. */
static int s_scan(const uint8_t *data, size_t len, size_t *used)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects announced and not read yet */
    while (pending > 0) {
        if (pending > len - pos)
            return -1;
        pending--;
        uint8_t b = data[pos++];
        uint64_t skip = 0;     /* payload bytes after the header */
        uint64_t children = 0; /* objects the header announces */
        uint64_t n = 0;
        int rc = 0;
        if (b <= 0x7f || b >= 0xe0) /* positive and negative fixint */
            continue;
        if (b <= 0x8f) {
            children = 2ULL * (b & 0x0f); /* fixmap */
        } else if (b <= 0x9f) {
            children = b & 0x0f; /* fixarray */
        } else if (b <= 0xbf) {
            skip = b & 0x1f; /* fixstr */
        } else {
            switch (b) {
            case 0xc0: /* nil */
            case 0xc2: /* false */
            case 0xc3: /* true */
                break;
            case 0xc4: /* bin 8, 16, 32 */
            case 0xd9: /* str 8, 16, 32 */
                rc = s_read_be(data, len, &pos, 1, &skip);
                break;
            case 0xc5:
            case 0xda:
                rc = s_read_be(data, len, &pos, 2, &skip);
                break;
            case 0xc6:
            case 0xdb:
                rc = s_read_be(data, len, &pos, 4, &skip);
                break;
            case 0xc7: /* ext 8, 16, 32: length, then a type byte, then the data */
                rc = s_read_be(data, len, &pos, 1, &n);
                skip = n + 1;
                break;
            case 0xc8:
                rc = s_read_be(data, len, &pos, 2, &n);
                skip = n + 1;
                break;
            case 0xc9:
                rc = s_read_be(data, len, &pos, 4, &n);
                skip = n + 1;
                break;
            case 0xcc: /* uint 8 */
            case 0xd0: /* int 8 */
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xca: /* float 32 */
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcb: /* float 64 */
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4: /* fixext 1, 2, 4, 8, 16: a type byte and the data */
                skip = 2;
                break;
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc: /* array 16, 32 */
                rc = s_read_be(data, len, &pos, 2, &children);
                break;
            case 0xdd:
                rc = s_read_be(data, len, &pos, 4, &children);
                break;
            case 0xde: /* map 16, 32 */
                rc = s_read_be(data, len, &pos, 2, &n);
                children = 2 * n;
                break;
            case 0xdf:
                rc = s_read_be(data, len, &pos, 4, &n);
                children = 2 * n;
                break;
            default: /* 0xc1 is never used */
                return -1;
            }
        }
        if (rc != 0 || skip > len - pos)
            return -1;
        pos += (size_t)skip;
        pending += children;
    }
    *used = pos;
    return 0;
}

/* Unpacks data, which must be exactly one msgpack object, into u (initialised by the caller). */
static int s_unpack(const uint8_t *data, size_t len, msgpack_unpacked *u, const char *what,
                    wv_err_t *err)
{
    assert(data != NULL || len == 0);
    size_t used = 0;
    if (len == 0 || s_scan(data, len, &used) != 0)
        return err_set(err, "%s: not a complete msgpack object (%zu bytes)", what, len);
    if (used != len)
        return err_set(err, "%s: %zu bytes after the end of the msgpack object", what, len - used);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(u, (const char *)data, len, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len)
        return err_set(err, "%s: msgpack does not decode (%d)", what, (int)rc);
    return 0;
}

/* The index of key among names, or -1 for a key this version does not know (which is ignored);
 * a key that is not a string is unknown too. */
static int s_key_index(const msgpack_object *key, const char *const names[], int count)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return -1;
    for (int i = 0; i < count; i++)
        if (key->via.str.size == strlen(names[i]) &&
            memcmp(key->via.str.ptr, names[i], key->via.str.size) == 0)
            return i;
    return -1;
}

/* Marks key idx as seen; a known key twice is an error, since two values could be read in two
 * ways by two implementations. */
static int s_claim(unsigned *seen, int idx, const char *ctx, const char *name, wv_err_t *err)
{
    if (*seen & (1u << idx))
        return err_set(err, "%s: key \"%s\" appears twice", ctx, name);
    *seen |= 1u << idx;
    return 0;
}

static int s_require(unsigned seen, unsigned required, const char *const names[], int count,
                     const char *ctx, wv_err_t *err)
{
    for (int i = 0; i < count; i++)
        if ((required & (1u << i)) && !(seen & (1u << i)))
            return err_set(err, "%s: key \"%s\" is missing", ctx, names[i]);
    return 0;
}

/* Text on the wire is printable ASCII: it ends up in logs, JSON and terminals. */
static bool s_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static int s_take_uint(const msgpack_object *o, uint64_t max, uint64_t *out, const char *ctx,
                       const char *key, wv_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return err_set(err, "%s: \"%s\" is not an unsigned integer", ctx, key);
    if (o->via.u64 > max)
        return err_set(err, "%s: \"%s\" is %" PRIu64 ", at most %" PRIu64, ctx, key, o->via.u64,
                       max);
    *out = o->via.u64;
    return 0;
}

/* Copies a string of at most max bytes into out (max + 1 bytes), its length checked first. */
static int s_take_text(const msgpack_object *o, char *out, size_t max, const char *ctx,
                       const char *key, wv_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return err_set(err, "%s: \"%s\" is not a string", ctx, key);
    size_t len = o->via.str.size;
    if (len > max)
        return err_set(err, "%s: \"%s\" is %zu bytes long, at most %zu", ctx, key, len, max);
    if (!s_printable(o->via.str.ptr, len))
        return err_set(err, "%s: \"%s\" holds a byte that is not printable ASCII", ctx, key);
    if (len > 0)
        memcpy(out, o->via.str.ptr, len);
    out[len] = '\0';
    return 0;
}

/* Copies a bin of exactly want bytes. */
static int s_take_bin(const msgpack_object *o, uint8_t *out, size_t want, const char *ctx,
                      const char *key, wv_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return err_set(err, "%s: \"%s\" is not binary", ctx, key);
    if (o->via.bin.size != want)
        return err_set(err, "%s: \"%s\" is %zu bytes, must be %zu", ctx, key,
                       (size_t)o->via.bin.size, want);
    memcpy(out, o->via.bin.ptr, want);
    return 0;
}

/* ---- checks shared by encoding and decoding ------------------------------------------------- */

/* Is s NUL-terminated within size bytes, at most max characters and printable? */
static int s_check_text(const char *s, size_t size, size_t max, bool required, const char *ctx,
                        const char *key, wv_err_t *err)
{
    size_t len = strnlen(s, size);
    if (len == size || len > max)
        return err_set(err, "%s: \"%s\" is longer than %zu bytes", ctx, key, max);
    if (required && len == 0)
        return err_set(err, "%s: \"%s\" is empty", ctx, key);
    if (!s_printable(s, len))
        return err_set(err, "%s: \"%s\" holds a byte that is not printable ASCII", ctx, key);
    return 0;
}

static bool s_one_of(const char *s, const char *const set[], size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

int wire_chain_check(const char *chain, wv_err_t *err)
{
    assert(chain != NULL);
    size_t len = strnlen(chain, WIRE_CHAIN_MAX + 1);
    bool ok = len >= 1 && len <= WIRE_CHAIN_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        char c = chain[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return err_set(err,
                       "chain id \"%.80s%s\" is not valid: use 1 to %d of A-Z a-z 0-9 . _ - "
                       "(WEMIXVISOR_CHAIN_ID)",
                       chain, len > 80 ? "..." : "", WIRE_CHAIN_MAX);
    return 0;
}

/* A message type: [A-Z_]{1,16}. */
static int s_type_check(const char *type, wv_err_t *err)
{
    size_t len = strnlen(type, WIRE_TYPE_MAX + 1);
    bool ok = len >= 1 && len <= WIRE_TYPE_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (type[i] >= 'A' && type[i] <= 'Z') || type[i] == '_';
    if (!ok)
        return err_set(err, "message type \"%.40s\" is not valid: 1 to %d of A-Z and _", type,
                       WIRE_TYPE_MAX);
    return 0;
}

/* An upgrade name as DESIGN section 5 allows it: [A-Za-z0-9._-]{1,128}, not "." or "..". */
static int s_name_check(const char *name, const char *ctx, wv_err_t *err)
{
    size_t len = strnlen(name, WIRE_NAME_MAX + 1);
    bool ok = len >= 1 && len <= WIRE_NAME_MAX && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
    for (size_t i = 0; ok && i < len; i++) {
        char c = name[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return err_set(err, "%s: \"name\" is not an upgrade name ([A-Za-z0-9._-]{1,%d})", ctx,
                       WIRE_NAME_MAX);
    return 0;
}

static const char *const s_phases[] = {WIRE_PHASE_WAITING, WIRE_PHASE_READY,     WIRE_PHASE_ARMED,
                                       WIRE_PHASE_BLOCKED, WIRE_PHASE_SWITCHING, WIRE_PHASE_DONE,
                                       WIRE_PHASE_FAILED};
static const char *const s_modes[] = {WIRE_MODE_AT_HEIGHT, WIRE_MODE_ROLLING};
static const char *const s_roles[] = {WIRE_ROLE_VALIDATOR, WIRE_ROLE_OBSERVER};
#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Everything a STATE must satisfy beyond its msgpack types; the same for what is sent and what
 * is received, so an agent never sends what its peers would drop. */
static int s_state_check(const wire_state_t *st, wv_err_t *err)
{
    const char *ctx = "STATE";
    if (st->height < 0)
        return err_set(err, "%s: \"height\" is negative", ctx);
    if (s_check_text(st->version, sizeof st->version, WIRE_VERSION_MAX, false, ctx, "version",
                     err) != 0 ||
        s_check_text(st->node, sizeof st->node, WIRE_WORD_MAX, true, ctx, "node", err) != 0 ||
        s_check_text(st->health, sizeof st->health, WIRE_WORD_MAX, false, ctx, "health", err) !=
            0 ||
        s_check_text(st->role, sizeof st->role, WIRE_WORD_MAX, true, ctx, "role", err) != 0)
        return -1;
    if (!s_one_of(st->role, s_roles, S_COUNT(s_roles)))
        return err_set(err, "%s: \"role\" is \"%s\", not validator or observer", ctx, st->role);
    if (st->n_upgrades > WIRE_UPGRADES_MAX)
        return err_set(err, "%s: %zu upgrades, at most %d", ctx, st->n_upgrades, WIRE_UPGRADES_MAX);
    for (size_t i = 0; i < st->n_upgrades; i++) {
        const wire_upgrade_t *u = &st->upgrades[i];
        char uctx[48];
        snprintf(uctx, sizeof uctx, "STATE upgrade %zu", i);
        if (s_check_text(u->name, sizeof u->name, WIRE_NAME_MAX, true, uctx, "name", err) != 0 ||
            s_name_check(u->name, uctx, err) != 0 ||
            s_check_text(u->phase, sizeof u->phase, WIRE_WORD_MAX, true, uctx, "phase", err) != 0 ||
            s_check_text(u->mode, sizeof u->mode, WIRE_WORD_MAX, true, uctx, "mode", err) != 0 ||
            s_check_text(u->reason, sizeof u->reason, WIRE_REASON_MAX, false, uctx, "reason",
                         err) != 0)
            return -1;
        if (u->height < 0)
            return err_set(err, "%s: \"height\" is negative", uctx);
        if (!s_one_of(u->phase, s_phases, S_COUNT(s_phases)))
            return err_set(err, "%s: \"phase\" \"%s\" is not a phase", uctx, u->phase);
        if (!s_one_of(u->mode, s_modes, S_COUNT(s_modes)))
            return err_set(err, "%s: \"mode\" \"%s\" is not at-height or rolling", uctx, u->mode);
        /* one entry per upgrade: two could carry two different votes */
        for (size_t j = 0; j < i; j++)
            if (strcmp(st->upgrades[j].name, u->name) == 0)
                return err_set(err, "%s: upgrade \"%s\" appears twice", ctx, u->name);
    }
    return 0;
}

/* ---- packing -------------------------------------------------------------------------------- */

/* The msgpack_pack_* calls return 0 or -1 (out of memory); they are chained with ||, which calls
 * them in order and stops at the first failure (| would leave the order unspecified). */

static int s_pack_text(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

static int s_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t len)
{
    return msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, b, len);
}

/* Hands the buffer over to the caller, or frees it on a packing error (only out of memory). */
static int s_hand_over(msgpack_sbuffer *sbuf, int rc, uint8_t **out, size_t *out_len,
                       const char *what, wv_err_t *err)
{
    if (rc != 0) {
        msgpack_sbuffer_destroy(sbuf);
        return err_set(err, "encoding %s: out of memory", what);
    }
    *out_len = sbuf->size;
    *out = (uint8_t *)msgpack_sbuffer_release(sbuf);
    return 0;
}

/* The bytes that are signed: the array [v, chain, from, seq, type, body], rebuilt from values
 * (never taken from the received map), so how the sender laid out its map does not matter.
 * msgpack-c always picks the smallest encoding, which makes this encoding unique. */
static int s_pack_canonical(msgpack_sbuffer *sbuf, uint64_t v, const char *chain,
                            const uint8_t from[IDENTITY_PUBKEY_LEN], uint64_t seq, const char *type,
                            const uint8_t *body, size_t body_len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    return msgpack_pack_array(&pk, WIRE_CANONICAL_FIELDS) || msgpack_pack_uint64(&pk, v) ||
           s_pack_text(&pk, chain) || s_pack_bin(&pk, from, IDENTITY_PUBKEY_LEN) ||
           msgpack_pack_uint64(&pk, seq) || s_pack_text(&pk, type) ||
           s_pack_bin(&pk, body, body_len);
}

/* ---- STATE ---------------------------------------------------------------------------------- */

static const char *const s_state_keys[] = {"height", "version",  "node", "health",
                                           "role",   "upgrades", "hears"};
enum { SK_HEIGHT, SK_VERSION, SK_NODE, SK_HEALTH, SK_ROLE, SK_UPGRADES, SK_HEARS, SK_COUNT };
#define SK_REQUIRED (1u << SK_HEIGHT | 1u << SK_NODE | 1u << SK_ROLE | 1u << SK_UPGRADES)

static const char *const s_upgrade_keys[] = {"name", "height", "sha256", "phase", "mode", "reason"};
enum { UK_NAME, UK_HEIGHT, UK_SHA256, UK_PHASE, UK_MODE, UK_REASON, UK_COUNT };
#define UK_REQUIRED                                                                                \
    (1u << UK_NAME | 1u << UK_HEIGHT | 1u << UK_SHA256 | 1u << UK_PHASE | 1u << UK_MODE)

static int s_pack_upgrade(msgpack_packer *pk, const wire_upgrade_t *u)
{
    bool reason = u->reason[0] != '\0';
    return msgpack_pack_map(pk, reason ? UK_COUNT : UK_COUNT - 1) ||
           s_pack_text(pk, s_upgrade_keys[UK_NAME]) || s_pack_text(pk, u->name) ||
           s_pack_text(pk, s_upgrade_keys[UK_HEIGHT]) ||
           msgpack_pack_uint64(pk, (uint64_t)u->height) ||
           s_pack_text(pk, s_upgrade_keys[UK_SHA256]) ||
           s_pack_bin(pk, u->sha256, WIRE_SHA256_LEN) ||
           s_pack_text(pk, s_upgrade_keys[UK_PHASE]) || s_pack_text(pk, u->phase) ||
           s_pack_text(pk, s_upgrade_keys[UK_MODE]) || s_pack_text(pk, u->mode) ||
           (reason ? s_pack_text(pk, s_upgrade_keys[UK_REASON]) || s_pack_text(pk, u->reason) : 0);
}

int wire_state_encode(const wire_state_t *st, uint8_t **out, size_t *out_len, wv_err_t *err)
{
    assert(st != NULL && out != NULL && out_len != NULL);
    if (s_state_check(st, err) != 0)
        return err_wrap(err, "refusing to send");
    /* optional keys are left out when empty; a receiver reads a missing one as "" */
    bool version = st->version[0] != '\0';
    bool health = st->health[0] != '\0';
    bool hears = st->hears_len > 0;
    if (st->hears_len > WIRE_HEARS_MAX)
        return err_set(err, "refusing to send: \"hears\" is %zu bytes, at most %d", st->hears_len,
                       WIRE_HEARS_MAX);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, SK_COUNT - !version - !health - !hears);
    rc |=
        s_pack_text(&pk, s_state_keys[SK_HEIGHT]) || msgpack_pack_uint64(&pk, (uint64_t)st->height);
    if (version)
        rc |= s_pack_text(&pk, s_state_keys[SK_VERSION]) || s_pack_text(&pk, st->version);
    rc |= s_pack_text(&pk, s_state_keys[SK_NODE]) || s_pack_text(&pk, st->node);
    if (health)
        rc |= s_pack_text(&pk, s_state_keys[SK_HEALTH]) || s_pack_text(&pk, st->health);
    rc |= s_pack_text(&pk, s_state_keys[SK_ROLE]) || s_pack_text(&pk, st->role);
    rc |= s_pack_text(&pk, s_state_keys[SK_UPGRADES]) || msgpack_pack_array(&pk, st->n_upgrades);
    for (size_t i = 0; i < st->n_upgrades; i++)
        rc |= s_pack_upgrade(&pk, &st->upgrades[i]);
    if (hears)
        rc |= s_pack_text(&pk, s_state_keys[SK_HEARS]) || s_pack_bin(&pk, st->hears, st->hears_len);
    if (rc == 0 && sbuf.size > WIRE_BODY_MAX) {
        msgpack_sbuffer_destroy(&sbuf);
        return err_set(err, "STATE is %zu bytes encoded, at most %d", sbuf.size, WIRE_BODY_MAX);
    }
    return s_hand_over(&sbuf, rc, out, out_len, "STATE", err);
}

static int s_decode_upgrade(const msgpack_object *o, size_t index, wire_upgrade_t *u, wv_err_t *err)
{
    char ctx[48];
    snprintf(ctx, sizeof ctx, "STATE upgrade %zu", index);
    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(err, "%s: not a map", ctx);
    unsigned seen = 0;
    uint64_t height = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        int idx = s_key_index(&kv->key, s_upgrade_keys, UK_COUNT);
        if (idx < 0)
            continue;
        const char *key = s_upgrade_keys[idx];
        if (s_claim(&seen, idx, ctx, key, err) != 0)
            return -1;
        int rc = 0;
        switch (idx) {
        case UK_NAME:
            rc = s_take_text(&kv->val, u->name, WIRE_NAME_MAX, ctx, key, err);
            break;
        case UK_HEIGHT:
            rc = s_take_uint(&kv->val, INT64_MAX, &height, ctx, key, err);
            u->height = (int64_t)height;
            break;
        case UK_SHA256:
            rc = s_take_bin(&kv->val, u->sha256, WIRE_SHA256_LEN, ctx, key, err);
            break;
        case UK_PHASE:
            rc = s_take_text(&kv->val, u->phase, WIRE_WORD_MAX, ctx, key, err);
            break;
        case UK_MODE:
            rc = s_take_text(&kv->val, u->mode, WIRE_WORD_MAX, ctx, key, err);
            break;
        case UK_REASON:
            rc = s_take_text(&kv->val, u->reason, WIRE_REASON_MAX, ctx, key, err);
            break;
        }
        if (rc != 0)
            return -1;
    }
    return s_require(seen, UK_REQUIRED, s_upgrade_keys, UK_COUNT, ctx, err);
}

static int s_decode_state(const msgpack_object *o, wire_state_t *st, wv_err_t *err)
{
    const char *ctx = "STATE";
    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(err, "%s: not a map", ctx);
    unsigned seen = 0;
    uint64_t height = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        int idx = s_key_index(&kv->key, s_state_keys, SK_COUNT);
        if (idx < 0)
            continue;
        const char *key = s_state_keys[idx];
        if (s_claim(&seen, idx, ctx, key, err) != 0)
            return -1;
        int rc = 0;
        switch (idx) {
        case SK_HEIGHT:
            rc = s_take_uint(&kv->val, INT64_MAX, &height, ctx, key, err);
            st->height = (int64_t)height;
            break;
        case SK_VERSION:
            rc = s_take_text(&kv->val, st->version, WIRE_VERSION_MAX, ctx, key, err);
            break;
        case SK_NODE:
            rc = s_take_text(&kv->val, st->node, WIRE_WORD_MAX, ctx, key, err);
            break;
        case SK_HEALTH:
            rc = s_take_text(&kv->val, st->health, WIRE_WORD_MAX, ctx, key, err);
            break;
        case SK_ROLE:
            rc = s_take_text(&kv->val, st->role, WIRE_WORD_MAX, ctx, key, err);
            break;
        case SK_UPGRADES:
            if (kv->val.type != MSGPACK_OBJECT_ARRAY)
                return err_set(err, "%s: \"upgrades\" is not an array", ctx);
            if (kv->val.via.array.size > WIRE_UPGRADES_MAX)
                return err_set(err, "%s: %u upgrades, at most %d", ctx,
                               (unsigned)kv->val.via.array.size, WIRE_UPGRADES_MAX);
            st->n_upgrades = kv->val.via.array.size;
            for (size_t j = 0; j < st->n_upgrades && rc == 0; j++)
                rc = s_decode_upgrade(&kv->val.via.array.ptr[j], j, &st->upgrades[j], err);
            break;
        case SK_HEARS:
            if (kv->val.type != MSGPACK_OBJECT_BIN || kv->val.via.bin.size > WIRE_HEARS_MAX)
                return err_set(err, "%s: \"hears\" is not binary of at most %d bytes", ctx,
                               WIRE_HEARS_MAX);
            st->hears_len = kv->val.via.bin.size;
            memcpy(st->hears, kv->val.via.bin.ptr, st->hears_len);
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (s_require(seen, SK_REQUIRED, s_state_keys, SK_COUNT, ctx, err) != 0)
        return -1;
    return s_state_check(st, err);
}

int wire_state_decode(const uint8_t *data, size_t len, wire_state_t *out, wv_err_t *err)
{
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (len > WIRE_BODY_MAX)
        return err_set(err, "STATE: %zu bytes, at most %d", len, WIRE_BODY_MAX);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = s_unpack(data, len, &u, "STATE", err);
    if (rc == 0)
        rc = s_decode_state(&u.data, out, err);
    msgpack_unpacked_destroy(&u);
    if (rc != 0)
        memset(out, 0, sizeof *out); /* never half a state */
    return rc;
}

/* ---- the envelope --------------------------------------------------------------------------- */

static const char *const s_env_keys[] = {"v", "chain", "from", "seq", "type", "body", "sig"};
enum { EK_V, EK_CHAIN, EK_FROM, EK_SEQ, EK_TYPE, EK_BODY, EK_SIG, EK_COUNT };
#define EK_REQUIRED ((1u << EK_COUNT) - 1)

int wire_envelope_seal(const identity_t *id, const char *chain, uint64_t seq, const char *type,
                       const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len,
                       wv_err_t *err)
{
    assert(id != NULL && chain != NULL && type != NULL && out != NULL && out_len != NULL);
    assert(body != NULL || body_len == 0);
    if (wire_chain_check(chain, err) != 0 || s_type_check(type, err) != 0)
        return -1;
    if (body_len > WIRE_BODY_MAX)
        return err_set(err, "%s body is %zu bytes, at most %d", type, body_len, WIRE_BODY_MAX);
    const uint8_t *from = identity_pubkey(id);

    msgpack_sbuffer canon;
    msgpack_sbuffer_init(&canon);
    uint8_t sig[IDENTITY_SIG_LEN];
    int rc = s_pack_canonical(&canon, WIRE_VERSION, chain, from, seq, type, body, body_len);
    if (rc != 0)
        err_set(err, "encoding the signed bytes: out of memory");
    else
        rc = identity_sign(id, canon.data, canon.size, sig, err);
    msgpack_sbuffer_destroy(&canon);
    if (rc != 0)
        return -1;

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    rc = msgpack_pack_map(&pk, WIRE_ENVELOPE_FIELDS);
    rc |= s_pack_text(&pk, s_env_keys[EK_V]) || msgpack_pack_uint64(&pk, WIRE_VERSION);
    rc |= s_pack_text(&pk, s_env_keys[EK_CHAIN]) || s_pack_text(&pk, chain);
    rc |= s_pack_text(&pk, s_env_keys[EK_FROM]) || s_pack_bin(&pk, from, IDENTITY_PUBKEY_LEN);
    rc |= s_pack_text(&pk, s_env_keys[EK_SEQ]) || msgpack_pack_uint64(&pk, seq);
    rc |= s_pack_text(&pk, s_env_keys[EK_TYPE]) || s_pack_text(&pk, type);
    rc |= s_pack_text(&pk, s_env_keys[EK_BODY]) || s_pack_bin(&pk, body, body_len);
    rc |= s_pack_text(&pk, s_env_keys[EK_SIG]) || s_pack_bin(&pk, sig, IDENTITY_SIG_LEN);
    /* cannot happen with the limits above; checked so a change of limits cannot go unnoticed */
    if (rc == 0 && sbuf.size > WIRE_ENVELOPE_MAX) {
        msgpack_sbuffer_destroy(&sbuf);
        return err_set(err, "envelope is %zu bytes, at most %d", sbuf.size, WIRE_ENVELOPE_MAX);
    }
    return s_hand_over(&sbuf, rc, out, out_len, "the envelope", err);
}

/* Finds "v" before anything else is read, so that a message of another protocol version is
 * refused as such (and out->v tells which) even if its other fields changed shape. */
static int s_check_version(const msgpack_object *map, wire_envelope_t *out, wv_err_t *err)
{
    const msgpack_object *v = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (s_key_index(&map->via.map.ptr[i].key, s_env_keys, 1) != EK_V)
            continue;
        if (v != NULL)
            return err_set(err, "envelope: key \"v\" appears twice");
        v = &map->via.map.ptr[i].val;
    }
    if (v == NULL)
        return err_set(err, "envelope: key \"v\" is missing");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return err_set(err, "envelope: \"v\" is not an unsigned integer");
    out->v = v->via.u64;
    if (out->v != WIRE_VERSION)
        return err_set(err, "envelope: protocol version %" PRIu64 ", this agent speaks %d", out->v,
                       WIRE_VERSION);
    return 0;
}

static int s_decode_envelope(const msgpack_object *o, wire_envelope_t *out, wv_err_t *err)
{
    const char *ctx = "envelope";
    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(err, "%s: not a map", ctx);
    if (s_check_version(o, out, err) != 0)
        return -1;
    unsigned seen = 0;
    uint64_t ignored = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        int idx = s_key_index(&kv->key, s_env_keys, EK_COUNT);
        if (idx < 0)
            continue;
        const char *key = s_env_keys[idx];
        if (s_claim(&seen, idx, ctx, key, err) != 0)
            return -1;
        int rc = 0;
        switch (idx) {
        case EK_V: /* read and checked by s_check_version */
            rc = s_take_uint(&kv->val, UINT64_MAX, &ignored, ctx, key, err);
            break;
        case EK_CHAIN:
            rc = s_take_text(&kv->val, out->chain, WIRE_CHAIN_MAX, ctx, key, err);
            if (rc == 0 && wire_chain_check(out->chain, err) != 0)
                rc = err_wrap(err, "%s", ctx);
            break;
        case EK_FROM:
            rc = s_take_bin(&kv->val, out->from, IDENTITY_PUBKEY_LEN, ctx, key, err);
            break;
        case EK_SEQ:
            rc = s_take_uint(&kv->val, UINT64_MAX, &out->seq, ctx, key, err);
            break;
        case EK_TYPE:
            rc = s_take_text(&kv->val, out->type, WIRE_TYPE_MAX, ctx, key, err);
            if (rc == 0 && s_type_check(out->type, err) != 0)
                rc = err_wrap(err, "%s", ctx);
            break;
        case EK_BODY:
            if (kv->val.type != MSGPACK_OBJECT_BIN)
                return err_set(err, "%s: \"body\" is not binary", ctx);
            if (kv->val.via.bin.size > WIRE_BODY_MAX)
                return err_set(err, "%s: \"body\" is %u bytes, at most %d", ctx,
                               (unsigned)kv->val.via.bin.size, WIRE_BODY_MAX);
            out->body_len = kv->val.via.bin.size;
            if (out->body_len > 0)
                memcpy(out->body, kv->val.via.bin.ptr, out->body_len);
            break;
        case EK_SIG:
            rc = s_take_bin(&kv->val, out->sig, IDENTITY_SIG_LEN, ctx, key, err);
            break;
        }
        if (rc != 0)
            return -1;
    }
    return s_require(seen, EK_REQUIRED, s_env_keys, EK_COUNT, ctx, err);
}

int wire_envelope_decode(const uint8_t *data, size_t len, wire_envelope_t *out, wv_err_t *err)
{
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    /* refused before any parsing: the limit is what bounds the work a peer can cause */
    if (len > WIRE_ENVELOPE_MAX)
        return err_set(err, "envelope: %zu bytes, at most %d", len, WIRE_ENVELOPE_MAX);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = s_unpack(data, len, &u, "envelope", err);
    if (rc == 0)
        rc = s_decode_envelope(&u.data, out, err);
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        /* keep only v, so the caller can count "another protocol version" apart */
        uint64_t v = out->v;
        memset(out, 0, sizeof *out);
        out->v = v;
    }
    return rc;
}

bool wire_envelope_verify(const wire_envelope_t *env)
{
    assert(env != NULL);
    if (env->v != WIRE_VERSION || env->body_len > WIRE_BODY_MAX ||
        memchr(env->chain, '\0', sizeof env->chain) == NULL ||
        memchr(env->type, '\0', sizeof env->type) == NULL)
        return false;
    msgpack_sbuffer canon;
    msgpack_sbuffer_init(&canon);
    bool ok = s_pack_canonical(&canon, env->v, env->chain, env->from, env->seq, env->type,
                               env->body, env->body_len) == 0 &&
              identity_verify(env->from, canon.data, canon.size, env->sig);
    msgpack_sbuffer_destroy(&canon);
    return ok;
}

/* ---- replay ------------------------------------------------------------------------------- */

wire_seq_verdict_t wire_seq_check(bool seen, uint64_t last, uint64_t seq, uint64_t now_us)
{
    /* the time window first: it holds even for a sender this receiver has never heard */
    if (seq < now_us && now_us - seq > WIRE_MAX_AGE_US)
        return WIRE_SEQ_STALE;
    if (seq > now_us && seq - now_us > WIRE_MAX_SKEW_US)
        return WIRE_SEQ_FUTURE;
    if (seen && seq == last)
        return WIRE_SEQ_DUPLICATE;
    if (seen && seq < last)
        return WIRE_SEQ_OLD;
    return WIRE_SEQ_FRESH;
}

const char *wire_seq_verdict_name(wire_seq_verdict_t v)
{
    switch (v) {
    case WIRE_SEQ_FRESH:
        return "fresh";
    case WIRE_SEQ_DUPLICATE:
        return "duplicate";
    case WIRE_SEQ_OLD:
        return "old";
    case WIRE_SEQ_STALE:
        return "stale";
    case WIRE_SEQ_FUTURE:
        return "future";
    }
    return "unknown";
}
