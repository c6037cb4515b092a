/* schedule: upgrades planned at a height, as data/upgrades/<height>/upgrade-info.json.
 * Reads, writes and removes those files; it decides nothing about when to switch. */
#ifndef WV_SCHEDULE_H
#define WV_SCHEDULE_H

#include "err.h"
#include "layout.h"
#include "upgrade_info.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    upgrade_info_t info; /* name, height, info (JSON text or NULL) */
    char path[PATH_MAX]; /* its upgrade-info.json */
} scheduled_t;

/* Every valid scheduled upgrade, lowest height first. A directory whose name is not a height, or
 * whose file does not parse, or whose height differs from the directory's name, is skipped with
 * a warning in the log (never fatal: one bad file must not hide the others). */
int schedule_list(const layout_t *l, scheduled_t **items, size_t *count, wv_err_t *err);
void schedule_free(scheduled_t *items, size_t count);

/* Writes data/upgrades/<height>/upgrade-info.json atomically ({"name","height","info"?,
 * "mode"?}); refuses a name already scheduled at another height or a height already taken.
 * mode is NULL or "at-height"/"rolling". */
int schedule_add(const layout_t *l, const char *name, int64_t height, const char *info_json,
                 const char *mode, wv_err_t *err);

/* Removes the schedule of `name` (its file and directory); -1 if none. */
int schedule_cancel(const layout_t *l, const char *name, wv_err_t *err);

/* `wemixvisor upgrade schedule|list|cancel ...` (argv after "upgrade"). Exit codes as in
 * commands.h. The current height for the "already passed" check comes from the node's RPC
 * (DAEMON_RPC_ADDRESS) or, when it does not answer, from the journal's last known height. */
int cmd_upgrade(const wv_config_t *cfg, int argc, char **argv);

#endif
