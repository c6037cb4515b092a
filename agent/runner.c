/* runner: the agent's event loop for `wemixvisor run`.
 * Everything the agent does while running is decided in s_reconcile(), which compares what is
 * wanted (an upgrade pending, the node up or down, a shutdown) with where the node is, and takes
 * one step. Callbacks only record facts and ask for a reconcile; no step runs inside another. */
#include "runner.h"
#include "agent.h"
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
#include "sweep.h"
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
void runner_kick(runner_t *self)
{
    if (self->kick_timer < 0)
        self->kick_timer = zloop_timer(self->loop, 0, 1, s_on_kick, self);
}

static void s_on_upgrade_info(const upgrade_info_t *info, void *arg)
{
    upgrade_offer(arg, info, true);
}

static int s_on_restart_delay(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    self->restart_timer = -1;
    if (!self->shutting_down && self->want_running)
        supervisor_start(self->sup);
    runner_kick(self);
    return 0;
}

void runner_start_later(runner_t *self)
{
    if (self->restart_timer >= 0 || self->shutting_down || !self->want_running)
        return;
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
    if (upgrade_reconcile(self))
        return; /* the pipeline owns the node */
    if (st == NODE_FAILED && !self->cfg->restart_on_failure && self->restart_timer < 0) {
        self->exit_code = s_exit_code_of(supervisor_last_status(self->sup));
        self->done = true;
        return;
    }
    if (self->want_running && st == NODE_STOPPED && self->restart_timer < 0 &&
        (uint64_t)zclock_mono() >= self->start_held_until)
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
    upgrade_scan_schedule(self);
    sup_decision_t d = upgrade_before_start(self);
    /* a held start is tried again on the next tick, not on every turn of the loop */
    self->start_held_until = d == SUP_HOLD ? zclock_mono() + self->cfg->poll_interval_ms : 0;
    return d;
}

/* The node exited by itself: if it did so for an upgrade, the upgrade goes first. */
static sup_decision_t s_on_node_exit(int status, void *arg)
{
    (void)status;
    runner_t *self = arg;
    watcher_forget(self->watcher);
    watcher_check(self->watcher);
    upgrade_on_node_exit(self);
    if (self->shutting_down || !self->want_running || upgrade_holds_node(self))
        return SUP_HOLD;
    return SUP_PROCEED;
}

/* Near an upgrade height the probe's period (a second) is too coarse: ask now. */
static int s_on_fast(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    if (upgrade_watching_height(self) && supervisor_state(self->sup) == NODE_RUNNING)
        probe_now(self->probe);
    return 0;
}

/* The fast timer runs only while it is needed: an idle agent wakes up rarely. */
static void s_arm_fast(runner_t *self)
{
    bool want = upgrade_watching_height(self);
    if (want && self->fast_timer < 0) {
        self->fast_timer = zloop_timer(self->loop, UPGRADE_FAST_PROBE_MS, 0, s_on_fast, self);
    } else if (!want && self->fast_timer >= 0) {
        zloop_timer_end(self->loop, self->fast_timer);
        self->fast_timer = -1;
    }
}

/* Every DAEMON_POLL_INTERVAL: the schedule, a missing binary, the fast height timer. */
static int s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    upgrade_scan_schedule(self);
    if (self->has_pending)
        s_reconcile(self);
    s_arm_fast(self);
    return self->done ? -1 : 0;
}

static const char *const s_version_flags[] = {"version", "--version", "-v"};
#define VERSION_FLAGS (sizeof s_version_flags / sizeof s_version_flags[0])

static void s_ask_version(runner_t *self);

/* One answer of the binary: a version, or the next flag to try. */
static void s_on_version(int status, bool timed_out, void *arg)
{
    runner_t *self = arg;
    char ver[AGENT_VERSION_MAX];
    bool found = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                 nodeversion_parse(worker_output(self->version_worker), ver, sizeof ver) == 0;
    worker_destroy(&self->version_worker);
    if (found) {
        snprintf(self->version, sizeof self->version, "%s", ver);
        log_info(COMPONENT, "node version", LF_STR("version", self->version));
        return;
    }
    if (!timed_out && ++self->version_flag < (int)VERSION_FLAGS) {
        s_ask_version(self);
        return;
    }
    log_warn(COMPONENT, "node version unknown: the binary printed no version",
             LF_STR("binary", self->binary));
}

static void s_ask_version(runner_t *self)
{
    char *argv[] = {self->binary, (char *)s_version_flags[self->version_flag], NULL};
    wv_err_t err;
    self->version_worker = worker_start(self->loop, "version", argv, NULL, NODEVERSION_TIMEOUT_MS,
                                        s_on_version, self, &err);
    if (self->version_worker == NULL)
        log_warn(COMPONENT, "node version unknown", LF_STR("error", err.msg));
}

/* The version of the binary `current` points at, asked once per binary, in a child process:
 * a binary that is slow to answer must not hold the loop. */
static void s_detect_version(runner_t *self)
{
    struct stat st;
    if (stat(self->binary, &st) != 0 || self->version_worker != NULL)
        return;
    if (self->version[0] != '\0' && st.st_ino == self->version_of.st_ino &&
        st.st_dev == self->version_of.st_dev &&
        st.st_mtim.tv_sec == self->version_of.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == self->version_of.st_mtim.tv_nsec)
        return;
    self->version_of = st;
    self->version[0] = '\0';
    self->version_flag = 0;
    s_ask_version(self);
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
    } else if (to == NODE_STOPPED || to == NODE_CRASHED) {
        /* the process is gone (while it is only stopping, a later agent must still find it) */
        nodepid_clear(self->layout.root);
        health_node_stopped(&self->health);
    }
    /* peers count a validator whose node is not running as down (restart slots): tell them now,
     * not at the next heartbeat */
    gossip_publish_now(self->gossip);
    runner_kick(self);
}

/* A member's state changed: the quorum may have moved. */
static void s_on_fleet(void *arg)
{
    runner_t *self = arg;
    if (self->has_pending && self->step == STEP_READY)
        runner_kick(self);
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
    char error_before[PROBE_ERROR_MAX];
    snprintf(error_before, sizeof error_before, "%s", self->health.error);
    health_state_t after = health_update(&self->health, &r, zclock_mono());
    supervisor_set_healthy(self->sup, after == HEALTH_HEALTHY || after == HEALTH_SYNCING);
    if (r.ok && supervisor_state(self->sup) == NODE_RUNNING)
        upgrade_on_height(self, r.height);
    if (after != before) {
        if (after == HEALTH_STALLED || after == HEALTH_UNRESPONSIVE)
            log_warn(COMPONENT, "node health", LF_STR("from", health_name(before)),
                     LF_STR("to", health_name(after)), LF_INT("height", self->health.height),
                     LF_STR("error", self->health.error));
        else
            log_info(COMPONENT, "node health", LF_STR("from", health_name(before)),
                     LF_STR("to", health_name(after)), LF_INT("height", self->health.height));
    } else if (after == HEALTH_UNRESPONSIVE && strcmp(error_before, self->health.error) != 0) {
        /* still no good answer, another fault: the operator sees what the RPC does now */
        log_warn(COMPONENT, "node RPC still failing", LF_STR("health", health_name(after)),
                 LF_INT("height", self->health.height), LF_STR("error", self->health.error));
    }
    return 0;
}

/* Why the upgrade in hand waits, or the step it is at. */
static const char *s_pending_problem(runner_t *self, char *buf, size_t size)
{
    if (!self->has_pending)
        return NULL;
    bool no_binary = self->missing_logged || self->bin_problem != NULL;
    if (self->step <= STEP_READY && gate_problem(self)[0] != '\0' &&
        (self->gate.blocked || !no_binary)) {
        snprintf(buf, size, "%s: %s", self->gate.blocked ? "blocked" : "quorum",
                 gate_problem(self));
        return buf;
    }
    if (self->bin_problem != NULL) {
        snprintf(buf, size, "its binary (%s)", self->bin_problem);
        return buf;
    }
    if (self->missing_logged)
        return "its binary";
    if (self->space_logged && self->backup_waits != NULL)
        return self->backup_waits;
    if (self->step == STEP_READY && self->gate.armed)
        return "armed";
    return upgrade_step_name(self->step);
}

static void s_fill_view(runner_t *self, status_view_t *v, char *current, size_t size)
{
    static char problem[WIRE_REASON_MAX + 32];
    size_t problem_size = sizeof problem;
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
        .pending_problem = s_pending_problem(self, problem, problem_size),
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
        json_t *doc = status_json(&v);
        json_t *pending = json_object_get(doc, "pending_upgrade");
        uint64_t data_bytes, data_age_ms;
        if (json_is_object(pending) && preflight_data_size(self, &data_bytes, &data_age_ms)) {
            /* the figure the backup's room is checked against (preflight.h) */
            json_object_set_new(pending, "data_bytes", json_integer((json_int_t)data_bytes));
            json_object_set_new(pending, "data_measured_s_ago",
                                json_integer((json_int_t)(data_age_ms / 1000)));
        }
        if (doc != NULL && self->gossip != NULL)
            json_object_set_new(doc, "gossip", gossip_json(self->gossip, zclock_mono()));
        return doc;
    }
    if (strcmp(cmd, "peers") == 0) {
        if (self->gossip == NULL)
            return json_pack("{s:b, s:s}", "ok", 0, "error",
                             "the gossip is not configured on this agent (set WEMIXVISOR_LISTEN, "
                             "WEMIXVISOR_PEERS and WEMIXVISOR_CHAIN_ID)");
        return gossip_json(self->gossip, zclock_mono());
    }
    bool start = strcmp(cmd, "start") == 0, stop = strcmp(cmd, "stop") == 0,
         restart = strcmp(cmd, "restart") == 0;
    if (!start && !stop && !restart)
        return json_pack("{s:b, s:s}", "ok", 0, "error",
                         "unknown command; use status, peers, start, stop or restart");
    if (self->shutting_down)
        return json_pack("{s:b, s:s}", "ok", 0, "error", "the agent is shutting down");
    if (self->has_pending && self->step >= STEP_STOPPING) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "upgrade %s is in progress (step %s); the node is the pipeline's until it ends",
                 self->pending.name, upgrade_step_name(self->step));
        return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
    }
    if ((start || restart) && self->has_pending && self->missing_logged)
        return json_pack("{s:b, s:s}", "ok", 0, "error",
                         "an upgrade is due and its binary is missing; the old binary is not "
                         "started past its upgrade");
    if ((start || restart) && self->has_pending && self->bin_problem != NULL &&
        upgrade_holds_node(self)) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "upgrade %s is due and its binary is not usable (%s); the old binary is not "
                 "started past its upgrade height: put the verified binary back (see the log)",
                 self->pending.name, self->bin_problem);
        return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
    }
    log_info(COMPONENT, "control", LF_STR("command", cmd));
    node_state_t st = supervisor_state(self->sup);
    self->want_running = !stop;
    if (stop || (restart && st != NODE_STOPPED && st != NODE_FAILED))
        supervisor_stop(self->sup);
    if ((start || restart) && (st == NODE_FAILED || st == NODE_BACKOFF))
        supervisor_start(self->sup); /* from failed or backoff: a fresh start, count reset */
    runner_kick(self);
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
    char *base = status_metrics(&v);
    if (base != NULL && self->gossip != NULL) {
        char *all = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&all, &len);
        if (out != NULL) {
            fputs(base, out);
            gossip_metrics(self->gossip, out, zclock_mono());
            if (fclose(out) == 0) {
                free(base);
                base = all;
            } else {
                free(all);
            }
        }
    }
    reply->body = base;
    reply->len = reply->body ? strlen(reply->body) : 0;
}

/* Every child that ended: the node, a worker of the pipeline, or an orphan re-parented to us. */
static void s_reap(runner_t *self)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            break;
        if (!supervisor_child_exited(self->sup, pid, status) &&
            !worker_child_exited(self->version_worker, pid, status))
            upgrade_child_exited(self, pid, status);
    }
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
            s_reap(self);
            break;
        case SIGTERM:
        case SIGINT:
            if (!self->shutting_down)
                log_info(COMPONENT, "shutting down: stopping the node first",
                         LF_STR("signal", sigabbrev_np(sig)));
            self->shutting_down = true;
            self->exit_code = 0;
            runner_kick(self);
            break;
        default:
            log_info(COMPONENT, "forwarding signal to the node",
                     LF_STR("signal", sigabbrev_np(sig)));
            supervisor_forward(self->sup, sig);
        }
    }
    return self->done ? -1 : 0;
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
    /* what an agent or a command killed in the middle of a write left behind (sweep.h) */
    sweep_stale_temps(&self->layout, self->cfg->backup_dir);
    self->journal = journal_load(self->layout.state, err);
    if (self->journal == NULL || upgrade_resume(self, err) != 0)
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

    if (gossip_configured(cfg)) {
        self->gossip =
            gossip_new(self->loop, cfg, &self->layout, gate_fill_state, s_on_fleet, self, err);
        if (self->gossip == NULL)
            return -1;
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
    gossip_destroy(&self->gossip);
    if (self->sup != NULL && supervisor_pid(self->sup) > 0)
        supervisor_forward(self->sup, SIGKILL); /* never leave a node running unsupervised */
    upgrade_close(self);
    worker_destroy(&self->version_worker);
    watcher_destroy(&self->watcher);
    supervisor_destroy(&self->sup);
    control_destroy(&self->control);
    httpserv_destroy(&self->metrics);
    zactor_destroy(&self->probe);
    logsink_destroy(&self->logsink);
    zloop_destroy(&self->loop);
    if (self->sigfd >= 0)
        close(self->sigfd);
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
                     .step_timer = -1,
                     .fast_timer = -1,
                     .last_saved_height = -1,
                     .want_running = true};
    wv_err_t err;
    char current[UPGRADE_NAME_MAX + 1];
    if (gossip_check_config(cfg, &err) != 0 || layout_init(&self.layout, cfg, &err) != 0 ||
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
    ssize_t n = readlink("/proc/self/exe", self.self_exe, sizeof self.self_exe - 1);
    self.self_exe[n > 0 ? n : 0] = '\0';
    if (s_prepare(&self, &err) != 0 || s_open_sources(&self, args, &err) != 0) {
        log_error(COMPONENT, "cannot run", LF_STR("error", err.msg));
        goto out;
    }
    log_info(COMPONENT, "starting", LF_STR("home", cfg->home), LF_STR("current", current),
             LF_STR("binary", self.binary), LF_INT("pid", getpid()));
    supervisor_start(self.sup);
    runner_kick(&self);
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
