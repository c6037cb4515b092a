/* preflight: can the backup before an upgrade be written, checked before the node is stopped — a
 * writable backup dir with room for the data dir (+5 %). The agent's loop never walks the data
 * dir (millions of files take minutes, and the node must stop at height - 1): a child process,
 * `wemixvisor backup size`, measures it; the last figure and its time are kept, refreshed at most
 * every PREFLIGHT_REFRESH_MS while an upgrade is ready, and compared with one statvfs of the
 * backup dir on every check. Not the backup itself (`wemixvisor backup create` checks the room
 * again, and exits BACKUP_EXIT_NO_ROOM without it). Internal to `wemixvisor run`. */
#ifndef WV_PREFLIGHT_H
#define WV_PREFLIGHT_H

#include "err.h"
#include "worker.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct runner;

#define PREFLIGHT_REFRESH_MS 60000 /* a new measurement of the data dir at most this often */

typedef struct {
    worker_t *worker;    /* `backup size` in progress, NULL if none */
    uint64_t started_ms; /* when the last one started (monotonic ms), 0: never */
    bool known;          /* a measurement has finished: */
    uint64_t bytes;      /* ...its result */
    uint64_t at_ms;      /* ...and when it started: the figure is at least this old */
    bool short_known;    /* a backup did not fit: */
    uint64_t short_free; /* ...with this many bytes free after it; more are needed */
} preflight_t;

/* Starts a measurement of the data dir unless one runs or the last started less than
 * PREFLIGHT_REFRESH_MS ago; its end kicks the runner. */
void preflight_refresh(struct runner *self);

/* May the node be stopped for the backup now? Cheap. Sets self->backup_waits (status's
 * waiting_for) and says each new problem once (self->space_logged). Without a figure yet, an
 * upgrade that cannot wait goes on (urgent: due at its height, where the node must stop at
 * height - 1, or the node is down already and every minute is downtime), and so does one whose
 * measurement failed: the backup checks the room itself. Others (a running node and no height to
 * meet) wait for the measurement in progress. node_down chooses the messages. */
bool preflight_ok(struct runner *self, bool urgent, bool node_down);

/* The backup failed; no_room: it said so (BACKUP_EXIT_NO_ROOM). True when the upgrade must wait
 * for a writable backup dir or for more room than is free now (backup_waits says which; err says
 * the figures and what to do); false when it failed for another reason. */
bool preflight_backup_failed(struct runner *self, bool no_room, wv_err_t *err);

/* The last figure (for status): false if none; age_ms is how old it is. */
bool preflight_data_size(const struct runner *self, uint64_t *bytes, uint64_t *age_ms);

/* The backup starts: a measurement in progress is stopped (the backup measures the data itself,
 * and two walks would compete for the disk); the last figure stays. */
void preflight_stop(struct runner *self);

/* The upgrade in hand ended: a measurement in progress is stopped, and everything forgotten. */
void preflight_forget(struct runner *self);

/* The reaper's hand-over: true if pid was the measurement's. */
bool preflight_child_exited(struct runner *self, pid_t pid, int status);

#endif
