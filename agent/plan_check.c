/* plan_check: the validation of a new plan as a whole (see plan_check.h). */
#include "plan_check.h"

#include "download.h"
#include "journal.h"
#include "plan.h"
#include "schedule.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROBLEMS_INIT 16

static bool s_same_name(json_t *up, const char *name)
{
    const char *other = json_string_value(json_object_get(up, "name"));
    return other != NULL && strcmp(other, name) == 0;
}

void plan_problem(plan_problems_t *p, const char *fmt, ...)
{
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : PROBLEMS_INIT;
        wv_err_t *grown = realloc(p->items, ncap * sizeof *grown);
        if (grown == NULL) {
            p->oom = true;
            return;
        }
        p->items = grown;
        p->cap = ncap;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->items[p->count++].msg, WV_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* What the validation of one upgrade needs to know about the world and the earlier upgrades. */
typedef struct {
    const wv_config_t *cfg;
    const journal_t *journal;
    int64_t current;       /* the chain's height */
    const char *source;    /* where `current` comes from */
    scheduled_t *sched;    /* upgrades already scheduled */
    size_t nsched;         /* how many */
    json_t *ups;           /* the plan's upgrades */
    int64_t prev_height;   /* the last valid height before this upgrade, 0 if none */
    const char *prev_name; /* its upgrade's name */
} check_ctx_t;

static void s_check_info(check_ctx_t *c, plan_problems_t *p, const char *who, json_t *info)
{
    if (!json_is_object(info)) {
        plan_problem(p, "%s: \"info\" must be an object {\"binaries\": {\"%s\": URL}}", who,
                     download_os_arch());
        return;
    }
    char *text = json_dumps(info, JSON_COMPACT);
    char url[sizeof(((download_ref_t *)0)->url)];
    download_ref_t ref;
    wv_err_t err;
    if (text == NULL) {
        p->oom = true;
    } else if (download_pick_url(text, download_os_arch(), url, sizeof url, &err) != 0) {
        plan_problem(p, "%s: %s; add a URL for \"%s\" or \"any\" under \"binaries\"", who, err.msg,
                     download_os_arch());
    } else if (download_parse_ref(url, &ref, &err) != 0) {
        plan_problem(p, "%s: %s; fix the URL", who, err.msg);
    } else if (ref.kind == DIGEST_NONE && !c->cfg->unsafe_skip_checksum) {
        plan_problem(p,
                     "%s: the URL %s has no checksum; append ?checksum=sha256:<hex> (or set "
                     "UNSAFE_SKIP_CHECKSUM=true, not recommended)",
                     who, url);
    }
    free(text);
}

static void s_check_binary(plan_problems_t *p, const char *who, json_t *binary)
{
    const char *path = json_string_value(binary);
    struct stat st;
    if (path == NULL || path[0] != '/')
        plan_problem(p, "%s: \"binary\" must be an absolute path to the node binary", who);
    else if (stat(path, &st) != 0)
        plan_problem(p, "%s: binary %s: %s; give the path to the new node binary", who, path,
                     strerror(errno));
    else if (!S_ISREG(st.st_mode))
        plan_problem(p, "%s: binary %s is not a regular file; give the node binary itself", who,
                     path);
}

/* The name of upgrade i: valid, unique in the plan, never applied or failed, not scheduled. */
static void s_check_name(check_ctx_t *c, plan_problems_t *p, const char *who, size_t i,
                         json_t *jname)
{
    const char *name = json_string_value(jname);
    wv_err_t err;
    if (name == NULL) {
        plan_problem(p, "%s: \"name\" is missing or not a string; give e.g. \"v2.0.0\"", who);
        return;
    }
    if (upgrade_name_check(name, &err) != 0) {
        plan_problem(p, "%s: %s", who, err.msg);
        return;
    }
    for (size_t j = 0; j < i; j++) {
        if (s_same_name(json_array_get(c->ups, j), name)) {
            plan_problem(p,
                         "%s: the name is used by upgrade #%zu too; give each upgrade its own name",
                         who, j + 1);
            break;
        }
    }
    if (journal_applied(c->journal, name))
        plan_problem(p, "%s: already applied (in the journal); give the new release a new name",
                     who);
    if (journal_failed(c->journal, name))
        plan_problem(p, "%s: failed before (in the journal); give the fixed release a new name",
                     who);
    for (size_t j = 0; j < c->nsched; j++) {
        if (strcmp(c->sched[j].info.name, name) == 0)
            plan_problem(p,
                         "%s: already scheduled at height %lld (%s); cancel it first (wemixvisor "
                         "upgrade cancel %s) or leave it out of the plan",
                         who, (long long)c->sched[j].info.height, c->sched[j].path, name);
    }
}

static void s_check_height(check_ctx_t *c, plan_problems_t *p, const char *who, json_t *jheight)
{
    if (!json_is_integer(jheight) || json_integer_value(jheight) < 1) {
        plan_problem(
            p, "%s: \"height\" must be an integer from 1 (the first block of the new binary)", who);
        return;
    }
    int64_t height = (int64_t)json_integer_value(jheight);
    if (height - 1 <= c->current)
        plan_problem(
            p,
            "%s: height %lld is too low: the chain is at block %lld (%s) and the node must "
            "stop at block height - 1; use %lld or higher",
            who, (long long)height, (long long)c->current, c->source,
            c->current <= INT64_MAX - 2 ? (long long)c->current + 2 : (long long)INT64_MAX);
    if (c->prev_height > 0 && height <= c->prev_height)
        plan_problem(p,
                     "%s: height %lld is not above %lld of upgrade %s before it; heights must "
                     "strictly increase in plan order",
                     who, (long long)height, (long long)c->prev_height, c->prev_name);
    for (size_t j = 0; j < c->nsched; j++) {
        if (c->sched[j].info.height == height)
            plan_problem(p,
                         "%s: height %lld already has upgrade %s (%s); one upgrade per height: "
                         "choose another height or cancel that one",
                         who, (long long)height, c->sched[j].info.name, c->sched[j].path);
    }
    c->prev_height = height;
}

static void s_check_upgrade(check_ctx_t *c, plan_problems_t *p, size_t i)
{
    json_t *up = json_array_get(c->ups, i);
    char who[UPGRADE_NAME_MAX + 64];
    const char *name = json_string_value(json_object_get(up, "name"));
    snprintf(who, sizeof who, "upgrade #%zu (%s)", i + 1, name != NULL ? name : "no name");
    if (!json_is_object(up)) {
        plan_problem(p, "%s: must be an object {\"name\", \"height\", \"info\" | \"binary\"}", who);
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach(up, key, value)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "height") != 0 && strcmp(key, "info") != 0 &&
            strcmp(key, "binary") != 0 && strcmp(key, "mode") != 0)
            plan_problem(p, "%s: unknown key \"%s\"; the keys are name, height, info, binary, mode",
                         who, key);
    }
    s_check_name(c, p, who, i, json_object_get(up, "name"));
    s_check_height(c, p, who, json_object_get(up, "height"));
    c->prev_name = name != NULL ? name : "?";
    json_t *info = json_object_get(up, "info"), *binary = json_object_get(up, "binary");
    if (info != NULL && binary != NULL)
        plan_problem(p, "%s: has both \"info\" and \"binary\"; keep exactly one", who);
    else if (info == NULL && binary == NULL)
        plan_problem(p, "%s: give \"info\" (URLs to download) or \"binary\" (a local path)", who);
    else if (info != NULL)
        s_check_info(c, p, who, info);
    else
        s_check_binary(p, who, binary);
    json_t *mode = json_object_get(up, "mode");
    const char *m = json_string_value(mode);
    if (mode != NULL && (m == NULL || (strcmp(m, "at-height") != 0 && strcmp(m, "rolling") != 0)))
        plan_problem(p, "%s: \"mode\" must be \"at-height\" (the default) or \"rolling\"", who);
}

int plan_check(const wv_config_t *cfg, const layout_t *l, json_t *doc, plan_problems_t *p,
               wv_err_t *err)
{
    json_t *jname = json_object_get(doc, "name"), *ups = json_object_get(doc, "upgrades");
    wv_err_t why;
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "upgrades") != 0)
            plan_problem(p, "plan: unknown key \"%s\"; a plan has \"name\" and \"upgrades\"", key);
    }
    if (!json_is_string(jname))
        plan_problem(p, "plan: \"name\" is missing or not a string; give the plan a name");
    else if (upgrade_name_check(json_string_value(jname), &why) != 0)
        plan_problem(p, "plan name: %s", why.msg);
    if (!json_is_array(ups) || json_array_size(ups) == 0) {
        plan_problem(p, "plan: \"upgrades\" must be a non-empty array of upgrades");
        return 0;
    }
    if (json_array_size(ups) > PLAN_MAX_UPGRADES)
        plan_problem(p, "plan: %zu upgrades; at most %d per plan: split it", json_array_size(ups),
                     PLAN_MAX_UPGRADES);

    check_ctx_t c = {.cfg = cfg, .ups = ups};
    journal_t *journal = journal_load(l->state, err);
    if (journal == NULL)
        return -1;
    if (schedule_list(l, &c.sched, &c.nsched, err) != 0) {
        journal_destroy(&journal);
        return -1;
    }
    c.journal = journal;
    c.current = schedule_current_height(cfg, journal, "wemixvisor plan add", &c.source);
    for (size_t i = 0; i < json_array_size(ups) && i < PLAN_MAX_UPGRADES; i++)
        s_check_upgrade(&c, p, i);
    schedule_free(c.sched, c.nsched);
    journal_destroy(&journal);
    return 0;
}

void plan_problems_free(plan_problems_t *p)
{
    free(p->items);
    *p = (plan_problems_t){0};
}
