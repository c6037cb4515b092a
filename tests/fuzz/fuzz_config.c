/* fuzz_config: the config file (--config <path>) through config_load, with DAEMON_HOME and
 * DAEMON_NAME set in the environment as an operator would, then every value read back with
 * config_value_text. Checks that a refused file keeps nothing and that config_free is safe twice.
 * Not fuzzed here: the environment's values (fuzz_value covers their parsers). */
#include "config.h"
#include "fuzzutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_FUZZ_MAX (1024 * 1024) /* CONFIG_FILE_MAX: a larger file is refused unread */
#define VALUE_TEXT_MAX 65536

static char s_file[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fz_init("config");
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(s_file, sizeof s_file, "%s/config.json", dir);
    if (mkdir(home, 0755) != 0)
        abort();
    /* only the variables this target sets: the caller's environment must not change a result */
    for (int i = 0; i < CFG_COUNT; i++)
        unsetenv(config_var_name((cfg_var_t)i));
    unsetenv("WEMIXVISOR_CUSTOM_PREUPGRADE");
    setenv("DAEMON_HOME", home, 1);
    setenv("DAEMON_NAME", "wemixd", 1);
    return 0;
}

static bool s_all_free(const wv_config_t *cfg)
{
    return cfg->home == NULL && cfg->name == NULL && cfg->backup_dir == NULL &&
           cfg->backup_compression == NULL && cfg->custom_preupgrade == NULL &&
           cfg->rpc_address == NULL && cfg->log_file == NULL && cfg->metrics_addr == NULL &&
           cfg->listen == NULL && cfg->peers == NULL && cfg->validators == NULL &&
           cfg->observers == NULL && cfg->chain_id == NULL && cfg->quorum_rule == NULL &&
           cfg->curve_peers == NULL && cfg->file == NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CONFIG_FUZZ_MAX || fz_write_file(s_file, data, size) != 0)
        return 0;
    wv_config_t cfg;
    wv_err_t err = {{0}};
    if (config_load(&cfg, s_file, &err) != 0) {
        FZ_CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
        FZ_CHECK(s_all_free(&cfg));
        return 0;
    }
    FZ_CHECK(cfg.file != NULL && strcmp(cfg.file, s_file) == 0);
    FZ_CHECK(config_require_home(&cfg, &err) == 0); /* both come from the environment */
    FZ_CHECK(cfg.home[0] == '/' && cfg.backup_dir != NULL);
    static char text[VALUE_TEXT_MAX];
    for (int i = 0; i < CFG_COUNT; i++) {
        config_value_text(&cfg, (cfg_var_t)i, text, sizeof text);
        FZ_CHECK(config_source_name(cfg.source[i]) != NULL);
        if (cfg.source[i] == CFG_SRC_FILE)
            FZ_CHECK(text[0] != '\0');
    }
    config_free(&cfg);
    FZ_CHECK(s_all_free(&cfg));
    config_free(&cfg);
    return 0;
}
