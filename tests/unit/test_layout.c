/* Unit tests of agent/layout.h: the paths under $DAEMON_HOME, the names allowed in them, and
 * reading the `current` symlink. Not tested here: switching `current` (that is fsutil's job). */
#include "layout.h"
#include "fsutil.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A layout over a fresh temp home, created on disk. */
typedef struct {
    char home[64];
    layout_t layout;
} fixture_t;

static int s_setup_home(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    wv_config_t cfg = {.home = fx->home, .name = "wemixd"};
    wv_err_t err;
    if (tu_mkdtemp(fx->home, sizeof fx->home) != 0 || layout_init(&fx->layout, &cfg, &err) != 0 ||
        layout_create(&fx->layout, &err) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown_home(void **state)
{
    fixture_t *fx = *state;
    tu_rm_rf(fx->home);
    free(fx);
    return 0;
}

static void test_init_computes_every_path_from_home(void **state)
{
    (void)state;
    wv_config_t cfg = {.home = "/var/lib/node", .name = "wemixd"};
    layout_t l;
    wv_err_t err = {{0}};
    assert_int_equal(layout_init(&l, &cfg, &err), 0);
    assert_string_equal(l.home, "/var/lib/node");
    assert_string_equal(l.root, "/var/lib/node/wemixvisor");
    assert_string_equal(l.current, "/var/lib/node/wemixvisor/current");
    assert_string_equal(l.genesis, "/var/lib/node/wemixvisor/genesis");
    assert_string_equal(l.upgrades, "/var/lib/node/wemixvisor/upgrades");
    assert_string_equal(l.plans, "/var/lib/node/wemixvisor/plans");
    assert_string_equal(l.state, "/var/lib/node/wemixvisor/state.json");
    assert_string_equal(l.data, "/var/lib/node/data");
    assert_string_equal(l.upgrade_info, "/var/lib/node/data/upgrade-info.json");
    assert_string_equal(l.name, "wemixd");
}

static void test_init_requires_home_and_name(void **state)
{
    (void)state;
    layout_t l;
    wv_err_t err = {{0}};
    wv_config_t no_home = {.name = "wemixd"};
    assert_int_equal(layout_init(&l, &no_home, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_HOME is not set");
    wv_config_t no_name = {.home = "/var/lib/node"};
    assert_int_equal(layout_init(&l, &no_name, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_NAME is not set");
}

static void test_upgrade_names_that_are_accepted(void **state)
{
    (void)state;
    char longest[UPGRADE_NAME_MAX + 1];
    memset(longest, 'a', UPGRADE_NAME_MAX);
    longest[UPGRADE_NAME_MAX] = '\0';
    const char *accepted[] = {"v2", "v1.2.3", "upgrade_2024-01", "A", longest};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        wv_err_t err = {{0}};
        if (upgrade_name_check(accepted[i], &err) != 0)
            fail_msg("\"%s\" refused: %s", accepted[i], err.msg);
    }
}

static void test_upgrade_names_that_could_escape_or_confuse_are_refused(void **state)
{
    (void)state;
    char too_long[UPGRADE_NAME_MAX + 2];
    memset(too_long, 'a', UPGRADE_NAME_MAX + 1);
    too_long[UPGRADE_NAME_MAX + 1] = '\0';
    const struct {
        const char *name;
        const char *says;
    } refused[] = {
        {"", "1 to 128 characters"},
        {too_long, "1 to 128 characters"},
        {".", "are not names"},
        {"..", "are not names"},
        {"a/b", "only A-Z a-z 0-9 . _ -"},
        {"../x", "only A-Z a-z 0-9 . _ -"},
        {"/etc", "only A-Z a-z 0-9 . _ -"},
        {"v 2", "only A-Z a-z 0-9 . _ -"},
        {"v2\n", "only A-Z a-z 0-9 . _ -"},
        {"v\xc3\xa9rsion", "only A-Z a-z 0-9 . _ -"}, /* "vérsion" in UTF-8 */
        {"genesis", "reserved"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        wv_err_t err = {{0}};
        if (upgrade_name_check(refused[i].name, &err) != -1)
            fail_msg("\"%s\" accepted", refused[i].name);
        tu_assert_contains(err.msg, "upgrade name");
        tu_assert_contains(err.msg, refused[i].says);
    }
}

static void test_upgrade_paths_and_link_targets(void **state)
{
    (void)state;
    wv_config_t cfg = {.home = "/var/lib/node", .name = "wemixd"};
    layout_t l;
    wv_err_t err = {{0}};
    assert_int_equal(layout_init(&l, &cfg, &err), 0);
    char buf[PATH_MAX];

    assert_int_equal(layout_upgrade_bin(&l, "v2", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/var/lib/node/wemixvisor/upgrades/v2/bin/wemixd");
    assert_int_equal(layout_upgrade_bin(&l, GENESIS_NAME, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/var/lib/node/wemixvisor/genesis/bin/wemixd");
    assert_int_equal(layout_upgrade_dir(&l, "v2", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/var/lib/node/wemixvisor/upgrades/v2");
    assert_int_equal(layout_current_bin(&l, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "/var/lib/node/wemixvisor/current/bin/wemixd");

    /* `current` points at a path relative to the wemixvisor directory */
    assert_int_equal(layout_link_target("v2", buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "upgrades/v2");
    assert_int_equal(layout_link_target(GENESIS_NAME, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "genesis");

    /* a name from an upgrade file never becomes a path outside upgrades/ */
    assert_int_equal(layout_upgrade_bin(&l, "../../etc", buf, sizeof buf, &err), -1);
    tu_assert_contains(err.msg, "upgrade name \"../../etc\"");
    assert_int_equal(layout_link_target("../evil", buf, sizeof buf, &err), -1);
    tu_assert_contains(err.msg, "upgrade name \"../evil\"");

    char small[16];
    assert_int_equal(layout_link_target("v2.0.0-long-name", small, sizeof small, &err), -1);
    tu_assert_contains(err.msg, "too long");
}

static void test_create_makes_the_directories_but_not_current(void **state)
{
    fixture_t *fx = *state; /* the fixture called layout_create already */
    const layout_t *l = &fx->layout;
    char genesis_bin[PATH_MAX];
    snprintf(genesis_bin, sizeof genesis_bin, "%s/bin", l->genesis);
    assert_true(fs_is_dir(l->root));
    assert_true(fs_is_dir(genesis_bin));
    assert_true(fs_is_dir(l->upgrades));
    assert_true(fs_is_dir(l->plans));
    assert_true(fs_is_dir(l->data));
    assert_false(fs_is_dir(l->current));

    wv_err_t err = {{0}};
    assert_int_equal(layout_create(l, &err), 0); /* again: nothing to do, no error */
}

static void test_current_upgrade_reads_the_link(void **state)
{
    fixture_t *fx = *state;
    const layout_t *l = &fx->layout;
    char name[UPGRADE_NAME_MAX + 1];
    wv_err_t err = {{0}};

    assert_int_equal(fs_symlink_replace("genesis", l->current, &err), 0);
    assert_int_equal(layout_current_upgrade(l, name, sizeof name, &err), 0);
    assert_string_equal(name, GENESIS_NAME);

    assert_int_equal(fs_symlink_replace("upgrades/v2", l->current, &err), 0);
    assert_int_equal(layout_current_upgrade(l, name, sizeof name, &err), 0);
    assert_string_equal(name, "v2");
}

static void test_current_upgrade_refuses_a_missing_link_or_a_file(void **state)
{
    fixture_t *fx = *state;
    const layout_t *l = &fx->layout;
    char name[UPGRADE_NAME_MAX + 1];
    wv_err_t err = {{0}};

    assert_int_equal(layout_current_upgrade(l, name, sizeof name, &err), -1);
    tu_assert_contains(err.msg, l->current);
    tu_assert_contains(err.msg, "No such file");

    assert_int_equal(fs_write_atomic(l->current, "x", 1, 0644, &err), 0);
    assert_int_equal(layout_current_upgrade(l, name, sizeof name, &err), -1);
    tu_assert_contains(err.msg, l->current);
    tu_assert_contains(err.msg, "not a symlink");
}

static void test_current_upgrade_refuses_links_to_anywhere_else(void **state)
{
    fixture_t *fx = *state;
    const layout_t *l = &fx->layout;
    static const char *const elsewhere[] = {
        "/usr/local/bin", "upgrades/../../x", "upgrades/", "upgrades/genesis",
        "genesis/",       "./genesis",        "plans"};
    for (size_t i = 0; i < sizeof elsewhere / sizeof elsewhere[0]; i++) {
        char name[UPGRADE_NAME_MAX + 1];
        wv_err_t err = {{0}};
        assert_int_equal(fs_symlink_replace(elsewhere[i], l->current, &err), 0);
        if (layout_current_upgrade(l, name, sizeof name, &err) != -1)
            fail_msg("current -> %s accepted as \"%s\"", elsewhere[i], name);
        tu_assert_contains(err.msg, elsewhere[i]);
        tu_assert_contains(err.msg, "neither genesis nor upgrades/<name>");
    }
}

int main(void)
{
#define HOME_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup_home, s_teardown_home)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_computes_every_path_from_home),
        cmocka_unit_test(test_init_requires_home_and_name),
        cmocka_unit_test(test_upgrade_names_that_are_accepted),
        cmocka_unit_test(test_upgrade_names_that_could_escape_or_confuse_are_refused),
        cmocka_unit_test(test_upgrade_paths_and_link_targets),
        HOME_TEST(test_create_makes_the_directories_but_not_current),
        HOME_TEST(test_current_upgrade_reads_the_link),
        HOME_TEST(test_current_upgrade_refuses_a_missing_link_or_a_file),
        HOME_TEST(test_current_upgrade_refuses_links_to_anywhere_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
