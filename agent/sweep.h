/* sweep: what an interrupted write left behind, removed when the agent starts.
 * Every replacement on disk is written under a temporary name and renamed into place (a journal
 * write, a download, a backup archive, a restored data dir); an agent killed in the middle leaves
 * that temporary behind. At start, under the agent lock, the sweep looks in the places those
 * writes happen and removes the temporaries whose writer is gone (their flock is free:
 * fs_temp_hold), so that work in progress of another process beside the agent (a
 * `wemixvisor prepare-upgrade`, a `backup create`) is left alone. The data dir's `.old.` and
 * `.restore.` siblings are removed only while the data dir itself exists: otherwise one of them
 * may hold the only copy of the chain data, and the operator decides. */
#ifndef WV_SWEEP_H
#define WV_SWEEP_H

#include "err.h"
#include "layout.h"

#include <stdbool.h>
#include <stddef.h>

/* Is name one of the temporary names of Wemixvisor's writers ("<x>.tmp.XXXXXX")? */
bool sweep_is_temp_name(const char *name);

/* Sweeps the layout and backup_dir (may be NULL); every removal is logged. Returns how many
 * were removed; the sweep goes on past what it cannot remove (logged as a warning). */
size_t sweep_stale_temps(const layout_t *l, const char *backup_dir);

#endif
