/* preflight: the backup's check before an upgrade stops the node, against a size of the data dir
 * measured by a child (`wemixvisor backup size`). Never walks a directory on the loop. */
#include "preflight.h"
#include "agent.h"
#include "backup.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define COMPONENT "upgrade"
#define WORKER_NAME "data-size"
#define MEASURE_TIMEOUT_MS (60 * 60 * 1000) /* a measurement stuck on a dead disk ends */
#define BYTES_DIGITS_MAX 20                 /* of a uint64_t */
#define MIB (1024.0 * 1024)

/* What an upgrade whose backup cannot be written waits for (status's waiting_for). */
static const char s_wait_space[] = "disk space for the backup";
static const char s_wait_writable[] = "a writable backup dir";
static const char s_wait_size[] = "the size of the data dir";

/* The figure in the command's output: its last line made only of digits. */
static bool s_parse_bytes(const char *output, uint64_t *bytes)
{
    bool found = false;
    for (const char *line = output; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        size_t digits = 0;
        while (digits < len && isdigit((unsigned char)line[digits]))
            digits++;
        if (len > 0 && digits == len && len <= BYTES_DIGITS_MAX) {
            errno = 0;
            unsigned long long v = strtoull(line, NULL, 10);
            if (errno == 0) {
                *bytes = (uint64_t)v;
                found = true;
            }
        }
        line += len + (line[len] == '\n');
    }
    return found;
}

static void s_on_measured(int status, bool timed_out, void *arg)
{
    runner_t *self = arg;
    preflight_t *p = &self->preflight;
    uint64_t bytes = 0;
    bool ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
              s_parse_bytes(worker_output(p->worker), &bytes);
    worker_destroy(&p->worker);
    if (ok) {
        p->known = true;
        p->bytes = bytes;
        p->at_ms = p->started_ms;
        log_debug(COMPONENT, "data dir measured", LF_STR("dir", self->layout.data),
                  LF_INT("bytes", (long long)bytes),
                  LF_INT("took_ms", (long long)((uint64_t)zclock_mono() - p->started_ms)));
    } else {
        log_warn(COMPONENT,
                 "cannot measure the size of the data dir (see the data-size lines above); the "
                 "check before the stop goes by the last figure, if any, and the backup checks "
                 "the space itself; trying again later",
                 LF_STR("dir", self->layout.data), LF_INT("retry_in_ms", PREFLIGHT_REFRESH_MS));
    }
    runner_kick(self);
}

void preflight_refresh(runner_t *self)
{
    preflight_t *p = &self->preflight;
    uint64_t now = (uint64_t)zclock_mono();
    if (p->worker != NULL || (p->started_ms != 0 && now - p->started_ms < PREFLIGHT_REFRESH_MS))
        return;
    char *argv[] = {self->self_exe, "--log-format", "text", "backup", "size", NULL};
    wv_err_t err;
    p->started_ms = now;
    p->worker = worker_start(self->loop, WORKER_NAME, argv, NULL, MEASURE_TIMEOUT_MS, s_on_measured,
                             self, &err);
    if (p->worker == NULL)
        log_error(COMPONENT, "cannot start measuring the data dir; trying again later",
                  LF_STR("error", err.msg), LF_INT("retry_in_ms", PREFLIGHT_REFRESH_MS));
}

/* Room for a backup by the last figure, and more than a backup that did not fit had: 0 yes; -1
 * no (err says the figures); 1 no figure yet. One statvfs. */
static int s_room(runner_t *self, wv_err_t *err)
{
    preflight_t *p = &self->preflight;
    if (p->short_known) {
        uint64_t free_bytes;
        char where[PATH_MAX];
        if (backup_free_space(self->cfg->backup_dir, &free_bytes, where, sizeof where, err) != 0)
            return -1;
        if (free_bytes <= p->short_free)
            return err_set(err,
                           "not enough space for a backup of %s: a backup did not fit with %llu "
                           "bytes (%.1f MiB) free in %s, and it has %llu bytes (%.1f MiB) free "
                           "now; free space in %s or point DAEMON_DATA_BACKUP_DIR at a larger "
                           "disk",
                           self->layout.data, (unsigned long long)p->short_free,
                           (double)p->short_free / MIB, where, (unsigned long long)free_bytes,
                           (double)free_bytes / MIB, where);
    }
    if (!p->known)
        return 1;
    return backup_check_room(self->layout.data, p->bytes, self->cfg->backup_dir, err);
}

bool preflight_ok(runner_t *self, bool urgent, bool node_down)
{
    if (self->cfg->unsafe_skip_backup)
        return true;
    wv_err_t err;
    const char *said = self->space_logged ? self->backup_waits : NULL;
    int room = -1;
    self->backup_waits = s_wait_writable;
    if (backup_check_writable(self->cfg->backup_dir, &err) == 0) {
        room = s_room(self, &err);
        self->backup_waits = room < 0 ? s_wait_space : NULL;
    }
    if (room > 0 && !urgent && self->preflight.worker != NULL) {
        self->backup_waits = s_wait_size; /* nothing presses: the figure is worth waiting for */
        self->space_logged = true;        /* status says so */
        if (said != s_wait_size)
            log_info(COMPONENT, "measuring the data dir before the node is stopped",
                     LF_STR("name", self->pending.name), LF_STR("dir", self->layout.data));
        return false;
    }
    if (room >= 0) {
        if (room > 0)
            log_warn(
                COMPONENT,
                "the size of the data dir is not known yet; the upgrade goes on and the backup "
                "checks the space itself",
                LF_STR("name", self->pending.name),
                LF_STR("why", node_down ? "the node is down"
                              : urgent  ? "the upgrade height is reached"
                                        : "the measurement failed"));
        self->space_logged = false;
        return true;
    }
    self->space_logged = true;
    if (said == self->backup_waits)
        return false; /* said once, and again when the problem changes */
    const char *msg = node_down ? "the backup cannot be written and the node is down; the "
                                  "upgrade waits (the previous binary is not started past the "
                                  "upgrade height)"
                      : self->backup_waits == s_wait_space
                          ? "not enough space for the backup; the node keeps running and the "
                            "upgrade waits for space (or UNSAFE_SKIP_BACKUP=true)"
                          : "the backup dir cannot be written; the node keeps running and the "
                            "upgrade waits until it can (or UNSAFE_SKIP_BACKUP=true)";
    log_error(COMPONENT, msg, LF_STR("name", self->pending.name),
              LF_STR("dir", self->cfg->backup_dir), LF_STR("waiting_for", self->backup_waits),
              LF_STR("error", err.msg));
    return false;
}

bool preflight_backup_failed(runner_t *self, bool no_room, wv_err_t *err)
{
    preflight_t *p = &self->preflight;
    self->backup_waits = NULL;
    if (backup_check_writable(self->cfg->backup_dir, err) != 0) {
        self->backup_waits = s_wait_writable;
        return true;
    }
    if (!no_room)
        return false;
    /* the figure may be older than the data's growth: more room than now is needed anyway */
    self->backup_waits = s_wait_space;
    p->short_known = true;
    p->short_free = 0;
    char where[PATH_MAX];
    uint64_t free_bytes;
    if (backup_free_space(self->cfg->backup_dir, &free_bytes, where, sizeof where, err) != 0)
        return true;
    p->short_free = free_bytes;
    err_set(err,
            "the backup of %s did not fit in %s (%llu bytes, %.1f MiB, free after it); free space "
            "in %s or point DAEMON_DATA_BACKUP_DIR at a larger disk",
            self->layout.data, where, (unsigned long long)free_bytes, (double)free_bytes / MIB,
            where);
    return true;
}

bool preflight_data_size(const runner_t *self, uint64_t *bytes, uint64_t *age_ms)
{
    const preflight_t *p = &self->preflight;
    if (!p->known)
        return false;
    *bytes = p->bytes;
    *age_ms = (uint64_t)zclock_mono() - p->at_ms;
    return true;
}

void preflight_stop(runner_t *self)
{
    preflight_t *p = &self->preflight;
    if (p->worker != NULL && !p->known)
        p->started_ms = 0; /* back at ready without a figure, the next turn measures again */
    worker_destroy(&p->worker);
}

void preflight_forget(runner_t *self)
{
    worker_destroy(&self->preflight.worker);
    self->preflight = (preflight_t){0};
}

bool preflight_child_exited(runner_t *self, pid_t pid, int status)
{
    return worker_child_exited(self->preflight.worker, pid, status);
}
