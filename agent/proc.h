/* proc: starting child processes the way a supervisor needs them.
 * Each child gets its own process group, a clean signal mask and default dispositions; this
 * module never waits in a loop on its own except in proc_run_capture(), which is for short tools.
 */
#ifndef WV_PROC_H
#define WV_PROC_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Starts path with argv (argv[0] included, NULL-terminated) in a new process group whose id is
 * the child's pid; a failed exec is reported here (err), not as an exit of the child. stdout and
 * stderr go to out_fd when it is >= 0, else are inherited. envp NULL means this process's
 * environment. Returns the pid, or -1 with err. */
pid_t proc_spawn(const char *path, char *const argv[], char *const envp[], int out_fd,
                 wv_err_t *err);

/* Sends sig to the whole process group of the child `pgid`; 0 if delivered or already gone. */
int proc_signal_group(pid_t pgid, int sig);

/* Describes a wait status: "exit code 3", "killed by SIGKILL". */
void proc_describe_status(int status, char *buf, size_t size);

/* Runs path with argv, waits at most timeout_ms, captures at most out_size-1 bytes of its
 * stdout+stderr into out (NUL-terminated). Kills the group on time-out. Returns the exit code
 * (0..255), or -1 with err (failed to start, killed, timed out). */
int proc_run_capture(const char *path, char *const argv[], uint64_t timeout_ms, char *out,
                     size_t out_size, wv_err_t *err);

/* The signals the agent takes for itself (blocked and read through a signalfd); children get
 * them unblocked and at their default disposition. */
void proc_agent_sigset(sigset_t *set);
/* The umask children (the node, hooks, workers) start with: the one the operator gave the agent,
 * while the agent itself runs under a stricter one. */
void proc_set_child_umask(mode_t mask);

#endif
