/* supervisor: the node's lifecycle as a state machine on the agent's event loop.
 * It starts, stops (SIGTERM, grace, SIGQUIT, 5 s, SIGKILL to the whole group), reaps and restarts
 * the node. It does not know about upgrades: the owner decides through the hooks below. */
#ifndef WV_SUPERVISOR_H
#define WV_SUPERVISOR_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SUPERVISOR_QUIT_WAIT_MS 5000    /* SIGQUIT to SIGKILL */
#define SUPERVISOR_BACKOFF_MIN_MS 1000  /* at least this between two starts */
#define SUPERVISOR_BACKOFF_MAX_MS 60000 /* cap of the exponential backoff */

typedef enum {
    NODE_STOPPED = 0,
    NODE_STARTING,
    NODE_RUNNING,
    NODE_STOPPING,
    NODE_CRASHED,
    NODE_BACKOFF,
    NODE_FAILED,
    NODE_STATE_COUNT
} node_state_t;

typedef enum {
    EV_START = 0,    /* the owner wants the node running */
    EV_STOP,         /* the owner wants the node stopped */
    EV_SPAWNED,      /* the process was started */
    EV_SPAWN_FAILED, /* it could not be started */
    EV_HOLD,         /* the owner's hook asked not to start / not to restart */
    EV_EXITED,       /* the node's process ended */
    EV_TIMEOUT,      /* the current timer fired (stop escalation or backoff) */
    EV_RETRY,        /* the restart policy allows another start */
    EV_GIVE_UP,      /* the restart policy is spent */
    EV_NONE,
    EV_COUNT = EV_NONE
} node_event_t;

typedef struct supervisor supervisor_t;

/* Decisions of the owner's hooks. */
typedef enum { SUP_PROCEED = 0, SUP_HOLD } sup_decision_t;

typedef struct {
    const char *binary;         /* path started each time (resolved through `current` then) */
    char *const *args;          /* node arguments, without argv[0]; NULL-terminated */
    int out_fd;                 /* node's stdout/stderr, or -1 to inherit */
    uint64_t shutdown_grace_ms; /* SIGTERM to SIGQUIT */
    bool restart_on_failure;    /* restart after an exit nobody asked for */
    int64_t max_restarts;       /* failed after this many restarts in a row */
    uint64_t healthy_reset_ms;  /* healthy this long resets the restart count */
    /* Called before every start; SUP_HOLD keeps the node stopped (e.g. an upgrade is due). */
    sup_decision_t (*before_start)(void *arg);
    /* Called when the node exits without being asked to; SUP_HOLD: no restart, stay stopped. */
    sup_decision_t (*on_exit)(int status, void *arg);
    /* Called on every state change. */
    void (*on_state)(node_state_t from, node_state_t to, void *arg);
    void *arg;
} supervisor_opts_t;

supervisor_t *supervisor_new(zloop_t *loop, const supervisor_opts_t *opts);
void supervisor_destroy(supervisor_t **self_p);

void supervisor_start(supervisor_t *self);
void supervisor_stop(supervisor_t *self);

/* Reaps every exited child (waitpid loop); call on SIGCHLD when the node is the only child. */
void supervisor_reap(supervisor_t *self);
/* For an owner that reaps itself: true if pid was the node (its exit is then handled). */
bool supervisor_child_exited(supervisor_t *self, pid_t pid, int status);

/* Forwards a signal to the node's process group, if it runs. */
void supervisor_forward(supervisor_t *self, int sig);

/* The owner's judgement of the node's health, after each check. Healthy for healthy_reset_ms
 * in a row resets the count of restarts (and so the backoff). */
void supervisor_set_healthy(supervisor_t *self, bool healthy);

node_state_t supervisor_state(const supervisor_t *self);
/* Restarts in a row (since the node was last healthy long enough), and over the agent's life. */
int64_t supervisor_restarts(const supervisor_t *self);
int64_t supervisor_restarts_total(const supervisor_t *self);
/* Milliseconds since the node was started, 0 when it is not running. */
uint64_t supervisor_uptime_ms(const supervisor_t *self);
/* Whether the node has exited at least once; then supervisor_last_status() is its wait status
 * (-1 if it could not be started at all). */
bool supervisor_has_exited(const supervisor_t *self);
/* The delay before restart number `restarts` + 1, counted from the last start. */
uint64_t supervisor_backoff_ms(int64_t restarts);
pid_t supervisor_pid(const supervisor_t *self);
int supervisor_last_status(const supervisor_t *self);
const char *supervisor_state_name(node_state_t state);

#endif
