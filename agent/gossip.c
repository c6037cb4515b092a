/* gossip: the agent's PUB/SUB node. Everything runs on the agent's loop: the heartbeat timer
 * publishes the own STATE and relays members not heard directly; the SUB reader checks every
 * message (size, decode, chain, key, seq, signature, body) before the fleet sees it.
 * It is not the quorum logic (fleet.c) nor what the agent does with it (gate.c). */
#include "gossip.h"
#include "fsutil.h"
#include "fleetview.h"
#include "identity.h"
#include "inbox.h"
#include "log.h"
#include "peercert.h"
#include "seqgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define COMPONENT "gossip"
#define GOSSIP_HWM 100           /* messages queued per peer: a backlog older than this is no use */
#define GOSSIP_READ_BATCH 256    /* messages read per wake-up, so one flood can't starve the loop */
#define GOSSIP_FRESH_MIN_MS 3000 /* a vote stays live at least this long, whatever the beat */
#define GOSSIP_LIVE_BEATS 3      /* for restart slots, a member silent this long counts as down */
#define GOSSIP_LIVE_MIN_MS 1000
#define GOSSIP_LINGER_MS 200 /* on exit, time for the last messages to leave */

struct gossip {
    zloop_t *loop;
    const wv_config_t *cfg;
    identity_t *id;
    seqgen_t seq;
    fleet_t *fleet;
    fleet_member_t *me; /* our own entry in the fleet */
    bool validator;     /* VALIDATOR_MODE: our key is in WEMIXVISOR_VALIDATORS */
    zsock_t *pub;       /* NULL without WEMIXVISOR_LISTEN */
    zsock_t *sub;       /* NULL without WEMIXVISOR_PEERS */
    zactor_t *auth;     /* zauth, with WEMIXVISOR_CURVE */
    zcert_t *cert;      /* our CURVE cert */
    int beat_timer;
    int64_t started_ms; /* when the sockets were opened (monotonic) */
    gossip_fill_fn *fill;
    gossip_change_fn *changed;
    void *arg;
    uint64_t sent, relayed;
    inbox_stats_t in;                   /* what arrived: accepted, dropped by reason */
    bool drop_logged[INBOX_DROP_COUNT]; /* the first drop of each kind is logged, then counted */
};

static uint64_t s_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000ULL + (uint64_t)tv.tv_usec;
}

bool gossip_configured(const wv_config_t *cfg)
{
    return cfg->listen != NULL || cfg->peers != NULL || cfg->validator_mode;
}

/* --- keys ----------------------------------------------------------------------------------- */

static int s_path(const layout_t *l, const char *file, char *buf, size_t size, wv_err_t *err)
{
    return fs_join(buf, size, err, l->root, file, NULL);
}

int gossip_init_keys(const layout_t *layout, wv_err_t *err)
{
    char path[PATH_MAX];
    bool created = false;
    if (s_path(layout, GOSSIP_IDENTITY_FILE, path, sizeof path, err) != 0)
        return -1;
    identity_t *id = identity_load_or_create(path, &created, err);
    if (id == NULL)
        return -1;
    char hex[IDENTITY_HEX_LEN + 1];
    identity_hex(identity_pubkey(id), hex);
    identity_destroy(&id);
    printf("%s %s (agent key %s)\n", created ? "created" : "kept", path, hex);

    char cert_path[PATH_MAX], secret[PATH_MAX + 8], peers[PATH_MAX];
    if (s_path(layout, GOSSIP_CURVE_CERT, cert_path, sizeof cert_path, err) != 0 ||
        s_path(layout, GOSSIP_CURVE_PEERS_DIR, peers, sizeof peers, err) != 0)
        return -1;
    snprintf(secret, sizeof secret, "%s_secret", cert_path);
    if (fs_mkdir_p(peers, 0700, err) != 0)
        return -1;
    if (fs_is_file(secret)) {
        printf("kept %s\n", secret);
        return 0;
    }
    zcert_t *cert = zcert_new();
    if (cert == NULL)
        return err_set(err, "cannot create a CURVE key pair");
    int rc = zcert_save(cert, cert_path);
    zcert_destroy(&cert);
    if (rc != 0 || chmod(secret, 0600) != 0)
        return err_set(err, "cannot write %s: %s", cert_path, strerror(errno));
    printf("created %s (CURVE key pair; give the public file to the other agents)\n", cert_path);
    return 0;
}

/* --- sending -------------------------------------------------------------------------------- */

static void s_send(gossip_t *self, const uint8_t *env, size_t len)
{
    if (self->pub == NULL)
        return;
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, identity_pubkey(self->id), IDENTITY_PUBKEY_LEN);
    zmsg_addmem(msg, env, len);
    if (zmsg_send(&msg, self->pub) != 0)
        zmsg_destroy(&msg);
}

/* Seals and sends our STATE, and records it as our own entry in the fleet. */
static void s_publish(gossip_t *self)
{
    wire_state_t st;
    memset(&st, 0, sizeof st);
    self->fill(&st, self->arg);
    fleet_hears(self->fleet, self->me, zclock_mono(), gossip_fresh_ms(self), st.hears,
                &st.hears_len);
    uint8_t *body = NULL, *env = NULL;
    size_t body_len = 0, env_len = 0;
    uint64_t seq;
    wv_err_t err;
    if (wire_state_encode(&st, &body, &body_len, &err) != 0 ||
        seqgen_next(&self->seq, s_now_us(), &seq, &err) != 0 ||
        wire_envelope_seal(self->id, self->cfg->chain_id, seq, WIRE_TYPE_STATE, body, body_len,
                           &env, &env_len, &err) != 0) {
        log_error(COMPONENT, "cannot publish the state", LF_STR("error", err.msg));
        free(body);
        return;
    }
    free(body);
    s_send(self, env, env_len);
    self->sent++;
    if (fleet_update(self->fleet, self->me, seq, &st, NULL, 0, true, zclock_mono(), &err) != 0)
        log_error(COMPONENT, "cannot record the own state", LF_STR("error", err.msg));
    free(env);
}

/* Members not heard straight from for three beats are relayed: their latest signed envelope,
 * unchanged, once per new seq. A relay can't forge anything: the signature is the origin's. */
static void s_relay(gossip_t *self, int64_t now)
{
    int64_t quiet = (int64_t)(GOSSIP_RELAY_AFTER_BEATS * self->cfg->heartbeat_ms);
    for (size_t i = 0; i < fleet_count(self->fleet); i++) {
        fleet_member_t *m = fleet_at(self->fleet, i);
        if (!fleet_relay_due(self->fleet, self->me, m, now, quiet, gossip_fresh_ms(self)))
            continue;
        s_send(self, m->raw, m->raw_len);
        m->relayed_seq = m->seq;
        self->relayed++;
    }
}

static int s_on_beat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    gossip_t *self = arg;
    s_publish(self);
    s_relay(self, zclock_mono());
    return 0;
}

void gossip_publish_now(gossip_t *self)
{
    if (self != NULL)
        s_publish(self);
}

/* --- receiving ------------------------------------------------------------------------------ */

/* One message: [publisher key, envelope], checked by the inbox (proto/inbox.c, shared with
 * wvcoord). The first drop of each kind is logged; a flood must not flood the log too. */
static void s_handle(gossip_t *self, zmsg_t *msg)
{
    zframe_t *hop = zmsg_first(msg), *data = zmsg_next(msg);
    inbox_drop_t reason;
    char detail[WV_ERR_MAX];
    inbox_result_t r =
        inbox_accept(self->fleet, self->cfg->chain_id, identity_pubkey(self->id), zmsg_size(msg),
                     hop ? zframe_data(hop) : NULL, hop ? zframe_size(hop) : 0,
                     data ? zframe_data(data) : NULL, data ? zframe_size(data) : 0, zclock_mono(),
                     s_now_us(), &self->in, &reason, detail, sizeof detail);
    if (r == INBOX_ACCEPTED) {
        self->changed(self->arg);
    } else if (r == INBOX_DROPPED && reason != INBOX_DROP_DUPLICATE && !self->drop_logged[reason]) {
        self->drop_logged[reason] = true;
        log_warn(COMPONENT, "message dropped (further ones of this kind are only counted)",
                 LF_STR("reason", inbox_drop_name(reason)), LF_STR("detail", detail));
    }
}

static int s_on_sub(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    gossip_t *self = arg;
    for (int i = 0; i < GOSSIP_READ_BATCH && (zsock_events(sock) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (msg == NULL)
            break;
        s_handle(self, msg);
        zmsg_destroy(&msg);
    }
    return 0;
}

/* --- setting up ----------------------------------------------------------------------------- */

static int s_setup_curve(gossip_t *self, const layout_t *l, char *peers_dir, size_t size,
                         wv_err_t *err)
{
    char cert_path[PATH_MAX], secret[PATH_MAX + 8];
    if (s_path(l, GOSSIP_CURVE_CERT, cert_path, sizeof cert_path, err) != 0)
        return -1;
    snprintf(secret, sizeof secret, "%s_secret", cert_path);
    if (self->cfg->curve_peers != NULL)
        snprintf(peers_dir, size, "%s", self->cfg->curve_peers);
    else if (s_path(l, GOSSIP_CURVE_PEERS_DIR, peers_dir, size, err) != 0)
        return -1;
    if (!fs_is_file(secret))
        return err_set(err,
                       "WEMIXVISOR_CURVE is true but %s is missing; run `wemixvisor init` to "
                       "create the CURVE key pair",
                       secret);
    self->cert = zcert_load(secret);
    if (self->cert == NULL)
        return err_set(err, "%s is not a CURVE secret cert; remove it and run `wemixvisor init`",
                       secret);
    self->auth = zactor_new(zauth, NULL);
    if (self->auth == NULL)
        return err_set(err, "cannot start the CURVE authenticator");
    zstr_sendx(self->auth, "CURVE", peers_dir, NULL);
    zsock_wait(self->auth);
    return 0;
}

static int s_open_pub(gossip_t *self, wv_err_t *err)
{
    self->pub = zsock_new(ZMQ_PUB);
    if (self->pub == NULL)
        return err_set(err, "cannot create the gossip PUB socket");
    zsock_set_sndhwm(self->pub, GOSSIP_HWM);
    zsock_set_linger(self->pub, GOSSIP_LINGER_MS); /* the last state (node stopped) goes out */
    if (self->cert != NULL) {
        zsock_set_zap_domain(self->pub, GOSSIP_CURVE_DOMAIN);
        zcert_apply(self->cert, self->pub);
        zsock_set_curve_server(self->pub, 1);
    }
    if (zsock_bind(self->pub, "%s", self->cfg->listen) < 0)
        return err_set(err,
                       "WEMIXVISOR_LISTEN=\"%s\": cannot bind (%s); is another agent using the "
                       "port?",
                       self->cfg->listen, zmq_strerror(zmq_errno()));
    return 0;
}

static int s_open_sub(gossip_t *self, const char *peers_dir, wv_err_t *err)
{
    self->sub = zsock_new(ZMQ_SUB);
    if (self->sub == NULL)
        return err_set(err, "cannot create the gossip SUB socket");
    zsock_set_rcvhwm(self->sub, GOSSIP_HWM);
    zsock_set_linger(self->sub, 0);
    zsock_set_maxmsgsize(self->sub, WIRE_ENVELOPE_MAX); /* a bigger frame drops its peer */
    zsock_set_subscribe(self->sub, "");
    const char *p = self->cfg->peers;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        char ep[PATH_MAX];
        snprintf(ep, sizeof ep, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
        if (self->cert != NULL) {
            zcert_t *peer = peercert_find(peers_dir, ep);
            if (peer == NULL)
                return err_set(
                    err,
                    "WEMIXVISOR_CURVE: no public cert with endpoint = \"%s\" in %s; "
                    "put the peer's cert there (`wemixvisor id --curve-cert FILE --endpoint "
                    "%s` on the peer prints it)",
                    ep, peers_dir, ep);
            zcert_apply(self->cert, self->sub);
            zsock_set_curve_serverkey(self->sub, zcert_public_txt(peer));
            zcert_destroy(&peer);
        }
        if (zsock_connect(self->sub, "%s", ep) < 0)
            return err_set(err, "WEMIXVISOR_PEERS: cannot connect to \"%s\" (%s)", ep,
                           zmq_strerror(zmq_errno()));
    }
    return zloop_reader(self->loop, self->sub, s_on_sub, self) == 0
               ? 0
               : err_set(err, "cannot watch the gossip SUB socket");
}

int gossip_check_config(const wv_config_t *cfg, wv_err_t *err)
{
    if (!gossip_configured(cfg))
        return 0;
    if (cfg->chain_id == NULL)
        return err_set(err, "WEMIXVISOR_CHAIN_ID is not set; the gossip needs the chain id every "
                            "agent of this chain uses (e.g. WEMIXVISOR_CHAIN_ID=wemix-mainnet)");
    if (cfg->validator_mode && cfg->validators == NULL)
        return err_set(err, "VALIDATOR_MODE is true but WEMIXVISOR_VALIDATORS is not set; list "
                            "every validator agent's key (`wemixvisor id` on each), "
                            "comma-separated");
    if (cfg->validator_mode && strchr(cfg->validators, ',') != NULL &&
        (cfg->listen == NULL || cfg->peers == NULL))
        return err_set(err,
                       "VALIDATOR_MODE is true with several validators, but %s is not set: "
                       "a validator must publish its state (WEMIXVISOR_LISTEN) and hear the "
                       "others (WEMIXVISOR_PEERS), or no upgrade can ever reach a quorum",
                       cfg->listen == NULL ? "WEMIXVISOR_LISTEN" : "WEMIXVISOR_PEERS");
    if (cfg->curve && cfg->listen == NULL && cfg->peers == NULL)
        return err_set(err, "WEMIXVISOR_CURVE is true but neither WEMIXVISOR_LISTEN nor "
                            "WEMIXVISOR_PEERS is set");
    return 0;
}

gossip_t *gossip_new(zloop_t *loop, const wv_config_t *cfg, const layout_t *layout,
                     gossip_fill_fn *fill, gossip_change_fn *changed, void *arg, wv_err_t *err)
{
    if (gossip_check_config(cfg, err) != 0)
        return NULL;
    gossip_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        err_set(err, "out of memory");
        return NULL;
    }
    *self = (gossip_t){.loop = loop, .cfg = cfg, .fill = fill, .changed = changed, .arg = arg};
    self->beat_timer = -1;
    quorum_rule_t rule = QUORUM_WBFT;
    char path[PATH_MAX], peers_dir[PATH_MAX] = "";
    if (quorum_rule_parse(cfg->quorum_rule, &rule, err) != 0)
        goto fail;
    if (s_path(layout, GOSSIP_IDENTITY_FILE, path, sizeof path, err) != 0)
        goto fail;
    if (!fs_is_file(path)) {
        err_set(err, "%s is missing; run `wemixvisor init` to create this agent's key", path);
        goto fail;
    }
    self->id = identity_load(path, err);
    self->fleet = fleet_new(rule);
    if (self->fleet != NULL) /* a replay of a vote sent before we started never counts here */
        fleet_set_votes_since(self->fleet, s_now_us());
    if (self->id == NULL || self->fleet == NULL ||
        fleet_add_list(self->fleet, "WEMIXVISOR_VALIDATORS", cfg->validators, true, err) != 0 ||
        fleet_add_list(self->fleet, "WEMIXVISOR_OBSERVERS", cfg->observers, false, err) != 0)
        goto fail;
    const uint8_t *key = identity_pubkey(self->id);
    char hex[IDENTITY_HEX_LEN + 1];
    identity_hex(key, hex);
    self->me = fleet_find(self->fleet, key);
    if (cfg->validator_mode && (self->me == NULL || !self->me->validator)) {
        err_set(err,
                "VALIDATOR_MODE is true but this agent's key %s is not in "
                "WEMIXVISOR_VALIDATORS; add it, or set VALIDATOR_MODE=false",
                hex);
        goto fail;
    }
    if (!cfg->validator_mode && self->me != NULL && self->me->validator) {
        err_set(err,
                "this agent's key %s is in WEMIXVISOR_VALIDATORS but VALIDATOR_MODE is false; "
                "a listed validator must wait for the quorum: set VALIDATOR_MODE=true",
                hex);
        goto fail;
    }
    if (self->me == NULL && (fleet_add(self->fleet, key, false, err) != 0 ||
                             (self->me = fleet_find(self->fleet, key)) == NULL))
        goto fail;
    self->validator = self->me->validator;
    if (s_path(layout, GOSSIP_SEQ_FILE, path, sizeof path, err) != 0 ||
        seqgen_open(&self->seq, path, s_now_us(), err) != 0)
        goto fail;
    if (cfg->curve && s_setup_curve(self, layout, peers_dir, sizeof peers_dir, err) != 0)
        goto fail;
    if (cfg->listen != NULL && s_open_pub(self, err) != 0)
        goto fail;
    if (cfg->peers != NULL && s_open_sub(self, peers_dir, err) != 0)
        goto fail;
    self->beat_timer = zloop_timer(loop, cfg->heartbeat_ms, 0, s_on_beat, self);
    self->started_ms = zclock_mono();
    log_info(COMPONENT, "gossip started", LF_STR("key", hex),
             LF_STR("role", self->validator ? WIRE_ROLE_VALIDATOR : WIRE_ROLE_OBSERVER),
             LF_STR("listen", cfg->listen ? cfg->listen : ""),
             LF_STR("peers", cfg->peers ? cfg->peers : ""),
             LF_INT("validators", fleet_validators(self->fleet)),
             LF_INT("quorum", fleet_quorum(self->fleet)), LF_BOOL("curve", cfg->curve));
    return self;
fail:
    gossip_destroy(&self);
    return NULL;
}

void gossip_destroy(gossip_t **self_p)
{
    gossip_t *self = *self_p;
    if (self == NULL)
        return;
    if (self->beat_timer >= 0)
        zloop_timer_end(self->loop, self->beat_timer);
    if (self->sub != NULL)
        zloop_reader_end(self->loop, self->sub);
    zsock_destroy(&self->sub);
    zsock_destroy(&self->pub);
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    fleet_destroy(&self->fleet);
    identity_destroy(&self->id);
    free(self);
    *self_p = NULL;
}

/* --- reading -------------------------------------------------------------------------------- */

fleet_t *gossip_fleet(gossip_t *self)
{
    return self->fleet;
}

const uint8_t *gossip_self_key(const gossip_t *self)
{
    return identity_pubkey(self->id);
}

bool gossip_is_validator(const gossip_t *self)
{
    return self->validator;
}

int64_t gossip_live_ms(const gossip_t *self)
{
    int64_t ms = (int64_t)(GOSSIP_LIVE_BEATS * self->cfg->heartbeat_ms);
    return ms > GOSSIP_LIVE_MIN_MS ? ms : GOSSIP_LIVE_MIN_MS;
}

bool gossip_settled(const gossip_t *self)
{
    return zclock_mono() - self->started_ms >= gossip_fresh_ms(self);
}

int64_t gossip_fresh_ms(const gossip_t *self)
{
    int64_t ms = (int64_t)(GOSSIP_FRESH_BEATS * self->cfg->heartbeat_ms);
    return ms > GOSSIP_FRESH_MIN_MS ? ms : GOSSIP_FRESH_MIN_MS;
}

const inbox_stats_t *gossip_inbox_stats(const gossip_t *self)
{
    return &self->in;
}

json_t *gossip_json(gossip_t *self, int64_t now_ms)
{
    json_t *doc =
        fleetview_json(self->fleet, identity_pubkey(self->id), now_ms, gossip_fresh_ms(self));
    if (doc == NULL)
        return NULL;
    json_t *dropped = json_object();
    for (int i = 0; i < INBOX_DROP_COUNT; i++)
        json_object_set_new(dropped, inbox_drop_name((inbox_drop_t)i),
                            json_integer((json_int_t)self->in.drops[i]));
    json_object_set_new(doc, "self", json_string(self->me->hex));
    json_object_set_new(doc, "chain", json_string(self->cfg->chain_id));
    json_object_set_new(doc, "role",
                        json_string(self->validator ? WIRE_ROLE_VALIDATOR : WIRE_ROLE_OBSERVER));
    json_object_set_new(doc, "curve", json_boolean(self->cfg->curve));
    json_object_set_new(doc, "received", json_integer((json_int_t)self->in.accepted));
    json_object_set_new(doc, "sent", json_integer((json_int_t)self->sent));
    json_object_set_new(doc, "relayed", json_integer((json_int_t)self->relayed));
    json_object_set_new(doc, "messages_in", json_integer((json_int_t)self->in.messages));
    json_object_set_new(doc, "bytes_in", json_integer((json_int_t)self->in.bytes));
    json_object_set_new(doc, "dropped", dropped);
    return doc;
}

void gossip_metrics(gossip_t *self, FILE *out, int64_t now_ms)
{
    int64_t fresh = gossip_fresh_ms(self);
    int known = 0, live = 0;
    for (size_t i = 0; i < fleet_count(self->fleet); i++) {
        const fleet_member_t *m = fleet_at(self->fleet, i);
        if (m == self->me || !m->has_state)
            continue;
        known++;
        live += now_ms - m->heard_ms <= fresh;
    }
    fprintf(out,
            "# HELP wemixvisor_peers_seen Members of the fleet heard from at least once.\n"
            "# TYPE wemixvisor_peers_seen gauge\nwemixvisor_peers_seen %d\n"
            "# HELP wemixvisor_peers_live Members heard from recently (their votes count).\n"
            "# TYPE wemixvisor_peers_live gauge\nwemixvisor_peers_live %d\n"
            "# HELP wemixvisor_quorum_size Validators needed for a quorum.\n"
            "# TYPE wemixvisor_quorum_size gauge\nwemixvisor_quorum_size %d\n"
            "# HELP wemixvisor_validators Validators in WEMIXVISOR_VALIDATORS.\n"
            "# TYPE wemixvisor_validators gauge\nwemixvisor_validators %d\n"
            "# HELP wemixvisor_network_height The q-th highest height the validators report.\n"
            "# TYPE wemixvisor_network_height gauge\nwemixvisor_network_height %lld\n"
            "# HELP wemixvisor_gossip_received_total States accepted from the fleet.\n"
            "# TYPE wemixvisor_gossip_received_total counter\n"
            "wemixvisor_gossip_received_total %llu\n"
            "# TYPE wemixvisor_gossip_sent_total counter\nwemixvisor_gossip_sent_total %llu\n"
            "# TYPE wemixvisor_gossip_relayed_total counter\n"
            "wemixvisor_gossip_relayed_total %llu\n"
            "# TYPE wemixvisor_gossip_bytes_in_total counter\n"
            "wemixvisor_gossip_bytes_in_total %llu\n"
            "# HELP wemixvisor_gossip_dropped_total Messages refused, by reason.\n"
            "# TYPE wemixvisor_gossip_dropped_total counter\n",
            known, live, fleet_quorum(self->fleet), fleet_validators(self->fleet),
            (long long)fleet_network_height(self->fleet), (unsigned long long)self->in.accepted,
            (unsigned long long)self->sent, (unsigned long long)self->relayed,
            (unsigned long long)self->in.bytes);
    for (int i = 0; i < INBOX_DROP_COUNT; i++)
        fprintf(out, "wemixvisor_gossip_dropped_total{reason=\"%s\"} %llu\n",
                inbox_drop_name((inbox_drop_t)i), (unsigned long long)self->in.drops[i]);
    /* per upgrade of ours, one family after the other (the text format wants them grouped) */
    static const char *const families[] = {"quorum_ready", "quorum_conflicts", "upgrade_armed",
                                           "upgrade_blocked"};
    const wire_state_t *st = &self->me->state;
    size_t n = self->me->has_state ? st->n_upgrades : 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0] && n > 0; f++) {
        fprintf(out, "# TYPE wemixvisor_%s gauge\n", families[f]);
        for (size_t i = 0; i < n; i++) {
            const wire_upgrade_t *u = &st->upgrades[i];
            fleet_tally_t t;
            fleet_tally(self->fleet, u->name, u->height, u->sha256, now_ms, fresh, &t);
            int v = f == 0   ? t.ready
                    : f == 1 ? t.conflicts
                    : f == 2 ? strcmp(u->phase, WIRE_PHASE_ARMED) == 0
                             : strcmp(u->phase, WIRE_PHASE_BLOCKED) == 0;
            fprintf(out, "wemixvisor_%s{upgrade=\"%s\"} %d\n", families[f], u->name, v);
        }
    }
}
