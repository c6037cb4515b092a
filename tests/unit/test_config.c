/* Unit tests of shared/config.h: defaults, the config file, the environment, and who wins.
 * Not tested here: the parsers' every corner (test_value.c), nor `wemixvisor config` output. */
#include "config.h"
#include "fsutil.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIAS_CUSTOM_PREUPGRADE "WEMIXVISOR_CUSTOM_PREUPGRADE"

/* Each test gets an empty environment (for the agent's variables) and a fresh DAEMON_HOME. */
typedef struct {
    char home[64];
    char config_json[PATH_MAX]; /* $DAEMON_HOME/wemixvisor/config.json, not created */
} fixture_t;

static void s_clear_environment(void)
{
    for (int i = 0; i < CFG_COUNT; i++)
        unsetenv(config_var_name((cfg_var_t)i));
    unsetenv(ALIAS_CUSTOM_PREUPGRADE);
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    if (tu_mkdtemp(fx->home, sizeof fx->home) != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->config_json, sizeof fx->config_json, "%s/wemixvisor/config.json", fx->home);
    s_clear_environment();
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    s_clear_environment();
    tu_rm_rf(fx->home);
    free(fx);
    return 0;
}

/* Writes a config file, creating its directory. */
static void s_write_file(const char *path, const char *json)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    wv_err_t err = {{0}};
    if (fs_mkdir_p(dir, 0755, &err) != 0)
        fail_msg("%s", err.msg);
    tu_write_file(path, json, 0644);
}

/* The usual start: the two variables that have no default. */
static void s_set_home_and_name(const fixture_t *fx)
{
    setenv("DAEMON_HOME", fx->home, 1);
    setenv("DAEMON_NAME", "wemixd", 1);
}

static void test_defaults_apply_when_nothing_is_set(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0);

    assert_string_equal(cfg.home, fx->home);
    assert_string_equal(cfg.name, "wemixd");
    assert_int_equal(cfg.poll_interval_ms, 300);
    assert_int_equal(cfg.shutdown_grace_ms, 30000);
    assert_int_equal(cfg.max_restarts, 5);
    assert_true(cfg.restart_on_failure);
    assert_true(cfg.restart_after_upgrade);
    assert_false(cfg.validator_mode);
    assert_string_equal(cfg.rpc_address, "localhost:8545");
    assert_int_equal(cfg.watch, WATCH_AUTO);
    assert_null(cfg.custom_preupgrade);
    assert_null(cfg.log_file);
    assert_null(cfg.file); /* no config file in this home */

    char backups[PATH_MAX];
    snprintf(backups, sizeof backups, "%s/backups", fx->home);
    assert_string_equal(cfg.backup_dir, backups);

    /* where each value came from, as `wemixvisor config` shows it */
    assert_int_equal(cfg.source[CFG_DAEMON_POLL_INTERVAL], CFG_SRC_DEFAULT);
    assert_int_equal(cfg.source[CFG_DAEMON_DATA_BACKUP_DIR], CFG_SRC_DEFAULT);
    assert_int_equal(cfg.source[CFG_DAEMON_HOME], CFG_SRC_ENV);
    assert_string_equal(cfg.env_name[CFG_DAEMON_HOME], "DAEMON_HOME");
    assert_int_equal(cfg.source[CFG_CUSTOM_PREUPGRADE], CFG_SRC_UNSET);
    assert_string_equal(config_source_name(cfg.source[CFG_DAEMON_POLL_INTERVAL]), "default");
    assert_string_equal(config_source_name(cfg.source[CFG_CUSTOM_PREUPGRADE]), "unset");

    char text[64];
    config_value_text(&cfg, CFG_DAEMON_POLL_INTERVAL, text, sizeof text);
    assert_string_equal(text, "300ms");
    config_value_text(&cfg, CFG_DAEMON_SHUTDOWN_GRACE, text, sizeof text);
    assert_string_equal(text, "30s");
    config_value_text(&cfg, CFG_CUSTOM_PREUPGRADE, text, sizeof text);
    assert_string_equal(text, "");
    config_free(&cfg);
}

static void test_environment_overrides_defaults(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    setenv("DAEMON_POLL_INTERVAL", "1s", 1);
    setenv("DAEMON_MAX_RESTARTS", "0", 1);
    setenv("DAEMON_RESTART_ON_FAILURE", "FALSE", 1);
    setenv("DAEMON_DATA_BACKUP_DIR", "/srv/backups", 1);
    setenv("WEMIXVISOR_WATCH", "poll", 1);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0);

    assert_int_equal(cfg.poll_interval_ms, 1000);
    assert_int_equal(cfg.max_restarts, 0);
    assert_false(cfg.restart_on_failure);
    assert_string_equal(cfg.backup_dir, "/srv/backups");
    assert_int_equal(cfg.watch, WATCH_POLL);
    assert_int_equal(cfg.source[CFG_DAEMON_POLL_INTERVAL], CFG_SRC_ENV);
    assert_int_equal(cfg.source[CFG_DAEMON_DATA_BACKUP_DIR], CFG_SRC_ENV);
    assert_string_equal(config_source_name(cfg.source[CFG_DAEMON_MAX_RESTARTS]), "env");
    config_free(&cfg);
}

static void test_empty_variable_counts_as_unset(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    setenv("DAEMON_POLL_INTERVAL", "", 1); /* as in `DAEMON_POLL_INTERVAL= wemixvisor run` */
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_int_equal(cfg.poll_interval_ms, 300);
    assert_int_equal(cfg.source[CFG_DAEMON_POLL_INTERVAL], CFG_SRC_DEFAULT);
    config_free(&cfg);

    setenv("DAEMON_HOME", "", 1);
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_null(cfg.home);
    assert_null(cfg.backup_dir); /* no home, no default for the backups either */
    config_free(&cfg);
}

static void test_home_file_is_read_and_environment_wins_over_it(void **state)
{
    fixture_t *fx = *state;
    s_write_file(fx->config_json, "{\"DAEMON_POLL_INTERVAL\": \"2s\",\n"
                                  " \"DAEMON_SHUTDOWN_GRACE\": \"10s\",\n"
                                  " \"DAEMON_MAX_RESTARTS\": 7,\n"
                                  " \"VALIDATOR_MODE\": true,\n"
                                  " \"UNSAFE_SKIP_BACKUP\": \"true\"}\n");
    s_set_home_and_name(fx);
    setenv("DAEMON_POLL_INTERVAL", "1s", 1);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0);

    assert_string_equal(cfg.file, fx->config_json);
    assert_int_equal(cfg.poll_interval_ms, 1000); /* the environment wins */
    assert_int_equal(cfg.source[CFG_DAEMON_POLL_INTERVAL], CFG_SRC_ENV);
    assert_int_equal(cfg.shutdown_grace_ms, 10000);
    assert_int_equal(cfg.source[CFG_DAEMON_SHUTDOWN_GRACE], CFG_SRC_FILE);
    assert_int_equal(cfg.max_restarts, 7); /* a JSON integer */
    assert_int_equal(cfg.source[CFG_DAEMON_MAX_RESTARTS], CFG_SRC_FILE);
    assert_true(cfg.validator_mode);     /* a JSON boolean */
    assert_true(cfg.unsafe_skip_backup); /* a string works too */
    assert_int_equal(cfg.source[CFG_DAEMON_RPC_ADDRESS], CFG_SRC_DEFAULT);
    assert_string_equal(config_source_name(cfg.source[CFG_VALIDATOR_MODE]), "file");
    config_free(&cfg);
}

static void test_explicit_file_replaces_the_home_file(void **state)
{
    fixture_t *fx = *state;
    char explicit_file[PATH_MAX];
    snprintf(explicit_file, sizeof explicit_file, "%s/etc/agent.json", fx->home);
    s_write_file(explicit_file, "{\"DAEMON_NAME\": \"gwemix\", \"DAEMON_MAX_RESTARTS\": 9}");
    s_write_file(fx->config_json, "{\"DAEMON_MAX_RESTARTS\": 1, \"VALIDATOR_MODE\": true}");
    setenv("DAEMON_HOME", fx->home, 1);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, explicit_file, &err), 0);

    assert_string_equal(cfg.file, explicit_file);
    assert_string_equal(cfg.name, "gwemix");
    assert_int_equal(cfg.source[CFG_DAEMON_NAME], CFG_SRC_FILE);
    assert_int_equal(cfg.max_restarts, 9);
    assert_false(cfg.validator_mode); /* the home file was not read */
    config_free(&cfg);

    setenv("DAEMON_MAX_RESTARTS", "3", 1);
    assert_int_equal(config_load(&cfg, explicit_file, &err), 0);
    assert_int_equal(cfg.max_restarts, 3); /* the environment wins over an explicit file too */
    config_free(&cfg);
}

static void test_explicit_file_must_exist_and_be_absolute(void **state)
{
    fixture_t *fx = *state;
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/nope.json", fx->home);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, missing, &err), -1);
    tu_assert_contains(err.msg, missing);

    assert_int_equal(config_load(&cfg, "etc/agent.json", &err), -1);
    tu_assert_contains(err.msg, "--config");
    tu_assert_contains(err.msg, "absolute path");
}

static void test_file_refuses_unknown_keys_naming_them(void **state)
{
    fixture_t *fx = *state;
    s_write_file(fx->config_json, "{\"DAEMON_POLL_INTERVALL\": \"1s\"}");
    s_set_home_and_name(fx);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, "unknown key \"DAEMON_POLL_INTERVALL\"");
    tu_assert_contains(err.msg, fx->config_json);
    assert_null(cfg.home); /* on error nothing is kept */
}

static void test_file_refuses_invalid_json_naming_the_file(void **state)
{
    fixture_t *fx = *state;
    s_write_file(fx->config_json, "{\"DAEMON_POLL_INTERVAL\": \"1s\",}");
    s_set_home_and_name(fx);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, fx->config_json);
    tu_assert_contains(err.msg, "fix the JSON");

    s_write_file(fx->config_json, "[\"DAEMON_POLL_INTERVAL\"]");
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, fx->config_json);
    tu_assert_contains(err.msg, "JSON object");
}

static void test_file_refuses_bad_values_naming_key_and_file(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    wv_config_t cfg;
    wv_err_t err = {{0}};

    s_write_file(fx->config_json, "{\"DAEMON_MAX_RESTARTS\": 5000}");
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_MAX_RESTARTS");
    tu_assert_contains(err.msg, fx->config_json);
    tu_assert_contains(err.msg, "5000");

    /* a JSON number where a duration is expected: durations need their unit */
    s_write_file(fx->config_json, "{\"DAEMON_POLL_INTERVAL\": 5}");
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_POLL_INTERVAL must be a string");
    tu_assert_contains(err.msg, fx->config_json);
}

static void test_environment_refuses_bad_values_naming_the_variable(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    setenv("DAEMON_SHUTDOWN_GRACE", "30", 1);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_SHUTDOWN_GRACE=\"30\"");
    tu_assert_contains(err.msg, "ms, s, m or h");
}

static void test_relative_home_is_refused(void **state)
{
    (void)state;
    setenv("DAEMON_HOME", "var/lib/wemixd", 1);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_HOME=\"var/lib/wemixd\"");
    tu_assert_contains(err.msg, "absolute path");
}

static void test_daemon_name_must_be_a_plain_file_name(void **state)
{
    fixture_t *fx = *state;
    static const char *const refused[] = {"a/b", "..", ".", "../wemixd", "wemix d"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        s_set_home_and_name(fx);
        setenv("DAEMON_NAME", refused[i], 1);
        wv_config_t cfg;
        wv_err_t err = {{0}};
        assert_int_equal(config_load(&cfg, NULL, &err), -1);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "DAEMON_NAME=\"%s\"", refused[i]);
        tu_assert_contains(err.msg, quoted);
        tu_assert_contains(err.msg, "plain file name");
    }
    wv_err_t err = {{0}};
    assert_int_equal(config_check_daemon_name("wemixd-1.0_rc", &err), 0);
}

static void test_wemixvisor_custom_preupgrade_is_an_alias(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    setenv("WEMIXVISOR_CUSTOM_PREUPGRADE", "/opt/pre-wemix.sh", 1);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.custom_preupgrade, "/opt/pre-wemix.sh");
    assert_int_equal(cfg.source[CFG_CUSTOM_PREUPGRADE], CFG_SRC_ENV);
    assert_string_equal(cfg.env_name[CFG_CUSTOM_PREUPGRADE], "WEMIXVISOR_CUSTOM_PREUPGRADE");
    config_free(&cfg);

    /* the Cosmovisor name wins when both are set */
    setenv("COSMOVISOR_CUSTOM_PREUPGRADE", "/opt/pre-cosmos.sh", 1);
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.custom_preupgrade, "/opt/pre-cosmos.sh");
    assert_string_equal(cfg.env_name[CFG_CUSTOM_PREUPGRADE], "COSMOVISOR_CUSTOM_PREUPGRADE");
    config_free(&cfg);

    /* an empty Cosmovisor name is unset, so the alias is read */
    setenv("COSMOVISOR_CUSTOM_PREUPGRADE", "", 1);
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.custom_preupgrade, "/opt/pre-wemix.sh");
    config_free(&cfg);
}

static void test_require_home_names_what_is_missing(void **state)
{
    fixture_t *fx = *state;
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0); /* loading alone requires nothing */
    assert_int_equal(config_require_home(&cfg, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_HOME is not set");
    config_free(&cfg);

    setenv("DAEMON_HOME", fx->home, 1);
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_int_equal(config_require_home(&cfg, &err), -1);
    tu_assert_contains(err.msg, "DAEMON_NAME is not set");
    config_free(&cfg);

    setenv("DAEMON_NAME", "wemixd", 1);
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    assert_int_equal(config_require_home(&cfg, &err), 0);
    config_free(&cfg);
}

static void test_free_is_safe_twice_and_after_a_failed_load(void **state)
{
    fixture_t *fx = *state;
    s_set_home_and_name(fx);
    wv_config_t cfg;
    wv_err_t err = {{0}};
    assert_int_equal(config_load(&cfg, NULL, &err), 0);
    config_free(&cfg);
    assert_null(cfg.home);
    assert_null(cfg.rpc_address);
    config_free(&cfg);

    setenv("DAEMON_MAX_RESTARTS", "many", 1);
    assert_int_equal(config_load(&cfg, NULL, &err), -1);
    config_free(&cfg);

    wv_config_t zeroed = {0};
    config_free(&zeroed);
    assert_null(zeroed.file);
}

int main(void)
{
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_defaults_apply_when_nothing_is_set),
        TEST(test_environment_overrides_defaults),
        TEST(test_empty_variable_counts_as_unset),
        TEST(test_home_file_is_read_and_environment_wins_over_it),
        TEST(test_explicit_file_replaces_the_home_file),
        TEST(test_explicit_file_must_exist_and_be_absolute),
        TEST(test_file_refuses_unknown_keys_naming_them),
        TEST(test_file_refuses_invalid_json_naming_the_file),
        TEST(test_file_refuses_bad_values_naming_key_and_file),
        TEST(test_environment_refuses_bad_values_naming_the_variable),
        TEST(test_relative_home_is_refused),
        TEST(test_daemon_name_must_be_a_plain_file_name),
        TEST(test_wemixvisor_custom_preupgrade_is_an_alias),
        TEST(test_require_home_names_what_is_missing),
        TEST(test_free_is_safe_twice_and_after_a_failed_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
