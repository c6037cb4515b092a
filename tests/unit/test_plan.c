/* Unit tests of agent/plan.h: `wemixvisor plan add|list|show|cancel` and the agent's hand-over
 * (plan_upgrade_done/failed). Not tested here: the agent running the scheduled upgrades. */
#include "plan.h"
#include "commands.h"
#include "config.h"
#include "fsutil.h"
#include "journal.h"
#include "schedule.h"
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA256_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A fresh DAEMON_HOME with its layout, the node's RPC where nobody listens (so the journal's
 * height is the chain's), at block 100, and two binaries to plan with. */
typedef struct {
    union {
        tu_env_t env;
        struct {
            TU_ENV_MEMBERS;
        };
    };
    char bin_a[PATH_MAX];
    char bin_b[PATH_MAX];
} fixture_t;

typedef tu_output_t output_t;

/* The journal's last known height, and optionally an applied or a failed upgrade. */
static void s_journal(const fixture_t *fx, int64_t height, const char *applied, const char *failed)
{
    wv_err_t err = {{0}};
    journal_t *journal = journal_load(fx->l.state, &err);
    if (journal == NULL)
        fail_msg("journal_load: %s", err.msg);
    journal_set_height(journal, height);
    if ((applied != NULL && journal_record_applied(journal, applied, height, &err) != 0) ||
        (failed != NULL && journal_record_failed(journal, failed, height, "boom", &err) != 0) ||
        journal_save(journal, &err) != 0)
        fail_msg("journal: %s", err.msg);
    journal_destroy(&journal);
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    if (tu_env_setup(&fx->env) != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->bin_a, sizeof fx->bin_a, "%s/wemixd-a", fx->home);
    snprintf(fx->bin_b, sizeof fx->bin_b, "%s/wemixd-b", fx->home);
    tu_write_file(fx->bin_a, "#!/bin/sh\necho a\n", 0700);
    tu_write_file(fx->bin_b, "#!/bin/sh\necho b\n", 0700);
    *state = fx;
    s_journal(fx, 100, NULL, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    tu_env_teardown(&fx->env);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

static bool s_exists(const fixture_t *fx, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", fx->home, rel);
    return lstat(path, &st) == 0;
}

static size_t s_scheduled(const fixture_t *fx)
{
    scheduled_t *items;
    size_t count;
    wv_err_t err = {{0}};
    if (schedule_list(&fx->l, &items, &count, &err) != 0)
        fail_msg("schedule_list: %s", err.msg);
    schedule_free(items, count);
    return count;
}

/* How many files plans/ holds; the last one's name goes to name (if not NULL). */
static size_t s_plan_files(const fixture_t *fx, char *name, size_t size)
{
    DIR *d = opendir(fx->l.plans);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        if (name != NULL)
            snprintf(name, size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* The only plan file, parsed. */
static json_t *s_plan_doc(const fixture_t *fx)
{
    char name[NAME_MAX + 1], path[PATH_MAX];
    assert_int_equal(s_plan_files(fx, name, sizeof name), 1);
    snprintf(path, sizeof path, "%s/%s", fx->l.plans, name);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    return doc;
}

static const char *s_status(json_t *doc, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "upgrades"), i), "status"));
}

/* Runs cmd_plan with argv (ended by NULL), capturing what it prints on fd 1 and 2. */
static int s_run(output_t *o, const fixture_t *fx, char **argv)
{
    return tu_run_command(o, cmd_plan, &fx->cfg, argv);
}

#define RUN(o, fx, ...) s_run((o), (fx), (char *[]){__VA_ARGS__, NULL})
#define assert_exit tu_assert_exit

/* Writes a plan file in DAEMON_HOME and returns its path in buf. */
static const char *s_plan_file(const fixture_t *fx, char *buf, size_t size, const char *text)
{
    snprintf(buf, size, "%s/plan-input.json", fx->home);
    tu_write_file(buf, text, 0644);
    return buf;
}

/* Adds the plan "spring": v2 at 200 (binary a), v3 at 300 (binary b), v4 at 400 (binary a). */
static void s_add_three(const fixture_t *fx)
{
    char text[4096], file[PATH_MAX];
    snprintf(text, sizeof text,
             "{\"name\": \"spring\", \"upgrades\": ["
             "{\"name\": \"v2\", \"height\": 200, \"binary\": \"%s\"},"
             "{\"name\": \"v3\", \"height\": 300, \"binary\": \"%s\", \"mode\": \"rolling\"},"
             "{\"name\": \"v4\", \"height\": 400, \"binary\": \"%s\"}]}",
             fx->bin_a, fx->bin_b, fx->bin_a);
    output_t o;
    int rc = RUN(&o, fx, "add", (char *)s_plan_file(fx, file, sizeof file, text));
    assert_exit(rc, EXIT_OK, o);
}

/* ---- plan add ---- */

static void test_add_schedules_every_upgrade_in_order(void **state)
{
    fixture_t *fx = *state;
    s_add_three(fx);
    scheduled_t *items;
    size_t count;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_list(&fx->l, &items, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_string_equal(items[0].info.name, "v2");
    assert_int_equal(items[0].info.height, 200);
    assert_string_equal(items[1].info.name, "v3");
    assert_string_equal(items[2].info.name, "v4");
    assert_int_equal(items[2].info.height, 400);
    schedule_free(items, count);
    assert_true(s_exists(fx, "wemixvisor/upgrades/v2/bin/wemixd"));
    assert_true(s_exists(fx, "wemixvisor/upgrades/v3/bin/wemixd"));
    assert_true(s_exists(fx, "wemixvisor/upgrades/v4/bin/wemixd"));
    struct stat st;
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/wemixvisor/upgrades/v3/bin/wemixd", fx->home);
    assert_int_equal(stat(bin, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);

    /* plans/spring-YYYYmmddTHHMMSSZ.json */
    char name[NAME_MAX + 1];
    assert_int_equal(s_plan_files(fx, name, sizeof name), 1);
    assert_int_equal(strlen(name), strlen("spring-20250101T000000Z.json"));
    assert_int_equal(strncmp(name, "spring-", 7), 0);
    assert_int_equal(name[15], 'T');
    assert_string_equal(name + 22, "Z.json");
    assert_int_equal(strspn(name + 7, "0123456789"), 8);
    assert_int_equal(strspn(name + 16, "0123456789"), 6);
    json_t *doc = s_plan_doc(fx);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "active");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(s_status(doc, i), "scheduled");
    json_decref(doc);

    /* the same name again is refused while the plan is active */
    output_t o;
    char file[PATH_MAX], text[512];
    snprintf(text, sizeof text,
             "{\"name\": \"spring\", \"upgrades\": [{\"name\": \"v9\", \"height\": 900, "
             "\"binary\": \"%s\"}]}",
             fx->bin_a);
    int rc = RUN(&o, fx, "add", (char *)s_plan_file(fx, file, sizeof file, text));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "is active");
    assert_int_equal(s_scheduled(fx), 3);
}

static void test_add_reports_every_problem_and_changes_nothing(void **state)
{
    fixture_t *fx = *state;
    char text[4096], file[PATH_MAX];
    snprintf(text, sizeof text,
             "{\"name\": \"bad\", \"upgrades\": ["
             "{\"name\": \"v2\", \"height\": 500, \"binary\": \"%s\"},"
             "{\"name\": \"v2\", \"height\": 600, \"binary\": \"%s\"},"
             "{\"name\": \"v3\", \"height\": 550, \"binary\": \"%s\"},"
             "{\"name\": \"v4\", \"height\": 50, \"binary\": \"%s\"},"
             "{\"name\": \"v5\", \"height\": 700, \"binary\": \"%s/missing\"},"
             "{\"name\": \"v6\", \"height\": 800, \"info\": {\"binaries\": "
             "{\"any\": \"https://host/wemixd\"}}},"
             "{\"name\": \"v7\", \"height\": 900, \"binary\": \"%s\", \"info\": {\"binaries\": "
             "{\"any\": \"https://host/wemixd?checksum=sha256:" SHA256_HEX "\"}}}]}",
             fx->bin_a, fx->bin_a, fx->bin_a, fx->bin_a, fx->home, fx->bin_a);
    output_t o;
    int rc = RUN(&o, fx, "add", (char *)s_plan_file(fx, file, sizeof file, text));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "upgrade #2 (v2): the name is used by upgrade #1");
    tu_assert_contains(o.err, "upgrade #3 (v3): height 550 is not above 600");
    tu_assert_contains(o.err, "upgrade #4 (v4): height 50 is too low");
    tu_assert_contains(o.err, "use 102 or higher");
    tu_assert_contains(o.err, "upgrade #5 (v5): binary");
    tu_assert_contains(o.err, "missing: No such file");
    tu_assert_contains(o.err, "upgrade #6 (v6): the URL https://host/wemixd has no checksum");
    tu_assert_contains(o.err, "upgrade #7 (v7): has both \"info\" and \"binary\"");
    tu_assert_contains(o.err, "  1. ");
    tu_assert_contains(o.err, "  6. ");
    assert_int_equal(s_scheduled(fx), 0);
    assert_int_equal(s_plan_files(fx, NULL, 0), 0);
    assert_false(s_exists(fx, "wemixvisor/upgrades/v2"));

    /* a bad plan name, no upgrades, an applied and a failed name */
    s_journal(fx, 100, "v8", "v9");
    snprintf(text, sizeof text,
             "{\"name\": \"../x\", \"upgrades\": [{\"name\": \"v8\", \"height\": 500, "
             "\"binary\": \"%s\"}, {\"name\": \"v9\", \"height\": 600, \"binary\": \"%s\", "
             "\"mode\": \"fast\"}]}",
             fx->bin_a, fx->bin_a);
    rc = RUN(&o, fx, "add", (char *)s_plan_file(fx, file, sizeof file, text));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "plan name:");
    tu_assert_contains(o.err, "upgrade #1 (v8): already applied");
    tu_assert_contains(o.err, "upgrade #2 (v9): failed before");
    tu_assert_contains(o.err, "\"mode\" must be");
    rc = RUN(&o, fx, "add",
             (char *)s_plan_file(fx, file, sizeof file, "{\"name\": \"p\", \"upgrades\": []}"));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "non-empty array");
    rc = RUN(&o, fx, "add",
             (char *)s_plan_file(fx, file, sizeof file, "{\"name\": \"p\", \"name\": \"q\"}"));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "duplicate");
    assert_int_equal(s_scheduled(fx), 0);
    assert_int_equal(s_plan_files(fx, NULL, 0), 0);
}

static void test_add_refuses_a_clash_with_the_schedule(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_add(&fx->l, "v3", 300, NULL, NULL, &err), 0);
    assert_int_equal(schedule_add(&fx->l, "other", 400, NULL, NULL, &err), 0);
    char text[4096], file[PATH_MAX];
    snprintf(text, sizeof text,
             "{\"name\": \"p\", \"upgrades\": ["
             "{\"name\": \"v2\", \"height\": 200, \"binary\": \"%s\"},"
             "{\"name\": \"v3\", \"height\": 350, \"binary\": \"%s\"},"
             "{\"name\": \"v4\", \"height\": 400, \"info\": {\"binaries\": "
             "{\"any\": \"https://host/wemixd?checksum=sha256:" SHA256_HEX "\"}}}]}",
             fx->bin_a, fx->bin_b);
    output_t o;
    int rc = RUN(&o, fx, "add", (char *)s_plan_file(fx, file, sizeof file, text));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "upgrade #2 (v3): already scheduled at height 300");
    tu_assert_contains(o.err, "upgrade #3 (v4): height 400 already has upgrade other");
    assert_int_equal(s_scheduled(fx), 2);
    assert_int_equal(s_plan_files(fx, NULL, 0), 0);
    assert_false(s_exists(fx, "wemixvisor/upgrades/v2"));
}

static void test_add_undoes_when_a_step_fails(void **state)
{
    fixture_t *fx = *state;
    /* v3's binary is already there and differs: the copy is refused after v2 was scheduled */
    char dir[PATH_MAX], bin[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/wemixvisor/upgrades/v3/bin", fx->home);
    assert_int_equal(fs_mkdir_p(dir, 0755, NULL), 0);
    snprintf(bin, sizeof bin, "%s/wemixd", dir);
    tu_write_file(bin, "something else\n", 0755);
    char text[4096], file[PATH_MAX];
    snprintf(text, sizeof text,
             "{\"name\": \"p\", \"upgrades\": ["
             "{\"name\": \"v2\", \"height\": 200, \"binary\": \"%s\"},"
             "{\"name\": \"v3\", \"height\": 300, \"binary\": \"%s\"}]}",
             fx->bin_a, fx->bin_b);
    output_t o;
    int rc = RUN(&o, fx, "add", (char *)s_plan_file(fx, file, sizeof file, text));
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "differs");
    assert_int_equal(s_scheduled(fx), 0);
    assert_int_equal(s_plan_files(fx, NULL, 0), 0);
    assert_false(s_exists(fx, "wemixvisor/upgrades/v2"));
    assert_true(s_exists(fx, "wemixvisor/upgrades/v3/bin/wemixd")); /* not ours: kept */
}

/* ---- the agent's hand-over ---- */

static void test_failed_upgrade_stops_the_plan(void **state)
{
    fixture_t *fx = *state;
    s_add_three(fx);
    plan_upgrade_failed(&fx->l, "v2", "the node did not start");
    assert_int_equal(s_scheduled(fx), 1); /* v2's own schedule is the agent's business */
    assert_false(s_exists(fx, "data/upgrades/300"));
    assert_false(s_exists(fx, "data/upgrades/400"));
    json_t *doc = s_plan_doc(fx);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "stopped");
    tu_assert_contains(json_string_value(json_object_get(doc, "reason")), "the node did not start");
    assert_string_equal(s_status(doc, 0), "failed");
    assert_string_equal(s_status(doc, 1), "cancelled");
    assert_string_equal(s_status(doc, 2), "cancelled");
    json_decref(doc);

    /* an upgrade of no plan: nothing happens */
    plan_upgrade_failed(&fx->l, "unknown", "x");
    plan_upgrade_done(&fx->l, "unknown");
}

static void test_done_upgrades_complete_the_plan(void **state)
{
    fixture_t *fx = *state;
    s_add_three(fx);
    plan_upgrade_done(&fx->l, "v2");
    json_t *doc = s_plan_doc(fx);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "active");
    assert_string_equal(s_status(doc, 0), "done");
    assert_string_equal(s_status(doc, 1), "scheduled");
    json_decref(doc);
    plan_upgrade_done(&fx->l, "v3");
    plan_upgrade_done(&fx->l, "v4");
    doc = s_plan_doc(fx);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "completed");
    assert_string_equal(s_status(doc, 2), "done");
    json_decref(doc);
}

/* ---- plan cancel, list, show ---- */

static void test_cancel_unschedules_what_is_left(void **state)
{
    fixture_t *fx = *state;
    s_add_three(fx);
    plan_upgrade_done(&fx->l, "v2");
    output_t o;
    int rc = RUN(&o, fx, "cancel", "spring");
    assert_exit(rc, EXIT_OK, o);
    assert_int_equal(s_scheduled(fx), 1); /* v2 is the agent's, not the plan's, to remove */
    json_t *doc = s_plan_doc(fx);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "cancelled");
    assert_string_equal(s_status(doc, 0), "done");
    assert_string_equal(s_status(doc, 1), "cancelled");
    assert_string_equal(s_status(doc, 2), "cancelled");
    json_decref(doc);
    rc = RUN(&o, fx, "cancel", "spring");
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "cancelled already");
    rc = RUN(&o, fx, "cancel", "nope");
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "no plan named nope");
    rc = RUN(&o, fx, "cancel");
    assert_exit(rc, EXIT_USAGE, o);
}

static void test_show_reflects_the_journal(void **state)
{
    fixture_t *fx = *state;
    s_add_three(fx);
    s_journal(fx, 250, "v2", "v3");
    output_t o;
    int rc = RUN(&o, fx, "show", "spring", "--json");
    assert_exit(rc, EXIT_OK, o);
    json_t *doc = json_loads(o.out, 0, NULL);
    if (doc == NULL)
        fail_msg("not JSON: %s", o.out);
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "spring");
    assert_string_equal(s_status(doc, 0), "done");
    assert_string_equal(s_status(doc, 1), "failed");
    assert_string_equal(s_status(doc, 2), "scheduled");
    tu_assert_contains(json_string_value(json_object_get(doc, "file")), "/plans/spring-");
    json_decref(doc);
    rc = RUN(&o, fx, "show", "spring");
    assert_exit(rc, EXIT_OK, o);
    tu_assert_contains(o.out, "plan spring: active");
    tu_assert_contains(o.out, "v3");
    rc = RUN(&o, fx, "show", "nope");
    assert_exit(rc, EXIT_FAIL, o);
}

static void test_list(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    int rc = RUN(&o, fx, "list", "--json");
    assert_exit(rc, EXIT_OK, o);
    json_t *doc = json_loads(o.out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(doc), 0);
    json_decref(doc);

    s_add_three(fx);
    rc = RUN(&o, fx, "list", "--json");
    assert_exit(rc, EXIT_OK, o);
    doc = json_loads(o.out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(doc), 1);
    json_t *plan = json_array_get(doc, 0);
    assert_string_equal(json_string_value(json_object_get(plan, "name")), "spring");
    assert_string_equal(json_string_value(json_object_get(plan, "status")), "active");
    tu_assert_contains(json_string_value(json_object_get(plan, "file")), "spring-");
    json_t *up = json_array_get(json_object_get(plan, "upgrades"), 1);
    assert_string_equal(json_string_value(json_object_get(up, "name")), "v3");
    assert_int_equal(json_integer_value(json_object_get(up, "height")), 300);
    assert_string_equal(json_string_value(json_object_get(up, "status")), "scheduled");
    json_decref(doc);
    rc = RUN(&o, fx, "list");
    assert_exit(rc, EXIT_OK, o);
    tu_assert_contains(o.out, "plan spring: active");
    rc = RUN(&o, fx, "list", "--yaml");
    assert_exit(rc, EXIT_USAGE, o);
    rc = RUN(&o, fx, "frobnicate");
    assert_exit(rc, EXIT_USAGE, o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_add_schedules_every_upgrade_in_order),
        T(test_add_reports_every_problem_and_changes_nothing),
        T(test_add_refuses_a_clash_with_the_schedule),
        T(test_add_undoes_when_a_step_fails),
        T(test_failed_upgrade_stops_the_plan),
        T(test_done_upgrades_complete_the_plan),
        T(test_cancel_unschedules_what_is_left),
        T(test_show_reflects_the_journal),
        T(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
