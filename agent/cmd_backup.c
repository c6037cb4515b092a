/* cmd_backup: `wemixvisor backup create|list|verify|restore|clean`, an operator's hands on
 * agent/backup.h for $DAEMON_HOME/data, and the agent's hidden `backup size` (the data dir's size,
 * measured off its loop). It parses and prints; the work is all in backup.c. */
#include "agentlock.h"
#include "backup.h"
#include "commands.h"
#include "fault.h"
#include "layout.h"
#include "value.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define DEFAULT_LABEL "manual"
#define KEEP_MAX 1000000
#define MAX_AGE_MIN_MS 1000ULL /* the age limit counts whole seconds */
#define MAX_AGE_MAX_MS (100ULL * 365 * 24 * 3600 * 1000)
#define MIB (1024.0 * 1024)
#define SIZE_NICENESS 10 /* `backup size` walks the disk the node is using: it yields to it */
#define USAGE                                                                                      \
    "usage: wemixvisor backup create [--label L] [--compression zstd|gzip|none]\n"                 \
    "       wemixvisor backup list [--json]\n"                                                     \
    "       wemixvisor backup verify ARCHIVE\n"                                                    \
    "       wemixvisor backup restore ARCHIVE [--force]\n"                                         \
    "       wemixvisor backup clean [--max-age DURATION] [--keep N]   (e.g. --max-age 168h)\n"     \
    "       wemixvisor backup size     (the data dir's bytes: what a backup must have room for)\n"

/* Explains a bad argument; returns EXIT_USAGE. */
static int s_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wemixvisor backup: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int s_fail(const char *sub, const wv_err_t *err)
{
    fprintf(stderr, "wemixvisor backup %s: %s\n", sub, err->msg);
    return EXIT_FAIL;
}

/* The value of the option at argv[*i], moving *i past it; NULL (after a message) if missing. */
static const char *s_option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        s_usage("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* An archive named without a directory that is not in the working directory is looked for in
 * the backup dir, so `backup verify manual-20250102T030405Z.tar.zst` works from anywhere. */
static void s_archive_path(const wv_config_t *cfg, const char *arg, char *buf, size_t size)
{
    struct stat st;
    if (strchr(arg, '/') == NULL && stat(arg, &st) != 0 && cfg->backup_dir != NULL &&
        snprintf(buf, size, "%s/%s", cfg->backup_dir, arg) < (int)size && stat(buf, &st) == 0)
        return;
    snprintf(buf, size, "%s", arg);
}

static int s_create(const wv_config_t *cfg, const layout_t *l, int argc, char **argv)
{
    const char *label = DEFAULT_LABEL;
    const char *comp_text = cfg->backup_compression ? cfg->backup_compression : "zstd";
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--label") == 0         ? &label
                            : strcmp(argv[i], "--compression") == 0 ? &comp_text
                                                                    : NULL;
        if (slot == NULL)
            return s_usage("create: unknown argument %s", argv[i]);
        if ((*slot = s_option_value(argc, argv, &i)) == NULL)
            return EXIT_USAGE;
    }
    backup_compression_t comp;
    if (backup_compression_parse(comp_text, &comp) != 0)
        return s_usage("create: --compression \"%s\": use zstd, gzip or none", comp_text);
    size_t len = strlen(label);
    if (len == 0 || len > BACKUP_LABEL_MAX || label[0] == '.' ||
        strspn(label, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
        return s_usage("create: --label \"%s\": use 1 to 128 of A-Z a-z 0-9 . _ - (not "
                       "starting with .)",
                       label);
    wv_err_t err = {{0}};
    char path[PATH_MAX];
    uint64_t data_bytes = 0;
    if (backup_check_writable(cfg->backup_dir, &err) != 0 ||
        backup_dir_size(l->data, &data_bytes, &err) != 0)
        return s_fail("create", &err);
    if (backup_check_room(l->data, data_bytes, cfg->backup_dir, &err) != 0) {
        s_fail("create", &err);
        return BACKUP_EXIT_NO_ROOM; /* refused before a byte is written */
    }
    if (backup_create(l->data, cfg->backup_dir, label, comp, path, sizeof path, &err) != 0) {
        /* the disk filled up meanwhile (the failed archive is gone): no room either */
        wv_err_t now = {{0}};
        bool no_room = backup_check_room(l->data, data_bytes, cfg->backup_dir, &now) != 0;
        s_fail("create", &err);
        return no_room ? BACKUP_EXIT_NO_ROOM : EXIT_FAIL;
    }
    printf("%s\n", path);
    return EXIT_OK;
}

/* `backup size`: the bytes of the data dir on one line, for the agent's check before it stops
 * the node for an upgrade (the agent's loop must not walk millions of files itself), and for an
 * operator sizing the backup dir. */
static int s_size(const layout_t *l, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return s_usage("size: %s", "takes no arguments");
    fault_pause("backup-size"); /* the test build: a measurement that does not end */
    if (setpriority(PRIO_PROCESS, 0, SIZE_NICENESS) != 0) {
        /* best effort: a measurement at the usual priority is still right */
    }
    wv_err_t err = {{0}};
    uint64_t bytes;
    if (backup_dir_size(l->data, &bytes, &err) != 0)
        return s_fail("size", &err);
    printf("%" PRIu64 "\n", bytes);
    return EXIT_OK;
}

static int s_list(const wv_config_t *cfg, int argc, char **argv)
{
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0)
            return s_usage("list: unknown argument %s (only --json)", argv[i]);
        json = true;
    }
    wv_err_t err = {{0}};
    backup_entry_t *list;
    size_t n;
    if (backup_list(cfg->backup_dir, &list, &n, &err) != 0)
        return s_fail("list", &err);
    json_t *arr = json ? json_array() : NULL;
    int width = 4, label_width = 5;
    for (size_t i = 0; i < n; i++) {
        width = (int)strlen(list[i].path) > width ? (int)strlen(list[i].path) : width;
        int lw = (int)strlen(list[i].label);
        label_width = lw > label_width ? lw : label_width;
    }
    if (!json)
        printf("%-*s  %-*s  %-20s  %s\n", width, "PATH", label_width, "LABEL", "CREATED (UTC)",
               "SIZE");
    int rc = EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        char created[32], size[32];
        struct tm tm;
        gmtime_r(&list[i].created, &tm);
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (json) {
            json_t *item =
                json_pack("{s:s, s:s, s:s, s:I, s:I}", "path", list[i].path, "label", list[i].label,
                          "created", created, "created_unix", (json_int_t)list[i].created, "bytes",
                          (json_int_t)list[i].bytes);
            if (item == NULL || json_array_append_new(arr, item) != 0)
                rc = EXIT_FAIL;
        } else {
            if (list[i].bytes < 1024 * 1024)
                snprintf(size, sizeof size, "%llu B", (unsigned long long)list[i].bytes);
            else
                snprintf(size, sizeof size, "%.1f MiB", (double)list[i].bytes / MIB);
            printf("%-*s  %-*s  %-20s  %s\n", width, list[i].path, label_width, list[i].label,
                   created, size);
        }
    }
    free(list);
    if (json) {
        char *text = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        if (text == NULL) {
            fprintf(stderr, "wemixvisor backup list: out of memory\n");
            rc = EXIT_FAIL;
        } else
            printf("%s\n", text);
        free(text);
        json_decref(arr);
    }
    return rc;
}

static int s_verify(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return s_usage("verify: give exactly one archive%s", argc > 0 ? " and no options" : "");
    char path[PATH_MAX];
    s_archive_path(cfg, argv[0], path, sizeof path);
    wv_err_t err = {{0}};
    if (backup_verify(path, &err) != 0)
        return s_fail("verify", &err);
    printf("ok: %s\n", path);
    return EXIT_OK;
}

static int s_restore(const wv_config_t *cfg, const layout_t *l, int argc, char **argv)
{
    const char *archive = NULL;
    bool force = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (argv[i][0] == '-')
            return s_usage("restore: unknown option %s (only --force)", argv[i]);
        else if (archive != NULL)
            return s_usage("restore: give one archive; %s is one too many", argv[i]);
        else
            archive = argv[i];
    }
    if (archive == NULL)
        return s_usage("restore: %s", "which archive? give its path (see backup list)");
    pid_t agent = 0, node = nodepid_alive(l->root);
    if (!force && agentlock_running(l->root, &agent)) {
        fprintf(stderr,
                "wemixvisor backup restore: an agent (pid %ld) runs the node of %s; stop the "
                "node first (stop the agent, which stops its node), or, if the node is already "
                "stopped (wemixvisor stop), pass --force\n",
                (long)agent, l->home);
        return EXIT_FAIL;
    }
    if (!force && node > 0) {
        fprintf(stderr,
                "wemixvisor backup restore: the node (pid %ld) still runs on %s; stop the node "
                "first, or pass --force\n",
                (long)node, l->data);
        return EXIT_FAIL;
    }
    char path[PATH_MAX];
    s_archive_path(cfg, archive, path, sizeof path);
    wv_err_t err = {{0}};
    if (backup_restore(path, l->data, &err) != 0)
        return s_fail("restore", &err);
    printf("restored %s from %s\n", l->data, path);
    return EXIT_OK;
}

static int s_clean(const wv_config_t *cfg, int argc, char **argv)
{
    uint64_t max_age_ms = 0;
    int64_t keep = 0;
    wv_err_t err = {{0}};
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i], *v;
        if (strcmp(opt, "--max-age") != 0 && strcmp(opt, "--keep") != 0)
            return s_usage("clean: unknown argument %s", opt);
        if ((v = s_option_value(argc, argv, &i)) == NULL)
            return EXIT_USAGE;
        if (strcmp(opt, "--keep") == 0
                ? value_parse_int("--keep", v, 1, KEEP_MAX, &keep, &err) != 0
                : value_parse_duration("--max-age", v, MAX_AGE_MIN_MS, MAX_AGE_MAX_MS, &max_age_ms,
                                       &err) != 0)
            return s_usage("clean: %s", err.msg);
    }
    if (max_age_ms == 0 && keep == 0)
        return s_usage("clean: %s", "give --max-age DURATION, --keep N or both");
    size_t removed = 0;
    if (backup_clean(cfg->backup_dir, max_age_ms / 1000, (size_t)keep, &removed, &err) != 0)
        return s_fail("clean", &err);
    printf("removed %zu archive%s from %s\n", removed, removed == 1 ? "" : "s", cfg->backup_dir);
    return EXIT_OK;
}

int cmd_backup(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "wemixvisor backup: which subcommand?\n%s", USAGE);
        return EXIT_USAGE;
    }
    layout_t l;
    wv_err_t err = {{0}};
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor backup: %s\n", err.msg);
        return EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "create") == 0)
        return s_create(cfg, &l, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return s_list(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return s_verify(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "restore") == 0)
        return s_restore(cfg, &l, argc - 1, argv + 1);
    if (strcmp(sub, "clean") == 0)
        return s_clean(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "size") == 0)
        return s_size(&l, argc - 1, argv + 1);
    fprintf(stderr, "wemixvisor backup: unknown subcommand %s\n%s", sub, USAGE);
    return EXIT_USAGE;
}
