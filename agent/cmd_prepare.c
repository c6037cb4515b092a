/* cmd_prepare: `wemixvisor prepare-upgrade [name]`, which fetches and installs an upgrade's binary
 * before its height (agent/download.h). It decides nothing about switching; the agent does. */
#include "commands.h"
#include "download.h"
#include "fsutil.h"
#include "journal.h"
#include "layout.h"
#include "schedule.h"
#include "upgrade_info.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 10000ULL
#define STALL_TIMEOUT_MS 30000ULL
#define USAGE "usage: wemixvisor prepare-upgrade [NAME]\n"

static int s_fail(const wv_err_t *err)
{
    fprintf(stderr, "wemixvisor prepare-upgrade: %s\n", err->msg);
    return EXIT_FAIL;
}

/* Takes the upgrade to prepare into *out: `name` if given, else the lowest-height one not yet
 * applied, from the schedule and data/upgrade-info.json. */
static int s_find_upgrade(const layout_t *l, const char *name, upgrade_info_t *out, wv_err_t *err)
{
    scheduled_t *items = NULL;
    size_t count = 0;
    if (schedule_list(l, &items, &count, err) != 0)
        return -1;
    journal_t *journal = name == NULL ? journal_load(l->state, err) : NULL;
    if (name == NULL && journal == NULL) {
        schedule_free(items, count);
        return -1;
    }
    upgrade_info_t now = {.height = 0};
    bool has_now =
        fs_is_file(l->upgrade_info) && upgrade_info_load(l->upgrade_info, &now, err) == 0;
    if (fs_is_file(l->upgrade_info) && !has_now) {
        journal_destroy(&journal);
        schedule_free(items, count);
        return -1;
    }
    const upgrade_info_t *best = NULL;
    for (size_t i = 0; i <= count; i++) {
        const upgrade_info_t *ui = i < count ? &items[i].info : (has_now ? &now : NULL);
        if (ui == NULL)
            continue;
        bool wanted =
            name != NULL ? strcmp(ui->name, name) == 0 : !journal_applied(journal, ui->name);
        if (wanted && (best == NULL || ui->height < best->height))
            best = ui;
    }
    int rc = 0;
    if (best == NULL) {
        rc = name != NULL
                 ? err_set(err,
                           "no upgrade named %s is scheduled (see wemixvisor upgrade list) "
                           "or in %s",
                           name, l->upgrade_info)
                 : err_set(err,
                           "no upgrade is waiting: nothing scheduled and not applied, and "
                           "no %s",
                           l->upgrade_info);
    } else {
        *out = *best;
        out->info = best->info != NULL ? strdup(best->info) : NULL;
        if (best->info != NULL && out->info == NULL)
            rc = err_set(err, "out of memory");
    }
    upgrade_info_free(&now);
    journal_destroy(&journal);
    schedule_free(items, count);
    return rc;
}

static download_opts_t s_opts(const wv_config_t *cfg, uint64_t max_bytes)
{
    return (download_opts_t){.connect_timeout_ms = CONNECT_TIMEOUT_MS,
                             .stall_timeout_ms = STALL_TIMEOUT_MS,
                             .max_bytes = max_bytes,
                             .retries = DOWNLOAD_RETRIES,
                             .allow_no_checksum = cfg->unsafe_skip_checksum,
                             .progress_bar = isatty(STDERR_FILENO) != 0};
}

/* The binaries object: info itself, or, when info is a URL string, the file it points at. */
static int s_resolve_info(const wv_config_t *cfg, const layout_t *l, const char *name,
                          const char *info, char **out, wv_err_t *err)
{
    *out = NULL;
    json_t *value = json_loads(info, JSON_DECODE_ANY, NULL);
    const char *text = json_string_value(value);
    bool is_url = text != NULL &&
                  (strncasecmp(text, "http://", 7) == 0 || strncasecmp(text, "https://", 8) == 0);
    if (!is_url) {
        json_decref(value);
        *out = strdup(info);
        return *out != NULL ? 0 : err_set(err, "out of memory");
    }
    download_ref_t ref;
    int rc = download_parse_ref(text, &ref, err);
    json_decref(value);
    if (rc != 0)
        return err_wrap(err, "upgrade %s: info URL", name);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/.%s.info.%ld", l->upgrades, name, (long)getpid()) >=
        sizeof path)
        return err_set(err, "path %s/.%s.info is too long", l->upgrades, name);
    download_opts_t opts = s_opts(cfg, UPGRADE_INFO_MAX_BYTES);
    opts.progress_bar = false;
    size_t len = 0;
    rc = download_fetch(&ref, path, &opts, err);
    if (rc == 0)
        rc = fs_read_file(path, UPGRADE_INFO_MAX_BYTES, out, &len, err);
    unlink(path);
    return rc;
}

/* Downloads and installs the binary of ui; 0 when it is in place. */
static int s_prepare(const wv_config_t *cfg, const layout_t *l, const upgrade_info_t *ui,
                     wv_err_t *err)
{
    if (ui->info == NULL)
        return err_set(err,
                       "upgrade %s has no \"info\" with binaries to download: place its binary "
                       "at upgrades/%s/bin/%s by hand",
                       ui->name, ui->name, l->name);
    if (fs_mkdir_p(l->upgrades, 0755, err) != 0)
        return -1;
    char *info = NULL;
    if (s_resolve_info(cfg, l, ui->name, ui->info, &info, err) != 0)
        return -1;
    char url[sizeof((download_ref_t *)0)->url];
    int rc = download_pick_url(info, download_os_arch(), url, sizeof url, err);
    free(info);
    download_ref_t ref;
    if (rc != 0 || download_parse_ref(url, &ref, err) != 0)
        return err_wrap(err, "upgrade %s", ui->name);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/.%s.download.%ld", l->upgrades, ui->name,
                         (long)getpid()) >= sizeof path)
        return err_set(err, "path %s/.%s.download is too long", l->upgrades, ui->name);
    download_opts_t opts = s_opts(cfg, 0);
    rc = download_fetch(&ref, path, &opts, err);
    if (rc == 0)
        rc = download_install(path, l->upgrades, ui->name, l->name, err);
    unlink(path);
    return rc;
}

int cmd_prepare_upgrade(const wv_config_t *cfg, int argc, char **argv)
{
    if (argc > 1 || (argc == 1 && argv[0][0] == '-')) {
        fprintf(stderr, "wemixvisor prepare-upgrade: unexpected argument %s\n%s", argv[argc - 1],
                USAGE);
        return EXIT_USAGE;
    }
    layout_t l;
    wv_err_t err = {{0}};
    if (layout_init(&l, cfg, &err) != 0) {
        fprintf(stderr, "wemixvisor prepare-upgrade: %s\n", err.msg);
        return EXIT_USAGE;
    }
    const char *name = argc == 1 ? argv[0] : NULL;
    if (name != NULL && upgrade_name_check(name, &err) != 0)
        return s_fail(&err);
    upgrade_info_t ui = {.height = 0};
    if (s_find_upgrade(&l, name, &ui, &err) != 0)
        return s_fail(&err);
    char bin[PATH_MAX], dir[PATH_MAX];
    int code = EXIT_OK;
    if (layout_upgrade_bin(&l, ui.name, bin, sizeof bin, &err) != 0 ||
        layout_upgrade_dir(&l, ui.name, dir, sizeof dir, &err) != 0) {
        code = s_fail(&err);
    } else if (fs_is_executable(bin)) {
        printf("upgrade %s: %s is already present\n", ui.name, bin);
    } else if (fs_is_dir(dir)) {
        fprintf(stderr,
                "wemixvisor prepare-upgrade: %s exists but has no executable bin/%s: remove it "
                "to download again, or put the binary there\n",
                dir, l.name);
        code = EXIT_FAIL;
    } else if (!cfg->allow_download_binaries) {
        fprintf(stderr,
                "wemixvisor prepare-upgrade: %s is missing and downloads are off: set "
                "DAEMON_ALLOW_DOWNLOAD_BINARIES=true, or place the binary there by hand\n",
                bin);
        code = EXIT_USAGE;
    } else if (s_prepare(cfg, &l, &ui, &err) != 0) {
        code = s_fail(&err);
    } else {
        printf("upgrade %s: installed %s\n", ui.name, bin);
    }
    upgrade_info_free(&ui);
    return code;
}
