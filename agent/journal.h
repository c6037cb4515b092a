/* journal: state.json, what the agent must remember across its own restarts.
 * For now: which upgrades were applied (so an old upgrade-info.json is never applied twice) and
 * the step an upgrade in progress had reached. Every save is atomic (temp, fsync, rename). */
#ifndef WV_JOURNAL_H
#define WV_JOURNAL_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

#define JOURNAL_MAX_BYTES (4 * 1024 * 1024)
#define JOURNAL_APPLIED_KEEP 256 /* how many applied upgrades are remembered */

typedef struct journal journal_t;

/* Loads path; a missing file is an empty journal. A corrupt one is an error that names it. */
journal_t *journal_load(const char *path, wv_err_t *err);
void journal_destroy(journal_t **self_p);

int journal_save(journal_t *self, wv_err_t *err);

/* Was the upgrade `name` applied already? */
bool journal_applied(const journal_t *self, const char *name);
/* The height `name` was applied at, 0 if it was not. */
int64_t journal_applied_height(const journal_t *self, const char *name);
/* The height of the last applied upgrade, 0 if none. */
int64_t journal_last_height(const journal_t *self);
/* Records that `name` at `height` is now current (in memory; call journal_save). */
int journal_record_applied(journal_t *self, const char *name, int64_t height, wv_err_t *err);

/* Upgrades that failed and were rolled back: never tried again by themselves. */
bool journal_failed(const journal_t *self, const char *name);
int journal_record_failed(journal_t *self, const char *name, int64_t height, const char *reason,
                          wv_err_t *err);
/* Forgets a failure, so that the upgrade may be tried again (operator's decision). */
void journal_forget_failed(journal_t *self, const char *name);

/* Details of the step in progress, kept with it (previous upgrade, backup archive, ...);
 * journal_step_str returns "" when absent. Cleared with the step. */
int journal_step_set_str(journal_t *self, const char *key, const char *value, wv_err_t *err);
const char *journal_step_str(const journal_t *self, const char *key);

/* The node's last known height (0 if never known), kept so that an agent that cannot reach its
 * node still knows where the chain was. */
int64_t journal_height(const journal_t *self);
void journal_set_height(journal_t *self, int64_t height);

/* The step of the upgrade in progress ("" when none), e.g. "switching". */
const char *journal_step(const journal_t *self);
const char *journal_step_upgrade(const journal_t *self);
int64_t journal_step_height(const journal_t *self);
/* Records the step an upgrade (name, height) has reached; a NULL or empty step clears it. */
int journal_set_step(journal_t *self, const char *upgrade, int64_t height, const char *step,
                     wv_err_t *err);

#endif
