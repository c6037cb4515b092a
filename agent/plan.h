/* plan: batch upgrade plans — several upgrades at increasing heights, validated as a whole,
 * stored in wemixvisor/plans/<name>-<UTC time>.json and scheduled through data/upgrades/ so the
 * agent runs them with the ordinary pipeline. A failed upgrade stops the rest of its plan. */
#ifndef WV_PLAN_H
#define WV_PLAN_H

#include "config.h"
#include "err.h"
#include "layout.h"

#include <stdint.h>

#define PLAN_MAX_UPGRADES 64
#define PLAN_MAX_BYTES (1024 * 1024)

/* The agent's hand-over after an upgrade of any origin ended: when `name` belongs to a plan,
 * its status in the plan file becomes "done" or "failed" (with the reason); after a failure the
 * plan's later upgrades are unscheduled and marked "cancelled", and the plan "stopped".
 * Never fatal: problems are logged. */
void plan_upgrade_done(const layout_t *l, const char *name);
void plan_upgrade_failed(const layout_t *l, const char *name, const char *reason);

/* `wemixvisor plan add <file.json> | list [--json] | show <name> [--json] | cancel <name>`
 * (argv after "plan"). Exit codes as in commands.h. */
int cmd_plan(const wv_config_t *cfg, int argc, char **argv);

#endif
