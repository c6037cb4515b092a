/* fleet: the members of the network in key order, their latest verified STATEs, and the quorum
 * arithmetic of DESIGN section 7 over them. No sockets, no clock, no signatures: callers pass them.
 */
#include "fleet.h"
#include "identity.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* wire_state_t.node of a node that is up and serving (agent lifecycle state). */
#define FLEET_RELAYERS 2 /* agents that relay a member to one that misses it */
#define FLEET_NODE_RUNNING "running"
/* How many hex digits of a key name a member in messages: enough to tell members apart. */
#define FLEET_SHORT_HEX 8

struct fleet {
    quorum_rule_t rule;
    int validators;          /* n, kept as members are added */
    uint64_t votes_since_us; /* states with an older seq do not vote (fleet_set_votes_since) */
    size_t count;
    /* Sorted by key. Each member is its own allocation so that the pointers fleet_find and
     * fleet_at hand out stay valid when later adds shift the array. */
    fleet_member_t *members[FLEET_MEMBERS_MAX];
};

/* ---- quorum arithmetic ---- */

int quorum_rule_parse(const char *text, quorum_rule_t *out, wv_err_t *err)
{
    assert(text != NULL && out != NULL);
    if (strcmp(text, "wbft") == 0) {
        *out = QUORUM_WBFT;
        return 0;
    }
    if (strcmp(text, "ceil2n3") == 0) {
        *out = QUORUM_CEIL2N3;
        return 0;
    }
    return err_set(err,
                   "quorum rule \"%s\" is not known: use \"wbft\" (the default, q = n - "
                   "floor((n-1)/3), as current WBFT) or \"ceil2n3\" (q = ceil(2n/3), as older "
                   "Istanbul code)",
                   text);
}

const char *quorum_rule_name(quorum_rule_t rule)
{
    switch (rule) {
    case QUORUM_WBFT:
        return "wbft";
    case QUORUM_CEIL2N3:
        return "ceil2n3";
    }
    return "unknown";
}

int quorum_size(int n, quorum_rule_t rule)
{
    if (n <= 0)
        return 0;
    if (rule == QUORUM_CEIL2N3)
        return (int)((2 * (int64_t)n + 2) / 3); /* 64-bit: 2n must not overflow */
    return n - (n - 1) / 3;
}

int quorum_tolerated(int n, quorum_rule_t rule)
{
    return n <= 0 ? 0 : n - quorum_size(n, rule);
}

/* ---- members ---- */

/* The hex of a key. identity_hex would do, but it would pull OpenSSL into every user of the
 * fleet for twelve lines of code. */
static void s_hex(const uint8_t key[IDENTITY_PUBKEY_LEN], char out[IDENTITY_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < IDENTITY_PUBKEY_LEN; i++) {
        out[2 * i] = digits[key[i] >> 4];
        out[2 * i + 1] = digits[key[i] & 0x0f];
    }
    out[IDENTITY_HEX_LEN] = '\0';
}

fleet_t *fleet_new(quorum_rule_t rule)
{
    fleet_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->rule = rule;
    return self;
}

void fleet_destroy(fleet_t **self_p)
{
    assert(self_p != NULL);
    fleet_t *self = *self_p;
    if (self == NULL)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->members[i]->raw);
        free(self->members[i]);
    }
    free(self);
    *self_p = NULL;
}

/* Binary search: the index of key if present (*found = true), else where it would go. */
static size_t s_position(const fleet_t *self, const uint8_t key[IDENTITY_PUBKEY_LEN], bool *found)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(self->members[mid]->key, key, IDENTITY_PUBKEY_LEN);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int fleet_add(fleet_t *self, const uint8_t key[IDENTITY_PUBKEY_LEN], bool validator, wv_err_t *err)
{
    assert(self != NULL && key != NULL);
    char hex[IDENTITY_HEX_LEN + 1];
    s_hex(key, hex);
    bool found;
    size_t at = s_position(self, key, &found);
    if (found)
        return err_set(err,
                       "key %s is listed twice in the fleet: list each validator and observer "
                       "key once",
                       hex);
    if (self->count >= FLEET_MEMBERS_MAX)
        return err_set(err,
                       "cannot add key %s: the fleet already has %d members, the most it takes "
                       "(validators and observers together)",
                       hex, FLEET_MEMBERS_MAX);
    fleet_member_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return err_set(err, "out of memory adding key %s to the fleet", hex);
    memcpy(m->key, key, IDENTITY_PUBKEY_LEN);
    memcpy(m->hex, hex, sizeof m->hex);
    m->validator = validator;
    memmove(&self->members[at + 1], &self->members[at],
            (self->count - at) * sizeof self->members[0]);
    self->members[at] = m;
    self->count++;
    if (validator)
        self->validators++;
    return 0;
}

fleet_member_t *fleet_find(fleet_t *self, const uint8_t key[IDENTITY_PUBKEY_LEN])
{
    assert(self != NULL && key != NULL);
    bool found;
    size_t at = s_position(self, key, &found);
    return found ? self->members[at] : NULL;
}

size_t fleet_count(const fleet_t *self)
{
    return self->count;
}

fleet_member_t *fleet_at(fleet_t *self, size_t i)
{
    assert(i < self->count);
    return self->members[i];
}

quorum_rule_t fleet_rule(const fleet_t *self)
{
    return self->rule;
}

int fleet_validators(const fleet_t *self)
{
    return self->validators;
}

int fleet_quorum(const fleet_t *self)
{
    return quorum_size(self->validators, self->rule);
}

void fleet_set_votes_since(fleet_t *self, uint64_t since_us)
{
    assert(self != NULL);
    self->votes_since_us = since_us;
}

int fleet_update(fleet_t *self, fleet_member_t *m, uint64_t seq, const wire_state_t *st,
                 const uint8_t *raw, size_t raw_len, bool direct, int64_t now_ms, wv_err_t *err)
{
    assert(self != NULL && m != NULL && st != NULL);
    assert(fleet_find(self, m->key) == m);
    (void)self; /* only the assert reads it */
    /* Copy first, so that on failure the member keeps its previous state whole. */
    uint8_t *copy = NULL;
    if (raw != NULL && raw_len > 0) {
        copy = malloc(raw_len);
        if (copy == NULL)
            return err_set(err, "out of memory keeping the %zu-byte STATE of %s", raw_len, m->hex);
        memcpy(copy, raw, raw_len);
    }
    free(m->raw);
    m->raw = copy;
    m->raw_len = copy != NULL ? raw_len : 0;
    m->state = *st;
    m->seq = seq;
    m->has_state = true;
    m->heard_ms = now_ms;
    if (direct)
        m->direct_ms = now_ms;
    return 0;
}

const wire_upgrade_t *fleet_member_upgrade(const fleet_member_t *m, const char *name)
{
    assert(m != NULL && name != NULL);
    if (!m->has_state)
        return NULL;
    for (size_t i = 0; i < m->state.n_upgrades && i < WIRE_UPGRADES_MAX; i++)
        if (strcmp(m->state.upgrades[i].name, name) == 0)
            return &m->state.upgrades[i];
    return NULL;
}

/* ---- votes ---- */

bool fleet_phase_votes(const char *phase)
{
    static const char *const voting[] = {WIRE_PHASE_READY, WIRE_PHASE_ARMED, WIRE_PHASE_BLOCKED,
                                         WIRE_PHASE_SWITCHING, WIRE_PHASE_DONE};
    if (phase == NULL)
        return false;
    for (size_t i = 0; i < sizeof voting / sizeof voting[0]; i++)
        if (strcmp(phase, voting[i]) == 0)
            return true;
    return false;
}

/* A state older than fresh_ms may describe a node that has since died or moved on: it must not
 * vote nor hold a slot open. Heights are the exception (fleet_network_height). */
static bool s_fresh(const fleet_member_t *m, int64_t now_ms, int64_t fresh_ms)
{
    return m->has_state && (fresh_ms == 0 || now_ms - m->heard_ms <= fresh_ms);
}

static bool s_same_triple(const wire_upgrade_t *u, int64_t height,
                          const uint8_t sha256[WIRE_SHA256_LEN])
{
    return u->height == height && memcmp(u->sha256, sha256, WIRE_SHA256_LEN) == 0;
}

void fleet_tally(const fleet_t *self, const char *name, int64_t height,
                 const uint8_t sha256[WIRE_SHA256_LEN], int64_t now_ms, int64_t fresh_ms,
                 fleet_tally_t *out)
{
    assert(self != NULL && name != NULL && sha256 != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    out->validators = self->validators;
    out->quorum = fleet_quorum(self);
    for (size_t i = 0; i < self->count; i++) {
        const fleet_member_t *m = self->members[i];
        if (!m->validator)
            continue; /* observers publish their state but never vote */
        /* Sent before we started listening, a state may be a replay of a vote since withdrawn:
         * it waits for the member's next one. */
        if (!s_fresh(m, now_ms, fresh_ms) || m->seq < self->votes_since_us) {
            out->missing++;
            continue;
        }
        const wire_upgrade_t *u = fleet_member_upgrade(m, name);
        if (u == NULL || !fleet_phase_votes(u->phase))
            continue;
        /* Only identical triples count together: a validator with another binary or height
         * must never help a quorum switch to something it would not run. */
        if (!s_same_triple(u, height, sha256)) {
            out->conflicts++;
            continue;
        }
        out->ready++;
        bool switching = strcmp(u->phase, WIRE_PHASE_SWITCHING) == 0;
        bool done = strcmp(u->phase, WIRE_PHASE_DONE) == 0;
        if (switching || done || strcmp(u->phase, WIRE_PHASE_ARMED) == 0)
            out->armed++;
        if (switching)
            out->switching++;
        if (done)
            out->done++;
    }
}

static int s_height_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* The q-th highest: at least one honest validator has reached it, so neither a lagging local
 * node nor one lying validator can move it. Old states count: a height only grows, so an old
 * report is a lower bound, never a lie. */
int64_t fleet_network_height(const fleet_t *self)
{
    assert(self != NULL);
    int q = fleet_quorum(self);
    int64_t heights[FLEET_MEMBERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        if (self->members[i]->validator && self->members[i]->has_state)
            heights[n++] = self->members[i]->state.height;
    if (q <= 0 || n < (size_t)q)
        return 0;
    qsort(heights, n, sizeof heights[0], s_height_desc);
    return heights[q - 1];
}

/* ---- rolling upgrades ---- */

/* Appends to why (bounded; a NULL or empty buffer takes nothing). */
static void s_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_why(char *why, size_t why_size, const char *fmt, ...)
{
    if (why == NULL || why_size == 0)
        return;
    size_t used = strnlen(why, why_size);
    if (used >= why_size - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, why_size - used, fmt, ap);
    va_end(ap);
}

/* Is m holding the chain's liveness at risk: silent, its node not serving, or mid-switch? Any
 * upgrade "switching" counts, not only this one, since a node is down whatever it switches to. */
static bool s_down(const fleet_member_t *m, int64_t now_ms, int64_t fresh_ms)
{
    if (!s_fresh(m, now_ms, fresh_ms) || strcmp(m->state.node, FLEET_NODE_RUNNING) != 0)
        return true;
    for (size_t i = 0; i < m->state.n_upgrades && i < WIRE_UPGRADES_MAX; i++)
        if (strcmp(m->state.upgrades[i].phase, WIRE_PHASE_SWITCHING) == 0)
            return true;
    return false;
}

/* Fresh, serving, and armed for exactly this triple: in the queue for a restart slot. */
static bool s_waiting(const fleet_member_t *m, const char *name, int64_t height,
                      const uint8_t sha256[WIRE_SHA256_LEN], int64_t now_ms, int64_t fresh_ms)
{
    if (!m->validator || !s_fresh(m, now_ms, fresh_ms) ||
        strcmp(m->state.node, FLEET_NODE_RUNNING) != 0)
        return false;
    const wire_upgrade_t *u = fleet_member_upgrade(m, name);
    return u != NULL && strcmp(u->phase, WIRE_PHASE_ARMED) == 0 && s_same_triple(u, height, sha256);
}

/* In the queue ahead of a higher key: armed, or ready for the same triple. A ready one arms as
 * soon as the votes that armed us reach it (a few ms); counting it already keeps two validators
 * that armed within the same instant from both taking the one slot. */
static bool s_queued(const fleet_member_t *m, const char *name, int64_t height,
                     const uint8_t sha256[WIRE_SHA256_LEN], int64_t now_ms, int64_t fresh_ms)
{
    if (s_waiting(m, name, height, sha256, now_ms, fresh_ms))
        return true;
    if (!m->validator || !s_fresh(m, now_ms, fresh_ms) ||
        strcmp(m->state.node, FLEET_NODE_RUNNING) != 0)
        return false;
    const wire_upgrade_t *u = fleet_member_upgrade(m, name);
    return u != NULL && strcmp(u->phase, WIRE_PHASE_READY) == 0 && s_same_triple(u, height, sha256);
}

/* Says why self is not in the queue, or returns false if it is. */
static bool s_self_not_waiting(const fleet_member_t *me, const char *name, int64_t height,
                               const uint8_t sha256[WIRE_SHA256_LEN], int64_t now_ms,
                               int64_t fresh_ms, char *why, size_t why_size)
{
    if (!me->has_state) {
        s_why(why, why_size, "own state is not fresh: none set yet");
        return true;
    }
    if (!s_fresh(me, now_ms, fresh_ms)) {
        s_why(why, why_size, "own state is not fresh: %lld ms old, limit %lld ms",
              (long long)(now_ms - me->heard_ms), (long long)fresh_ms);
        return true;
    }
    const wire_upgrade_t *u = fleet_member_upgrade(me, name);
    if (u == NULL) {
        s_why(why, why_size, "not armed: no entry for upgrade %s", name);
        return true;
    }
    if (!s_same_triple(u, height, sha256)) {
        s_why(why, why_size, "not armed: own entry for %s has another height or sha256", name);
        return true;
    }
    if (strcmp(u->phase, WIRE_PHASE_ARMED) != 0) {
        s_why(why, why_size, "not armed (phase %s)", u->phase);
        return true;
    }
    if (strcmp(me->state.node, FLEET_NODE_RUNNING) != 0) {
        s_why(why, why_size, "own node is %s, not %s", me->state.node, FLEET_NODE_RUNNING);
        return true;
    }
    return false;
}

bool fleet_slot_free(const fleet_t *self, const uint8_t self_key[IDENTITY_PUBKEY_LEN],
                     const char *name, int64_t height, const uint8_t sha256[WIRE_SHA256_LEN],
                     int64_t now_ms, int64_t fresh_ms, char *why, size_t why_size)
{
    assert(self != NULL && self_key != NULL && name != NULL && sha256 != NULL);
    if (why != NULL && why_size > 0)
        why[0] = '\0';
    bool found;
    size_t at = s_position(self, self_key, &found);
    if (!found) {
        char hex[IDENTITY_HEX_LEN + 1];
        s_hex(self_key, hex);
        s_why(why, why_size, "this agent's key %.*s is not in the fleet", FLEET_SHORT_HEX, hex);
        return false;
    }
    const fleet_member_t *me = self->members[at];
    if (!me->validator) {
        s_why(why, why_size, "%.*s is an observer: only validators take restart slots",
              FLEET_SHORT_HEX, me->hex);
        return false;
    }
    if (s_self_not_waiting(me, name, height, sha256, now_ms, fresh_ms, why, why_size))
        return false;

    int tolerated = quorum_tolerated(self->validators, self->rule);
    int down = 0;
    for (size_t i = 0; i < self->count; i++) {
        const fleet_member_t *m = self->members[i];
        if (m != me && m->validator && s_down(m, now_ms, fresh_ms))
            down++;
    }
    int slots = tolerated - down;
    if (slots <= 0) {
        s_why(why, why_size, "%d validator%s down or switching, 0 of %d restart slots free", down,
              down == 1 ? "" : "s", tolerated);
        if (tolerated == 0)
            s_why(why, why_size, " (quorum is %d of %d validators under %s: none may be down)",
                  fleet_quorum(self), self->validators, quorum_rule_name(self->rule));
        return false;
    }

    /* Lowest key first: every agent computes the same queue from the same states, so they agree
     * on who goes without talking about it. Members are in key order already. */
    const fleet_member_t *ahead[FLEET_MEMBERS_MAX];
    int n_ahead = 0;
    for (size_t i = 0; i < at; i++)
        if (s_queued(self->members[i], name, height, sha256, now_ms, fresh_ms))
            ahead[n_ahead++] = self->members[i];
    if (n_ahead >= slots) {
        s_why(why, why_size, "waiting for ");
        for (int i = 0; i < slots; i++)
            s_why(why, why_size, "%s%.*s", i > 0 ? ", " : "", FLEET_SHORT_HEX, ahead[i]->hex);
        if (slots == 1)
            s_why(why, why_size, " (lower key) to take the slot");
        else
            s_why(why, why_size, " (lower keys) to take the %d free slots", slots);
        return false;
    }
    s_why(why, why_size, "%d of %d restart slots free, %d lower key%s ahead", slots, tolerated,
          n_ahead, n_ahead == 1 ? "" : "s");
    return true;
}

/* The index of validator m among the validators in key order, -1 for an observer. */
int fleet_validator_index(const fleet_t *self, const fleet_member_t *m)
{
    int index = 0;
    for (size_t i = 0; i < fleet_count(self); i++) {
        const fleet_member_t *x = fleet_at((fleet_t *)self, i);
        if (x == m)
            return m->validator ? index : -1;
        index += x->validator;
    }
    return -1;
}

void fleet_hears(const fleet_t *self, const fleet_member_t *me, int64_t now_ms, int64_t fresh_ms,
                 uint8_t out[WIRE_HEARS_MAX], size_t *out_len)
{
    memset(out, 0, WIRE_HEARS_MAX);
    int index = 0;
    for (size_t i = 0; i < fleet_count(self) && index < WIRE_HEARS_MAX * 8; i++) {
        const fleet_member_t *m = fleet_at((fleet_t *)self, i);
        if (!m->validator)
            continue;
        if (m == me || (m->direct_ms > 0 && now_ms - m->direct_ms <= fresh_ms))
            out[index / 8] |= (uint8_t)(1u << (index % 8));
        index++;
    }
    *out_len = (size_t)(index + 7) / 8;
}

/* Does x's "hears" bitmap have validator index bit? */
static bool s_hears(const fleet_member_t *x, int bit)
{
    size_t byte = (size_t)bit / 8;
    return bit >= 0 && byte < x->state.hears_len && (x->state.hears[byte] & (1u << (bit % 8)));
}

/* Of the validators x hears (the ones that can reach it), the FLEET_RELAYERS lowest keys among
 * those that hear m directly, or, when none does, among all of them (m's state may reach them by
 * another relay): is `me` one of them? Every agent computes this from the same states, so each
 * gap gets a couple of relayers, not the whole fleet. */
static bool s_chosen_relayer(const fleet_t *self, const fleet_member_t *me, const fleet_member_t *x,
                             int m_bit, int64_t now_ms, int64_t fresh_ms)
{
    for (int pass = 0; pass < 2; pass++) {
        int rank = 0;
        bool me_seen = false;
        for (size_t i = 0; i < self->count && rank < FLEET_RELAYERS; i++) {
            const fleet_member_t *v = self->members[i];
            int v_bit = fleet_validator_index(self, v);
            if (v == x || v_bit == m_bit || !v->validator || !s_hears(x, v_bit) ||
                !s_fresh(v, now_ms, fresh_ms))
                continue;
            if (pass == 0 && !s_hears(v, m_bit))
                continue;
            rank++;
            me_seen = me_seen || v == me;
        }
        if (rank > 0)
            return me_seen;
    }
    return false;
}

bool fleet_relay_due(const fleet_t *self, const fleet_member_t *me, const fleet_member_t *m,
                     int64_t now_ms, int64_t quiet_ms, int64_t fresh_ms)
{
    (void)quiet_ms;
    if (m == me || m->raw == NULL || m->seq <= m->relayed_seq || !s_fresh(m, now_ms, fresh_ms))
        return false;
    int bit = fleet_validator_index(self, m), me_bit = me ? fleet_validator_index(self, me) : -1;
    if (bit < 0 || me_bit < 0)
        return false; /* observers relay nothing and are not relayed */
    for (size_t i = 0; i < self->count; i++) {
        const fleet_member_t *x = self->members[i];
        if (x == me || x == m || !x->validator || !s_fresh(x, now_ms, fresh_ms) ||
            x->state.hears_len == 0 || s_hears(x, bit) || !s_hears(x, me_bit))
            continue;
        /* x misses m and hears us: pass m on if we are among the few chosen for this gap */
        if (s_chosen_relayer(self, me, x, bit, now_ms, fresh_ms))
            return true;
    }
    return false;
}

int fleet_add_list(fleet_t *self, const char *var, const char *list, bool validator, wv_err_t *err)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        char hex[IDENTITY_HEX_LEN + 1];
        uint8_t key[IDENTITY_PUBKEY_LEN];
        snprintf(hex, sizeof hex, "%.*s", (int)(len < IDENTITY_HEX_LEN ? len : IDENTITY_HEX_LEN),
                 p);
        if (len != IDENTITY_HEX_LEN || identity_parse_hex(hex, key, err) != 0)
            return err_set(err,
                           "%s: \"%.*s\" is not a key (64 hex digits, as `wemixvisor id` "
                           "prints it)",
                           var, (int)len, p);
        if (fleet_find(self, key) != NULL)
            return err_set(err,
                           "%s: key %s is listed twice (WEMIXVISOR_VALIDATORS and "
                           "WEMIXVISOR_OBSERVERS must not overlap)",
                           var, hex);
        if (fleet_add(self, key, validator, err) != 0)
            return err_wrap(err, "%s", var);
        p += len + (p[len] == ',');
    }
    return 0;
}
