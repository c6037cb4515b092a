/* fleetview: renders the fleet (members, and per upgrade triple its votes against the quorum)
 * as JSON and as tables. Read-only over the fleet. */
#include "fleetview.h"

#include <stdio.h>
#include <string.h>

#define TRIPLES_MAX (FLEET_MEMBERS_MAX * 2) /* distinct (name, height, sha256) shown at most */

static void s_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static json_t *s_upgrade_json(const wire_upgrade_t *u)
{
    char sha[2 * WIRE_SHA256_LEN + 1];
    s_hex(u->sha256, WIRE_SHA256_LEN, sha);
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "name", u->name, "height",
                     (json_int_t)u->height, "sha256", sha, "phase", u->phase, "mode", u->mode,
                     "reason", u->reason);
}

static bool s_live(const fleet_member_t *m, int64_t now_ms, int64_t fresh_ms)
{
    return m->has_state && (fresh_ms == 0 || now_ms - m->heard_ms <= fresh_ms);
}

static json_t *s_member_json(const fleet_member_t *m, bool self, int64_t now_ms, int64_t fresh_ms)
{
    json_t *ups = json_array();
    for (size_t i = 0; m->has_state && i < m->state.n_upgrades; i++)
        json_array_append_new(ups, s_upgrade_json(&m->state.upgrades[i]));
    json_t *heard = m->heard_ms > 0 ? json_integer(now_ms - m->heard_ms) : json_null();
    return json_pack("{s:s, s:s, s:b, s:I, s:s, s:s, s:s, s:o, s:b, s:b, s:o}", "key", m->hex,
                     "role", m->validator ? WIRE_ROLE_VALIDATOR : WIRE_ROLE_OBSERVER, "self", self,
                     "height", (json_int_t)(m->has_state ? m->state.height : 0), "version",
                     m->has_state ? m->state.version : "", "node",
                     m->has_state ? m->state.node : "unknown", "health",
                     m->has_state ? m->state.health : "unknown", "heard_ms_ago", heard, "direct",
                     self || (m->direct_ms > 0 && m->direct_ms >= m->heard_ms), "live",
                     s_live(m, now_ms, fresh_ms), "upgrades", ups);
}

static bool s_listed(const wire_upgrade_t **out, size_t n, const wire_upgrade_t *u, bool by_name)
{
    for (size_t k = 0; k < n; k++) {
        if (strcmp(out[k]->name, u->name) == 0 &&
            (by_name || (out[k]->height == u->height &&
                         memcmp(out[k]->sha256, u->sha256, WIRE_SHA256_LEN) == 0)))
            return true;
    }
    return false;
}

/* The distinct triples anyone votes for, in order of first sight; then the upgrades only
 * announced (waiting for their binary, or failed) that nobody votes for yet, once per name. */
static size_t s_triples(fleet_t *fleet, const wire_upgrade_t **out, size_t max)
{
    size_t n = 0;
    for (int votes = 1; votes >= 0; votes--) {
        for (size_t i = 0; i < fleet_count(fleet); i++) {
            const fleet_member_t *m = fleet_at(fleet, i);
            for (size_t j = 0; m->has_state && j < m->state.n_upgrades; j++) {
                const wire_upgrade_t *u = &m->state.upgrades[j];
                if (fleet_phase_votes(u->phase) != (votes == 1) || n >= max ||
                    s_listed(out, n, u, votes == 0))
                    continue;
                out[n++] = u;
            }
        }
    }
    return n;
}

static json_t *s_triple_json(fleet_t *fleet, const wire_upgrade_t *u, const uint8_t *self_key,
                             int64_t now_ms, int64_t fresh_ms)
{
    fleet_tally_t t;
    fleet_tally(fleet, u->name, u->height, u->sha256, now_ms, fresh_ms, &t);
    int blocked = 0;
    json_t *reasons = json_array();
    json_t *phase = json_null();
    for (size_t i = 0; i < fleet_count(fleet); i++) {
        const fleet_member_t *m = fleet_at(fleet, i);
        const wire_upgrade_t *mine = m->has_state ? fleet_member_upgrade(m, u->name) : NULL;
        if (mine == NULL || mine->height != u->height)
            continue;
        bool same = memcmp(mine->sha256, u->sha256, WIRE_SHA256_LEN) == 0;
        if (!same && !fleet_phase_votes(mine->phase) && fleet_phase_votes(u->phase)) {
            /* a member still waiting for this upgrade's binary: its reason belongs here */
            if (mine->reason[0] != '\0') {
                char line[IDENTITY_HEX_LEN + WIRE_REASON_MAX + 8];
                snprintf(line, sizeof line, "%.8s: %s", m->hex, mine->reason);
                json_array_append_new(reasons, json_string(line));
            }
            continue;
        }
        if (!same)
            continue;
        if (self_key != NULL && memcmp(m->key, self_key, IDENTITY_PUBKEY_LEN) == 0) {
            json_decref(phase);
            phase = json_string(mine->phase);
        }
        if (m->validator && strcmp(mine->phase, WIRE_PHASE_BLOCKED) == 0)
            blocked++;
        if (mine->reason[0] != '\0') {
            char line[IDENTITY_HEX_LEN + WIRE_REASON_MAX + 8];
            snprintf(line, sizeof line, "%.8s: %s", m->hex, mine->reason);
            json_array_append_new(reasons, json_string(line));
        }
    }
    char sha[2 * WIRE_SHA256_LEN + 1];
    s_hex(u->sha256, WIRE_SHA256_LEN, sha);
    return json_pack("{s:s, s:I, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, "
                     "s:o, s:o}",
                     "name", u->name, "height", (json_int_t)u->height, "sha256", sha, "mode",
                     u->mode, "ready", t.ready, "quorum", t.quorum, "validators", t.validators,
                     "armed", t.armed, "switching", t.switching, "done", t.done, "blocked", blocked,
                     "conflicts", t.conflicts, "missing", t.missing, "quorum_reached",
                     t.quorum > 0 && t.ready >= t.quorum, "phase", phase, "reasons", reasons);
}

json_t *fleetview_json(fleet_t *fleet, const uint8_t *self_key, int64_t now_ms, int64_t fresh_ms)
{
    json_t *members = json_array();
    for (size_t i = 0; i < fleet_count(fleet); i++) {
        const fleet_member_t *m = fleet_at(fleet, i);
        bool self = self_key != NULL && memcmp(m->key, self_key, IDENTITY_PUBKEY_LEN) == 0;
        json_array_append_new(members, s_member_json(m, self, now_ms, fresh_ms));
    }
    static const wire_upgrade_t *triples[TRIPLES_MAX];
    size_t n = s_triples(fleet, triples, TRIPLES_MAX);
    json_t *ups = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ups, s_triple_json(fleet, triples[i], self_key, now_ms, fresh_ms));
    int v = fleet_validators(fleet);
    return json_pack("{s:s, s:i, s:i, s:i, s:I, s:o, s:o}", "rule",
                     quorum_rule_name(fleet_rule(fleet)), "validators", v, "quorum",
                     fleet_quorum(fleet), "tolerated", quorum_tolerated(v, fleet_rule(fleet)),
                     "network_height", (json_int_t)fleet_network_height(fleet), "members", members,
                     "upgrades", ups);
}

static const char *s_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static long long s_int(json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

void fleetview_print(FILE *out, json_t *doc)
{
    fprintf(out, "validators %lld, quorum %lld (%s), %lld may be down; network height %lld\n\n",
            s_int(doc, "validators"), s_int(doc, "quorum"), s_str(doc, "rule"),
            s_int(doc, "tolerated"), s_int(doc, "network_height"));
    fprintf(out, "%-10s %-9s %-10s %-16s %-9s %-12s %s\n", "KEY", "ROLE", "HEIGHT", "VERSION",
            "NODE", "LAST HEARD", "UPGRADES");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "members"), i, m)
    {
        char heard[32], ups[256] = "";
        json_t *h = json_object_get(m, "heard_ms_ago");
        if (json_is_true(json_object_get(m, "self")))
            snprintf(heard, sizeof heard, "(self)");
        else if (json_is_integer(h))
            snprintf(heard, sizeof heard, "%.1fs%s", (double)json_integer_value(h) / 1000.0,
                     json_is_true(json_object_get(m, "direct")) ? "" : " relay");
        else
            snprintf(heard, sizeof heard, "never");
        size_t j;
        json_t *u;
        size_t len = 0;
        json_array_foreach(json_object_get(m, "upgrades"), j, u)
        {
            int w = snprintf(ups + len, sizeof ups - len, "%s%s:%s", len ? " " : "",
                             s_str(u, "name"), s_str(u, "phase"));
            if (w < 0 || (size_t)w >= sizeof ups - len)
                break;
            len += (size_t)w;
        }
        fprintf(out, "%-10.8s %-9s %-10lld %-16.16s %-9s %-12s %s\n", s_str(m, "key"),
                s_str(m, "role"), s_int(m, "height"), s_str(m, "version"), s_str(m, "node"), heard,
                ups);
    }
    json_t *ups = json_object_get(doc, "upgrades");
    if (json_array_size(ups) == 0)
        return;
    fprintf(out, "\n%-20s %-10s %-10s %-7s %-7s %-9s %-10s %s\n", "UPGRADE", "HEIGHT", "SHA256",
            "READY", "QUORUM", "CONFLICT", "PHASE", "STATUS");
    json_array_foreach(ups, i, m)
    {
        char ready[32];
        snprintf(ready, sizeof ready, "%lld/%lld", s_int(m, "ready"), s_int(m, "validators"));
        const char *phase = json_is_string(json_object_get(m, "phase")) ? s_str(m, "phase") : "-";
        fprintf(out, "%-20.20s %-10lld %-10.8s %-7s %-7lld %-9lld %-10s %s\n", s_str(m, "name"),
                s_int(m, "height"), s_str(m, "sha256"), ready, s_int(m, "quorum"),
                s_int(m, "conflicts"), phase,
                json_is_true(json_object_get(m, "quorum_reached")) ? "quorum" : "no quorum");
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(m, "reasons"), j, r)
            fprintf(out, "    %s\n", json_string_value(r));
    }
}
