/* hooks: the pre-upgrade scripts of the upgrade in hand, in order: COSMOVISOR_CUSTOM_PREUPGRADE,
 * then upgrades/<name>/pre-upgrade (each if present). Each runs as a worker with DAEMON_HOME,
 * DAEMON_NAME, UPGRADE_NAME, UPGRADE_HEIGHT and UPGRADE_INFO in its environment and
 * DAEMON_PREUPGRADE_TIMEOUT to finish. Exit 0 goes on to the next; 30 fails at once; any other
 * failure (a time-out included) is retried up to DAEMON_PREUPGRADE_MAX_RETRIES times, 1 s, 2 s,
 * 4 s… apart (at most 64 s), then fails. */
#ifndef WV_HOOKS_H
#define WV_HOOKS_H

#include "agent.h"

/* Runs the scripts; done is called once at the end, with why NULL when every script succeeded,
 * or the reason of the failure ("pre-upgrade script <path> exited 3"). */
void hooks_start(runner_t *self, hooks_done_fn *done);

#endif
