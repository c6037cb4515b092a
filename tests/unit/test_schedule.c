/* Unit tests of agent/schedule.h: upgrades planned at a height in data/upgrades/<height>/, and the
 * `wemixvisor upgrade schedule|list|cancel` command. Not tested here: acting on a schedule. */
#include "schedule.h"
#include "commands.h"
#include "config.h"
#include "fsutil.h"
#include "journal.h"
#include "testutil.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh DAEMON_HOME with its layout, a config read from the environment, and a node RPC
 * address where nobody listens, so that the journal's height is the one the command uses. */
typedef tu_env_t fixture_t;

/* What a command printed. */
typedef tu_output_t output_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    if (tu_env_setup(fx) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    tu_env_teardown(*state);
    free(*state);
    return 0;
}

/* ---- helpers ---- */

static void s_path(char *buf, size_t size, const fixture_t *fx, const char *rel)
{
    if (snprintf(buf, size, "%s/%s", fx->home, rel) >= (int)size)
        fail_msg("path too long: %s", rel);
}

/* Writes text at $DAEMON_HOME/rel, creating its directory. */
static void s_write(const fixture_t *fx, const char *rel, const char *text, mode_t mode)
{
    char path[PATH_MAX], dir[PATH_MAX];
    s_path(path, sizeof path, fx, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    wv_err_t err = {{0}};
    if (fs_mkdir_p(dir, 0755, &err) != 0)
        fail_msg("%s", err.msg);
    tu_write_file(path, text, mode);
}

static bool s_exists(const fixture_t *fx, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    s_path(path, sizeof path, fx, rel);
    return lstat(path, &st) == 0;
}

/* The journal's last known height, as the agent would have saved it. */
static void s_journal(const fixture_t *fx, int64_t height, const char *applied)
{
    wv_err_t err = {{0}};
    journal_t *journal = journal_load(fx->l.state, &err);
    if (journal == NULL)
        fail_msg("journal_load: %s", err.msg);
    journal_set_height(journal, height);
    if ((applied != NULL && journal_record_applied(journal, applied, height, &err) != 0) ||
        journal_save(journal, &err) != 0)
        fail_msg("journal: %s", err.msg);
    journal_destroy(&journal);
}

static void s_add(const fixture_t *fx, const char *name, int64_t height)
{
    wv_err_t err = {{0}};
    if (schedule_add(&fx->l, name, height, NULL, NULL, &err) != 0)
        fail_msg("schedule_add %s at %lld: %s", name, (long long)height, err.msg);
}

static size_t s_count(const fixture_t *fx)
{
    scheduled_t *items;
    size_t count;
    wv_err_t err = {{0}};
    if (schedule_list(&fx->l, &items, &count, &err) != 0)
        fail_msg("schedule_list: %s", err.msg);
    schedule_free(items, count);
    return count;
}

/* Runs cmd_upgrade with argv (ended by NULL), capturing what it prints on fd 1 and 2. */
static int s_run(output_t *o, const fixture_t *fx, char **argv)
{
    return tu_run_command(o, cmd_upgrade, &fx->cfg, argv);
}

#define RUN(o, fx, ...) s_run((o), (fx), (char *[]){__VA_ARGS__, NULL})
#define assert_exit tu_assert_exit

/* ---- schedule_add, schedule_list, schedule_cancel ---- */

static void test_add_writes_a_file_upgrade_info_reads_back(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_add(&fx->l, "v2.0.0", 1000,
                                  "{\"binaries\": {\"any\": \"https://host/wemixd\"}}", "rolling",
                                  &err),
                     0);
    char path[PATH_MAX];
    s_path(path, sizeof path, fx, "data/upgrades/1000/upgrade-info.json");
    upgrade_info_t info;
    if (upgrade_info_load(path, &info, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(info.name, "v2.0.0");
    assert_int_equal(info.height, 1000);
    assert_non_null(info.info);
    tu_assert_contains(info.info, "https://host/wemixd");
    upgrade_info_free(&info);

    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "mode")), "rolling");
    json_decref(doc);

    /* without info and mode, neither key is written */
    s_add(fx, "v3", 2000);
    s_path(path, sizeof path, fx, "data/upgrades/2000/upgrade-info.json");
    doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_null(json_object_get(doc, "mode"));
    assert_null(json_object_get(doc, "info"));
    json_decref(doc);
}

static void test_list_is_lowest_height_first(void **state)
{
    fixture_t *fx = *state;
    s_add(fx, "v3", 2000);
    s_add(fx, "v2", 1000);
    scheduled_t *items;
    size_t count;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_list(&fx->l, &items, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_string_equal(items[0].info.name, "v2");
    assert_int_equal(items[0].info.height, 1000);
    assert_string_equal(items[1].info.name, "v3");
    assert_int_equal(items[1].info.height, 2000);
    tu_assert_contains(items[0].path, "/data/upgrades/1000/upgrade-info.json");
    schedule_free(items, count);
}

static void test_list_of_nothing_is_empty(void **state)
{
    fixture_t *fx = *state;
    char dir[PATH_MAX];
    s_path(dir, sizeof dir, fx, "data");
    tu_rm_rf(dir); /* not even data/ */
    assert_int_equal(s_count(fx), 0);
}

static void test_duplicates_are_refused(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    s_add(fx, "v2", 1000);
    assert_int_equal(schedule_add(&fx->l, "v2", 2000, NULL, NULL, &err), -1);
    tu_assert_contains(err.msg, "already scheduled at height 1000");
    assert_int_equal(schedule_add(&fx->l, "v3", 1000, NULL, NULL, &err), -1);
    tu_assert_contains(err.msg, "height 1000 already has upgrade v2");
    assert_int_equal(schedule_add(&fx->l, "v2", 1000, NULL, NULL, &err), -1);
    assert_int_equal(s_count(fx), 1);
    assert_false(s_exists(fx, "data/upgrades/2000"));
}

static void test_add_refuses_bad_values(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_add(&fx->l, "../evil", 1000, NULL, NULL, &err), -1);
    tu_assert_contains(err.msg, "../evil");
    assert_int_equal(schedule_add(&fx->l, "v2", 0, NULL, NULL, &err), -1);
    assert_int_equal(schedule_add(&fx->l, "v2", 1000, NULL, "fast", &err), -1);
    tu_assert_contains(err.msg, "rolling");
    assert_int_equal(schedule_add(&fx->l, "v2", 1000, "[1, 2]", NULL, &err), -1);
    assert_int_equal(schedule_add(&fx->l, "v2", 1000, "{not json", NULL, &err), -1);
    assert_int_equal(s_count(fx), 0);
}

static void test_cancel_removes_it_and_a_second_cancel_fails(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    s_add(fx, "v2", 1000);
    s_add(fx, "v3", 2000);
    assert_int_equal(schedule_cancel(&fx->l, "v2", &err), 0);
    assert_false(s_exists(fx, "data/upgrades/1000/upgrade-info.json"));
    assert_false(s_exists(fx, "data/upgrades/1000"));
    assert_int_equal(s_count(fx), 1);
    assert_int_equal(schedule_cancel(&fx->l, "v2", &err), -1);
    tu_assert_contains(err.msg, "no upgrade named v2");
    /* the height is free again */
    s_add(fx, "v4", 1000);
    assert_int_equal(s_count(fx), 2);
}

static void test_list_skips_what_is_not_a_valid_schedule(void **state)
{
    fixture_t *fx = *state;
    s_add(fx, "v2", 1000);
    s_write(fx, "data/upgrades/abc/upgrade-info.json", "{\"name\": \"va\", \"height\": 5}", 0644);
    s_write(fx, "data/upgrades/007/upgrade-info.json", "{\"name\": \"v7\", \"height\": 7}", 0644);
    s_write(fx, "data/upgrades/+8/upgrade-info.json", "{\"name\": \"v8\", \"height\": 8}", 0644);
    s_write(fx, "data/upgrades/500/upgrade-info.json", "{\"name\": \"v5\", \"height\": 600}", 0644);
    s_write(fx, "data/upgrades/700/upgrade-info.json", "{\"name\": \"v7\"", 0644);
    s_write(fx, "data/upgrades/710/upgrade-info.json",
            "{\"name\": \"v71\", \"height\": 710, \"mode\": \"fast\"}", 0644);
    s_write(fx, "data/upgrades/800", "a file, not a directory", 0644);
    s_write(fx, "data/upgrades/99999999999999999999/upgrade-info.json",
            "{\"name\": \"big\", \"height\": 1}", 0644);
    char empty[PATH_MAX];
    s_path(empty, sizeof empty, fx, "data/upgrades/900");
    assert_int_equal(mkdir(empty, 0755), 0);

    scheduled_t *items;
    size_t count;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_list(&fx->l, &items, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_string_equal(items[0].info.name, "v2");
    schedule_free(items, count);

    /* an invalid file at a height is not overwritten by a new schedule */
    assert_int_equal(schedule_add(&fx->l, "v9", 700, NULL, NULL, &err), -1);
    tu_assert_contains(err.msg, "not a valid schedule");
    /* an empty height directory is free */
    s_add(fx, "v9", 900);
}

/* ---- wemixvisor upgrade ... ---- */

static void test_schedule_copies_the_binary(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    s_journal(fx, 100, NULL);
    char src[PATH_MAX];
    s_path(src, sizeof src, fx, "wemixd-v2");
    tu_write_file(src, "#!/bin/sh\necho v2\n", 0700);

    int rc = RUN(&o, fx, "schedule", "v2", "--height", "200", "--binary", src);
    assert_exit(rc, EXIT_OK, o);
    tu_assert_contains(o.out, "v2");
    tu_assert_contains(o.out, "200");
    char dst[PATH_MAX];
    s_path(dst, sizeof dst, fx, "wemixvisor/upgrades/v2/bin/wemixd");
    struct stat st;
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    char *text = NULL;
    assert_int_equal(fs_read_file(dst, 4096, &text, NULL, NULL), 0);
    assert_string_equal(text, "#!/bin/sh\necho v2\n");
    free(text);
    assert_true(s_exists(fx, "data/upgrades/200/upgrade-info.json"));

    /* the same name again is refused, however identical the binary */
    rc = RUN(&o, fx, "schedule", "v2", "--height", "300", "--binary", src);
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "already scheduled");

    /* a different binary already in place is never replaced; nothing is scheduled */
    s_write(fx, "wemixvisor/upgrades/v3/bin/wemixd", "something else\n", 0755);
    rc = RUN(&o, fx, "schedule", "v3", "--height", "300", "--binary", src);
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "differs");
    assert_false(s_exists(fx, "data/upgrades/300"));

    /* an identical one is accepted */
    s_write(fx, "wemixvisor/upgrades/v4/bin/wemixd", "#!/bin/sh\necho v2\n", 0755);
    rc = RUN(&o, fx, "schedule", "v4", "--height", "400", "--binary", src);
    assert_exit(rc, EXIT_OK, o);
    tu_assert_contains(o.out, "already in place");

    /* not a regular file */
    rc = RUN(&o, fx, "schedule", "v5", "--height", "500", "--binary", fx->home);
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "not a regular file");
    assert_int_equal(s_count(fx), 2);
}

static void test_schedule_refuses_a_height_not_ahead_of_the_chain(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    s_journal(fx, 100, NULL);
    int rc = RUN(&o, fx, "schedule", "v2", "--height", "101", "--url", "https://host/wemixd");
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "block 100");    /* where the chain is */
    tu_assert_contains(o.err, "--height 101"); /* what was asked */
    tu_assert_contains(o.err, "--height 102"); /* what would do */
    rc = RUN(&o, fx, "schedule", "v2", "--height", "50", "--url", "https://host/wemixd");
    assert_exit(rc, EXIT_FAIL, o);
    assert_int_equal(s_count(fx), 0);

    rc = RUN(&o, fx, "schedule", "v2", "--height", "102", "--url", "https://host/wemixd");
    assert_exit(rc, EXIT_OK, o);
    assert_int_equal(s_count(fx), 1);
}

static void test_schedule_refuses_an_applied_name(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    s_journal(fx, 100, "v2");
    int rc = RUN(&o, fx, "schedule", "v2", "--height", "500", "--url", "https://host/wemixd");
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "already applied");
    assert_int_equal(s_count(fx), 0);
}

static void test_schedule_wants_exactly_one_of_binary_and_url(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    int rc = RUN(&o, fx, "schedule", "v2", "--height", "500", "--binary", "/bin/sh", "--url",
                 "https://host/wemixd");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "not both");
    rc = RUN(&o, fx, "schedule", "v2", "--height", "500");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "--binary");
    rc = RUN(&o, fx, "schedule", "v2", "--height", "500", "--url", "ftp://host/wemixd");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "https://");
    assert_int_equal(s_count(fx), 0);

    /* --url alone stores the URL as the info */
    rc = RUN(&o, fx, "schedule", "v2", "--height", "500", "--url", "https://host/wemixd");
    assert_exit(rc, EXIT_OK, o);
    scheduled_t *items;
    size_t count;
    wv_err_t err = {{0}};
    assert_int_equal(schedule_list(&fx->l, &items, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_string_equal(items[0].info.info, "{\"binaries\":{\"any\":\"https://host/wemixd\"}}");
    schedule_free(items, count);
}

static void test_schedule_refuses_bad_arguments(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    int rc = RUN(&o, fx, "schedule", "../evil", "--height", "500", "--url", "https://h/x");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "../evil");
    rc = RUN(&o, fx, "schedule", "v2!", "--height", "500", "--url", "https://h/x");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "A-Z a-z 0-9");
    rc = RUN(&o, fx, "schedule", "v2", "--height", "0x10", "--url", "https://h/x");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "--height");
    rc = RUN(&o, fx, "schedule", "v2", "--height", "0", "--url", "https://h/x");
    assert_exit(rc, EXIT_USAGE, o);
    rc = RUN(&o, fx, "schedule", "v2", "--height", "500", "--url", "https://h/x", "--mode", "x");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "at-height");
    rc =
        RUN(&o, fx, "schedule", "v2", "--height", "500", "--height", "600", "--url", "https://h/x");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "twice");
    rc = RUN(&o, fx, "schedule", "v2", "--height");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "needs a value");
    rc = RUN(&o, fx, "schedule", "v2", "--at", "500");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "--at");
    rc = RUN(&o, fx, "frobnicate");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "frobnicate");
    rc = s_run(&o, fx, (char *[]){NULL});
    assert_exit(rc, EXIT_USAGE, o);
    assert_int_equal(s_count(fx), 0);
}

static void test_list_json_parses(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    s_journal(fx, 100, NULL);
    char src[PATH_MAX];
    s_path(src, sizeof src, fx, "wemixd-v3");
    tu_write_file(src, "#!/bin/sh\necho v3\n", 0755);
    int rc = RUN(&o, fx, "schedule", "v3", "--height", "3000", "--binary", src);
    assert_exit(rc, EXIT_OK, o);
    rc = RUN(&o, fx, "schedule", "v2", "--height", "2000", "--url", "https://host/wemixd", "--mode",
             "rolling");
    assert_exit(rc, EXIT_OK, o);
    s_journal(fx, 100, "v3"); /* as if the agent had applied it since */

    rc = RUN(&o, fx, "list", "--json");
    assert_exit(rc, EXIT_OK, o);
    json_error_t jerr;
    json_t *doc = json_loads(o.out, 0, &jerr);
    if (doc == NULL)
        fail_msg("not JSON (%s): %s", jerr.text, o.out);
    assert_true(json_is_array(doc));
    assert_int_equal(json_array_size(doc), 2);
    json_t *first = json_array_get(doc, 0), *second = json_array_get(doc, 1);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "v2");
    assert_int_equal(json_integer_value(json_object_get(first, "height")), 2000);
    assert_string_equal(json_string_value(json_object_get(first, "mode")), "rolling");
    assert_true(json_is_false(json_object_get(first, "binary_present")));
    assert_true(json_is_false(json_object_get(first, "applied")));
    assert_string_equal(json_string_value(json_object_get(second, "name")), "v3");
    assert_string_equal(json_string_value(json_object_get(second, "mode")), "at-height");
    assert_true(json_is_true(json_object_get(second, "binary_present")));
    assert_true(json_is_true(json_object_get(second, "applied")));
    json_decref(doc);

    rc = RUN(&o, fx, "list");
    assert_exit(rc, EXIT_OK, o);
    tu_assert_contains(o.out, "HEIGHT");
    tu_assert_contains(o.out, "rolling");
    rc = RUN(&o, fx, "list", "--yaml");
    assert_exit(rc, EXIT_USAGE, o);
    tu_assert_contains(o.err, "--yaml");
}

static void test_list_json_of_nothing_is_an_empty_array(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    int rc = RUN(&o, fx, "list", "--json");
    assert_exit(rc, EXIT_OK, o);
    json_t *doc = json_loads(o.out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(doc), 0);
    json_decref(doc);
}

static void test_cancel_command(void **state)
{
    fixture_t *fx = *state;
    output_t o;
    s_journal(fx, 100, NULL);
    int rc = RUN(&o, fx, "schedule", "v2", "--height", "500", "--url", "https://host/wemixd");
    assert_exit(rc, EXIT_OK, o);
    rc = RUN(&o, fx, "cancel", "v2");
    assert_exit(rc, EXIT_OK, o);
    tu_assert_contains(o.out, "v2");
    assert_int_equal(s_count(fx), 0);
    rc = RUN(&o, fx, "cancel", "v2");
    assert_exit(rc, EXIT_FAIL, o);
    tu_assert_contains(o.err, "no upgrade named v2");
    rc = RUN(&o, fx, "cancel");
    assert_exit(rc, EXIT_USAGE, o);
    rc = RUN(&o, fx, "cancel", "..");
    assert_exit(rc, EXIT_USAGE, o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_writes_a_file_upgrade_info_reads_back, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_list_is_lowest_height_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_of_nothing_is_empty, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_add_refuses_bad_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_removes_it_and_a_second_cancel_fails, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_list_skips_what_is_not_a_valid_schedule, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_copies_the_binary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_refuses_a_height_not_ahead_of_the_chain,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_refuses_an_applied_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_wants_exactly_one_of_binary_and_url, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_refuses_bad_arguments, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_json_parses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_json_of_nothing_is_an_empty_array, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_command, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
