/* plan_check: the validation of a new plan as a whole — its shape, every upgrade's name, height,
 * source (URLs with checksums, or a local binary) and mode, against each other, the journal, the
 * chain's height and what is already scheduled. Every problem is collected, so that one
 * fix-and-retry round is enough. Used by `wemixvisor plan add` (plan.c). */
#ifndef WV_PLAN_CHECK_H
#define WV_PLAN_CHECK_H

#include "config.h"
#include "err.h"
#include "layout.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Every problem found in a plan. */
typedef struct {
    wv_err_t *items;
    size_t count;
    size_t cap;
    bool oom; /* a problem could not be recorded: the list is incomplete */
} plan_problems_t;

/* Records one problem (a message that names the upgrade and what to change). */
void plan_problem(plan_problems_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void plan_problems_free(plan_problems_t *p);

/* Checks doc (a JSON object) and adds every problem to p. -1 only when the checks themselves
 * cannot run (the journal or the schedule cannot be read: err). */
int plan_check(const wv_config_t *cfg, const layout_t *l, json_t *doc, plan_problems_t *p,
               wv_err_t *err);

#endif
