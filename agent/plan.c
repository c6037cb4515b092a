/* plan: batch upgrade plans, validated as a whole, kept as wemixvisor/plans/<name>-<time>.json and
 * scheduled through schedule.h. It never runs an upgrade: the agent's pipeline does, then reports.
 */
#include "plan.h"
#include "plan_check.h"
#include "commands.h"
#include "download.h"
#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "schedule.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "plan"
#define PLAN_SUFFIX ".json"
#define PLAN_FILE_MODE 0644
#define PLAN_TIME_FORMAT "%Y%m%dT%H%M%SZ"
#define PLAN_TIME_MAX 32

/* Statuses of a plan and of its upgrades, as written in the plan file. */
#define ST_ACTIVE "active"       /* plan: its upgrades are scheduled */
#define ST_COMPLETED "completed" /* plan: every upgrade done */
#define ST_STOPPED "stopped"     /* plan: an upgrade failed, the later ones were cancelled */
#define ST_CANCELLED "cancelled" /* plan or upgrade: cancelled before it ran */
#define ST_SCHEDULED "scheduled" /* upgrade: waiting for its height */
#define ST_DONE "done"           /* upgrade: applied */
#define ST_FAILED "failed"       /* upgrade: failed and rolled back */

static const char s_usage[] =
    "usage: wemixvisor plan add <file.json>\n"
    "       wemixvisor plan list [--json]\n"
    "       wemixvisor plan show <name> [--json]\n"
    "       wemixvisor plan cancel <name>\n"
    "A plan is {\"name\": N, \"upgrades\": [{\"name\", \"height\", \"info\" | \"binary\", "
    "\"mode\"?}, ...]}\n";

/* One plan file as read from plans/: its path, file name and document. */
typedef struct {
    char path[PATH_MAX];
    char file[NAME_MAX + 1];
    json_t *doc;
} plan_file_t;

/* ---------------------------------------------------------------------------------------------
 * Plan files
 */

static const char *s_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

static int s_set_str(json_t *obj, const char *key, const char *value)
{
    return json_object_set_new(obj, key, json_string(value));
}

static void s_files_free(plan_file_t *files, size_t count)
{
    for (size_t i = 0; files != NULL && i < count; i++)
        json_decref(files[i].doc);
    free(files);
}

static int s_by_file(const void *a, const void *b)
{
    return strcmp(((const plan_file_t *)a)->file, ((const plan_file_t *)b)->file);
}

/* Reads one plan file; NULL (with a warning in the log) when it is not a plan. */
static json_t *s_load_doc(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL || !json_is_object(doc) || !json_is_array(json_object_get(doc, "upgrades")) ||
        !json_is_string(json_object_get(doc, "name"))) {
        log_warn(COMPONENT, "plan file skipped: not a plan; fix or remove it", LF_STR("path", path),
                 LF_STR("reason", doc == NULL ? jerr.text : "no \"name\" or \"upgrades\""));
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Every plan file in plans/, oldest file name first for each plan (names end in a UTC time). */
static int s_load_all(const layout_t *l, plan_file_t **out, size_t *count, wv_err_t *err)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(l->plans);
    if (d == NULL)
        return errno == ENOENT ? 0 : err_sys(err, "cannot read %s", l->plans);
    plan_file_t *files = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= strlen(PLAN_SUFFIX) ||
            strcmp(e->d_name + len - strlen(PLAN_SUFFIX), PLAN_SUFFIX) != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            plan_file_t *grown = realloc(files, ncap * sizeof *files);
            if (grown == NULL) {
                rc = err_set(err, "out of memory reading %s", l->plans);
                break;
            }
            files = grown;
            cap = ncap;
        }
        plan_file_t *f = &files[n];
        if (fs_join(f->path, sizeof f->path, NULL, l->plans, e->d_name, NULL) != 0)
            continue;
        snprintf(f->file, sizeof f->file, "%s", e->d_name);
        if ((f->doc = s_load_doc(f->path)) != NULL)
            n++;
    }
    closedir(d);
    if (rc != 0) {
        s_files_free(files, n);
        return -1;
    }
    if (n > 1)
        qsort(files, n, sizeof *files, s_by_file);
    *out = files;
    *count = n;
    return 0;
}

/* The newest file of plan `name`, or NULL. */
static plan_file_t *s_newest(plan_file_t *files, size_t count, const char *name)
{
    plan_file_t *found = NULL;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(s_str(files[i].doc, "name"), name) == 0)
            found = &files[i];
    }
    return found;
}

/* Replaces a plan file atomically with doc. */
static int s_save(const char *path, json_t *doc, wv_err_t *err)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t len = text != NULL ? strlen(text) : 0;
    char *file = text != NULL ? malloc(len + 2) : NULL;
    if (file == NULL) {
        free(text);
        return err_set(err, "out of memory writing %s", path);
    }
    snprintf(file, len + 2, "%s\n", text);
    free(text);
    int rc = fs_write_atomic(path, file, len + 1, PLAN_FILE_MODE, err);
    free(file);
    return rc;
}

/* The upgrade `name` in a plan's document, and its index; NULL if absent. */
static json_t *s_find_upgrade(json_t *doc, const char *name, size_t *index)
{
    json_t *ups = json_object_get(doc, "upgrades");
    for (size_t i = 0; i < json_array_size(ups); i++) {
        json_t *up = json_array_get(ups, i);
        if (strcmp(s_str(up, "name"), name) == 0) {
            *index = i;
            return up;
        }
    }
    return NULL;
}

/* The checks of plan_check, and one of plan files: no two active plans of one name. */
static int s_validate(const wv_config_t *cfg, const layout_t *l, json_t *doc, plan_problems_t *p,
                      wv_err_t *err)
{
    if (plan_check(cfg, l, doc, p, err) != 0)
        return -1;
    json_t *jname = json_object_get(doc, "name");
    plan_file_t *files;
    size_t nfiles;
    if (s_load_all(l, &files, &nfiles, err) != 0)
        return -1;
    for (size_t i = 0; json_is_string(jname) && i < nfiles; i++) {
        if (strcmp(s_str(files[i].doc, "name"), json_string_value(jname)) == 0 &&
            strcmp(s_str(files[i].doc, "status"), ST_ACTIVE) == 0)
            plan_problem(p,
                         "plan: a plan named %s is active (%s); cancel it first (wemixvisor plan "
                         "cancel %s) or choose another name",
                         json_string_value(jname), files[i].path, json_string_value(jname));
    }
    s_files_free(files, nfiles);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Scheduling a valid plan
 */

/* Removes a binary that plan add copied (and its directories, when empty). */
static void s_remove_copied(const layout_t *l, const char *name)
{
    char dir[PATH_MAX], bindir[PATH_MAX], bin[PATH_MAX];
    if (layout_upgrade_dir(l, name, dir, sizeof dir, NULL) != 0 ||
        fs_join(bindir, sizeof bindir, NULL, dir, "bin", NULL) != 0 ||
        layout_upgrade_bin(l, name, bin, sizeof bin, NULL) != 0)
        return;
    unlink(bin);
    rmdir(bindir);
    rmdir(dir);
}

/* Undoes the first n upgrades of a plan add: unschedules them, removes binaries it copied. */
static void s_undo(const layout_t *l, json_t *ups, size_t n, const bool *scheduled,
                   const bool *copied)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = s_str(json_array_get(ups, i), "name");
        wv_err_t err;
        if (scheduled[i] && schedule_cancel(l, name, &err) != 0)
            fprintf(stderr, "wemixvisor plan add: undo: %s; cancel it by hand\n", err.msg);
        if (copied[i])
            s_remove_copied(l, name);
    }
}

/* Adds "status" to the plan and its upgrades and writes plans/<name>-<UTC time>.json. */
static int s_write_new(const layout_t *l, json_t *doc, char *path, size_t size, wv_err_t *err)
{
    char stamp[PLAN_TIME_MAX], file[NAME_MAX + 1];
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof stamp, PLAN_TIME_FORMAT, &tm) == 0)
        return err_set(err, "cannot format the current time");
    if (snprintf(file, sizeof file, "%s-%s" PLAN_SUFFIX, s_str(doc, "name"), stamp) >=
            (int)sizeof file ||
        fs_join(path, size, err, l->plans, file, NULL) != 0)
        return err_set(err, "plan name %s is too long for a file name", s_str(doc, "name"));
    struct stat st;
    if (lstat(path, &st) == 0)
        return err_set(err, "%s exists already; try again in a second", path);
    json_t *ups = json_object_get(doc, "upgrades");
    int rc = s_set_str(doc, "status", ST_ACTIVE);
    for (size_t i = 0; rc == 0 && i < json_array_size(ups); i++)
        rc = s_set_str(json_array_get(ups, i), "status", ST_SCHEDULED);
    if (rc != 0)
        return err_set(err, "out of memory");
    if (fs_mkdir_p(l->plans, 0755, err) != 0)
        return -1;
    return s_save(path, doc, err);
}

/* Copies the binaries, schedules every upgrade in order, then writes the plan file; on any
 * failure undoes what it did, so that a refused plan changes nothing. */
static int s_apply(const layout_t *l, json_t *doc, char *path, size_t size, wv_err_t *err)
{
    json_t *ups = json_object_get(doc, "upgrades");
    size_t n = json_array_size(ups);
    bool *scheduled = calloc(n, sizeof *scheduled), *copied = calloc(n, sizeof *copied);
    int rc = scheduled != NULL && copied != NULL ? 0 : err_set(err, "out of memory");
    size_t i;
    for (i = 0; rc == 0 && i < n; i++) {
        json_t *up = json_array_get(ups, i);
        const char *name = s_str(up, "name");
        const char *binary = json_string_value(json_object_get(up, "binary"));
        json_t *info = json_object_get(up, "info");
        char bin[PATH_MAX];
        char *text = info != NULL ? json_dumps(info, JSON_COMPACT) : NULL;
        if (info != NULL && text == NULL)
            rc = err_set(err, "out of memory");
        else if (binary != NULL &&
                 schedule_install_binary(l, name, binary, bin, sizeof bin, &copied[i], err) != 0)
            rc = err_wrap(err, "upgrade %s", name);
        else if (schedule_add(l, name, (int64_t)json_integer_value(json_object_get(up, "height")),
                              text, json_string_value(json_object_get(up, "mode")), err) != 0)
            rc = -1;
        else
            scheduled[i] = true;
        free(text);
    }
    if (rc == 0)
        rc = s_write_new(l, doc, path, size, err);
    if (rc != 0 && scheduled != NULL && copied != NULL)
        s_undo(l, ups, i, scheduled, copied);
    free(scheduled);
    free(copied);
    return rc;
}

static void s_print_problems(const plan_problems_t *p, const char *path)
{
    fprintf(stderr, "wemixvisor plan add: %s: %zu problem%s; nothing was scheduled:\n", path,
            p->count, p->count == 1 ? "" : "s");
    for (size_t i = 0; i < p->count; i++)
        fprintf(stderr, "  %zu. %s\n", i + 1, p->items[i].msg);
    if (p->oom)
        fprintf(stderr, "  (out of memory: more problems may be missing)\n");
}

static int s_cmd_add(const wv_config_t *cfg, const layout_t *l, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "wemixvisor plan add: give exactly one argument, the plan file\n%s",
                s_usage);
        return EXIT_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    wv_err_t err;
    if (fs_read_file(argv[0], PLAN_MAX_BYTES, &text, &len, &err) != 0) {
        fprintf(stderr, "wemixvisor plan add: %s (at most %d bytes)\n", err.msg, PLAN_MAX_BYTES);
        return EXIT_FAIL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (doc == NULL || !json_is_object(doc)) {
        fprintf(stderr, "wemixvisor plan add: %s: %s%s (line %d); fix the file\n", argv[0],
                doc == NULL ? "not valid JSON: " : "not a JSON object",
                doc == NULL ? jerr.text : "", doc == NULL ? jerr.line : 1);
        json_decref(doc);
        return EXIT_FAIL;
    }
    plan_problems_t p = {0};
    int rc = EXIT_FAIL;
    char path[PATH_MAX];
    if (s_validate(cfg, l, doc, &p, &err) != 0)
        fprintf(stderr, "wemixvisor plan add: %s\n", err.msg);
    else if (p.count > 0 || p.oom)
        s_print_problems(&p, argv[0]);
    else if (s_apply(l, doc, path, sizeof path, &err) != 0) {
        fprintf(stderr, "wemixvisor plan add: %s; nothing was scheduled\n", err.msg);
    } else {
        rc = EXIT_OK;
        json_t *ups = json_object_get(doc, "upgrades");
        printf("plan %s: %zu upgrades scheduled (%s)\n", s_str(doc, "name"), json_array_size(ups),
               path);
        for (size_t i = 0; i < json_array_size(ups); i++) {
            json_t *up = json_array_get(ups, i);
            printf("  %-20lld %s\n", (long long)json_integer_value(json_object_get(up, "height")),
                   s_str(up, "name"));
        }
        log_info(COMPONENT, "plan added", LF_STR("plan", s_str(doc, "name")), LF_STR("path", path));
    }
    plan_problems_free(&p);
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * list, show, cancel
 */

/* A plan as JSON output: its document and "file"; NULL when out of memory. */
static json_t *s_summary(const plan_file_t *f)
{
    json_t *copy = json_deep_copy(f->doc);
    if (copy != NULL && json_object_set_new(copy, "file", json_string(f->path)) != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

static void s_print_table(const plan_file_t *f)
{
    const char *reason = s_str(f->doc, "reason");
    printf("plan %s: %s%s%s (%s)\n", s_str(f->doc, "name"), s_str(f->doc, "status"),
           *reason ? ": " : "", reason, f->path);
    json_t *ups = json_object_get(f->doc, "upgrades");
    for (size_t i = 0; i < json_array_size(ups); i++) {
        json_t *up = json_array_get(ups, i);
        const char *why = s_str(up, "reason");
        printf("  %-20lld %-24s %s%s%s\n",
               (long long)json_integer_value(json_object_get(up, "height")), s_str(up, "name"),
               s_str(up, "status"), *why ? ": " : "", why);
    }
}

/* Prints plans as a table or one JSON array (show: the first, as a full object). */
static int s_print(plan_file_t *files, size_t count, bool json, bool show)
{
    if (!json) {
        for (size_t i = 0; i < count; i++)
            s_print_table(&files[i]);
        if (count == 0)
            printf("no plans\n");
        return EXIT_OK;
    }
    json_t *out = show ? s_summary(&files[0]) : json_array();
    for (size_t i = 0; !show && out != NULL && i < count; i++) {
        json_t *row = s_summary(&files[i]);
        if (row == NULL || json_array_append_new(out, row) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    char *text = out != NULL ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(out);
    if (text == NULL) {
        fprintf(stderr, "wemixvisor plan: out of memory\n");
        return EXIT_FAIL;
    }
    printf("%s\n", text);
    free(text);
    return EXIT_OK;
}

/* Parses `<name>? [--json]`; want_name says whether a name is required. */
static int s_args(const char *sub, int argc, char **argv, bool want_name, const char **name,
                  bool *json)
{
    *name = NULL;
    *json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && !*json && strcmp(sub, "cancel") != 0) {
            *json = true;
        } else if (want_name && *name == NULL && argv[i][0] != '-') {
            *name = argv[i];
        } else {
            fprintf(stderr, "wemixvisor plan %s: unexpected argument \"%s\"\n%s", sub, argv[i],
                    s_usage);
            return EXIT_USAGE;
        }
    }
    if (want_name && *name == NULL) {
        fprintf(stderr, "wemixvisor plan %s: give the plan's name\n%s", sub, s_usage);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Statuses as the journal knows them: applied is "done", failed is "failed". */
static void s_refresh(json_t *doc, const journal_t *journal)
{
    json_t *ups = json_object_get(doc, "upgrades");
    for (size_t i = 0; i < json_array_size(ups); i++) {
        json_t *up = json_array_get(ups, i);
        if (journal_applied(journal, s_str(up, "name")))
            s_set_str(up, "status", ST_DONE);
        else if (journal_failed(journal, s_str(up, "name")))
            s_set_str(up, "status", ST_FAILED);
    }
}

static int s_cmd_show(const layout_t *l, int argc, char **argv, bool list)
{
    const char *sub = list ? "list" : "show", *name;
    bool json;
    wv_err_t err;
    int rc = s_args(sub, argc, argv, !list, &name, &json);
    if (rc != EXIT_OK)
        return rc;
    plan_file_t *files;
    size_t count;
    if (s_load_all(l, &files, &count, &err) != 0) {
        fprintf(stderr, "wemixvisor plan %s: %s\n", sub, err.msg);
        return EXIT_FAIL;
    }
    if (list) {
        rc = s_print(files, count, json, false);
    } else {
        plan_file_t *f = s_newest(files, count, name);
        journal_t *journal = f != NULL ? journal_load(l->state, &err) : NULL;
        if (f == NULL) {
            fprintf(stderr,
                    "wemixvisor plan show: no plan named %s in %s (see wemixvisor plan "
                    "list)\n",
                    name, l->plans);
            rc = EXIT_FAIL;
        } else if (journal == NULL) {
            fprintf(stderr, "wemixvisor plan show: warning: statuses not refreshed: %s\n", err.msg);
        } else {
            s_refresh(f->doc, journal);
        }
        journal_destroy(&journal);
        if (f != NULL)
            rc = s_print(f, 1, json, true);
    }
    s_files_free(files, count);
    return rc;
}

/* Unschedules the upgrades of a plan from index `from` that are still scheduled, and marks
 * them cancelled; returns how many could not be unscheduled. */
static size_t s_cancel_from(const layout_t *l, json_t *doc, size_t from)
{
    json_t *ups = json_object_get(doc, "upgrades");
    size_t failed = 0;
    for (size_t i = from; i < json_array_size(ups); i++) {
        json_t *up = json_array_get(ups, i);
        if (strcmp(s_str(up, "status"), ST_SCHEDULED) != 0)
            continue;
        wv_err_t err;
        if (schedule_cancel(l, s_str(up, "name"), &err) != 0) {
            log_warn(COMPONENT, "cannot unschedule a plan's upgrade; check wemixvisor upgrade list",
                     LF_STR("plan", s_str(doc, "name")), LF_STR("upgrade", s_str(up, "name")),
                     LF_STR("reason", err.msg));
            failed++;
        }
        s_set_str(up, "status", ST_CANCELLED);
    }
    return failed;
}

static int s_cmd_cancel(const layout_t *l, int argc, char **argv)
{
    const char *name;
    bool json;
    wv_err_t err;
    int rc = s_args("cancel", argc, argv, true, &name, &json);
    if (rc != EXIT_OK)
        return rc;
    plan_file_t *files;
    size_t count;
    if (s_load_all(l, &files, &count, &err) != 0) {
        fprintf(stderr, "wemixvisor plan cancel: %s\n", err.msg);
        return EXIT_FAIL;
    }
    plan_file_t *f = s_newest(files, count, name);
    rc = EXIT_FAIL;
    if (f == NULL) {
        fprintf(stderr, "wemixvisor plan cancel: no plan named %s in %s\n", name, l->plans);
    } else if (strcmp(s_str(f->doc, "status"), ST_ACTIVE) != 0) {
        fprintf(stderr, "wemixvisor plan cancel: plan %s is %s already (%s): nothing to cancel\n",
                name, s_str(f->doc, "status"), f->path);
    } else {
        size_t stuck = s_cancel_from(l, f->doc, 0);
        if (s_set_str(f->doc, "status", ST_CANCELLED) != 0 || s_save(f->path, f->doc, &err) != 0)
            fprintf(stderr, "wemixvisor plan cancel: %s\n", err.msg);
        else
            rc = stuck == 0 ? EXIT_OK : EXIT_FAIL;
        if (stuck > 0)
            fprintf(stderr,
                    "wemixvisor plan cancel: %zu upgrade%s could not be unscheduled (see the "
                    "log); check wemixvisor upgrade list\n",
                    stuck, stuck == 1 ? "" : "s");
        if (rc == EXIT_OK)
            printf("cancelled plan %s (%s)\n", name, f->path);
    }
    s_files_free(files, count);
    return rc;
}

int cmd_plan(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "wemixvisor plan: give a subcommand: add, list, show or cancel\n%s",
                s_usage);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(s_usage, stdout);
        return EXIT_OK;
    }
    wv_err_t err;
    layout_t l;
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor plan: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "add") == 0)
        return s_cmd_add(cfg, &l, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return s_cmd_show(&l, argc - 1, argv + 1, true);
    if (strcmp(argv[0], "show") == 0)
        return s_cmd_show(&l, argc - 1, argv + 1, false);
    if (strcmp(argv[0], "cancel") == 0)
        return s_cmd_cancel(&l, argc - 1, argv + 1);
    fprintf(stderr, "wemixvisor plan: unknown subcommand \"%s\"; use add, list, show or cancel\n%s",
            argv[0], s_usage);
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------------------------------------
 * The agent's hand-over
 */

/* Sets the status of `name` in the active plan that holds it; with a reason (a failure) also
 * cancels the later upgrades and stops the plan. The file is rewritten once, atomically. */
static void s_update(const layout_t *l, const char *name, const char *status, const char *reason)
{
    plan_file_t *files;
    size_t count;
    wv_err_t err;
    if (s_load_all(l, &files, &count, &err) != 0) {
        log_warn(COMPONENT, "cannot read the plans", LF_STR("upgrade", name),
                 LF_STR("reason", err.msg));
        return;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *doc = files[i].doc;
        size_t index;
        json_t *up = s_find_upgrade(doc, name, &index);
        if (up == NULL || strcmp(s_str(doc, "status"), ST_ACTIVE) != 0)
            continue;
        const char *plan = s_str(doc, "name");
        int rc = s_set_str(up, "status", status);
        if (rc == 0 && reason != NULL)
            rc = s_set_str(up, "reason", reason);
        size_t cancelled = 0, stuck = 0, done = 0;
        json_t *ups = json_object_get(doc, "upgrades");
        if (rc == 0 && reason != NULL) {
            for (size_t j = index + 1; j < json_array_size(ups); j++)
                cancelled += strcmp(s_str(json_array_get(ups, j), "status"), ST_SCHEDULED) == 0;
            stuck = s_cancel_from(l, doc, index + 1);
            char why[WV_ERR_MAX];
            snprintf(why, sizeof why, "upgrade %s failed: %s", name, reason);
            rc = s_set_str(doc, "status", ST_STOPPED) || s_set_str(doc, "reason", why);
        }
        for (size_t j = 0; j < json_array_size(ups); j++)
            done += strcmp(s_str(json_array_get(ups, j), "status"), ST_DONE) == 0;
        if (rc == 0 && reason == NULL && done == json_array_size(ups))
            rc = s_set_str(doc, "status", ST_COMPLETED);
        if (rc != 0)
            snprintf(err.msg, sizeof err.msg, "out of memory");
        if (rc != 0 || s_save(files[i].path, doc, &err) != 0) {
            log_warn(COMPONENT, "cannot update the plan file", LF_STR("plan", plan),
                     LF_STR("upgrade", name), LF_STR("path", files[i].path),
                     LF_STR("reason", err.msg));
        } else if (reason == NULL) {
            log_info(COMPONENT, "plan upgrade done", LF_STR("plan", plan), LF_STR("upgrade", name),
                     LF_STR("plan_status", s_str(doc, "status")));
        } else {
            log_warn(COMPONENT, "plan stopped: an upgrade failed, the later ones were cancelled",
                     LF_STR("plan", plan), LF_STR("upgrade", name), LF_STR("reason", reason),
                     LF_INT("cancelled", cancelled), LF_INT("not_unscheduled", stuck),
                     LF_STR("path", files[i].path));
        }
        break;
    }
    s_files_free(files, count);
}

void plan_upgrade_done(const layout_t *l, const char *name)
{
    s_update(l, name, ST_DONE, NULL);
}

void plan_upgrade_failed(const layout_t *l, const char *name, const char *reason)
{
    s_update(l, name, ST_FAILED, reason != NULL ? reason : "unknown reason");
}
