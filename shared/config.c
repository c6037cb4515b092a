/* config: the table of variables, and loading them from defaults, a JSON file and the env.
 * Adding a variable is one row in s_vars and one field in wv_config_t; nothing else. */
#include "config.h"
#include "value.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_REL "wemixvisor/config.json"
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_TEXT_MAX (CONFIG_LIST_MAX * 80) /* one value in the file */
#define MS_PER_HOUR (3600ULL * 1000)
#define MS_PER_DAY (24 * MS_PER_HOUR)

typedef enum {
    K_STRING,
    K_NAME,
    K_PATH,
    K_BOOL,
    K_DURATION,
    K_INT,
    K_SIZE,
    K_HOSTPORT,
    K_WATCH,
    K_COMPRESSION, /* a string, one of zstd, gzip, none */
    K_ENDPOINT,    /* a ZeroMQ endpoint */
    K_ENDPOINTS,   /* a comma-separated list of them */
    K_KEYS,        /* a comma-separated list of public keys */
    K_CHAIN,       /* a chain id */
    K_QRULE        /* wbft or ceil2n3 */
} kind_t;

typedef struct {
    cfg_var_t id;
    const char *name;  /* the variable's name, also its key in the config file */
    const char *alias; /* a second environment name read when the first is unset, or NULL */
    kind_t kind;
    const char *def;  /* default as text, or NULL for none */
    size_t offset;    /* of the field in wv_config_t */
    int64_t min, max; /* bounds: milliseconds for durations, values for integers */
    const char *help;
} var_t;

#define F(field) offsetof(wv_config_t, field)

static const var_t s_vars[CFG_COUNT] = {
    {CFG_DAEMON_HOME, "DAEMON_HOME", NULL, K_PATH, NULL, F(home), 0, 0,
     "home of the node: holds wemixvisor/, data/ and backups/ (absolute path, required)"},
    {CFG_DAEMON_NAME, "DAEMON_NAME", NULL, K_NAME, NULL, F(name), 0, 0,
     "file name of the node binary under bin/ (required)"},
    {CFG_DAEMON_RESTART_AFTER_UPGRADE, "DAEMON_RESTART_AFTER_UPGRADE", NULL, K_BOOL, "true",
     F(restart_after_upgrade), 0, 0, "start the new binary after an upgrade (false: exit 0)"},
    {CFG_DAEMON_RESTART_DELAY, "DAEMON_RESTART_DELAY", NULL, K_DURATION, "0s", F(restart_delay_ms),
     0, (int64_t)MS_PER_HOUR, "wait between the switch and the new start"},
    {CFG_DAEMON_POLL_INTERVAL, "DAEMON_POLL_INTERVAL", NULL, K_DURATION, "300ms",
     F(poll_interval_ms), 10, (int64_t)MS_PER_HOUR, "how often upgrade files are polled"},
    {CFG_DAEMON_SHUTDOWN_GRACE, "DAEMON_SHUTDOWN_GRACE", NULL, K_DURATION, "30s",
     F(shutdown_grace_ms), 0, (int64_t)MS_PER_HOUR, "SIGTERM to SIGQUIT wait when stopping"},
    {CFG_DAEMON_DATA_BACKUP_DIR, "DAEMON_DATA_BACKUP_DIR", NULL, K_PATH, NULL, F(backup_dir), 0, 0,
     "where data backups go (default $DAEMON_HOME/backups)"},
    {CFG_UNSAFE_SKIP_BACKUP, "UNSAFE_SKIP_BACKUP", NULL, K_BOOL, "false", F(unsafe_skip_backup), 0,
     0, "skip the data backup before an upgrade"},
    {CFG_DAEMON_PREUPGRADE_MAX_RETRIES, "DAEMON_PREUPGRADE_MAX_RETRIES", NULL, K_INT, "0",
     F(preupgrade_max_retries), 0, 100, "retries of a failing pre-upgrade script"},
    {CFG_CUSTOM_PREUPGRADE, "COSMOVISOR_CUSTOM_PREUPGRADE", "WEMIXVISOR_CUSTOM_PREUPGRADE", K_PATH,
     NULL, F(custom_preupgrade), 0, 0, "script run before every upgrade (absolute path)"},
    {CFG_DAEMON_RPC_ADDRESS, "DAEMON_RPC_ADDRESS", NULL, K_HOSTPORT, "localhost:8545",
     F(rpc_address), 0, 0, "the node's JSON-RPC endpoint, host:port"},
    {CFG_VALIDATOR_MODE, "VALIDATOR_MODE", NULL, K_BOOL, "false", F(validator_mode), 0, 0,
     "this node is a validator: upgrades wait for the validators' quorum"},
    {CFG_DAEMON_ALLOW_DOWNLOAD_BINARIES, "DAEMON_ALLOW_DOWNLOAD_BINARIES", NULL, K_BOOL, "false",
     F(allow_download_binaries), 0, 0, "download a missing upgrade binary from its info URL"},
    {CFG_UNSAFE_SKIP_CHECKSUM, "UNSAFE_SKIP_CHECKSUM", NULL, K_BOOL, "false",
     F(unsafe_skip_checksum), 0, 0, "accept downloads without a checksum"},
    {CFG_DAEMON_RESTART_ON_FAILURE, "DAEMON_RESTART_ON_FAILURE", NULL, K_BOOL, "true",
     F(restart_on_failure), 0, 0, "restart the node when it exits on its own"},
    {CFG_DAEMON_MAX_RESTARTS, "DAEMON_MAX_RESTARTS", NULL, K_INT, "5", F(max_restarts), 0, 1000,
     "restarts allowed before the node is marked failed"},
    {CFG_DAEMON_HEALTH_CHECK_INTERVAL, "DAEMON_HEALTH_CHECK_INTERVAL", NULL, K_DURATION, "30s",
     F(health_check_interval_ms), 100, (int64_t)MS_PER_DAY,
     "how often the node's health is checked"},
    {CFG_DAEMON_LOG_FILE, "DAEMON_LOG_FILE", NULL, K_PATH, NULL, F(log_file), 0, 0,
     "file for the node's output (default: passed through)"},
    {CFG_WEMIXVISOR_WATCH, "WEMIXVISOR_WATCH", NULL, K_WATCH, "auto", F(watch), 0, 0,
     "auto (inotify, polling as fallback) or poll (polling only)"},
    {CFG_DAEMON_LOG_MAX_SIZE, "DAEMON_LOG_MAX_SIZE", NULL, K_SIZE, "100MiB", F(log_max_size), 4096,
     (int64_t)1 << 40, "rotate DAEMON_LOG_FILE when it would grow past this"},
    {CFG_DAEMON_LOG_MAX_FILES, "DAEMON_LOG_MAX_FILES", NULL, K_INT, "5", F(log_max_files), 1, 100,
     "rotated node log files kept (file.1 ... file.N)"},
    {CFG_WEMIXVISOR_METRICS_ADDR, "WEMIXVISOR_METRICS_ADDR", NULL, K_HOSTPORT, NULL,
     F(metrics_addr), 0, 0, "host:port to serve Prometheus /metrics on (unset: off)"},
    {CFG_DAEMON_PREUPGRADE_TIMEOUT, "DAEMON_PREUPGRADE_TIMEOUT", NULL, K_DURATION, "5m",
     F(preupgrade_timeout_ms), 100, (int64_t)MS_PER_DAY,
     "a pre-upgrade script running longer is killed"},
    {CFG_DAEMON_UPGRADE_VERIFY_TIMEOUT, "DAEMON_UPGRADE_VERIFY_TIMEOUT", NULL, K_DURATION, "5m",
     F(verify_timeout_ms), 100, (int64_t)MS_PER_DAY,
     "the new node must pass the upgrade height within this, or the upgrade is rolled back"},
    {CFG_DAEMON_BACKUP_COMPRESSION, "DAEMON_BACKUP_COMPRESSION", NULL, K_COMPRESSION, "none",
     F(backup_compression), 0, 0, "compression of data backups: zstd, gzip or none"},
    {CFG_WEMIXVISOR_LISTEN, "WEMIXVISOR_LISTEN", NULL, K_ENDPOINT, NULL, F(listen), 0, 0,
     "gossip: the endpoint this agent publishes its state on, e.g. tcp://0.0.0.0:7600"},
    {CFG_WEMIXVISOR_PEERS, "WEMIXVISOR_PEERS", NULL, K_ENDPOINTS, NULL, F(peers), 0, 0,
     "gossip: the other agents' endpoints, comma-separated"},
    {CFG_WEMIXVISOR_VALIDATORS, "WEMIXVISOR_VALIDATORS", NULL, K_KEYS, NULL, F(validators), 0, 0,
     "gossip: the validators' agent keys (`wemixvisor id`), comma-separated"},
    {CFG_WEMIXVISOR_OBSERVERS, "WEMIXVISOR_OBSERVERS", NULL, K_KEYS, NULL, F(observers), 0, 0,
     "gossip: keys of non-validator agents whose state is accepted (they never vote)"},
    {CFG_WEMIXVISOR_CHAIN_ID, "WEMIXVISOR_CHAIN_ID", NULL, K_CHAIN, NULL, F(chain_id), 0, 0,
     "gossip: the chain id every message carries; others are dropped"},
    {CFG_WEMIXVISOR_HEARTBEAT, "WEMIXVISOR_HEARTBEAT", NULL, K_DURATION, "1s", F(heartbeat_ms), 10,
     (int64_t)MS_PER_HOUR, "gossip: how often the full state is published"},
    {CFG_WEMIXVISOR_QUORUM_RULE, "WEMIXVISOR_QUORUM_RULE", NULL, K_QRULE, "wbft", F(quorum_rule), 0,
     0, "quorum of n validators: wbft (n - floor((n-1)/3)) or ceil2n3 (ceil(2n/3))"},
    {CFG_WEMIXVISOR_CURVE, "WEMIXVISOR_CURVE", NULL, K_BOOL, "false", F(curve), 0, 0,
     "gossip: CURVE encryption and authentication (keys from `wemixvisor init`)"},
    {CFG_WEMIXVISOR_CURVE_PEERS, "WEMIXVISOR_CURVE_PEERS", NULL, K_PATH, NULL, F(curve_peers), 0, 0,
     "gossip: directory of the peers' public CURVE certs (default "
     "$DAEMON_HOME/wemixvisor/curve/peers)"},
};

const char *config_var_name(cfg_var_t var)
{
    return s_vars[var].name;
}

const char *config_var_help(cfg_var_t var)
{
    return s_vars[var].help;
}

const char *config_source_name(cfg_source_t src)
{
    switch (src) {
    case CFG_SRC_DEFAULT:
        return "default";
    case CFG_SRC_FILE:
        return "file";
    case CFG_SRC_ENV:
        return "env";
    default:
        return "unset";
    }
}

int config_check_daemon_name(const char *name, wv_err_t *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > 128 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
        return err_set(err,
                       "DAEMON_NAME=\"%s\": not a plain file name; use 1 to 128 of "
                       "A-Z a-z 0-9 . _ - (not . or ..)",
                       name);
    return 0;
}

static char **s_str_field(wv_config_t *cfg, const var_t *v)
{
    return (char **)((char *)cfg + v->offset);
}

/* Parses `text` for variable v and stores it; the previous value, if any, is replaced. */
static int s_store(wv_config_t *cfg, const var_t *v, const char *label, const char *text,
                   wv_err_t *err)
{
    void *field = (char *)cfg + v->offset;
    switch (v->kind) {
    case K_BOOL:
        return value_parse_bool(label, text, (bool *)field, err);
    case K_DURATION:
        return value_parse_duration(label, text, (uint64_t)v->min, (uint64_t)v->max,
                                    (uint64_t *)field, err);
    case K_INT:
        return value_parse_int(label, text, v->min, v->max, (int64_t *)field, err);
    case K_SIZE:
        return value_parse_size(label, text, (uint64_t)v->min, (uint64_t)v->max, (uint64_t *)field,
                                err);
    case K_WATCH:
        if (strcmp(text, "auto") == 0)
            *(watch_mode_t *)field = WATCH_AUTO;
        else if (strcmp(text, "poll") == 0)
            *(watch_mode_t *)field = WATCH_POLL;
        else
            return err_set(err, "%s=\"%s\": unknown watch mode; use auto or poll", label, text);
        return 0;
    case K_PATH:
        if (value_parse_abs_path(label, text, err) != 0)
            return -1;
        break;
    case K_HOSTPORT:
        if (value_parse_host_port(label, text, err) != 0)
            return -1;
        break;
    case K_NAME:
        if (config_check_daemon_name(text, err) != 0)
            return -1;
        break;
    case K_COMPRESSION:
        if (strcmp(text, "zstd") != 0 && strcmp(text, "gzip") != 0 && strcmp(text, "none") != 0)
            return err_set(err, "%s=\"%s\": unknown compression; use zstd, gzip or none", label,
                           text);
        break;
    case K_ENDPOINT:
        if (value_parse_endpoint(label, text, err) != 0)
            return -1;
        break;
    case K_ENDPOINTS:
        if (value_parse_list(label, text, CONFIG_LIST_MAX, value_parse_endpoint, err) != 0)
            return -1;
        break;
    case K_KEYS:
        if (strcmp(text, "rpc") == 0)
            return err_set(err,
                           "%s=rpc: reading the validator set from the node is not supported "
                           "yet (node addresses are not agent keys); list the agents' keys as "
                           "`wemixvisor id` prints them, comma-separated",
                           label);
        if (value_parse_list(label, text, CONFIG_LIST_MAX, value_parse_pubkey, err) != 0)
            return -1;
        break;
    case K_CHAIN: {
        size_t len = strlen(text);
        if (len == 0 || len > 64 ||
            strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                len)
            return err_set(err, "%s=\"%s\": a chain id is 1 to 64 of A-Z a-z 0-9 . _ -", label,
                           text);
        break;
    }
    case K_QRULE:
        if (strcmp(text, "wbft") != 0 && strcmp(text, "ceil2n3") != 0)
            return err_set(err, "%s=\"%s\": unknown quorum rule; use wbft or ceil2n3", label, text);
        break;
    case K_STRING:
        break;
    }
    char *copy = strdup(text);
    if (copy == NULL)
        return err_set(err, "out of memory");
    char **slot = s_str_field(cfg, v);
    free(*slot);
    *slot = copy;
    return 0;
}

/* The config file holds the same keys as the environment. Values are strings, or JSON booleans
 * and integers where the variable takes those. Unknown keys are refused: a typo must not be
 * silently ignored on a validator. */
static int s_load_file(wv_config_t *cfg, const char *path, bool must_exist, wv_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        return err_sys(err, "config file %s", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX)
        return err_set(err, "config file %s: not a regular file of at most 1 MiB", path);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return err_set(err, "config file %s: line %d: %s; fix the JSON", path, jerr.line,
                       jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(err, "config file %s: must be a JSON object of VARIABLE: value", path);
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        const var_t *v = NULL;
        for (int i = 0; i < CFG_COUNT; i++) {
            if (strcmp(key, s_vars[i].name) == 0 ||
                (s_vars[i].alias && strcmp(key, s_vars[i].alias) == 0))
                v = &s_vars[i];
        }
        if (v == NULL) {
            /* key lives in root: the message is formatted before root is let go */
            err_set(err,
                    "config file %s: unknown key \"%s\"; see `wemixvisor config` for the known "
                    "variables",
                    path, key);
            json_decref(root);
            return -1;
        }
        char text[CONFIG_TEXT_MAX];
        if (json_is_string(val) && strlen(json_string_value(val)) >= sizeof text) {
            err_set(err, "config file %s: the value of %s is too long", path, key);
            json_decref(root);
            return -1;
        }
        if (json_is_string(val))
            snprintf(text, sizeof text, "%s", json_string_value(val));
        else if (json_is_boolean(val) && v->kind == K_BOOL)
            snprintf(text, sizeof text, "%s", json_is_true(val) ? "true" : "false");
        else if (json_is_integer(val) && v->kind == K_INT)
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(val));
        else {
            err_set(err, "config file %s: %s must be a string%s", path, key,
                    v->kind == K_BOOL  ? " or a boolean"
                    : v->kind == K_INT ? " or an integer"
                                       : "");
            json_decref(root);
            return -1;
        }
        char label[256];
        snprintf(label, sizeof label, "%s (in %s)", key, path);
        if (text[0] != '\0' && s_store(cfg, v, label, text, err) != 0) {
            json_decref(root);
            return -1;
        }
        if (text[0] != '\0')
            cfg->source[v->id] = CFG_SRC_FILE;
    }
    json_decref(root);
    cfg->file = strdup(path);
    if (cfg->file == NULL)
        return err_set(err, "out of memory");
    return 0;
}

int config_load(wv_config_t *cfg, const char *file, wv_err_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < CFG_COUNT; i++) {
        const var_t *v = &s_vars[i];
        if (v->def != NULL) {
            if (s_store(cfg, v, v->name, v->def, err) != 0)
                goto fail; /* a bad default is a programming error, but say so */
            cfg->source[i] = CFG_SRC_DEFAULT;
        }
    }

    /* The file is found through DAEMON_HOME, so that one is checked first. */
    const char *env_home = getenv("DAEMON_HOME");
    if (file != NULL) {
        if (value_parse_abs_path("--config", file, err) != 0 || s_load_file(cfg, file, true, err))
            goto fail;
    } else if (env_home != NULL && env_home[0] == '/') {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", env_home, CONFIG_FILE_REL) < (int)sizeof path &&
            s_load_file(cfg, path, false, err) != 0)
            goto fail;
    }

    for (int i = 0; i < CFG_COUNT; i++) {
        const var_t *v = &s_vars[i];
        const char *used = v->name;
        const char *text = getenv(v->name);
        if ((text == NULL || text[0] == '\0') && v->alias != NULL) {
            used = v->alias;
            text = getenv(v->alias);
        }
        if (text == NULL || text[0] == '\0')
            continue; /* empty means unset, as in `VAR= wemixvisor ...` */
        if (s_store(cfg, v, used, text, err) != 0)
            goto fail;
        cfg->source[i] = CFG_SRC_ENV;
        cfg->env_name[i] = used;
    }

    if (cfg->backup_dir == NULL && cfg->home != NULL) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/backups", cfg->home) >= (int)sizeof path) {
            err_set(err, "DAEMON_HOME=\"%s\": path too long", cfg->home);
            goto fail;
        }
        cfg->backup_dir = strdup(path);
        if (cfg->backup_dir == NULL) {
            err_set(err, "out of memory");
            goto fail;
        }
        cfg->source[CFG_DAEMON_DATA_BACKUP_DIR] = CFG_SRC_DEFAULT;
    }
    return 0;

fail:
    config_free(cfg);
    return -1;
}

void config_free(wv_config_t *cfg)
{
    for (int i = 0; i < CFG_COUNT; i++) {
        kind_t k = s_vars[i].kind;
        if (k != K_BOOL && k != K_DURATION && k != K_INT && k != K_SIZE && k != K_WATCH) {
            char **slot = s_str_field(cfg, &s_vars[i]);
            free(*slot);
            *slot = NULL;
        }
    }
    free(cfg->file);
    cfg->file = NULL;
}

int config_require_home(const wv_config_t *cfg, wv_err_t *err)
{
    if (cfg->home == NULL)
        return err_set(err, "DAEMON_HOME is not set; set it to the node's home directory, an "
                            "absolute path (e.g. export DAEMON_HOME=/var/lib/wemixd)");
    if (cfg->name == NULL)
        return err_set(err, "DAEMON_NAME is not set; set it to the file name of the node binary "
                            "(e.g. export DAEMON_NAME=wemixd)");
    return 0;
}

void config_value_text(const wv_config_t *cfg, cfg_var_t var, char *buf, size_t size)
{
    const var_t *v = &s_vars[var];
    const void *field = (const char *)cfg + v->offset;
    switch (v->kind) {
    case K_BOOL:
        snprintf(buf, size, "%s", *(const bool *)field ? "true" : "false");
        break;
    case K_DURATION:
        value_format_duration(*(const uint64_t *)field, buf, size);
        break;
    case K_INT:
        snprintf(buf, size, "%lld", (long long)*(const int64_t *)field);
        break;
    case K_SIZE:
        value_format_size(*(const uint64_t *)field, buf, size);
        break;
    case K_WATCH:
        snprintf(buf, size, "%s", *(const watch_mode_t *)field == WATCH_POLL ? "poll" : "auto");
        break;
    default: {
        const char *s = *(char *const *)field;
        snprintf(buf, size, "%s", s ? s : "");
    }
    }
}
