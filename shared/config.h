/* config: every variable of the agent, its default, where its value came from.
 * The environment wins over the config file, the file over the default. Values are validated
 * here, once; the rest of the program reads a wv_config_t it can trust. */
#ifndef WV_CONFIG_H
#define WV_CONFIG_H

#define CONFIG_LIST_MAX 256 /* items of a list variable (peers, validators) */

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { CFG_SRC_UNSET = 0, CFG_SRC_DEFAULT, CFG_SRC_FILE, CFG_SRC_ENV } cfg_source_t;

typedef enum {
    CFG_DAEMON_HOME = 0,
    CFG_DAEMON_NAME,
    CFG_DAEMON_RESTART_AFTER_UPGRADE,
    CFG_DAEMON_RESTART_DELAY,
    CFG_DAEMON_POLL_INTERVAL,
    CFG_DAEMON_SHUTDOWN_GRACE,
    CFG_DAEMON_DATA_BACKUP_DIR,
    CFG_UNSAFE_SKIP_BACKUP,
    CFG_DAEMON_PREUPGRADE_MAX_RETRIES,
    CFG_CUSTOM_PREUPGRADE,
    CFG_DAEMON_RPC_ADDRESS,
    CFG_VALIDATOR_MODE,
    CFG_DAEMON_ALLOW_DOWNLOAD_BINARIES,
    CFG_UNSAFE_SKIP_CHECKSUM,
    CFG_DAEMON_RESTART_ON_FAILURE,
    CFG_DAEMON_MAX_RESTARTS,
    CFG_DAEMON_HEALTH_CHECK_INTERVAL,
    CFG_DAEMON_LOG_FILE,
    CFG_WEMIXVISOR_WATCH,
    CFG_DAEMON_LOG_MAX_SIZE,
    CFG_DAEMON_LOG_MAX_FILES,
    CFG_WEMIXVISOR_METRICS_ADDR,
    CFG_DAEMON_PREUPGRADE_TIMEOUT,
    CFG_DAEMON_UPGRADE_VERIFY_TIMEOUT,
    CFG_DAEMON_BACKUP_COMPRESSION,
    CFG_WEMIXVISOR_LISTEN,
    CFG_WEMIXVISOR_PEERS,
    CFG_WEMIXVISOR_VALIDATORS,
    CFG_WEMIXVISOR_OBSERVERS,
    CFG_WEMIXVISOR_CHAIN_ID,
    CFG_WEMIXVISOR_HEARTBEAT,
    CFG_WEMIXVISOR_QUORUM_RULE,
    CFG_WEMIXVISOR_CURVE,
    CFG_WEMIXVISOR_CURVE_PEERS,
    CFG_COUNT
} cfg_var_t;

/* How the agent notices a new upgrade-info.json. */
typedef enum { WATCH_AUTO = 0, WATCH_POLL } watch_mode_t;

typedef struct {
    char *home;                     /* DAEMON_HOME, absolute; NULL when unset */
    char *name;                     /* DAEMON_NAME; NULL when unset */
    bool restart_after_upgrade;     /* DAEMON_RESTART_AFTER_UPGRADE */
    uint64_t restart_delay_ms;      /* DAEMON_RESTART_DELAY */
    uint64_t poll_interval_ms;      /* DAEMON_POLL_INTERVAL */
    uint64_t shutdown_grace_ms;     /* DAEMON_SHUTDOWN_GRACE */
    char *backup_dir;               /* DAEMON_DATA_BACKUP_DIR; defaults to $DAEMON_HOME/backups */
    char *backup_compression;       /* DAEMON_BACKUP_COMPRESSION: zstd, gzip or none */
    bool unsafe_skip_backup;        /* UNSAFE_SKIP_BACKUP */
    int64_t preupgrade_max_retries; /* DAEMON_PREUPGRADE_MAX_RETRIES */
    char *custom_preupgrade;        /* COSMOVISOR_/WEMIXVISOR_CUSTOM_PREUPGRADE; may be NULL */
    char *rpc_address;              /* DAEMON_RPC_ADDRESS, host:port */
    bool validator_mode;            /* VALIDATOR_MODE */
    bool allow_download_binaries;   /* DAEMON_ALLOW_DOWNLOAD_BINARIES */
    bool unsafe_skip_checksum;      /* UNSAFE_SKIP_CHECKSUM */
    bool restart_on_failure;        /* DAEMON_RESTART_ON_FAILURE */
    int64_t max_restarts;           /* DAEMON_MAX_RESTARTS */
    uint64_t health_check_interval_ms; /* DAEMON_HEALTH_CHECK_INTERVAL */
    char *log_file;                    /* DAEMON_LOG_FILE; NULL: node output passes through */
    watch_mode_t watch;             /* WEMIXVISOR_WATCH: auto (inotify, polling fallback) or poll */
    uint64_t log_max_size;          /* DAEMON_LOG_MAX_SIZE: rotate DAEMON_LOG_FILE past this */
    int64_t log_max_files;          /* DAEMON_LOG_MAX_FILES: rotated files kept */
    char *metrics_addr;             /* WEMIXVISOR_METRICS_ADDR: host:port of /metrics, NULL: off */
    uint64_t preupgrade_timeout_ms; /* DAEMON_PREUPGRADE_TIMEOUT: one run of a hook */
    uint64_t verify_timeout_ms;     /* DAEMON_UPGRADE_VERIFY_TIMEOUT: new node past the height */
    char *listen;                   /* WEMIXVISOR_LISTEN: the gossip PUB endpoint, NULL: none */
    char *peers;                    /* WEMIXVISOR_PEERS: comma-separated endpoints, NULL: none */
    char *validators;               /* WEMIXVISOR_VALIDATORS: comma-separated public keys */
    char *observers;                /* WEMIXVISOR_OBSERVERS: keys of non-validator agents */
    char *chain_id;                 /* WEMIXVISOR_CHAIN_ID */
    uint64_t heartbeat_ms;          /* WEMIXVISOR_HEARTBEAT: a full STATE this often */
    char *quorum_rule;              /* WEMIXVISOR_QUORUM_RULE: wbft or ceil2n3 */
    bool curve;                     /* WEMIXVISOR_CURVE: encrypt and authenticate the gossip */
    char *curve_peers;              /* WEMIXVISOR_CURVE_PEERS: dir of allowed public certs */

    char *file;                      /* the config file that was read, or NULL */
    cfg_source_t source[CFG_COUNT];  /* where each value came from */
    const char *env_name[CFG_COUNT]; /* the environment name it was read under, if env */
} wv_config_t;

/* Loads defaults, then the config file (`file`, or $DAEMON_HOME/wemixvisor/config.json when it
 * exists), then the environment. On error nothing is kept and err names the variable, the value
 * and what is allowed. */
int config_load(wv_config_t *cfg, const char *file, wv_err_t *err);

/* Frees what config_load allocated; safe on a zeroed or already freed config. */
void config_free(wv_config_t *cfg);

/* Requires DAEMON_HOME and DAEMON_NAME, which have no default: acting on a guessed home is how
 * the wrong node gets upgraded. */
int config_require_home(const wv_config_t *cfg, wv_err_t *err);

/* Introspection for `wemixvisor config`. */
const char *config_var_name(cfg_var_t var);
const char *config_var_help(cfg_var_t var);
/* The effective value as text ("" when unset). */
void config_value_text(const wv_config_t *cfg, cfg_var_t var, char *buf, size_t size);
const char *config_source_name(cfg_source_t src);

/* Checks a DAEMON_NAME: a plain file name, [A-Za-z0-9._-]{1,128}, not "." or "..". */
int config_check_daemon_name(const char *name, wv_err_t *err);

#endif
