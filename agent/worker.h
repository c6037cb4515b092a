/* worker: one command run as a child process on the agent's loop — a pre-upgrade hook, a
 * backup, a restore — with its output logged line by line, a time-out, and a callback at the
 * end. The loop never waits for it. It does not reap: the owner's SIGCHLD reaper hands it the
 * exit through worker_child_exited(). */
#ifndef WV_WORKER_H
#define WV_WORKER_H

#include "err.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define WORKER_KILL_WAIT_MS 5000 /* SIGTERM to SIGKILL after a time-out */

typedef struct worker worker_t;

/* Called once when the command has ended: status is its wait status; timed_out when it was
 * killed for running past its time-out. */
typedef void(worker_fn)(int status, bool timed_out, void *arg);

/* Starts argv[0] (a path) with argv; extra_env ("K=V" strings, NULL-terminated, may be NULL) is
 * added to the agent's environment. Output lines are logged with component `name`. timeout_ms
 * 0 means none. */
worker_t *worker_start(zloop_t *loop, const char *name, char *const argv[], char *const extra_env[],
                       uint64_t timeout_ms, worker_fn *fn, void *arg, wv_err_t *err);

/* The reaper's hand-over: true if pid was this worker's (then fn has been called). */
bool worker_child_exited(worker_t *self, pid_t pid, int status);

/* The first WORKER_CAPTURE_MAX bytes of the command's output, one line per line (for commands
 * whose output is the result, such as `<node> version`). */
#define WORKER_CAPTURE_MAX 4096
const char *worker_output(const worker_t *self);

/* Kills the command's group if it still runs (the exit is then not reported) and frees. */
void worker_destroy(worker_t **self_p);

#endif
