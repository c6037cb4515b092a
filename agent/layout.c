/* layout: path arithmetic for $DAEMON_HOME, and the names that are allowed in it.
 * Paths from upgrade files only ever become paths here, after upgrade_name_check(). */
#include "layout.h"
#include "fsutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DIR_MODE 0755

int upgrade_name_check(const char *name, wv_err_t *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > UPGRADE_NAME_MAX)
        return err_set(err, "upgrade name \"%.140s\": must be 1 to %d characters", name,
                       UPGRADE_NAME_MAX);
    if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
        return err_set(err, "upgrade name \"%s\": only A-Z a-z 0-9 . _ - are allowed", name);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_set(err, "upgrade name \"%s\": . and .. are not names", name);
    if (strcmp(name, GENESIS_NAME) == 0)
        return err_set(err, "upgrade name \"%s\": reserved for the initial binary", name);
    return 0;
}

int layout_init(layout_t *l, const wv_config_t *cfg, wv_err_t *err)
{
    if (config_require_home(cfg, err) != 0)
        return -1;
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", cfg->name);
    if (fs_join(l->home, sizeof l->home, err, cfg->home, NULL) != 0 ||
        fs_join(l->root, sizeof l->root, err, cfg->home, "wemixvisor", NULL) != 0 ||
        fs_join(l->current, sizeof l->current, err, l->root, "current", NULL) != 0 ||
        fs_join(l->genesis, sizeof l->genesis, err, l->root, GENESIS_NAME, NULL) != 0 ||
        fs_join(l->upgrades, sizeof l->upgrades, err, l->root, "upgrades", NULL) != 0 ||
        fs_join(l->plans, sizeof l->plans, err, l->root, "plans", NULL) != 0 ||
        fs_join(l->state, sizeof l->state, err, l->root, "state.json", NULL) != 0 ||
        fs_join(l->data, sizeof l->data, err, cfg->home, "data", NULL) != 0 ||
        fs_join(l->upgrade_info, sizeof l->upgrade_info, err, l->data, "upgrade-info.json", NULL) !=
            0)
        return -1;
    return 0;
}

int layout_create(const layout_t *l, wv_err_t *err)
{
    char bin[PATH_MAX];
    if (fs_join(bin, sizeof bin, err, l->genesis, "bin", NULL) != 0)
        return -1;
    const char *dirs[] = {l->root, bin, l->upgrades, l->plans, l->data};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (fs_mkdir_p(dirs[i], DIR_MODE, err) != 0)
            return -1;
    }
    return 0;
}

int layout_upgrade_dir(const layout_t *l, const char *upgrade, char *buf, size_t size,
                       wv_err_t *err)
{
    if (strcmp(upgrade, GENESIS_NAME) == 0)
        return fs_join(buf, size, err, l->genesis, NULL);
    if (upgrade_name_check(upgrade, err) != 0)
        return -1;
    return fs_join(buf, size, err, l->upgrades, upgrade, NULL);
}

int layout_upgrade_bin(const layout_t *l, const char *upgrade, char *buf, size_t size,
                       wv_err_t *err)
{
    char dir[PATH_MAX];
    if (layout_upgrade_dir(l, upgrade, dir, sizeof dir, err) != 0)
        return -1;
    return fs_join(buf, size, err, dir, "bin", l->name, NULL);
}

int layout_link_target(const char *upgrade, char *buf, size_t size, wv_err_t *err)
{
    if (strcmp(upgrade, GENESIS_NAME) == 0)
        return fs_join(buf, size, err, GENESIS_NAME, NULL);
    if (upgrade_name_check(upgrade, err) != 0)
        return -1;
    return fs_join(buf, size, err, "upgrades", upgrade, NULL);
}

int layout_current_bin(const layout_t *l, char *buf, size_t size, wv_err_t *err)
{
    return fs_join(buf, size, err, l->current, "bin", l->name, NULL);
}

int layout_current_upgrade(const layout_t *l, char *buf, size_t size, wv_err_t *err)
{
    struct stat st;
    if (lstat(l->current, &st) != 0)
        return err_sys(err, "%s", l->current);
    if (!S_ISLNK(st.st_mode))
        return err_set(err, "%s is not a symlink; move it away and run `wemixvisor init` again",
                       l->current);
    char target[PATH_MAX];
    if (fs_readlink(l->current, target, sizeof target, err) != 0)
        return -1;
    const char *name = NULL;
    if (strcmp(target, GENESIS_NAME) == 0)
        name = GENESIS_NAME;
    else if (strncmp(target, "upgrades/", 9) == 0 && upgrade_name_check(target + 9, NULL) == 0)
        name = target + 9;
    if (name == NULL)
        return err_set(err, "%s points at \"%s\", which is neither genesis nor upgrades/<name>",
                       l->current, target);
    if (snprintf(buf, size, "%s", name) >= (int)size)
        return err_set(err, "upgrade name too long");
    return 0;
}
