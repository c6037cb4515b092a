/* agent: the state of a running agent, shared by runner.c (the loop, the node, control) and
 * upgrade.c (the upgrade pipeline). Internal to `wemixvisor run`; nothing else includes it. */
#ifndef WV_AGENT_H
#define WV_AGENT_H

#include "config.h"
#include "control.h"
#include "gate.h"
#include "gossip.h"
#include "health.h"
#include "httpserv.h"
#include "journal.h"
#include "layout.h"
#include "logsink.h"
#include "preflight.h"
#include "supervisor.h"
#include "upgrade_info.h"
#include "watcher.h"
#include "worker.h"

#include <czmq.h>
#include <stdbool.h>
#include <sys/stat.h>

#define AGENT_VERSION_MAX 64
#define UPGRADE_SHA256_HEX 64   /* hex digits of a sha256 */
#define UPGRADE_BIN_KEY_MAX 160 /* device, inode, size, mtime and ctime of a binary, as text */

/* The steps of an upgrade, in order; each is written to the journal before it starts. */
typedef enum {
    STEP_NONE = 0,
    STEP_READY,      /* binary present; waiting for the height */
    STEP_STOPPING,   /* the old node is being stopped */
    STEP_BACKING_UP, /* the data dir is being archived */
    STEP_HOOKS,      /* pre-upgrade scripts */
    STEP_SWITCHING,  /* `current` moves to the new binary */
    STEP_STARTING,   /* the new node is being started */
    STEP_VERIFYING,  /* the new node must pass the upgrade height */
    STEP_RESTORING,  /* a failure after the stop: data and binary go back */
    STEP_COUNT
} upgrade_step_t;

typedef struct runner runner_t;

/* hooks.h: the pre-upgrade scripts are over (why NULL) or failed for why. */
typedef void(hooks_done_fn)(runner_t *self, const char *why);

struct runner {
    const wv_config_t *cfg;
    layout_t layout;
    zloop_t *loop;
    supervisor_t *sup;
    watcher_t *watcher;
    journal_t *journal;
    char binary[PATH_MAX];   /* current/bin/$DAEMON_NAME */
    char self_exe[PATH_MAX]; /* this wemixvisor, for `wemixvisor backup ...` workers */

    int sigfd;
    zmq_pollitem_t sig_item;
    int kick_timer;    /* pending reconcile, -1 if none */
    int restart_timer; /* restart delay after a switch, -1 if none */
    int tick_timer;    /* every DAEMON_POLL_INTERVAL */
    int fast_timer;    /* every UPGRADE_FAST_PROBE_MS: near an upgrade, read the height now */

    /* the upgrade in hand (upgrade.c) */
    bool has_pending;
    upgrade_info_t pending;
    bool pending_now;    /* from data/upgrade-info.json: due at once */
    bool missing_logged; /* the "binary missing" error was said */
    /* the upgrade binary as verified when the upgrade became ready (upgrade.c): the one switched
     * to; a file removed or replaced since is not */
    char bin_sha256[UPGRADE_SHA256_HEX + 1];      /* its sha256 then, "" before */
    char bin_sha256_of[UPGRADE_NAME_MAX + 1];     /* the upgrade it was verified for */
    char bin_seen_key[UPGRADE_BIN_KEY_MAX];       /* identity of the file hashed last... */
    char bin_seen_sha256[UPGRADE_SHA256_HEX + 1]; /* ...and its sha256 */
    const char *bin_problem; /* why the file in place is not the verified one, NULL if it is */
    char bin_said[UPGRADE_SHA256_HEX + 1]; /* the file's sha256 when bin_problem was said */
    bool held_logged;                      /* the "node held" error was said */
    bool space_logged;                     /* the backup dir's problem was said: */
    const char *backup_waits;              /* what the backup waits for (status) */
    preflight_t preflight;                 /* the data dir's size, off the loop (preflight.h) */
    upgrade_step_t step;
    worker_t *worker;          /* backup, hook or restore in progress */
    hooks_done_fn *hooks_done; /* hooks.h: who hears the end of the scripts */
    int hook_index;            /* 0: custom script, 1: upgrades/<name>/pre-upgrade */
    int hook_attempt;
    int step_timer;         /* hook retry backoff or verification deadline, -1 if none */
    uint64_t prepare_after; /* no new download before this (monotonic ms) */
    char failure[512];      /* why the upgrade in hand failed */
    int64_t last_saved_height;
    uint64_t last_height_save_ms;

    bool want_running;         /* false after `wemixvisor stop` */
    uint64_t start_held_until; /* a held start is tried again from then (monotonic ms) */
    bool shutting_down;
    bool done; /* leave the loop */
    int exit_code;

    int lock_fd;        /* agent.lock, held for the agent's life */
    logsink_t *logsink; /* DAEMON_LOG_FILE, or NULL: output passes through */
    zactor_t *probe;    /* asks the node's RPC for its height */
    health_t health;
    control_t *control;              /* agent.sock */
    httpserv_t *metrics;             /* WEMIXVISOR_METRICS_ADDR, or NULL */
    char version[AGENT_VERSION_MAX]; /* of the binary `current` points at, "" if unknown */
    worker_t *version_worker;        /* `<binary> version` (or --version, -v) in progress */
    int version_flag;                /* which of those it is */
    struct stat version_of;          /* the binary that version was read from */
    gossip_t *gossip;                /* the validators' gossip, NULL when not configured */
    gate_t gate;                     /* what the quorum says of the upgrade in hand (gate.c) */
};

/* Asks for a reconcile on the next loop turn (runner.c). */
void runner_kick(runner_t *self);
/* Starts the node after DAEMON_RESTART_DELAY (once; later calls while waiting do nothing). */
void runner_start_later(runner_t *self);

/* upgrade.c */
/* Takes a new upgrade-info (from data/ when now is true: due at once; else a scheduled one). */
void upgrade_offer(runner_t *self, const upgrade_info_t *info, bool now);
/* One step of the pipeline if one is due; true while the pipeline owns the node. */
bool upgrade_reconcile(runner_t *self);
/* Reads the schedule (data/upgrades/) and offers the next upgrade. */
void upgrade_scan_schedule(runner_t *self);
/* The node's height moved (from the probe). */
void upgrade_on_height(runner_t *self, int64_t height);
/* Does the upgrade in hand keep the node from being restarted (it is due, or under way)? A node
 * that exits otherwise is restarted with the usual backoff and limits. */
bool upgrade_holds_node(runner_t *self);
/* Before a start of the node: SUP_HOLD when an upgrade is due and the pipeline must run. */
sup_decision_t upgrade_before_start(runner_t *self);
/* The node exited by itself while the pipeline may care. */
void upgrade_on_node_exit(runner_t *self);
/* At startup: settles an upgrade an earlier agent left in the middle. */
int upgrade_resume(runner_t *self, wv_err_t *err);
/* The reaper's hand-over for a worker's child. */
bool upgrade_child_exited(runner_t *self, pid_t pid, int status);
const char *upgrade_step_name(upgrade_step_t step);
/* True when the height must be read often: near an upgrade height, or verifying one. */
bool upgrade_watching_height(const runner_t *self);
#define UPGRADE_NEAR_BLOCKS 20 /* this close to height - 1, the height is read fast */
#define UPGRADE_FAST_PROBE_MS 20
void upgrade_close(runner_t *self);

#endif
