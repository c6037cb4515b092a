/* Unit tests of agent/nodeversion.h: finding a version in a node's output, and asking small shell
 * scripts standing in for node binaries. Not tested here: the 5 s time-out of a hanging binary. */
#include "nodeversion.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static void test_parse_finds_the_first_version_token(void **state)
{
    (void)state;
    static const struct {
        const char *output;
        const char *version;
    } cases[] = {
        {"Geth\nVersion: 1.13.5-stable\n", "1.13.5-stable"},
        {"fakenode version v2.0.0", "v2.0.0"},
        {"wemixd v0.10.1-rc2+abc", "v0.10.1-rc2+abc"},
        {"1.2", "1.2"},
        {"Version: 1.10.26-stable-e5eb32ac\nGit Commit: e5eb32ac", "1.10.26-stable-e5eb32ac"},
        {"wemixd 0.10.1 (go1.21.5)", "0.10.1"}, /* the first one, not Go's */
        {"build 2024, version 3.4", "3.4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char version[64] = "";
        if (nodeversion_parse(cases[i].output, version, sizeof version) != 0)
            fail_msg("no version found in \"%s\"", cases[i].output);
        assert_string_equal(version, cases[i].version);
    }
}

static void test_parse_finds_nothing_in_text_without_a_version(void **state)
{
    (void)state;
    static const char *const outputs[] = {
        "no version here",
        "build 2024", /* a single number is not a version */
        "",
        "go1.21.5", /* inside a word: not a token of its own */
        "v.1.2",
        "1.",
    };
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
        char version[64] = "untouched";
        if (nodeversion_parse(outputs[i], version, sizeof version) != -1)
            fail_msg("found \"%s\" in \"%s\"", version, outputs[i]);
    }
}

/* Writes an executable script `name` in dir; its path goes to path. */
static void s_write_script(const char *dir, const char *name, const char *body, char *path)
{
    snprintf(path, PATH_MAX, "%s/%s", dir, name);
    tu_write_file(path, body, 0755);
}

static void test_detect_asks_version_first(void **state)
{
    char node[PATH_MAX];
    s_write_script(*state, "geth",
                   "#!/bin/sh\n"
                   "if [ \"$1\" != version ]; then echo \"unknown command $1\" >&2; exit 2; fi\n"
                   "echo Geth\n"
                   "echo 'Version: 1.13.5-stable'\n",
                   node);
    char version[64] = "";
    wv_err_t err = {{0}};
    assert_int_equal(nodeversion_detect(node, version, sizeof version, &err), 0);
    assert_string_equal(version, "1.13.5-stable");
}

static void test_detect_falls_back_to_dash_dash_version(void **state)
{
    char node[PATH_MAX];
    s_write_script(*state, "fakenode",
                   "#!/bin/sh\n"
                   "case \"$1\" in\n"
                   "--version) echo \"fakenode version v2.0.0\" ;;\n"
                   "*) echo \"flag provided but not defined: $1\" >&2; exit 1 ;;\n"
                   "esac\n",
                   node);
    char version[64] = "";
    wv_err_t err = {{0}};
    assert_int_equal(nodeversion_detect(node, version, sizeof version, &err), 0);
    assert_string_equal(version, "v2.0.0");
}

static void test_detect_fails_when_nothing_is_printed(void **state)
{
    char node[PATH_MAX];
    s_write_script(*state, "silent", "#!/bin/sh\nexit 0\n", node);
    char version[64] = "";
    wv_err_t err = {{0}};
    assert_int_equal(nodeversion_detect(node, version, sizeof version, &err), -1);
    tu_assert_contains(err.msg, node);
    tu_assert_contains(err.msg, "printed no version");
}

static void test_detect_fails_on_a_missing_binary(void **state)
{
    char node[PATH_MAX];
    snprintf(node, sizeof node, "%s/missing", (const char *)*state);
    char version[64] = "";
    wv_err_t err = {{0}};
    assert_int_equal(nodeversion_detect(node, version, sizeof version, &err), -1);
    /* "cannot start <node>: No such file...", or, where posix_spawn cannot see the exec fail
     * (under valgrind), exit code 127 and "<node> printed no version": the binary is named */
    tu_assert_contains(err.msg, node);
    assert_string_equal(version, "");
}

int main(void)
{
/* The scripts live in a temp dir, passed as *state. */
#define SCRIPT_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_tmpdir_setup, tu_tmpdir_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_finds_the_first_version_token),
        cmocka_unit_test(test_parse_finds_nothing_in_text_without_a_version),
        SCRIPT_TEST(test_detect_asks_version_first),
        SCRIPT_TEST(test_detect_falls_back_to_dash_dash_version),
        SCRIPT_TEST(test_detect_fails_when_nothing_is_printed),
        SCRIPT_TEST(test_detect_fails_on_a_missing_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
