/* runner: the agent's event loop for `wemixvisor run`.
 * Everything the agent does while running is decided in s_reconcile(), which compares what is
 * wanted (an upgrade pending, the node up or down, a shutdown) with where the node is, and takes
 * one step. Callbacks only record facts and ask for a reconcile; no step runs inside another. */
#include "runner.h"
#include "agentlock.h"
#include "control.h"
#include "fsutil.h"
#include "health.h"
#include "httpserv.h"
#include "journal.h"
#include "layout.h"
#include "log.h"
#include "logsink.h"
#include "nodeversion.h"
#include "probe.h"
#include "proc.h"
#include "status.h"
#include "supervisor.h"
#include "watcher.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define COMPONENT "agent"
#define EXIT_FATAL 1
#define PROBE_PERIOD_MAX_MS 1000 /* the height is read at least this often */
#define PROBE_TIMEOUT_MS 2000    /* one RPC call */
#define VERSION_MAX 64

typedef struct {
    const wv_config_t *cfg;
    layout_t layout;
    zloop_t *loop;
    supervisor_t *sup;
    watcher_t *watcher;
    journal_t *journal;
    char binary[PATH_MAX]; /* current/bin/$DAEMON_NAME */

    int sigfd;
    zmq_pollitem_t sig_item;
    int kick_timer;    /* pending reconcile, -1 if none */
    int restart_timer; /* restart delay after a switch, -1 if none */
    int tick_timer;    /* every DAEMON_POLL_INTERVAL: look for a missing binary again */

    bool has_pending; /* an upgrade to apply */
    upgrade_info_t pending;
    bool missing_logged; /* the "binary missing" error was said for this pending upgrade */

    bool want_running; /* false after `wemixvisor stop` */
    bool shutting_down;
    bool done; /* leave the loop */
    int exit_code;

    int lock_fd;        /* agent.lock, held for the agent's life */
    logsink_t *logsink; /* DAEMON_LOG_FILE, or NULL: output passes through */
    zactor_t *probe;    /* asks the node's RPC for its height */
    health_t health;
    control_t *control;        /* agent.sock */
    httpserv_t *metrics;       /* WEMIXVISOR_METRICS_ADDR, or NULL */
    char version[VERSION_MAX]; /* of the binary `current` points at, "" if unknown */
    struct stat version_of;    /* the binary that version was read from */
} runner_t;

static void s_reconcile(runner_t *self);

static int s_on_kick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    self->kick_timer = -1;
    s_reconcile(self);
    return self->done ? -1 : 0;
}

/* Asks for a reconcile on the next loop turn, outside whatever callback we are in. */
static void s_kick(runner_t *self)
{
    if (self->kick_timer < 0)
        self->kick_timer = zloop_timer(self->loop, 0, 1, s_on_kick, self);
}

/* Is this upgrade already behind us? */
static bool s_already_applied(runner_t *self, const upgrade_info_t *info)
{
    char current[UPGRADE_NAME_MAX + 1];
    if (layout_current_upgrade(&self->layout, current, sizeof current, NULL) == 0 &&
        strcmp(current, info->name) == 0)
        return true;
    if (journal_applied(self->journal, info->name))
        return true;
    if (info->height <= journal_last_height(self->journal)) {
        log_warn(COMPONENT, "upgrade info is older than the last applied upgrade; ignored",
                 LF_STR("name", info->name), LF_INT("height", info->height),
                 LF_INT("last_height", journal_last_height(self->journal)));
        return true;
    }
    return false;
}

static void s_set_pending(runner_t *self, const upgrade_info_t *info)
{
    if (self->has_pending && strcmp(self->pending.name, info->name) == 0)
        return;
    if (self->has_pending)
        upgrade_info_free(&self->pending);
    self->pending = *info;
    self->pending.info = info->info ? strdup(info->info) : NULL;
    self->has_pending = true;
    self->missing_logged = false;
    log_info(COMPONENT, "upgrade detected", LF_STR("name", info->name),
             LF_INT("height", info->height));
}

static void s_on_upgrade_info(const upgrade_info_t *info, void *arg)
{
    runner_t *self = arg;
    if (s_already_applied(self, info)) {
        log_debug(COMPONENT, "upgrade info already applied", LF_STR("name", info->name));
        return;
    }
    s_set_pending(self, info);
    s_kick(self);
}

/* The pending upgrade's binary, if it is there and executable. */
static bool s_pending_binary_ready(runner_t *self, char *path, size_t size)
{
    wv_err_t err;
    if (layout_upgrade_bin(&self->layout, self->pending.name, path, size, &err) != 0)
        return false;
    if (fs_is_executable(path))
        return true;
    if (!self->missing_logged) {
        self->missing_logged = true;
        log_error(COMPONENT,
                  fs_is_file(path) ? "upgrade binary is not executable; the node is left as it "
                                     "is and the upgrade proceeds once it is (chmod +x)"
                                   : "upgrade binary is missing; the node is left as it is and "
                                     "the upgrade proceeds as soon as the binary is in place",
                  LF_STR("name", self->pending.name), LF_STR("expected", path));
    }
    return false;
}

/* Points `current` at the pending upgrade; the journal says so before and after. */
static int s_switch(runner_t *self)
{
    wv_err_t err;
    char target[PATH_MAX];
    const char *name = self->pending.name;
    if (layout_link_target(name, target, sizeof target, &err) != 0 ||
        journal_set_step(self->journal, name, self->pending.height, "switching", &err) != 0 ||
        journal_save(self->journal, &err) != 0 ||
        fs_symlink_replace(target, self->layout.current, &err) != 0 ||
        journal_record_applied(self->journal, name, self->pending.height, &err) != 0 ||
        journal_set_step(self->journal, NULL, 0, NULL, &err) != 0 ||
        journal_save(self->journal, &err) != 0) {
        log_error(COMPONENT, "switch failed", LF_STR("name", name), LF_STR("error", err.msg));
        return -1;
    }
    log_info(COMPONENT, "upgrade applied: current switched", LF_STR("name", name),
             LF_INT("height", self->pending.height), LF_STR("current", target));
    upgrade_info_free(&self->pending);
    self->has_pending = false;
    return 0;
}

static int s_on_restart_delay(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    self->restart_timer = -1;
    if (!self->shutting_down)
        supervisor_start(self->sup);
    s_kick(self);
    return 0;
}

static void s_after_switch(runner_t *self)
{
    if (!self->cfg->restart_after_upgrade) {
        log_info(COMPONENT, "DAEMON_RESTART_AFTER_UPGRADE is false; exiting after the upgrade");
        self->exit_code = 0;
        self->done = true;
        return;
    }
    if (!self->want_running) {
        log_info(COMPONENT, "upgrade applied while the node is stopped by the operator; it "
                            "stays stopped until `wemixvisor start`");
        return;
    }
    if (self->cfg->restart_delay_ms > 0)
        log_info(COMPONENT, "waiting before starting the new binary",
                 LF_INT("delay_ms", (long long)self->cfg->restart_delay_ms));
    self->restart_timer =
        zloop_timer(self->loop, self->cfg->restart_delay_ms, 1, s_on_restart_delay, self);
}

static int s_exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_FATAL;
}

static void s_reconcile(runner_t *self)
{
    node_state_t st = supervisor_state(self->sup);
    bool node_down = st == NODE_STOPPED || st == NODE_FAILED || st == NODE_CRASHED;

    if (self->shutting_down) {
        if (self->restart_timer >= 0) {
            zloop_timer_end(self->loop, self->restart_timer);
            self->restart_timer = -1;
        }
        if (node_down) {
            self->done = true;
            return;
        }
        supervisor_stop(self->sup);
        return;
    }
    if (self->has_pending) {
        char bin[PATH_MAX];
        if (!s_pending_binary_ready(self, bin, sizeof bin))
            return; /* the poll tick looks again */
        if (!node_down) {
            if (st != NODE_STOPPING) {
                log_info(COMPONENT, "stopping the node for the upgrade",
                         LF_STR("name", self->pending.name));
                supervisor_stop(self->sup);
            }
            return;
        }
        if (s_switch(self) != 0)
            return; /* nothing was switched that the journal does not know; the tick retries */
        s_after_switch(self);
        return;
    }
    if (st == NODE_FAILED && !self->cfg->restart_on_failure && self->restart_timer < 0) {
        self->exit_code = s_exit_code_of(supervisor_last_status(self->sup));
        self->done = true;
        return;
    }
    if (self->want_running && st == NODE_STOPPED && self->restart_timer < 0)
        supervisor_start(self->sup);
    else if (!self->want_running && (st == NODE_RUNNING || st == NODE_BACKOFF))
        supervisor_stop(self->sup);
}

/* Before every start: an upgrade that is due is applied first, so the old binary is never
 * started past its upgrade. A due upgrade whose binary is missing holds the start. */
static sup_decision_t s_before_start(void *arg)
{
    runner_t *self = arg;
    watcher_check(self->watcher);
    if (!self->has_pending)
        return SUP_PROCEED;
    char bin[PATH_MAX];
    if (!s_pending_binary_ready(self, bin, sizeof bin))
        return SUP_HOLD;
    if (s_switch(self) != 0)
        return SUP_HOLD;
    return SUP_PROCEED;
}

/* The node exited by itself: if it did so for an upgrade, the upgrade goes first. */
static sup_decision_t s_on_node_exit(int status, void *arg)
{
    (void)status;
    runner_t *self = arg;
    watcher_forget(self->watcher);
    watcher_check(self->watcher);
    if (self->has_pending || self->shutting_down || !self->want_running)
        return SUP_HOLD;
    return SUP_PROCEED;
}

/* A pending upgrade waits for its binary: look again on every poll interval. */
static int s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    if (self->has_pending)
        s_reconcile(self);
    return self->done ? -1 : 0;
}

/* The version of the binary `current` points at, asked once per binary. */
static void s_detect_version(runner_t *self)
{
    struct stat st;
    if (stat(self->binary, &st) != 0)
        return;
    if (self->version[0] != '\0' && st.st_ino == self->version_of.st_ino &&
        st.st_dev == self->version_of.st_dev &&
        st.st_mtim.tv_sec == self->version_of.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == self->version_of.st_mtim.tv_nsec)
        return;
    wv_err_t err;
    self->version_of = st;
    if (nodeversion_detect(self->binary, self->version, sizeof self->version, &err) != 0) {
        self->version[0] = '\0';
        log_warn(COMPONENT, "node version unknown", LF_STR("error", err.msg));
        return;
    }
    log_info(COMPONENT, "node version", LF_STR("version", self->version));
}

static void s_on_state(node_state_t from, node_state_t to, void *arg)
{
    (void)from;
    runner_t *self = arg;
    if (to == NODE_RUNNING) {
        wv_err_t err;
        if (nodepid_write(self->layout.root, supervisor_pid(self->sup), &err) != 0)
            log_warn(COMPONENT, "cannot record the node's pid", LF_STR("error", err.msg));
        health_node_started(&self->health, zclock_mono());
        probe_now(self->probe);
        s_detect_version(self);
    } else if (from == NODE_RUNNING || from == NODE_STOPPING) {
        nodepid_clear(self->layout.root);
        health_node_stopped(&self->health);
    }
    s_kick(self);
}

static int s_on_probe(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    runner_t *self = arg;
    probe_result_t r;
    if (probe_recv(self->probe, &r) != 0)
        return 0;
    health_state_t before = self->health.state;
    health_state_t after = health_update(&self->health, &r, zclock_mono());
    supervisor_set_healthy(self->sup, after == HEALTH_HEALTHY || after == HEALTH_SYNCING);
    if (after != before) {
        if (after == HEALTH_STALLED || after == HEALTH_UNRESPONSIVE)
            log_warn(COMPONENT, "node health", LF_STR("from", health_name(before)),
                     LF_STR("to", health_name(after)), LF_INT("height", self->health.height),
                     LF_STR("error", self->health.error));
        else
            log_info(COMPONENT, "node health", LF_STR("from", health_name(before)),
                     LF_STR("to", health_name(after)), LF_INT("height", self->health.height));
    }
    return 0;
}

static void s_fill_view(runner_t *self, status_view_t *v, char *current, size_t size)
{
    if (layout_current_upgrade(&self->layout, current, size, NULL) != 0)
        snprintf(current, size, "?");
    *v = (status_view_t){
        .state = supervisor_state_name(supervisor_state(self->sup)),
        .health = health_name(self->health.state),
        .want_running = self->want_running,
        .pid = supervisor_pid(self->sup),
        .agent_pid = getpid(),
        .version = self->version,
        .client_version = self->health.client_version,
        .current = current,
        .height = self->health.height,
        .restarts = supervisor_restarts(self->sup),
        .restarts_total = supervisor_restarts_total(self->sup),
        .max_restarts = self->cfg->max_restarts,
        .uptime_ms = supervisor_uptime_ms(self->sup),
        .has_exited = supervisor_has_exited(self->sup),
        .last_status = supervisor_last_status(self->sup),
        .pending_upgrade = self->has_pending ? self->pending.name : NULL,
        .pending_height = self->has_pending ? self->pending.height : 0,
        .pending_problem = self->has_pending && self->missing_logged ? "binary" : NULL,
        .rpc_error = self->health.error,
    };
}

/* The control socket's commands: status, start, stop, restart. */
static json_t *s_on_control(const char *cmd, json_t *request, void *arg)
{
    (void)request;
    runner_t *self = arg;
    status_view_t v;
    char current[UPGRADE_NAME_MAX + 1];
    if (strcmp(cmd, "status") == 0) {
        s_fill_view(self, &v, current, sizeof current);
        return status_json(&v);
    }
    bool start = strcmp(cmd, "start") == 0, stop = strcmp(cmd, "stop") == 0,
         restart = strcmp(cmd, "restart") == 0;
    if (!start && !stop && !restart)
        return json_pack("{s:b, s:s}", "ok", 0, "error",
                         "unknown command; use status, start, stop or restart");
    if (self->shutting_down)
        return json_pack("{s:b, s:s}", "ok", 0, "error", "the agent is shutting down");
    if ((start || restart) && self->has_pending && self->missing_logged)
        return json_pack("{s:b, s:s}", "ok", 0, "error",
                         "an upgrade is due and its binary is missing; the old binary is not "
                         "started past its upgrade");
    log_info(COMPONENT, "control", LF_STR("command", cmd));
    node_state_t st = supervisor_state(self->sup);
    self->want_running = !stop;
    if (stop || (restart && st != NODE_STOPPED && st != NODE_FAILED))
        supervisor_stop(self->sup);
    if ((start || restart) && (st == NODE_FAILED || st == NODE_BACKOFF))
        supervisor_start(self->sup); /* from failed or backoff: a fresh start, count reset */
    s_kick(self);
    s_fill_view(self, &v, current, sizeof current);
    return status_json(&v);
}

static void s_on_http(const char *method, const char *url, httpserv_reply_t *reply, void *arg)
{
    (void)method;
    runner_t *self = arg;
    if (strcmp(url, "/metrics") != 0) {
        reply->status = 404;
        reply->content_type = "text/plain";
        reply->body = strdup("not found; try /metrics\n");
        reply->len = reply->body ? strlen(reply->body) : 0;
        return;
    }
    status_view_t v;
    char current[UPGRADE_NAME_MAX + 1];
    s_fill_view(self, &v, current, sizeof current);
    reply->status = 200;
    reply->content_type = "text/plain; version=0.0.4";
    reply->body = status_metrics(&v);
    reply->len = reply->body ? strlen(reply->body) : 0;
}

static int s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    runner_t *self = arg;
    struct signalfd_siginfo si;
    while (read(self->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        switch (sig) {
        case SIGCHLD:
            supervisor_reap(self->sup);
            break;
        case SIGTERM:
        case SIGINT:
            if (!self->shutting_down)
                log_info(COMPONENT, "shutting down: stopping the node first",
                         LF_STR("signal", sigabbrev_np(sig)));
            self->shutting_down = true;
            self->exit_code = 0;
            s_kick(self);
            break;
        default:
            log_info(COMPONENT, "forwarding signal to the node",
                     LF_STR("signal", sigabbrev_np(sig)));
            supervisor_forward(self->sup, sig);
        }
    }
    return self->done ? -1 : 0;
}

/* Picks up a switch interrupted by a crash of an earlier agent: the symlink is either old or new
 * (rename is atomic), so the journal only needs to learn which. */
static int s_recover_journal(runner_t *self, wv_err_t *err)
{
    const char *step = journal_step(self->journal);
    if (step[0] == '\0')
        return 0;
    char current[UPGRADE_NAME_MAX + 1];
    if (layout_current_upgrade(&self->layout, current, sizeof current, err) != 0)
        return -1;
    const char *name = journal_step_upgrade(self->journal);
    log_warn(COMPONENT, "an earlier agent stopped in the middle of an upgrade",
             LF_STR("name", name), LF_STR("step", step), LF_STR("current", current));
    if (strcmp(current, name) == 0 && !journal_applied(self->journal, name) &&
        journal_record_applied(self->journal, name, journal_step_height(self->journal), err) != 0)
        return -1;
    if (journal_set_step(self->journal, NULL, 0, NULL, err) != 0)
        return -1;
    return journal_save(self->journal, err);
}

/* Everything before the loop: the lock, a node left behind, the journal, the data dir. */
static int s_prepare(runner_t *self, wv_err_t *err)
{
    if (fs_mkdir_p(self->layout.root, 0755, err) != 0)
        return -1;
    self->lock_fd = agentlock_acquire(self->layout.root, err);
    if (self->lock_fd < 0)
        return -1;
    if (agentlock_stop_orphan(self->layout.root, self->cfg->shutdown_grace_ms,
                              SUPERVISOR_QUIT_WAIT_MS, err) != 0)
        return -1;
    self->journal = journal_load(self->layout.state, err);
    if (self->journal == NULL || s_recover_journal(self, err) != 0)
        return -1;
    return fs_mkdir_p(self->layout.data, 0755, err);
}

/* The loop's sources: signals, the node's output, the probe, the control socket, metrics. */
static int s_open_sources(runner_t *self, char *const *args, wv_err_t *err)
{
    const wv_config_t *cfg = self->cfg;
    /* Signals are read from a signalfd on the loop; children get them back unblocked. */
    sigset_t set;
    proc_agent_sigset(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    self->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->sigfd < 0)
        return err_sys(err, "signalfd");
    /* Orphaned grandchildren of the node are re-parented to us and reaped like the node. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    self->loop = zloop_new();
    if (self->loop == NULL)
        return err_set(err, "out of memory");
    self->sig_item = (zmq_pollitem_t){.socket = NULL, .fd = self->sigfd, .events = ZMQ_POLLIN};
    zloop_poller(self->loop, &self->sig_item, s_on_signal, self);

    if (cfg->log_file != NULL) {
        self->logsink =
            logsink_new(self->loop, cfg->log_file, cfg->log_max_size, (int)cfg->log_max_files, err);
        if (self->logsink == NULL)
            return err_wrap(err, "DAEMON_LOG_FILE");
    }
    uint64_t period = cfg->health_check_interval_ms < PROBE_PERIOD_MAX_MS
                          ? cfg->health_check_interval_ms
                          : PROBE_PERIOD_MAX_MS;
    health_init(&self->health, cfg->health_check_interval_ms);
    self->probe = probe_new(cfg->rpc_address, period, PROBE_TIMEOUT_MS);
    if (self->probe == NULL)
        return err_set(err, "cannot start the RPC probe");
    zloop_reader(self->loop, (zsock_t *)self->probe, s_on_probe, self);

    char sock[PATH_MAX];
    if (fs_join(sock, sizeof sock, err, self->layout.root, CONTROL_SOCKET_NAME, NULL) != 0)
        return -1;
    self->control = control_new(self->loop, sock, s_on_control, self, err);
    if (self->control == NULL)
        return -1;
    if (cfg->metrics_addr != NULL) {
        self->metrics = httpserv_new(self->loop, cfg->metrics_addr, s_on_http, self, err);
        if (self->metrics == NULL)
            return err_wrap(err, "WEMIXVISOR_METRICS_ADDR");
        log_info(COMPONENT, "serving metrics", LF_STR("address", cfg->metrics_addr),
                 LF_INT("port", httpserv_port(self->metrics)));
    }

    supervisor_opts_t opts = {
        .binary = self->binary,
        .args = args,
        .out_fd = self->logsink ? logsink_fd(self->logsink) : -1,
        .shutdown_grace_ms = cfg->shutdown_grace_ms,
        .restart_on_failure = cfg->restart_on_failure,
        .max_restarts = cfg->max_restarts,
        .healthy_reset_ms = 2 * cfg->health_check_interval_ms,
        .before_start = s_before_start,
        .on_exit = s_on_node_exit,
        .on_state = s_on_state,
        .arg = self,
    };
    self->sup = supervisor_new(self->loop, &opts);
    self->tick_timer = zloop_timer(self->loop, cfg->poll_interval_ms, 0, s_on_tick, self);
    self->watcher = watcher_new(self->loop, self->layout.upgrade_info, cfg->watch,
                                cfg->poll_interval_ms, s_on_upgrade_info, self);
    if (self->sup == NULL || self->watcher == NULL)
        return err_set(err, "out of memory");
    return 0;
}

static void s_close(runner_t *self)
{
    if (self->sup != NULL && supervisor_pid(self->sup) > 0)
        supervisor_forward(self->sup, SIGKILL); /* never leave a node running unsupervised */
    watcher_destroy(&self->watcher);
    supervisor_destroy(&self->sup);
    control_destroy(&self->control);
    httpserv_destroy(&self->metrics);
    zactor_destroy(&self->probe);
    logsink_destroy(&self->logsink);
    zloop_destroy(&self->loop);
    if (self->sigfd >= 0)
        close(self->sigfd);
    if (self->has_pending)
        upgrade_info_free(&self->pending);
    journal_destroy(&self->journal);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
}

int runner_main(const wv_config_t *cfg, char *const *args)
{
    runner_t self = {.cfg = cfg,
                     .sigfd = -1,
                     .kick_timer = -1,
                     .restart_timer = -1,
                     .tick_timer = -1,
                     .lock_fd = -1,
                     .want_running = true};
    wv_err_t err;
    char current[UPGRADE_NAME_MAX + 1];
    if (layout_init(&self.layout, cfg, &err) != 0 ||
        layout_current_bin(&self.layout, self.binary, sizeof self.binary, &err) != 0) {
        log_error(COMPONENT, "cannot run", LF_STR("error", err.msg));
        return 2;
    }
    if (layout_current_upgrade(&self.layout, current, sizeof current, &err) != 0) {
        log_error(COMPONENT, "cannot run: no valid `current`; run `wemixvisor init` first",
                  LF_STR("error", err.msg));
        return EXIT_FATAL;
    }
    int rc = EXIT_FATAL;
    if (s_prepare(&self, &err) != 0 || s_open_sources(&self, args, &err) != 0) {
        log_error(COMPONENT, "cannot run", LF_STR("error", err.msg));
        goto out;
    }
    log_info(COMPONENT, "starting", LF_STR("home", cfg->home), LF_STR("current", current),
             LF_STR("binary", self.binary), LF_INT("pid", getpid()));
    supervisor_start(self.sup);
    s_kick(&self);
    while (!self.done) {
        if (zloop_start(self.loop) != -1 && !self.done) {
            log_error(COMPONENT, "event loop ended unexpectedly");
            self.exit_code = EXIT_FATAL;
            break;
        }
    }
    rc = self.exit_code;
    log_info(COMPONENT, "exiting", LF_INT("code", rc));
out:
    s_close(&self);
    return rc;
}
