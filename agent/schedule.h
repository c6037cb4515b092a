/* schedule: upgrades planned at a height, as data/upgrades/<height>/upgrade-info.json.
 * Reads, writes and removes those files; it decides nothing about when to switch. */
#ifndef WV_SCHEDULE_H
#define WV_SCHEDULE_H

#include "err.h"
#include "journal.h"
#include "layout.h"
#include "upgrade_info.h"

#include <stdbool.h>
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

/* Where the chain is, to tell whether a height is still ahead: the node's RPC (DAEMON_RPC_ADDRESS),
 * else the journal's last known height, else 0. *source says which; when the node does not answer
 * a note goes to stderr, prefixed with cmd (e.g. "wemixvisor upgrade schedule"). */
int64_t schedule_current_height(const wv_config_t *cfg, const journal_t *journal, const char *cmd,
                                const char **source);

/* Copies the regular file src to upgrades/<name>/bin/$DAEMON_NAME (0755), path in dst. An
 * identical file already there is kept (*copied false); a different one is refused. */
int schedule_install_binary(const layout_t *l, const char *name, const char *src, char *dst,
                            size_t size, bool *copied, wv_err_t *err);

/* `wemixvisor upgrade schedule|list|cancel ...` (argv after "upgrade"). Exit codes as in
 * commands.h. The current height for the "already passed" check comes from the node's RPC
 * (DAEMON_RPC_ADDRESS) or, when it does not answer, from the journal's last known height. */
int cmd_upgrade(const wv_config_t *cfg, int argc, char **argv);

#endif
