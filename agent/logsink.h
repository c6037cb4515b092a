/* logsink: the node's output, read from a pipe on the agent's loop and appended to
 * DAEMON_LOG_FILE, rotated by size (file, file.1 ... file.N; the oldest is dropped).
 * Not the agent's own log, which goes to stderr (shared/log). */
#ifndef WV_LOGSINK_H
#define WV_LOGSINK_H

#include "err.h"

#include <czmq.h>
#include <stdint.h>

#define LOGSINK_FILE_MODE 0640

typedef struct logsink logsink_t;

/* Creates the pipe and opens path for appending (creating its directory). Lines are not split:
 * a rotation happens when a write would take the file past max_bytes, at the start of that
 * write; max_files is how many rotated files are kept (1..100). */
logsink_t *logsink_new(zloop_t *loop, const char *path, uint64_t max_bytes, int max_files,
                       wv_err_t *err);

/* The write end, to become the node's stdout and stderr (it is close-on-exec in the agent). */
int logsink_fd(const logsink_t *self);

/* Rotates now (file -> file.1 -> ... -> file.N). */
int logsink_rotate(logsink_t *self, wv_err_t *err);

/* Drains what the pipe still holds, then closes everything. */
void logsink_destroy(logsink_t **self_p);

#endif
