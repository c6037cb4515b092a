/* watcher: notices a new upgrade-info.json and hands over its parsed content.
 * inotify on the directory is the fast path; polling every DAEMON_POLL_INTERVAL is the fallback
 * (and, in auto mode, a safety net that costs one stat). It never switches anything itself. */
#ifndef WV_WATCHER_H
#define WV_WATCHER_H

#include "config.h"
#include "upgrade_info.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define WATCHER_RETRY_MS 100   /* re-read of a file that did not parse (maybe half-written) */
#define WATCHER_SETTLE_MS 1000 /* a file unchanged this long that does not parse is invalid */

typedef struct watcher watcher_t;

/* Called with each new valid content of the file (not again for the same bytes). */
typedef void(watcher_fn)(const upgrade_info_t *info, void *arg);

watcher_t *watcher_new(zloop_t *loop, const char *path, watch_mode_t mode, uint64_t poll_ms,
                       watcher_fn *fn, void *arg);
void watcher_destroy(watcher_t **self_p);

/* Looks at the file now (as if an event had come). */
void watcher_check(watcher_t *self);

/* Forgets the last content reported, so that the same file is reported again. */
void watcher_forget(watcher_t *self);

/* True while inotify is in use (false: polling only). */
bool watcher_inotify(const watcher_t *self);

#endif
