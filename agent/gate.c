/* gate: the quorum's say over the upgrade pipeline. upgrade.c asks gate_allows() before it stops
 * the node; the gossip asks gate_fill_state() what to publish. The arithmetic is fleet.c's; this
 * file only applies it to the upgrade in hand and says what it decided, once, in the log. */
#include "gate.h"
#include "agent.h"
#include "fleet.h"
#include "gossip.h"
#include "log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define COMPONENT "quorum"
#define SHA_CHUNK (256 * 1024)

/* sha256 of a file, streamed. */
static int s_file_sha256(const char *path, uint8_t out[WIRE_SHA256_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    static unsigned char buf[SHA_CHUNK];
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
    ssize_t n;
    while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0)
        rc = EVP_DigestUpdate(md, buf, (size_t)n) == 1 ? 0 : -1;
    if (rc == 0 && n < 0)
        rc = -1;
    unsigned int len = 0;
    if (rc == 0 && (EVP_DigestFinal_ex(md, out, &len) != 1 || len != WIRE_SHA256_LEN))
        rc = -1;
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

/* The sha256 of an upgrade's binary, cached per name and file (an operator who replaces a wrong
 * binary changes the vote at once: the cache key is the file's inode, size and mtime). */
static bool s_sha(runner_t *self, const char *name, char *cached_of, uint8_t *sha)
{
    char path[PATH_MAX], key[WIRE_NAME_MAX + 96];
    struct stat st;
    if (layout_upgrade_bin(&self->layout, name, path, sizeof path, NULL) != 0 ||
        stat(path, &st) != 0)
        return false;
    snprintf(key, sizeof key, "%s\n%llu:%lld:%lld.%ld", name, (unsigned long long)st.st_ino,
             (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (strcmp(cached_of, key) == 0)
        return true;
    if (s_file_sha256(path, sha) != 0)
        return false;
    snprintf(cached_of, GATE_SHA_KEY_MAX, "%s", key);
    return true;
}

static bool s_pending_sha(runner_t *self)
{
    return s_sha(self, self->pending.name, self->gate.sha_of, self->gate.sha);
}

void gate_reset(runner_t *self)
{
    gate_t *g = &self->gate;
    g->sha_of[0] = '\0';
    g->armed = g->blocked = g->rolling_early = false;
    g->reason[0] = '\0';
}

int64_t gate_network_height(runner_t *self)
{
    return self->gossip ? fleet_network_height(gossip_fleet(self->gossip)) : 0;
}

const char *gate_problem(const runner_t *self)
{
    return self->gate.reason;
}

static void s_set_reason(runner_t *self, const char *reason, bool blocked)
{
    gate_t *g = &self->gate;
    if (g->blocked == blocked && strcmp(g->reason, reason) == 0)
        return;
    g->blocked = blocked;
    snprintf(g->reason, sizeof g->reason, "%s", reason);
    if (blocked)
        log_error(COMPONENT,
                  "upgrade blocked: too few validators are ready; nothing is switched and the "
                  "node keeps running the current binary",
                  LF_STR("name", self->pending.name), LF_STR("reason", reason));
    else if (reason[0] != '\0')
        log_info(COMPONENT, "upgrade waits", LF_STR("name", self->pending.name),
                 LF_STR("reason", reason));
    gossip_publish_now(self->gossip);
}

bool gate_allows(runner_t *self, bool due)
{
    if (self->gossip == NULL || !gossip_is_validator(self->gossip))
        return due;
    gate_t *g = &self->gate;
    if (!s_pending_sha(self)) {
        log_error(COMPONENT, "cannot read the upgrade binary to vote for it",
                  LF_STR("name", self->pending.name));
        return false;
    }
    fleet_t *fleet = gossip_fleet(self->gossip);
    int64_t now = zclock_mono(), fresh = gossip_fresh_ms(self->gossip);
    fleet_tally_t t;
    fleet_tally(fleet, self->pending.name, self->pending.height, g->sha, now, fresh, &t);
    if (!g->armed && t.quorum > 0 && t.ready >= t.quorum) {
        g->armed = true;
        log_info(COMPONENT, "armed: a quorum of validators is ready for the same binary",
                 LF_STR("name", self->pending.name), LF_INT("height", self->pending.height),
                 LF_INT("ready", t.ready), LF_INT("quorum", t.quorum),
                 LF_INT("conflicts", t.conflicts));
        gossip_publish_now(self->gossip);
    }
    char why[WIRE_REASON_MAX + 1];
    if (self->pending.rolling && !due) {
        /* before the height, a rolling upgrade goes one restart slot at a time */
        if (!g->armed) {
            snprintf(why, sizeof why, "%d/%d ready, need %d to arm", t.ready, t.validators,
                     t.quorum);
            s_set_reason(self, why, false);
            return false;
        }
        if (!fleet_slot_free(fleet, gossip_self_key(self->gossip), self->pending.name,
                             self->pending.height, g->sha, now, gossip_live_ms(self->gossip), why,
                             sizeof why)) {
            s_set_reason(self, why, false);
            return false;
        }
        g->rolling_early = true;
        s_set_reason(self, "", false);
        log_info(COMPONENT, "taking a restart slot for the rolling upgrade",
                 LF_STR("name", self->pending.name));
        return true;
    }
    if (!due) {
        if (!g->armed) {
            snprintf(why, sizeof why, "%d/%d ready, need %d", t.ready, t.validators, t.quorum);
            s_set_reason(self, why, false);
        } else {
            s_set_reason(self, "", false);
        }
        return false;
    }
    if (g->armed) {
        if (g->blocked)
            log_info(COMPONENT, "unblocked: the quorum is ready; switching now",
                     LF_STR("name", self->pending.name), LF_INT("ready", t.ready));
        s_set_reason(self, "", false);
        return true;
    }
    snprintf(why, sizeof why, "%d/%d ready, need %d", t.ready, t.validators, t.quorum);
    if (!gossip_settled(self->gossip)) {
        /* just started: the votes of the others may not have arrived yet; the node is held (not
         * started past its height) until they had the time to */
        snprintf(why, sizeof why, "listening to the validators (%d/%d ready so far)", t.ready,
                 t.validators);
        s_set_reason(self, why, false);
        return false;
    }
    s_set_reason(self, why, true);
    return false;
}

void gate_note_missing(runner_t *self, bool due)
{
    if (self->gossip == NULL || !gossip_is_validator(self->gossip))
        return;
    fleet_t *fleet = gossip_fleet(self->gossip);
    int64_t now = zclock_mono(), fresh = gossip_fresh_ms(self->gossip);
    fleet_tally_t best = {.validators = fleet_validators(fleet), .quorum = fleet_quorum(fleet)};
    for (size_t i = 0; i < fleet_count(fleet); i++) {
        const wire_upgrade_t *u = fleet_member_upgrade(fleet_at(fleet, i), self->pending.name);
        fleet_tally_t t;
        if (u == NULL || u->height != self->pending.height)
            continue;
        fleet_tally(fleet, u->name, u->height, u->sha256, now, fresh, &t);
        if (t.ready > best.ready)
            best = t;
    }
    char why[WIRE_REASON_MAX + 1];
    snprintf(why, sizeof why, "%d/%d ready, need %d; the binary is missing here", best.ready,
             best.validators, best.quorum);
    s_set_reason(self, why, due && best.ready < best.quorum);
}

/* The own phase of the upgrade in hand. */
static const char *s_phase(const runner_t *self)
{
    switch (self->step) {
    case STEP_NONE:
        return WIRE_PHASE_WAITING;
    case STEP_READY:
        return self->gate.blocked ? WIRE_PHASE_BLOCKED
               : self->gate.armed ? WIRE_PHASE_ARMED
                                  : WIRE_PHASE_READY;
    case STEP_RESTORING:
        return WIRE_PHASE_FAILED;
    default:
        return WIRE_PHASE_SWITCHING;
    }
}

void gate_fill_state(wire_state_t *st, void *arg)
{
    runner_t *self = arg;
    st->height = self->health.height > 0 ? self->health.height : 0;
    snprintf(st->version, sizeof st->version, "%s", self->version);
    snprintf(st->node, sizeof st->node, "%s",
             self->sup ? supervisor_state_name(supervisor_state(self->sup)) : "stopped");
    snprintf(st->health, sizeof st->health, "%s", health_name(self->health.state));
    snprintf(st->role, sizeof st->role, "%s",
             gossip_is_validator(self->gossip) ? WIRE_ROLE_VALIDATOR : WIRE_ROLE_OBSERVER);
    st->n_upgrades = 0;
    /* the upgrade `current` points at, done: a late validator catches up on these votes */
    char current[UPGRADE_NAME_MAX + 1];
    if (layout_current_upgrade(&self->layout, current, sizeof current, NULL) == 0 &&
        strcmp(current, GENESIS_NAME) != 0 &&
        !(self->has_pending && strcmp(current, self->pending.name) == 0) &&
        s_sha(self, current, self->gate.done_of, self->gate.done_sha)) {
        wire_upgrade_t *u = &st->upgrades[st->n_upgrades++];
        snprintf(u->name, sizeof u->name, "%s", current);
        u->height = journal_applied_height(self->journal, current);
        memcpy(u->sha256, self->gate.done_sha, WIRE_SHA256_LEN);
        snprintf(u->phase, sizeof u->phase, "%s", WIRE_PHASE_DONE);
        snprintf(u->mode, sizeof u->mode, "%s", WIRE_MODE_AT_HEIGHT);
    }
    if (!self->has_pending)
        return;
    wire_upgrade_t *u = &st->upgrades[st->n_upgrades++];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", self->pending.name);
    u->height = self->pending.height;
    snprintf(u->mode, sizeof u->mode, "%s",
             self->pending.rolling ? WIRE_MODE_ROLLING : WIRE_MODE_AT_HEIGHT);
    const char *phase = s_phase(self);
    if (strcmp(phase, WIRE_PHASE_WAITING) != 0 && s_pending_sha(self))
        memcpy(u->sha256, self->gate.sha, WIRE_SHA256_LEN);
    else
        phase = WIRE_PHASE_WAITING; /* no binary, no vote */
    snprintf(u->phase, sizeof u->phase, "%s", phase);
    snprintf(u->reason, sizeof u->reason, "%s",
             strcmp(phase, WIRE_PHASE_FAILED) == 0 ? self->failure : self->gate.reason);
}
