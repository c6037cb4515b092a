/* coord: the subscriber side of wvcoord. One SUB socket per agent endpoint on the caller's loop;
 * every message goes through proto/inbox.c exactly as in an agent; what passes updates the
 * fleet. Rendering (JSON, metrics, problems) reads the fleet and never changes it. */
#include "coord.h"
#include "fleetview.h"
#include "fsutil.h"
#include "identity.h"
#include "log.h"
#include "peercert.h"
#include "value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define COMPONENT "coord"
#define COORD_HWM 10000 /* per agent; the coordinator may be slower than any agent */
#define COORD_BATCH 512 /* messages read per wake-up of one socket */
#define ENDPOINT_MAX 256
#define METRICS_LINE 512

typedef struct coord_sub coord_sub_t;

struct coord_sub {
    coord_t *owner;
    zsock_t *sock;
    char endpoint[ENDPOINT_MAX];
};

struct coord {
    zloop_t *loop;
    coord_opts_t opts;
    fleet_t *fleet;
    coord_sub_t *subs;
    size_t n_subs;
    zcert_t *cert;
    const char **address; /* per member (fleet order): the endpoint it was last heard from */
    inbox_stats_t in;
    bool drop_logged[INBOX_DROP_COUNT];
};

static uint64_t s_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000ULL + (uint64_t)tv.tv_usec;
}

static int64_t s_index_of(coord_t *self, const uint8_t *key)
{
    for (size_t i = 0; i < fleet_count(self->fleet); i++) {
        if (memcmp(fleet_at(self->fleet, i)->key, key, IDENTITY_PUBKEY_LEN) == 0)
            return (int64_t)i;
    }
    return -1;
}

static int s_on_sub(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    coord_sub_t *sub = arg;
    coord_t *self = sub->owner;
    for (int n = 0; n < COORD_BATCH && (zsock_events(sock) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (msg == NULL)
            break;
        zframe_t *hop = zmsg_first(msg), *env = zmsg_next(msg);
        inbox_drop_t why;
        char detail[WV_ERR_MAX];
        inbox_result_t r = inbox_accept(
            self->fleet, self->opts.chain, NULL, zmsg_size(msg), hop ? zframe_data(hop) : NULL,
            hop ? zframe_size(hop) : 0, env ? zframe_data(env) : NULL, env ? zframe_size(env) : 0,
            zclock_mono(), s_now_us(), &self->in, &why, detail, sizeof detail);
        if (r == INBOX_ACCEPTED && zframe_size(hop) == IDENTITY_PUBKEY_LEN) {
            int64_t i = s_index_of(self, zframe_data(hop));
            if (i >= 0) /* the publisher of this copy speaks from this endpoint */
                self->address[i] = sub->endpoint;
        } else if (r == INBOX_DROPPED && why != INBOX_DROP_DUPLICATE && !self->drop_logged[why]) {
            self->drop_logged[why] = true;
            log_warn(COMPONENT, "message dropped (further ones of this kind are only counted)",
                     LF_STR("reason", inbox_drop_name(why)), LF_STR("detail", detail),
                     LF_STR("endpoint", sub->endpoint));
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

/* --- setting up ----------------------------------------------------------------------------- */

static int s_connect(coord_t *self, coord_sub_t *sub, wv_err_t *err)
{
    sub->owner = self;
    sub->sock = zsock_new(ZMQ_SUB);
    if (sub->sock == NULL)
        return err_set(err, "cannot create a SUB socket");
    zsock_set_rcvhwm(sub->sock, COORD_HWM);
    zsock_set_linger(sub->sock, 0);
    zsock_set_maxmsgsize(sub->sock, WIRE_ENVELOPE_MAX);
    zsock_set_subscribe(sub->sock, "");
    if (self->cert != NULL) {
        zcert_t *peer = peercert_find(self->opts.curve_peers, sub->endpoint);
        if (peer == NULL)
            return err_set(err,
                           "WEMIXVISOR_CURVE: no public cert with endpoint = \"%s\" in %s; copy "
                           "the agent's cert there (`wemixvisor id --curve-cert FILE --endpoint "
                           "%s` on that agent)",
                           sub->endpoint, self->opts.curve_peers, sub->endpoint);
        zcert_apply(self->cert, sub->sock);
        zsock_set_curve_serverkey(sub->sock, zcert_public_txt(peer));
        zcert_destroy(&peer);
    }
    if (zsock_connect(sub->sock, "%s", sub->endpoint) < 0)
        return err_set(err, "cannot connect to \"%s\": %s", sub->endpoint,
                       zmq_strerror(zmq_errno()));
    if (zloop_reader(self->loop, sub->sock, s_on_sub, sub) != 0)
        return err_set(err, "cannot watch the socket of %s", sub->endpoint);
    return 0;
}

coord_t *coord_new(zloop_t *loop, const coord_opts_t *opts, wv_err_t *err)
{
    if (opts->agents == NULL) {
        err_set(err, "no agents to watch: give --agents tcp://HOST:PORT,... or set "
                     "WVCOORD_AGENTS (the agents' WEMIXVISOR_LISTEN endpoints)");
        return NULL;
    }
    if (opts->chain == NULL) {
        err_set(err, "WEMIXVISOR_CHAIN_ID (or --chain) is not set: the chain id the agents use");
        return NULL;
    }
    if (opts->validators == NULL) {
        err_set(err, "WEMIXVISOR_VALIDATORS (or --validators) is not set: the validators' agent "
                     "keys, as in the agents' configuration");
        return NULL;
    }
    quorum_rule_t rule;
    if (value_parse_list("--agents", opts->agents, COORD_AGENTS_MAX, value_parse_endpoint, err) !=
            0 ||
        quorum_rule_parse(opts->quorum_rule ? opts->quorum_rule : "wbft", &rule, err) != 0)
        return NULL;
    coord_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        err_set(err, "out of memory");
        return NULL;
    }
    self->loop = loop;
    self->opts = *opts;
    self->fleet = fleet_new(rule);
    if (self->fleet == NULL ||
        fleet_add_list(self->fleet, "WEMIXVISOR_VALIDATORS", opts->validators, true, err) != 0 ||
        fleet_add_list(self->fleet, "WEMIXVISOR_OBSERVERS", opts->observers, false, err) != 0)
        goto fail;
    self->address = calloc(fleet_count(self->fleet), sizeof *self->address);
    if (self->address == NULL) {
        err_set(err, "out of memory");
        goto fail;
    }
    if (opts->curve) {
        if (opts->curve_cert == NULL || opts->curve_peers == NULL) {
            err_set(err, "WEMIXVISOR_CURVE is true: give WVCOORD_CURVE_CERT (this coordinator's "
                         "secret cert) and WEMIXVISOR_CURVE_PEERS (the agents' public certs)");
            goto fail;
        }
        self->cert = zcert_load(opts->curve_cert);
        if (self->cert == NULL) {
            err_set(err, "WVCOORD_CURVE_CERT=%s: not a readable zcert secret file",
                    opts->curve_cert);
            goto fail;
        }
    }
    size_t n = 1;
    for (const char *p = opts->agents; *p; p++)
        n += *p == ',';
    self->subs = calloc(n, sizeof *self->subs);
    if (self->subs == NULL) {
        err_set(err, "out of memory");
        goto fail;
    }
    for (const char *p = opts->agents; *p != '\0';) {
        size_t len = strcspn(p, ",");
        coord_sub_t *sub = &self->subs[self->n_subs++];
        snprintf(sub->endpoint, sizeof sub->endpoint, "%.*s", (int)len, p);
        if (s_connect(self, sub, err) != 0)
            goto fail;
        p += len + (p[len] == ',');
    }
    return self;
fail:
    coord_destroy(&self);
    return NULL;
}

void coord_destroy(coord_t **self_p)
{
    coord_t *self = *self_p;
    if (self == NULL)
        return;
    for (size_t i = 0; i < self->n_subs; i++) {
        if (self->subs[i].sock != NULL) {
            zloop_reader_end(self->loop, self->subs[i].sock);
            zsock_destroy(&self->subs[i].sock);
        }
    }
    free(self->subs);
    free(self->address);
    zcert_destroy(&self->cert);
    fleet_destroy(&self->fleet);
    free(self);
    *self_p = NULL;
}

uint64_t coord_heartbeat_ms(const coord_t *self)
{
    return self->opts.heartbeat_ms;
}

size_t coord_members(const coord_t *self)
{
    return fleet_count(self->fleet);
}

size_t coord_heard(const coord_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < fleet_count(self->fleet); i++)
        n += fleet_at(self->fleet, i)->has_state;
    return n;
}

/* --- rendering ------------------------------------------------------------------------------ */

static int64_t s_silent_ms(const coord_t *self)
{
    return (int64_t)(COORD_SILENT_BEATS * self->opts.heartbeat_ms);
}

static int64_t s_fresh_ms(const coord_t *self)
{
    return 2 * s_silent_ms(self); /* votes count a little longer than a node is shown live */
}

json_t *coord_problems(coord_t *self)
{
    json_t *out = json_array();
    int64_t now = zclock_mono();
    char line[512];
    for (size_t i = 0; i < fleet_count(self->fleet); i++) {
        const fleet_member_t *m = fleet_at(self->fleet, i);
        if (!m->has_state) {
            snprintf(line, sizeof line, "node %.8s (%s) was never heard", m->hex,
                     m->validator ? "validator" : "observer");
        } else if (now - m->heard_ms > s_silent_ms(self)) {
            snprintf(line, sizeof line, "node %.8s is silent for %.1f s", m->hex,
                     (double)(now - m->heard_ms) / 1000.0);
        } else if (strcmp(m->state.node, "running") != 0) {
            snprintf(line, sizeof line, "node %.8s is %s", m->hex, m->state.node);
        } else if (strcmp(m->state.health, "stalled") == 0 ||
                   strcmp(m->state.health, "unresponsive") == 0) {
            snprintf(line, sizeof line, "node %.8s is %s at height %lld", m->hex, m->state.health,
                     (long long)m->state.height);
        } else {
            continue;
        }
        json_array_append_new(out, json_string(line));
    }
    json_t *doc = fleetview_json(self->fleet, NULL, now, s_fresh_ms(self));
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(doc, "upgrades"), i, u)
    {
        const char *name = json_string_value(json_object_get(u, "name"));
        long long ready = json_integer_value(json_object_get(u, "ready"));
        long long quorum = json_integer_value(json_object_get(u, "quorum"));
        long long n = json_integer_value(json_object_get(u, "validators"));
        long long done = json_integer_value(json_object_get(u, "done"));
        long long blocked = json_integer_value(json_object_get(u, "blocked"));
        if (blocked > 0)
            snprintf(line, sizeof line,
                     "upgrade %s is blocked on %lld validator(s): %lld/%lld "
                     "ready, need %lld",
                     name, blocked, ready, n, quorum);
        else if (ready > 0 && ready < quorum && done < quorum)
            snprintf(line, sizeof line, "upgrade %s is short of quorum: %lld/%lld ready, need %lld",
                     name, ready, n, quorum);
        else
            continue;
        json_array_append_new(out, json_string(line));
    }
    json_decref(doc);
    return out;
}

json_t *coord_fleet_json(coord_t *self)
{
    int64_t now = zclock_mono();
    json_t *doc = fleetview_json(self->fleet, NULL, now, s_fresh_ms(self));
    if (doc == NULL)
        return NULL;
    int64_t network = fleet_network_height(self->fleet);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "members"), i, m)
    {
        const fleet_member_t *fm = fleet_at(self->fleet, i);
        bool silent = !fm->has_state || now - fm->heard_ms > s_silent_ms(self);
        int64_t lag = fm->has_state && network > fm->state.height ? network - fm->state.height : 0;
        json_object_set_new(m, "address",
                            self->address[i] ? json_string(self->address[i]) : json_null());
        json_object_set_new(m, "silent", json_boolean(silent));
        json_object_set_new(m, "lag", json_integer(lag));
    }
    json_t *dropped = json_object();
    for (int r = 0; r < INBOX_DROP_COUNT; r++)
        json_object_set_new(dropped, inbox_drop_name((inbox_drop_t)r),
                            json_integer((json_int_t)self->in.drops[r]));
    json_object_set_new(doc, "chain", json_string(self->opts.chain));
    json_object_set_new(doc, "heartbeat_ms", json_integer((json_int_t)self->opts.heartbeat_ms));
    json_object_set_new(doc, "received", json_integer((json_int_t)self->in.accepted));
    json_object_set_new(doc, "messages_in", json_integer((json_int_t)self->in.messages));
    json_object_set_new(doc, "dropped", dropped);
    json_object_set_new(doc, "problems", coord_problems(self));
    return doc;
}

json_t *coord_upgrades_json(coord_t *self)
{
    json_t *doc = coord_fleet_json(self);
    if (doc == NULL)
        return NULL;
    json_t *ups = json_incref(json_object_get(doc, "upgrades"));
    json_t *members = json_object_get(doc, "members");
    size_t i, j, k;
    json_t *u, *m, *mu;
    json_array_foreach(ups, i, u)
    {
        json_t *done = json_array(), *blocked = json_array();
        json_array_foreach(members, j, m)
        {
            json_array_foreach(json_object_get(m, "upgrades"), k, mu)
            {
                if (!json_equal(json_object_get(mu, "name"), json_object_get(u, "name")) ||
                    !json_equal(json_object_get(mu, "sha256"), json_object_get(u, "sha256")))
                    continue;
                const char *phase = json_string_value(json_object_get(mu, "phase"));
                if (strcmp(phase, WIRE_PHASE_DONE) == 0)
                    json_array_append(done, json_object_get(m, "key"));
                else if (strcmp(phase, WIRE_PHASE_BLOCKED) == 0)
                    json_array_append(blocked, json_object_get(m, "key"));
            }
        }
        json_object_set_new(u, "done_by", done);
        json_object_set_new(u, "blocked_by", blocked);
    }
    json_decref(doc);
    return ups;
}

/* Prometheus label values: \, " and newline escaped. */
static void s_label(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc('\\', out);
        if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

char *coord_metrics(coord_t *self)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return NULL;
    json_t *doc = coord_fleet_json(self);
    fprintf(out,
            "# HELP wvcoord_network_height The q-th highest height the validators report.\n"
            "# TYPE wvcoord_network_height gauge\nwvcoord_network_height %lld\n",
            (long long)json_integer_value(json_object_get(doc, "network_height")));
    fprintf(out,
            "# HELP wvcoord_validators Validators in the set, and the quorum.\n"
            "# TYPE wvcoord_validators gauge\nwvcoord_validators %lld\n"
            "# TYPE wvcoord_quorum gauge\nwvcoord_quorum %lld\n",
            (long long)json_integer_value(json_object_get(doc, "validators")),
            (long long)json_integer_value(json_object_get(doc, "quorum")));
    static const char *const kinds[] = {"height", "up", "silent", "lag", "state", "version"};
    static const char *const help[] = {"The node's height as its agent reports it.",
                                       "1 when the node is heard and running.",
                                       "1 when the agent has not been heard for a few heartbeats.",
                                       "Blocks behind the network height.",
                                       "The node's lifecycle state (1 for the current one).",
                                       "The node's version (1 for the current one)."};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *name = k == 5 ? "version_info" : kinds[k];
        fprintf(out, "# HELP wvcoord_node_%s %s\n# TYPE wvcoord_node_%s gauge\n", name, help[k],
                name);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "members"), i, m)
        {
            const char *key = json_string_value(json_object_get(m, "key"));
            bool silent = json_is_true(json_object_get(m, "silent"));
            const char *node = json_string_value(json_object_get(m, "node"));
            fprintf(out, "wvcoord_node_%s{key=\"%.16s\",role=\"%s\"", name, key,
                    json_string_value(json_object_get(m, "role")));
            if (k == 4) {
                fputs(",state=\"", out);
                s_label(out, node);
                fputs("\"", out);
            } else if (k == 5) {
                fputs(",version=\"", out);
                s_label(out, json_string_value(json_object_get(m, "version")));
                fputs("\"", out);
            }
            long long v = k == 0   ? json_integer_value(json_object_get(m, "height"))
                          : k == 1 ? (!silent && strcmp(node, "running") == 0)
                          : k == 2 ? silent
                          : k == 3 ? json_integer_value(json_object_get(m, "lag"))
                                   : 1;
            fprintf(out, "} %lld\n", v);
        }
    }
    static const char *const ukinds[] = {"ready", "quorum", "conflicts", "done", "blocked"};
    for (size_t k = 0; k < sizeof ukinds / sizeof ukinds[0]; k++) {
        fprintf(out, "# TYPE wvcoord_upgrade_%s gauge\n", ukinds[k]);
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(doc, "upgrades"), i, u)
        {
            fputs("wvcoord_upgrade_", out);
            fputs(ukinds[k], out);
            fputs("{upgrade=\"", out);
            s_label(out, json_string_value(json_object_get(u, "name")));
            fprintf(out, "\",height=\"%lld\",sha256=\"%.16s\"} %lld\n",
                    (long long)json_integer_value(json_object_get(u, "height")),
                    json_string_value(json_object_get(u, "sha256")),
                    (long long)json_integer_value(json_object_get(u, ukinds[k])));
        }
    }
    fputs("# HELP wvcoord_messages_total Messages received from the agents.\n"
          "# TYPE wvcoord_messages_total counter\n",
          out);
    fprintf(out,
            "wvcoord_messages_total %llu\n# TYPE wvcoord_states_accepted_total counter\n"
            "wvcoord_states_accepted_total %llu\n"
            "# HELP wvcoord_messages_dropped_total Messages refused, by reason.\n"
            "# TYPE wvcoord_messages_dropped_total counter\n",
            (unsigned long long)self->in.messages, (unsigned long long)self->in.accepted);
    for (int r = 0; r < INBOX_DROP_COUNT; r++)
        fprintf(out, "wvcoord_messages_dropped_total{reason=\"%s\"} %llu\n",
                inbox_drop_name((inbox_drop_t)r), (unsigned long long)self->in.drops[r]);
    json_decref(doc);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
