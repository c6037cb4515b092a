/* Unit tests of agent/journal.h: state.json, the agent's memory of applied upgrades and of the
 * step an upgrade reached, across a save and a reload. Not tested here: who writes which step. */
#include "journal.h"
#include "fsutil.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A temp dir and the journal path in it (the file does not exist at the start). */
typedef struct {
    char dir[64];
    char path[PATH_MAX];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    if (tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/state.json", fx->dir);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

static journal_t *s_load(const char *path)
{
    wv_err_t err = {{0}};
    journal_t *journal = journal_load(path, &err);
    if (journal == NULL)
        fail_msg("journal_load: %s", err.msg);
    return journal;
}

static void test_missing_file_is_an_empty_journal(void **state)
{
    fixture_t *fx = *state;
    journal_t *journal = s_load(fx->path);
    assert_false(journal_applied(journal, "v2"));
    assert_int_equal(journal_last_height(journal), 0);
    assert_string_equal(journal_step(journal), "");
    assert_string_equal(journal_step_upgrade(journal), "");
    assert_false(fs_is_file(fx->path)); /* loading writes nothing */
    journal_destroy(&journal);
    assert_null(journal);
    journal_destroy(&journal); /* twice is fine */
}

static void test_applied_upgrades_survive_a_save_and_reload(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    journal_t *journal = s_load(fx->path);
    assert_int_equal(journal_record_applied(journal, "v2", 1000, &err), 0);
    assert_int_equal(journal_record_applied(journal, "v3", 2000, &err), 0);
    assert_true(journal_applied(journal, "v2"));
    assert_int_equal(journal_last_height(journal), 2000);
    assert_int_equal(journal_save(journal, &err), 0);
    journal_destroy(&journal);

    journal = s_load(fx->path);
    assert_true(journal_applied(journal, "v2"));
    assert_true(journal_applied(journal, "v3"));
    assert_false(journal_applied(journal, "v4"));
    assert_false(journal_applied(journal, "v")); /* whole names only */
    assert_int_equal(journal_last_height(journal), 2000);
    journal_destroy(&journal);
}

static void test_saved_file_is_private(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    journal_t *journal = s_load(fx->path);
    assert_int_equal(journal_record_applied(journal, "v2", 1000, &err), 0);
    assert_int_equal(journal_save(journal, &err), 0);
    journal_destroy(&journal);

    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_step_of_an_upgrade_in_progress(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    journal_t *journal = s_load(fx->path);
    assert_int_equal(journal_set_step(journal, "v2", 100, "switching", &err), 0);
    assert_string_equal(journal_step(journal), "switching");
    assert_string_equal(journal_step_upgrade(journal), "v2");
    assert_int_equal(journal_save(journal, &err), 0);
    journal_destroy(&journal);

    /* an agent restarted mid-upgrade finds where it was */
    journal = s_load(fx->path);
    assert_string_equal(journal_step(journal), "switching");
    assert_string_equal(journal_step_upgrade(journal), "v2");
    assert_int_equal(journal_step_height(journal), 100);

    /* done: the step is cleared, and stays cleared after a reload */
    assert_int_equal(journal_record_applied(journal, "v2", 1000, &err), 0);
    assert_int_equal(journal_set_step(journal, "v2", 100, "", &err), 0);
    assert_string_equal(journal_step(journal), "");
    assert_string_equal(journal_step_upgrade(journal), "");
    assert_int_equal(journal_save(journal, &err), 0);
    journal_destroy(&journal);

    journal = s_load(fx->path);
    assert_string_equal(journal_step(journal), "");
    assert_true(journal_applied(journal, "v2"));
    journal_destroy(&journal);
}

static void test_only_the_last_applied_upgrades_are_kept(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    journal_t *journal = s_load(fx->path);
    int total = JOURNAL_APPLIED_KEEP + 10;
    for (int i = 0; i < total; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        assert_int_equal(journal_record_applied(journal, name, 100 + i, &err), 0);
    }
    assert_int_equal(journal_save(journal, &err), 0);
    journal_destroy(&journal);

    journal = s_load(fx->path);
    assert_false(journal_applied(journal, "u0"));
    assert_false(journal_applied(journal, "u9")); /* the 10 oldest are forgotten */
    assert_true(journal_applied(journal, "u10"));
    char newest[16];
    snprintf(newest, sizeof newest, "u%d", total - 1);
    assert_true(journal_applied(journal, newest));
    assert_int_equal(journal_last_height(journal), 100 + total - 1);
    journal_destroy(&journal);
}

static void test_corrupt_file_is_refused_naming_it(void **state)
{
    fixture_t *fx = *state;
    static const char *const corrupt[] = {
        "{\"version\":1,\"applied\":[",                         /* cut by a crash? */
        "[]",                                                   /* not an object */
        "{\"version\":1,\"applied\":{}}",                       /* applied not a list */
        "{\"version\":1,\"applied\":[{\"name\":\"v2\"}]}",      /* an entry without height */
        "{\"applied\":[]}",                                     /* no version */
        "{\"version\":1,\"applied\":[],\"step\":{\"step\":1}}", /* a step without upgrade */
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        wv_err_t err = {{0}};
        assert_int_equal(fs_write_atomic(fx->path, corrupt[i], strlen(corrupt[i]), 0600, &err), 0);
        journal_t *journal = journal_load(fx->path, &err);
        if (journal != NULL)
            fail_msg("accepted: %s", corrupt[i]);
        tu_assert_contains(err.msg, fx->path);
        tu_assert_contains(err.msg, "is corrupt");
    }
}

static void test_save_failure_says_what_was_being_saved(void **state)
{
    fixture_t *fx = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/missing-dir/state.json", fx->dir);
    wv_err_t err = {{0}};
    journal_t *journal = s_load(path);
    assert_int_equal(journal_save(journal, &err), -1);
    tu_assert_contains(err.msg, "saving the journal");
    tu_assert_contains(err.msg, path);
    journal_destroy(&journal);
}

int main(void)
{
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_missing_file_is_an_empty_journal),
        TEST(test_applied_upgrades_survive_a_save_and_reload),
        TEST(test_saved_file_is_private),
        TEST(test_step_of_an_upgrade_in_progress),
        TEST(test_only_the_last_applied_upgrades_are_kept),
        TEST(test_corrupt_file_is_refused_naming_it),
        TEST(test_save_failure_says_what_was_being_saved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
