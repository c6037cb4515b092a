/* supervisor: the lifecycle table, the stop escalation and the restart policy.
 * Everything happens on the owner's zloop: no threads, no blocking waits, no sleeps. */
#include "supervisor.h"
#include "err.h"
#include "log.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define COMPONENT "supervisor"
#define ARGV_MAX 1024

struct supervisor {
    zloop_t *loop;          /* not owned */
    supervisor_opts_t opts; /* copied; strings stay the owner's */
    node_state_t state;
    pid_t pid;              /* the node's pid (= its process group), 0 when none */
    int last_status;        /* wait status of the last exit */
    int timer_id;           /* the pending timer, or -1 */
    int stop_stage;         /* 0 SIGTERM sent, 1 SIGQUIT sent, 2 SIGKILL sent */
    int64_t restarts;       /* restarts since the node was last healthy long enough */
    int64_t restarts_total; /* restarts over the agent's life */
    uint64_t started_ms;    /* monotonic time of the last start */
    uint64_t healthy_since; /* monotonic time health was first reported good, 0 if not */
    bool has_exited;        /* last_status is meaningful */
};

typedef node_event_t (*action_fn)(supervisor_t *self);

typedef struct {
    bool defined; /* false: the event is ignored in this state */
    node_state_t next;
    action_fn action; /* may return a follow-up event, or EV_NONE */
} transition_t;

static node_event_t s_spawn(supervisor_t *self);
static node_event_t s_send_term(supervisor_t *self);
static node_event_t s_escalate(supervisor_t *self);
static node_event_t s_stopped(supervisor_t *self);
static node_event_t s_crashed(supervisor_t *self);
static node_event_t s_arm_backoff(supervisor_t *self);
static node_event_t s_cancel_timer(supervisor_t *self);
static node_event_t s_reset_and_spawn(supervisor_t *self);
static node_event_t s_gave_up(supervisor_t *self);

#define T(to, fn)                                                                                  \
    {                                                                                              \
        .defined = true, .next = (to), .action = (fn)                                              \
    }

/* Every transition of the node lifecycle; an event missing from a row is ignored there. */
// clang-format off
static const transition_t s_table[NODE_STATE_COUNT][EV_COUNT] = {
    [NODE_STOPPED]  = {[EV_START]        = T(NODE_STARTING, s_spawn)},
    [NODE_STARTING] = {[EV_SPAWNED]      = T(NODE_RUNNING,  NULL),
                       [EV_SPAWN_FAILED] = T(NODE_CRASHED,  s_crashed),
                       [EV_HOLD]         = T(NODE_STOPPED,  NULL)},
    [NODE_RUNNING]  = {[EV_STOP]         = T(NODE_STOPPING, s_send_term),
                       [EV_EXITED]       = T(NODE_CRASHED,  s_crashed)},
    [NODE_STOPPING] = {[EV_EXITED]       = T(NODE_STOPPED,  s_stopped),
                       [EV_TIMEOUT]      = T(NODE_STOPPING, s_escalate)},
    [NODE_CRASHED]  = {[EV_HOLD]         = T(NODE_STOPPED,  NULL),
                       [EV_RETRY]        = T(NODE_BACKOFF,  s_arm_backoff),
                       [EV_GIVE_UP]      = T(NODE_FAILED,   s_gave_up)},
    [NODE_BACKOFF]  = {[EV_START]        = T(NODE_STARTING, s_reset_and_spawn),
                       [EV_STOP]         = T(NODE_STOPPED,  s_cancel_timer),
                       [EV_TIMEOUT]      = T(NODE_STARTING, s_spawn)},
    [NODE_FAILED]   = {[EV_START]        = T(NODE_STARTING, s_reset_and_spawn)},
};
// clang-format on

static const char *const s_state_names[NODE_STATE_COUNT] = {
    "stopped", "starting", "running", "stopping", "crashed", "backoff", "failed"};
static const char *const s_event_names[EV_COUNT] = {
    "start", "stop", "spawned", "spawn-failed", "hold", "exited", "timeout", "retry", "give-up"};

const char *supervisor_state_name(node_state_t state)
{
    return state < NODE_STATE_COUNT ? s_state_names[state] : "?";
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the table: applies the event, then any follow-up events the actions return. */
static void s_fire(supervisor_t *self, node_event_t ev)
{
    while (ev != EV_NONE) {
        const transition_t *t = &s_table[self->state][ev];
        if (!t->defined) {
            log_debug(COMPONENT, "event ignored", LF_STR("state", s_state_names[self->state]),
                      LF_STR("event", s_event_names[ev]));
            return;
        }
        node_state_t from = self->state;
        self->state = t->next;
        if (from != t->next) {
            log_info(COMPONENT, "node state", LF_STR("from", s_state_names[from]),
                     LF_STR("event", s_event_names[ev]), LF_STR("to", s_state_names[t->next]));
            if (self->opts.on_state != NULL)
                self->opts.on_state(from, t->next, self->opts.arg);
        }
        ev = t->action != NULL ? t->action(self) : EV_NONE;
    }
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    supervisor_t *self = arg;
    if (timer_id != self->timer_id)
        return 0;
    self->timer_id = -1;
    s_fire(self, EV_TIMEOUT);
    return 0;
}

static void s_arm_timer(supervisor_t *self, uint64_t ms)
{
    if (self->timer_id >= 0)
        zloop_timer_end(self->loop, self->timer_id);
    self->timer_id = zloop_timer(self->loop, ms, 1, s_on_timer, self);
}

static node_event_t s_cancel_timer(supervisor_t *self)
{
    if (self->timer_id >= 0)
        zloop_timer_end(self->loop, self->timer_id);
    self->timer_id = -1;
    return EV_NONE;
}

static node_event_t s_spawn(supervisor_t *self)
{
    if (self->opts.before_start != NULL && self->opts.before_start(self->opts.arg) == SUP_HOLD) {
        log_debug(COMPONENT, "start held by the upgrade check");
        return EV_HOLD;
    }
    char *argv[ARGV_MAX];
    size_t n = 0;
    argv[n++] = (char *)self->opts.binary;
    for (char *const *a = self->opts.args; a != NULL && *a != NULL && n < ARGV_MAX - 1; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    wv_err_t err;
    pid_t pid = proc_spawn(self->opts.binary, argv, NULL, self->opts.out_fd, &err);
    if (pid < 0) {
        log_error(COMPONENT, "node could not be started", LF_STR("error", err.msg));
        self->last_status = -1;
        self->has_exited = true;
        self->started_ms = s_now_ms();
        return EV_SPAWN_FAILED;
    }
    self->pid = pid;
    self->started_ms = s_now_ms();
    self->healthy_since = 0;
    log_info(COMPONENT, "node started", LF_INT("pid", pid), LF_STR("binary", self->opts.binary));
    return EV_SPAWNED;
}

static node_event_t s_reset_and_spawn(supervisor_t *self)
{
    s_cancel_timer(self);
    self->restarts = 0;
    return s_spawn(self);
}

static node_event_t s_send_term(supervisor_t *self)
{
    log_info(COMPONENT, "stopping node", LF_INT("pid", self->pid), LF_STR("signal", "SIGTERM"),
             LF_INT("grace_ms", (long long)self->opts.shutdown_grace_ms));
    self->stop_stage = 0;
    proc_signal_group(self->pid, SIGTERM);
    s_arm_timer(self, self->opts.shutdown_grace_ms);
    return EV_NONE;
}

/* The grace is over: SIGQUIT (a thread dump in geth-family nodes), then SIGKILL. */
static node_event_t s_escalate(supervisor_t *self)
{
    if (self->stop_stage == 0) {
        log_warn(COMPONENT, "node did not stop within the grace; sending SIGQUIT",
                 LF_INT("pid", self->pid));
        self->stop_stage = 1;
        proc_signal_group(self->pid, SIGQUIT);
        s_arm_timer(self, SUPERVISOR_QUIT_WAIT_MS);
    } else {
        log_warn(COMPONENT, "node still running after SIGQUIT; sending SIGKILL",
                 LF_INT("pid", self->pid));
        self->stop_stage = 2;
        proc_signal_group(self->pid, SIGKILL);
    }
    return EV_NONE;
}

/* The node's main process is gone; nothing of its group may outlive it. */
static void s_sweep_group(supervisor_t *self)
{
    if (self->pid > 0 && kill(-self->pid, 0) == 0) {
        log_warn(COMPONENT, "killing what is left of the node's process group",
                 LF_INT("pgid", self->pid));
        proc_signal_group(self->pid, SIGKILL);
    }
}

static node_event_t s_stopped(supervisor_t *self)
{
    s_cancel_timer(self);
    s_sweep_group(self);
    char what[64];
    proc_describe_status(self->last_status, what, sizeof what);
    log_info(COMPONENT, "node stopped", LF_INT("pid", self->pid), LF_STR("status", what));
    self->pid = 0;
    return EV_NONE;
}

static node_event_t s_crashed(supervisor_t *self)
{
    s_sweep_group(self);
    bool spawned = self->pid > 0;
    if (spawned) {
        char what[64];
        proc_describe_status(self->last_status, what, sizeof what);
        log_warn(COMPONENT, "node exited on its own", LF_INT("pid", self->pid),
                 LF_STR("status", what));
    }
    self->pid = 0;
    if (self->opts.on_exit != NULL &&
        self->opts.on_exit(self->last_status, self->opts.arg) == SUP_HOLD)
        return EV_HOLD;
    if (!self->opts.restart_on_failure)
        return EV_GIVE_UP;
    if (self->restarts >= self->opts.max_restarts)
        return EV_GIVE_UP;
    return EV_RETRY;
}

uint64_t supervisor_backoff_ms(int64_t restarts)
{
    uint64_t delay = SUPERVISOR_BACKOFF_MIN_MS;
    for (int64_t i = 0; i < restarts && delay < SUPERVISOR_BACKOFF_MAX_MS; i++)
        delay *= 2;
    return delay < SUPERVISOR_BACKOFF_MAX_MS ? delay : SUPERVISOR_BACKOFF_MAX_MS;
}

/* The backoff counts from the last start: a node that ran for an hour is restarted at once, a
 * node that crashes at start waits 1 s, 2 s, 4 s ... up to the cap. */
static node_event_t s_arm_backoff(supervisor_t *self)
{
    uint64_t due = self->started_ms + supervisor_backoff_ms(self->restarts);
    uint64_t now = s_now_ms();
    uint64_t delay = due > now ? due - now : 0;
    self->restarts++;
    self->restarts_total++;
    log_info(COMPONENT, "restarting node after backoff", LF_INT("delay_ms", (long long)delay),
             LF_INT("restart", self->restarts), LF_INT("max", self->opts.max_restarts));
    s_arm_timer(self, delay);
    return EV_NONE;
}

static node_event_t s_gave_up(supervisor_t *self)
{
    if (self->opts.restart_on_failure)
        log_error(COMPONENT, "node failed: restarts exhausted; it stays down until started again",
                  LF_INT("restarts", self->restarts));
    else
        log_error(COMPONENT, "node exited and DAEMON_RESTART_ON_FAILURE is false; not restarting");
    return EV_NONE;
}

supervisor_t *supervisor_new(zloop_t *loop, const supervisor_opts_t *opts)
{
    supervisor_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->loop = loop;
    self->opts = *opts;
    self->state = NODE_STOPPED;
    self->timer_id = -1;
    return self;
}

void supervisor_destroy(supervisor_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    supervisor_t *self = *self_p;
    s_cancel_timer(self);
    free(self);
    *self_p = NULL;
}

void supervisor_start(supervisor_t *self)
{
    s_fire(self, EV_START);
}

void supervisor_stop(supervisor_t *self)
{
    s_fire(self, EV_STOP);
}

void supervisor_reap(supervisor_t *self)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            break;
        supervisor_child_exited(self, pid, status);
    }
}

bool supervisor_child_exited(supervisor_t *self, pid_t pid, int status)
{
    if (pid <= 0 || pid != self->pid)
        return false;
    self->last_status = status;
    self->has_exited = true;
    s_fire(self, EV_EXITED);
    return true;
}

void supervisor_forward(supervisor_t *self, int sig)
{
    if (self->pid > 0)
        proc_signal_group(self->pid, sig);
}

void supervisor_set_healthy(supervisor_t *self, bool healthy)
{
    if (!healthy || self->state != NODE_RUNNING) {
        self->healthy_since = 0;
        return;
    }
    uint64_t now = s_now_ms();
    if (self->healthy_since == 0)
        self->healthy_since = now;
    if (self->restarts > 0 && now - self->healthy_since >= self->opts.healthy_reset_ms) {
        log_info(COMPONENT, "node healthy again; restart count reset",
                 LF_INT("restarts", self->restarts));
        self->restarts = 0;
    }
}

int64_t supervisor_restarts(const supervisor_t *self)
{
    return self->restarts;
}

int64_t supervisor_restarts_total(const supervisor_t *self)
{
    return self->restarts_total;
}

uint64_t supervisor_uptime_ms(const supervisor_t *self)
{
    return self->state == NODE_RUNNING ? s_now_ms() - self->started_ms : 0;
}

bool supervisor_has_exited(const supervisor_t *self)
{
    return self->has_exited;
}

node_state_t supervisor_state(const supervisor_t *self)
{
    return self->state;
}

pid_t supervisor_pid(const supervisor_t *self)
{
    return self->pid;
}

int supervisor_last_status(const supervisor_t *self)
{
    return self->last_status;
}
