/* layout: where things live under $DAEMON_HOME (DESIGN section 5), computed once.
 * It reads the `current` symlink but changes nothing on disk except in layout_create(). */
#ifndef WV_LAYOUT_H
#define WV_LAYOUT_H

#include "config.h"
#include "err.h"

#include <limits.h>
#include <stdbool.h>

#define UPGRADE_NAME_MAX 128
#define GENESIS_NAME "genesis"

typedef struct {
    char home[PATH_MAX];             /* $DAEMON_HOME */
    char root[PATH_MAX];             /* $DAEMON_HOME/wemixvisor */
    char current[PATH_MAX];          /* root/current, the symlink */
    char genesis[PATH_MAX];          /* root/genesis */
    char upgrades[PATH_MAX];         /* root/upgrades */
    char plans[PATH_MAX];            /* root/plans */
    char state[PATH_MAX];            /* root/state.json, the journal */
    char data[PATH_MAX];             /* $DAEMON_HOME/data */
    char upgrade_info[PATH_MAX];     /* data/upgrade-info.json */
    char name[UPGRADE_NAME_MAX + 1]; /* $DAEMON_NAME */
} layout_t;

int layout_init(layout_t *l, const wv_config_t *cfg, wv_err_t *err);

/* Creates the directories of the layout (not `current`, not the binaries). */
int layout_create(const layout_t *l, wv_err_t *err);

/* Checks an upgrade name: [A-Za-z0-9._-]{1,128}, not "." or "..", so that it can never point
 * outside upgrades/. "genesis" is refused too: it is the name of the initial binary's dir. */
int upgrade_name_check(const char *name, wv_err_t *err);

/* The directory of an upgrade (genesis for GENESIS_NAME) and its binary. */
int layout_upgrade_dir(const layout_t *l, const char *upgrade, char *buf, size_t size,
                       wv_err_t *err);
int layout_upgrade_bin(const layout_t *l, const char *upgrade, char *buf, size_t size,
                       wv_err_t *err);
/* The relative target `current` gets for an upgrade: "genesis" or "upgrades/<name>". */
int layout_link_target(const char *upgrade, char *buf, size_t size, wv_err_t *err);

/* current/bin/$DAEMON_NAME, the binary the node is started from. */
int layout_current_bin(const layout_t *l, char *buf, size_t size, wv_err_t *err);

/* The name `current` points at: GENESIS_NAME or an upgrade name; -1 if the link is missing,
 * not a symlink, or points anywhere else. */
int layout_current_upgrade(const layout_t *l, char *buf, size_t size, wv_err_t *err);

#endif
