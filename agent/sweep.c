/* sweep: removes the temporaries of interrupted writes at agent start (see sweep.h). */
#include "sweep.h"

#include "fsutil.h"
#include "log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_SUFFIX_LEN 6 /* the XXXXXX of mkstemp/mkdtemp */

/* Does name end with "<sep>" followed by exactly the 6 characters mkstemp puts there? */
static bool s_ends_with_temp(const char *name, const char *sep)
{
    size_t len = strlen(name), sep_len = strlen(sep);
    if (len < sep_len + TEMP_SUFFIX_LEN)
        return false;
    const char *tail = name + len - TEMP_SUFFIX_LEN;
    if (strncmp(tail - sep_len, sep, sep_len) != 0)
        return false;
    for (const char *c = tail; *c != '\0'; c++) {
        if (!isalnum((unsigned char)*c))
            return false;
    }
    return true;
}

bool sweep_is_temp_name(const char *name)
{
    return strlen(name) > strlen(".tmp.") + TEMP_SUFFIX_LEN && s_ends_with_temp(name, ".tmp.");
}

/* "<base>.<kind>.XXXXXX": a sibling of the data dir made by a restore. */
static bool s_is_data_sibling(const char *name, const char *base)
{
    size_t base_len = strlen(base);
    if (strncmp(name, base, base_len) != 0)
        return false;
    const char *rest = name + base_len;
    return (strncmp(rest, ".old.", 5) == 0 && s_ends_with_temp(rest, ".old.") &&
            strlen(rest) == 5 + TEMP_SUFFIX_LEN) ||
           (strncmp(rest, ".restore.", 9) == 0 && s_ends_with_temp(rest, ".restore.") &&
            strlen(rest) == 9 + TEMP_SUFFIX_LEN);
}

/* "<link>.new.<pid>": the temporary link of a symlink switch whose process is gone. */
static bool s_is_dead_link_temp(const char *dir, const char *name)
{
    const char *dot = strstr(name, ".new.");
    if (dot == NULL || dot == name || dot[5] == '\0')
        return false;
    char *end;
    errno = 0;
    long pid = strtol(dot + 5, &end, 10);
    if (*end != '\0' || errno != 0 || pid <= 0 || pid > INT_MAX)
        return false;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
        return false;
    return pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

typedef bool(match_fn)(const char *dir, const char *name, const void *arg);

static bool s_match_temp(const char *dir, const char *name, const void *arg)
{
    (void)arg;
    return sweep_is_temp_name(name) || s_is_dead_link_temp(dir, name);
}

static bool s_match_data_sibling(const char *dir, const char *name, const void *arg)
{
    (void)dir;
    return s_is_data_sibling(name, arg);
}

static size_t s_remove_one(const char *dir, const char *name)
{
    char path[PATH_MAX];
    wv_err_t err = {0};
    bool removed = false;
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return 0;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) { /* a link temp: no lock to ask */
        removed = unlink(path) == 0;
        if (!removed)
            err_sys(&err, "cannot remove %s", path);
    } else {
        fs_remove_if_abandoned(path, &removed, &err);
    }
    if (removed)
        log_info("sweep", "removed what an interrupted write left behind", LF_STR("path", path));
    else if (err.msg[0] != '\0')
        log_warn("sweep", "a leftover temporary could not be removed; remove it by hand",
                 LF_STR("path", path), LF_STR("reason", err.msg));
    return removed ? 1 : 0;
}

/* Removes the entries of dir that match; a missing dir is nothing to sweep. With descend (a
 * relative path: "." or "bin"), descend of every sub-directory that does not match is swept
 * too, and nothing deeper: an upgrade's own files are not the agent's to judge. */
static size_t s_sweep_dir(const char *dir, match_fn *match, const void *arg, const char *descend)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t removed = 0;
    struct dirent *e;
    /* names first, removal after: removing while reading a directory may skip entries */
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char **grown = realloc(names, ncap * sizeof *names);
            if (grown == NULL)
                break;
            names = grown;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            break;
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX];
        if (match(dir, names[i], arg))
            removed += s_remove_one(dir, names[i]);
        else if (descend != NULL &&
                 snprintf(sub, sizeof sub, "%s/%s%s%s", dir, names[i],
                          strcmp(descend, ".") == 0 ? "" : "/",
                          strcmp(descend, ".") == 0 ? "" : descend) < (int)sizeof sub &&
                 fs_is_dir(sub))
            removed += s_sweep_dir(sub, match, arg, NULL);
        free(names[i]);
    }
    free(names);
    return removed;
}

size_t sweep_stale_temps(const layout_t *l, const char *backup_dir)
{
    size_t removed = 0;
    /* the journal, node.pid, gossip.seq, `current` and the identity live in root; binaries in
     * upgrades/<name>/bin and genesis/bin; downloads in upgrades/ */
    removed += s_sweep_dir(l->root, s_match_temp, NULL, NULL);
    removed += s_sweep_dir(l->upgrades, s_match_temp, NULL, "bin");
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/bin", l->genesis) < (int)sizeof path)
        removed += s_sweep_dir(path, s_match_temp, NULL, NULL);
    removed += s_sweep_dir(l->plans, s_match_temp, NULL, NULL);
    removed += s_sweep_dir(l->data, s_match_temp, NULL, NULL);
    /* data/upgrades/<height>/upgrade-info.json, written by `upgrade schedule` */
    if (snprintf(path, sizeof path, "%s/upgrades", l->data) < (int)sizeof path)
        removed += s_sweep_dir(path, s_match_temp, NULL, ".");
    if (backup_dir != NULL)
        removed += s_sweep_dir(backup_dir, s_match_temp, NULL, NULL);
    if (fs_is_dir(l->data)) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", l->data);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash[1] != '\0') {
            *slash = '\0';
            removed += s_sweep_dir(parent[0] != '\0' ? parent : "/", s_match_data_sibling,
                                   slash + 1, NULL);
        }
    }
    return removed;
}
