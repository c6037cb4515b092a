/* schedule: upgrades planned at a height, kept as data/upgrades/<height>/upgrade-info.json, and
 * the `wemixvisor upgrade` command that edits them. It never stops or switches a node. */
#include "schedule.h"
#include "commands.h"
#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "noderpc.h"
#include "value.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPONENT "schedule"
#define SCHEDULE_SUBDIR "upgrades"        /* under data/ */
#define SCHEDULE_FILE "upgrade-info.json" /* in each data/upgrades/<height>/ */
#define HEIGHT_DIGITS_MAX 19              /* INT64_MAX has 19 decimal digits */
#define HEIGHT_TEXT_MAX (HEIGHT_DIGITS_MAX + 1)
#define MODE_AT_HEIGHT "at-height" /* the default: stop at height - 1, then switch */
#define MODE_ROLLING "rolling"     /* switch one validator at a time before the height */
#define MODE_TEXT_MAX 16
#define DIR_MODE 0755
#define FILE_MODE 0644
#define BINARY_MODE 0755
#define RPC_TIMEOUT_MS 2000
#define COMPARE_CHUNK (64 * 1024)
#define WARNED_KEEP 32 /* how many distinct skip warnings are remembered (see s_warn_skip) */

/* ---------------------------------------------------------------------------------------------
 * The files
 */

/* The agent lists the schedule on every poll interval: a bad directory would repeat its warning
 * several times a second. A warning is logged once, then at debug level while it stays the same
 * (same path, same reason). Only the agent's loop and the commands call this: no lock. */
static unsigned long s_warned[WARNED_KEEP];
static size_t s_warned_next;

static void s_warn_skip(const char *path, const char *reason)
{
    unsigned long h = 5381;
    for (const char *p = path; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (const char *p = reason; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (size_t i = 0; i < WARNED_KEEP; i++) {
        if (s_warned[i] == h) {
            log_debug(COMPONENT, "scheduled upgrade skipped", LF_STR("path", path),
                      LF_STR("reason", reason));
            return;
        }
    }
    s_warned[s_warned_next] = h;
    s_warned_next = (s_warned_next + 1) % WARNED_KEEP;
    log_warn(COMPONENT, "scheduled upgrade skipped; fix or remove it", LF_STR("path", path),
             LF_STR("reason", reason));
}

static bool s_mode_valid(const char *mode)
{
    return strcmp(mode, MODE_AT_HEIGHT) == 0 || strcmp(mode, MODE_ROLLING) == 0;
}

/* A directory name that is a height: a canonical decimal, no sign, no leading zero, > 0. */
static bool s_height_from_dir_name(const char *name, int64_t *height)
{
    size_t len = strlen(name);
    if (len == 0 || len > HEIGHT_DIGITS_MAX || name[0] == '0' || strspn(name, "0123456789") != len)
        return false;
    return value_parse_int("height", name, 1, INT64_MAX, height, NULL) == 0;
}

static int s_schedule_dir(const layout_t *l, char *buf, size_t size, wv_err_t *err)
{
    return fs_join(buf, size, err, l->data, SCHEDULE_SUBDIR, NULL);
}

static int s_height_dir(const layout_t *l, int64_t height, char *buf, size_t size, wv_err_t *err)
{
    char text[HEIGHT_TEXT_MAX + 1];
    snprintf(text, sizeof text, "%lld", (long long)height);
    return fs_join(buf, size, err, l->data, SCHEDULE_SUBDIR, text, NULL);
}

/* The "mode" of an upgrade-info text: MODE_AT_HEIGHT when absent or null. */
static int s_parse_mode(const char *text, size_t len, char *mode, size_t size, wv_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (root == NULL)
        return err_set(err, "not valid JSON (line %d: %s)", jerr.line, jerr.text);
    json_t *m = json_is_object(root) ? json_object_get(root, "mode") : NULL;
    int rc = 0;
    if (m == NULL || json_is_null(m))
        snprintf(mode, size, "%s", MODE_AT_HEIGHT);
    else if (json_is_string(m) && s_mode_valid(json_string_value(m)))
        snprintf(mode, size, "%s", json_string_value(m));
    else
        rc = err_set(err, "\"mode\" must be \"%s\" or \"%s\"", MODE_AT_HEIGHT, MODE_ROLLING);
    json_decref(root);
    return rc;
}

/* Reads one scheduled file: upgrade_info's checks, and a valid "mode" if there is one. */
static int s_load_entry(const char *path, upgrade_info_t *info, char *mode, size_t size,
                        wv_err_t *err)
{
    char *text = NULL;
    size_t len = 0;
    memset(info, 0, sizeof *info);
    if (fs_read_file(path, UPGRADE_INFO_MAX_BYTES, &text, &len, err) != 0)
        return -1;
    int rc = upgrade_info_parse(text, len, info, err);
    if (rc == 0 && (rc = s_parse_mode(text, len, mode, size, err)) != 0)
        upgrade_info_free(info);
    free(text);
    return rc;
}

static int s_by_height(const void *a, const void *b)
{
    int64_t x = ((const scheduled_t *)a)->info.height;
    int64_t y = ((const scheduled_t *)b)->info.height;
    return (x > y) - (x < y);
}

/* Adds the entry of directory `name` to the list if it is a valid schedule; 0 also when it is
 * skipped, -1 only when memory runs out. */
static int s_list_entry(const char *dir, const char *name, scheduled_t **items, size_t *count,
                        size_t *cap, wv_err_t *err)
{
    char sub[PATH_MAX], path[PATH_MAX], mode[MODE_TEXT_MAX];
    if (fs_join(sub, sizeof sub, NULL, dir, name, NULL) != 0 ||
        fs_join(path, sizeof path, NULL, sub, SCHEDULE_FILE, NULL) != 0) {
        s_warn_skip(dir, "a name in it is too long for a path");
        return 0;
    }
    int64_t height;
    if (!s_height_from_dir_name(name, &height)) {
        s_warn_skip(sub, "the directory name is not a block height (a decimal number from 1, "
                         "without leading zeros)");
        return 0;
    }
    if (!fs_is_dir(sub)) {
        s_warn_skip(sub, "not a directory");
        return 0;
    }
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) {
        /* an empty height directory, e.g. while schedule_add is writing: nothing yet */
        log_debug(COMPONENT, "height directory without " SCHEDULE_FILE, LF_STR("path", sub));
        return 0;
    }
    upgrade_info_t info;
    wv_err_t why;
    if (s_load_entry(path, &info, mode, sizeof mode, &why) != 0) {
        s_warn_skip(path, why.msg);
        return 0;
    }
    if (info.height != height) {
        char reason[128];
        snprintf(reason, sizeof reason, "its height %lld differs from its directory's name %s",
                 (long long)info.height, name);
        s_warn_skip(path, reason);
        upgrade_info_free(&info);
        return 0;
    }
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        scheduled_t *grown = realloc(*items, ncap * sizeof **items);
        if (grown == NULL) {
            upgrade_info_free(&info);
            return err_set(err, "out of memory listing %s", dir);
        }
        *items = grown;
        *cap = ncap;
    }
    scheduled_t *it = &(*items)[(*count)++];
    it->info = info;
    snprintf(it->path, sizeof it->path, "%s", path);
    return 0;
}

int schedule_list(const layout_t *l, scheduled_t **items, size_t *count, wv_err_t *err)
{
    *items = NULL;
    *count = 0;
    char dir[PATH_MAX];
    if (s_schedule_dir(l, dir, sizeof dir, err) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0; /* nothing was ever scheduled */
        return err_sys(err, "cannot read %s", dir);
    }
    scheduled_t *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = s_list_entry(dir, e->d_name, &list, &n, &cap, err);
    }
    closedir(d);
    if (rc != 0) {
        schedule_free(list, n);
        return -1;
    }
    if (n > 1)
        qsort(list, n, sizeof *list, s_by_height);
    *items = list;
    *count = n;
    return 0;
}

void schedule_free(scheduled_t *items, size_t count)
{
    for (size_t i = 0; items != NULL && i < count; i++)
        upgrade_info_free(&items[i].info);
    free(items);
}

/* Refuses a name already scheduled, a height already taken, and a height directory whose file is
 * there but not valid (it would be overwritten). */
static int s_check_free(const layout_t *l, const char *name, int64_t height, wv_err_t *err)
{
    scheduled_t *items;
    size_t count;
    if (schedule_list(l, &items, &count, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const upgrade_info_t *it = &items[i].info;
        if (strcmp(it->name, name) == 0)
            rc = err_set(err,
                         "upgrade %s is already scheduled at height %lld (%s); cancel it first "
                         "(wemixvisor upgrade cancel %s) to move it",
                         name, (long long)it->height, items[i].path, name);
        else if (it->height == height)
            rc = err_set(err,
                         "height %lld already has upgrade %s (%s); one upgrade per height: "
                         "cancel that one first, or choose another height",
                         (long long)height, it->name, items[i].path);
    }
    schedule_free(items, count);
    if (rc != 0)
        return -1;
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    if (s_height_dir(l, height, dir, sizeof dir, err) != 0 ||
        fs_join(path, sizeof path, err, dir, SCHEDULE_FILE, NULL) != 0)
        return -1;
    if (lstat(path, &st) == 0)
        return err_set(err,
                       "%s exists but is not a valid schedule (see the warning in the log); look "
                       "at it, then remove it",
                       path);
    return 0;
}

/* The document schedule_add writes: {"name", "height", "info"?, "mode"?}. */
static json_t *s_build_doc(const char *name, int64_t height, const char *info_json,
                           const char *mode, wv_err_t *err)
{
    json_t *info = NULL;
    if (info_json != NULL) {
        json_error_t jerr;
        info = json_loads(info_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (info == NULL || (!json_is_object(info) && !json_is_string(info))) {
            json_decref(info);
            err_set(err, "upgrade %s: the info must be a JSON object or string, got %.200s", name,
                    info_json);
            return NULL;
        }
    }
    /* "o*" and "s*" leave out a NULL value; json_pack takes info's reference even on error */
    json_t *doc = json_pack("{s:s, s:I, s:o*, s:s*}", "name", name, "height", (json_int_t)height,
                            "info", info, "mode", mode);
    if (doc == NULL)
        err_set(err, "out of memory");
    return doc;
}

int schedule_add(const layout_t *l, const char *name, int64_t height, const char *info_json,
                 const char *mode, wv_err_t *err)
{
    if (upgrade_name_check(name, err) != 0)
        return -1;
    if (height <= 0)
        return err_set(err, "upgrade %s: height %lld; it must be at least 1", name,
                       (long long)height);
    if (mode != NULL && !s_mode_valid(mode))
        return err_set(err, "upgrade %s: mode \"%s\"; use \"%s\" or \"%s\"", name, mode,
                       MODE_AT_HEIGHT, MODE_ROLLING);
    if (s_check_free(l, name, height, err) != 0)
        return -1;
    json_t *doc = s_build_doc(name, height, info_json, mode, err);
    if (doc == NULL)
        return -1;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    size_t len = text != NULL ? strlen(text) : 0;
    char *file = text != NULL ? malloc(len + 2) : NULL;
    if (file == NULL) {
        free(text);
        return err_set(err, "out of memory");
    }
    snprintf(file, len + 2, "%s\n", text);
    free(text);

    char top[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
    int rc = -1;
    if (s_schedule_dir(l, top, sizeof top, err) == 0 &&
        s_height_dir(l, height, dir, sizeof dir, err) == 0 &&
        fs_join(path, sizeof path, err, dir, SCHEDULE_FILE, NULL) == 0 &&
        fs_mkdir_p(dir, DIR_MODE, err) == 0 &&
        fs_write_atomic(path, file, len + 1, FILE_MODE, err) == 0 &&
        /* the new <height> entry must survive a power loss as well as the file in it */
        fs_fsync_dir(top, err) == 0 && fs_fsync_dir(l->data, err) == 0)
        rc = 0;
    free(file);
    if (rc == 0)
        log_info(COMPONENT, "upgrade scheduled", LF_STR("name", name), LF_INT("height", height),
                 LF_STR("mode", mode ? mode : MODE_AT_HEIGHT), LF_STR("path", path));
    return rc;
}

int schedule_cancel(const layout_t *l, const char *name, wv_err_t *err)
{
    if (upgrade_name_check(name, err) != 0)
        return -1;
    char top[PATH_MAX];
    if (s_schedule_dir(l, top, sizeof top, err) != 0)
        return -1;
    scheduled_t *items;
    size_t count;
    if (schedule_list(l, &items, &count, err) != 0)
        return -1;
    int rc = 0;
    size_t found = 0;
    /* every match: a hand-written file may repeat a name that schedule_add would have refused */
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (strcmp(items[i].info.name, name) != 0)
            continue;
        char dir[PATH_MAX];
        if (unlink(items[i].path) != 0 && errno != ENOENT) {
            rc = err_sys(err, "cannot remove %s", items[i].path);
            break;
        }
        found++;
        if (s_height_dir(l, items[i].info.height, dir, sizeof dir, NULL) == 0 && rmdir(dir) != 0)
            /* harmless: a height directory without its file is not a schedule */
            log_warn(COMPONENT, "schedule cancelled, but its directory stays", LF_STR("path", dir),
                     LF_STR("reason", strerror(errno)));
        log_info(COMPONENT, "scheduled upgrade cancelled", LF_STR("name", name),
                 LF_INT("height", items[i].info.height));
    }
    schedule_free(items, count);
    if (found > 0 && fs_fsync_dir(top, rc == 0 ? err : NULL) != 0)
        rc = -1;
    if (rc == 0 && found == 0)
        return err_set(err, "no upgrade named %s is scheduled in %s; see `wemixvisor upgrade list`",
                       name, top);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The command
 */

static const char s_usage[] =
    "usage: wemixvisor upgrade schedule <name> --height H (--binary PATH | --url URL)\n"
    "                                   [--mode at-height|rolling]\n"
    "       wemixvisor upgrade list [--json]\n"
    "       wemixvisor upgrade cancel <name>\n";

/* Options of `upgrade schedule`, as given (NULL when absent). */
typedef struct {
    const char *name;
    const char *height;
    const char *binary;
    const char *url;
    const char *mode;
} schedule_args_t;

static int s_usage_error(const char *sub, const char *msg)
{
    fprintf(stderr, "wemixvisor upgrade %s: %s\n%s", sub, msg, s_usage);
    return EXIT_USAGE;
}

static int s_parse_schedule_args(int argc, char **argv, schedule_args_t *a)
{
    memset(a, 0, sizeof *a);
    char msg[WV_ERR_MAX];
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        if (strcmp(arg, "--height") == 0)
            slot = &a->height;
        else if (strcmp(arg, "--binary") == 0)
            slot = &a->binary;
        else if (strcmp(arg, "--url") == 0)
            slot = &a->url;
        else if (strcmp(arg, "--mode") == 0)
            slot = &a->mode;
        if (slot != NULL) {
            if (i + 1 >= argc) {
                snprintf(msg, sizeof msg, "%s needs a value", arg);
                return s_usage_error("schedule", msg);
            }
            if (*slot != NULL) {
                snprintf(msg, sizeof msg, "%s is given twice; give it once", arg);
                return s_usage_error("schedule", msg);
            }
            *slot = argv[++i];
        } else if (strncmp(arg, "--", 2) == 0) {
            snprintf(msg, sizeof msg,
                     "unknown option %s; the options are --height, --binary, --url and --mode",
                     arg);
            return s_usage_error("schedule", msg);
        } else if (a->name != NULL) {
            snprintf(msg, sizeof msg,
                     "unexpected argument \"%s\"; give one upgrade name (already \"%s\")", arg,
                     a->name);
            return s_usage_error("schedule", msg);
        } else {
            a->name = arg;
        }
    }
    if (a->name == NULL)
        return s_usage_error("schedule", "give the upgrade's name, e.g. v2.0.0");
    if (a->height == NULL)
        return s_usage_error("schedule", "--height is required: the first block the new binary "
                                         "produces");
    if (a->binary != NULL && a->url != NULL)
        return s_usage_error("schedule", "give either --binary PATH or --url URL, not both");
    if (a->binary == NULL && a->url == NULL)
        return s_usage_error("schedule", "give the new binary: --binary PATH (copied now) or "
                                         "--url URL (downloaded later)");
    return EXIT_OK;
}

static bool s_url_valid(const char *url)
{
    const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                       : strncmp(url, "https://", 8) == 0 ? url + 8
                                                          : NULL;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return false;
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    }
    return true;
}

int64_t schedule_current_height(const wv_config_t *cfg, const journal_t *journal, const char *cmd,
                                const char **source)
{
    wv_err_t err;
    snprintf(err.msg, sizeof err.msg, "%s",
             cfg->rpc_address != NULL ? "out of memory" : "DAEMON_RPC_ADDRESS is not set");
    noderpc_t *rpc =
        cfg->rpc_address != NULL ? noderpc_new(cfg->rpc_address, RPC_TIMEOUT_MS) : NULL;
    int64_t height = 0;
    int rc = rpc != NULL ? noderpc_block_number(rpc, &height, &err) : -1;
    noderpc_destroy(&rpc);
    if (rc == 0) {
        *source = "from the node";
        return height;
    }
    height = journal_height(journal);
    if (height > 0) {
        *source = "from the journal's last known height";
        fprintf(stderr,
                "%s: the node does not answer (%s); using the last known height %lld from the "
                "journal\n",
                cmd, err.msg, (long long)height);
    } else {
        *source = "assumed: its height is unknown";
        fprintf(stderr,
                "%s: warning: the chain's height is unknown (the node does not answer: %s; the "
                "journal has no height): make sure the height is still ahead\n",
                cmd, err.msg);
    }
    return height;
}

/* Are two regular files byte for byte the same? Read in chunks: binaries can be large. */
static bool s_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0 || sa.st_size != sb.st_size)
        return false;
    FILE *fa = fopen(a, "rb");
    FILE *fb = fopen(b, "rb");
    char *ba = malloc(COMPARE_CHUNK);
    char *bb = malloc(COMPARE_CHUNK);
    bool same = fa != NULL && fb != NULL && ba != NULL && bb != NULL;
    while (same) {
        size_t na = fread(ba, 1, COMPARE_CHUNK, fa);
        size_t nb = fread(bb, 1, COMPARE_CHUNK, fb);
        if (na != nb || memcmp(ba, bb, na) != 0 || ferror(fa) || ferror(fb))
            same = false;
        else if (na == 0)
            break;
    }
    free(ba);
    free(bb);
    if (fa != NULL)
        fclose(fa);
    if (fb != NULL)
        fclose(fb);
    return same;
}

int schedule_install_binary(const layout_t *l, const char *name, const char *src, char *dst,
                            size_t size, bool *copied, wv_err_t *err)
{
    struct stat st;
    *copied = false;
    if (stat(src, &st) != 0)
        return err_set(err, "binary %s: %s; give the path to the new node binary", src,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, "binary %s is not a regular file; give the node binary itself", src);
    char dir[PATH_MAX], bindir[PATH_MAX];
    if (layout_upgrade_dir(l, name, dir, sizeof dir, err) != 0 ||
        fs_join(bindir, sizeof bindir, err, dir, "bin", NULL) != 0 ||
        layout_upgrade_bin(l, name, dst, size, err) != 0)
        return -1;
    struct stat dst_st;
    if (lstat(dst, &dst_st) == 0) {
        if (!S_ISREG(dst_st.st_mode) || !s_same_file(src, dst))
            return err_set(err,
                           "%s already exists and differs from %s; a binary is never replaced "
                           "silently: remove it first if you mean to replace it",
                           dst, src);
        if ((dst_st.st_mode & 0777) != BINARY_MODE && chmod(dst, BINARY_MODE) != 0)
            return err_sys(err, "cannot make %s executable", dst);
        return 0;
    }
    if (fs_mkdir_p(bindir, DIR_MODE, err) != 0 || fs_copy_file(src, dst, BINARY_MODE, err) != 0)
        return -1;
    *copied = true;
    return 0;
}

/* Puts --binary at upgrades/<name>/bin/$DAEMON_NAME; an identical one already there is fine. */
static int s_install_binary(const layout_t *l, const char *name, const char *src, char *dst,
                            size_t size)
{
    wv_err_t err;
    struct stat st;
    if (stat(src, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0)
        fprintf(stderr,
                "wemixvisor upgrade schedule: note: %s is not executable; the copy gets "
                "mode 0755\n",
                src);
    bool copied;
    if (schedule_install_binary(l, name, src, dst, size, &copied, &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade schedule: --%s\n", err.msg);
        return EXIT_FAIL;
    }
    if (copied)
        printf("copied %s to %s\n", src, dst);
    else
        printf("binary already in place: %s\n", dst);
    return EXIT_OK;
}

/* The checks that need the layout and the journal: not applied yet, height still ahead, and the
 * name and height free. */
static int s_check_schedulable(const wv_config_t *cfg, const layout_t *l, const char *name,
                               int64_t height)
{
    wv_err_t err;
    journal_t *journal = journal_load(l->state, &err);
    if (journal == NULL) {
        fprintf(stderr, "wemixvisor upgrade schedule: %s\n", err.msg);
        return EXIT_FAIL;
    }
    if (journal_applied(journal, name)) {
        fprintf(stderr,
                "wemixvisor upgrade schedule: upgrade %s was already applied (recorded in %s); "
                "an upgrade is applied once: give the new release a new name\n",
                name, l->state);
        journal_destroy(&journal);
        return EXIT_FAIL;
    }
    const char *source = NULL;
    int64_t current = schedule_current_height(cfg, journal, "wemixvisor upgrade schedule", &source);
    journal_destroy(&journal);
    if (height - 1 <= current) {
        long long lowest = current <= INT64_MAX - 2 ? (long long)current + 2 : INT64_MAX;
        fprintf(stderr,
                "wemixvisor upgrade schedule: --height %lld is too low: the chain is at block "
                "%lld (%s), and the agent must stop the node at block %lld (height - 1) "
                "before the new binary takes over, so that block must still be ahead; use "
                "--height %lld or higher\n",
                (long long)height, (long long)current, source, (long long)height - 1, lowest);
        return EXIT_FAIL;
    }
    if (s_check_free(l, name, height, &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade schedule: %s\n", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int s_cmd_schedule(const wv_config_t *cfg, int argc, char **argv)
{
    schedule_args_t a;
    int rc = s_parse_schedule_args(argc, argv, &a);
    if (rc != EXIT_OK)
        return rc;
    wv_err_t err;
    int64_t height;
    if (upgrade_name_check(a.name, &err) != 0)
        return s_usage_error("schedule", err.msg);
    if (value_parse_int("--height", a.height, 1, INT64_MAX, &height, &err) != 0)
        return s_usage_error("schedule", err.msg);
    if (a.url != NULL && !s_url_valid(a.url)) {
        char msg[WV_ERR_MAX];
        snprintf(msg, sizeof msg,
                 "--url \"%.900s\": give an http:// or https:// URL (no spaces), e.g. "
                 "https://host/wemixd-v2.tar.gz?checksum=sha256:<hex>",
                 a.url);
        return s_usage_error("schedule", msg);
    }
    if (a.mode != NULL && !s_mode_valid(a.mode)) {
        char msg[WV_ERR_MAX];
        snprintf(msg, sizeof msg, "--mode \"%s\": use %s (the default) or %s", a.mode,
                 MODE_AT_HEIGHT, MODE_ROLLING);
        return s_usage_error("schedule", msg);
    }
    layout_t l;
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade schedule: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if ((rc = s_check_schedulable(cfg, &l, a.name, height)) != EXIT_OK)
        return rc;

    char bin[PATH_MAX] = "";
    char *info = NULL;
    if (a.binary != NULL) {
        if ((rc = s_install_binary(&l, a.name, a.binary, bin, sizeof bin)) != EXIT_OK)
            return rc;
    } else {
        json_t *doc = json_pack("{s:{s:s}}", "binaries", "any", a.url);
        info = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (info == NULL) {
            fprintf(stderr, "wemixvisor upgrade schedule: out of memory\n");
            return EXIT_FAIL;
        }
    }
    rc = schedule_add(&l, a.name, height, info, a.mode, &err);
    free(info);
    if (rc != 0) {
        fprintf(stderr, "wemixvisor upgrade schedule: %s\n", err.msg);
        return EXIT_FAIL;
    }
    printf("scheduled upgrade %s at height %lld (mode %s)\n", a.name, (long long)height,
           a.mode != NULL ? a.mode : MODE_AT_HEIGHT);
    if (a.binary != NULL)
        printf("  binary: %s\n", bin);
    else
        printf("  binary: to be downloaded from %s\n", a.url);
    printf("  the agent stops the node at block %lld and starts %s for block %lld\n",
           (long long)height - 1, a.name, (long long)height);
    return EXIT_OK;
}

/* The mode of a listed file, read again (scheduled_t has no field for it); "?" if it changed. */
static void s_entry_mode(const char *path, char *mode, size_t size)
{
    char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, UPGRADE_INFO_MAX_BYTES, &text, &len, NULL) != 0 ||
        s_parse_mode(text, len, mode, size, NULL) != 0)
        snprintf(mode, size, "?");
    free(text);
}

/* One row of `upgrade list --json`; NULL when out of memory. */
static json_t *s_entry_json(const scheduled_t *it, const char *mode, const char *bin, bool present,
                            const journal_t *journal)
{
    json_t *info = NULL;
    if (it->info.info != NULL) {
        info = json_loads(it->info.info, JSON_DECODE_ANY, NULL);
        if (info == NULL)
            return NULL;
    }
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:o, s:o}", "name", it->info.name, "height",
                     (json_int_t)it->info.height, "mode", mode, "file", it->path, "binary", bin,
                     "binary_present", present, "applied",
                     journal != NULL ? json_boolean(journal_applied(journal, it->info.name))
                                     : json_null(),
                     "info", info != NULL ? info : json_null());
}

static int s_cmd_list(const wv_config_t *cfg, int argc, char **argv)
{
    bool json = argc == 1 && strcmp(argv[0], "--json") == 0;
    if (argc > 0 && !json) {
        char msg[WV_ERR_MAX];
        snprintf(msg, sizeof msg, "unknown argument \"%s\" (the only option is --json)", argv[0]);
        return s_usage_error("list", msg);
    }
    wv_err_t err;
    layout_t l;
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade list: %s\n", err.msg);
        return EXIT_USAGE;
    }
    scheduled_t *items;
    size_t count;
    if (schedule_list(&l, &items, &count, &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade list: %s\n", err.msg);
        return EXIT_FAIL;
    }
    journal_t *journal = journal_load(l.state, &err);
    if (journal == NULL)
        fprintf(stderr,
                "wemixvisor upgrade list: warning: which upgrades were applied is "
                "unknown: %s\n",
                err.msg);
    json_t *array = json ? json_array() : NULL;
    int rc = json && array == NULL ? EXIT_FAIL : EXIT_OK;
    if (!json && count == 0)
        printf("no upgrades scheduled (in %s/" SCHEDULE_SUBDIR ")\n", l.data);
    else if (!json)
        printf("%-20s %-24s %-10s %-8s %s\n", "HEIGHT", "NAME", "MODE", "BINARY", "APPLIED");
    for (size_t i = 0; rc == EXIT_OK && i < count; i++) {
        const scheduled_t *it = &items[i];
        char mode[MODE_TEXT_MAX], bin[PATH_MAX];
        s_entry_mode(it->path, mode, sizeof mode);
        bool present = layout_upgrade_bin(&l, it->info.name, bin, sizeof bin, NULL) == 0 &&
                       fs_is_executable(bin);
        if (json) {
            json_t *row = s_entry_json(it, mode, bin, present, journal);
            if (row == NULL || json_array_append_new(array, row) != 0)
                rc = EXIT_FAIL;
        } else {
            const char *applied = journal == NULL                           ? "?"
                                  : journal_applied(journal, it->info.name) ? "yes"
                                                                            : "no";
            printf("%-20lld %-24s %-10s %-8s %s\n", (long long)it->info.height, it->info.name, mode,
                   present ? "present" : "missing", applied);
        }
    }
    if (json && rc == EXIT_OK) {
        char *text = json_dumps(array, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text != NULL)
            printf("%s\n", text);
        else
            rc = EXIT_FAIL;
        free(text);
    }
    if (rc != EXIT_OK)
        fprintf(stderr, "wemixvisor upgrade list: out of memory\n");
    json_decref(array);
    journal_destroy(&journal);
    schedule_free(items, count);
    return rc;
}

static int s_cmd_cancel(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc != 1)
        return s_usage_error("cancel", "give exactly one argument, the upgrade's name");
    wv_err_t err;
    if (upgrade_name_check(argv[0], &err) != 0)
        return s_usage_error("cancel", err.msg);
    layout_t l;
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade cancel: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (schedule_cancel(&l, argv[0], &err) != 0) {
        fprintf(stderr, "wemixvisor upgrade cancel: %s\n", err.msg);
        return EXIT_FAIL;
    }
    printf("cancelled the scheduled upgrade %s (its binary, if any, stays in %s/%s)\n", argv[0],
           l.upgrades, argv[0]);
    return EXIT_OK;
}

int cmd_upgrade(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "wemixvisor upgrade: give a subcommand: schedule, list or cancel\n%s",
                s_usage);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "schedule") == 0)
        return s_cmd_schedule(cfg, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return s_cmd_list(cfg, argc - 1, argv + 1);
    if (strcmp(argv[0], "cancel") == 0)
        return s_cmd_cancel(cfg, argc - 1, argv + 1);
    if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(s_usage, stdout);
        return EXIT_OK;
    }
    fprintf(stderr,
            "wemixvisor upgrade: unknown subcommand \"%s\"; use schedule, list or cancel\n%s",
            argv[0], s_usage);
    return EXIT_USAGE;
}
