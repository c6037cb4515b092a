/* agentlock: one agent per DAEMON_HOME, and a record of the node it runs.
 * wemixvisor/agent.lock is flock()ed for the agent's life and holds its pid; wemixvisor/node.pid
 * names the running node (pid and kernel start time) so that a later agent finds a node left
 * behind, and stops such a node before a new one starts. */
#ifndef WV_AGENTLOCK_H
#define WV_AGENTLOCK_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Takes the lock of the home whose wemixvisor/ directory is root. Returns the lock's fd (keep it
 * open for the agent's life), or -1: another agent holds it (err names its pid), or an error. */
int agentlock_acquire(const char *root, wv_err_t *err);

/* Is an agent running for root? If so, *pid is its pid (0 if unknown). */
bool agentlock_running(const char *root, pid_t *pid);

/* Records the node's pid (with its start time) atomically; clears the record. */
int nodepid_write(const char *root, pid_t pid, wv_err_t *err);
void nodepid_clear(const char *root);

/* The node recorded in node.pid if that very process (same pid, same start time) is still alive
 * (not a zombie); 0 otherwise. */
pid_t nodepid_alive(const char *root);

/* Stops a node left running by an earlier agent (recorded in node.pid): SIGTERM to its process
 * group, grace_ms, SIGQUIT, quit_ms, SIGKILL; then whatever is left of the group. Blocks (it
 * runs before the agent's loop starts). 0 when nothing is left; -1 with err otherwise. */
int agentlock_stop_orphan(const char *root, uint64_t grace_ms, uint64_t quit_ms, wv_err_t *err);

/* The kernel start time of a process (clock ticks since boot), 0 if it does not exist or is a
 * zombie. */
uint64_t proc_start_time(pid_t pid);

#endif
