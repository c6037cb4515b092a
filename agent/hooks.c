/* hooks: the pre-upgrade scripts of an upgrade (see hooks.h). */
#include "hooks.h"

#include "fsutil.h"
#include "log.h"

#include <stdio.h>
#include <sys/wait.h>

#define COMPONENT "upgrade"
#define HOOK_EXIT_ABORT 30   /* a hook exiting 30 fails the upgrade at once */
#define HOOK_BACKOFF_MS 1000 /* first retry of a failing hook; doubles */
#define ENV_ITEM_MAX (PATH_MAX + 64)

/* The hook of index i (0: the custom script, 1: upgrades/<name>/pre-upgrade), "" if none. */
static void s_hook_path(runner_t *self, int i, char *buf, size_t size)
{
    buf[0] = '\0';
    if (i == 0 && self->cfg->custom_preupgrade != NULL) {
        snprintf(buf, size, "%s", self->cfg->custom_preupgrade);
    } else if (i == 1) {
        char dir[PATH_MAX];
        if (layout_upgrade_dir(&self->layout, self->pending.name, dir, sizeof dir, NULL) == 0 &&
            fs_join(buf, size, NULL, dir, "pre-upgrade", NULL) == 0 && !fs_is_file(buf))
            buf[0] = '\0';
    }
}

static int s_on_hook_retry(zloop_t *loop, int timer_id, void *arg);
static void s_next_hook(runner_t *self);

/* The scripts are over: done, or failed for why. */
static void s_finish(runner_t *self, const char *why)
{
    hooks_done_fn *done = self->hooks_done;
    self->hooks_done = NULL;
    done(self, why);
}

static void s_on_hook_done(int status, bool timed_out, void *arg)
{
    runner_t *self = arg;
    worker_destroy(&self->worker);
    char path[PATH_MAX];
    s_hook_path(self, self->hook_index, path, sizeof path);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (!timed_out && code == 0) {
        log_info(COMPONENT, "pre-upgrade script succeeded", LF_STR("script", path));
        self->hook_index++;
        self->hook_attempt = 0;
        s_next_hook(self);
        return;
    }
    char why[PATH_MAX + 128];
    if (timed_out)
        snprintf(why, sizeof why, "pre-upgrade script %s timed out", path);
    else if (code < 0)
        snprintf(why, sizeof why, "pre-upgrade script %s was killed by a signal", path);
    else
        snprintf(why, sizeof why, "pre-upgrade script %s exited %d", path, code);
    if (code == HOOK_EXIT_ABORT) {
        s_finish(self, why);
        return;
    }
    if (self->hook_attempt >= self->cfg->preupgrade_max_retries) {
        s_finish(self, why);
        return;
    }
    uint64_t delay = (uint64_t)HOOK_BACKOFF_MS << (self->hook_attempt < 6 ? self->hook_attempt : 6);
    self->hook_attempt++;
    log_warn(COMPONENT, "pre-upgrade script failed; retrying", LF_STR("why", why),
             LF_INT("attempt", self->hook_attempt),
             LF_INT("max_retries", self->cfg->preupgrade_max_retries),
             LF_INT("delay_ms", (long long)delay));
    self->step_timer = zloop_timer(self->loop, delay, 1, s_on_hook_retry, self);
}

static void s_run_hook(runner_t *self, const char *path)
{
    char env[5][ENV_ITEM_MAX];
    snprintf(env[0], sizeof env[0], "DAEMON_HOME=%s", self->cfg->home);
    snprintf(env[1], sizeof env[1], "DAEMON_NAME=%s", self->cfg->name);
    snprintf(env[2], sizeof env[2], "UPGRADE_NAME=%s", self->pending.name);
    snprintf(env[3], sizeof env[3], "UPGRADE_HEIGHT=%lld", (long long)self->pending.height);
    snprintf(env[4], sizeof env[4], "UPGRADE_INFO=%s",
             self->pending.info ? self->pending.info : "");
    char *extra[] = {env[0], env[1], env[2], env[3], env[4], NULL};
    char *argv[] = {(char *)path, NULL};
    wv_err_t err;
    self->worker = worker_start(self->loop, "pre-upgrade", argv, extra,
                                self->cfg->preupgrade_timeout_ms, s_on_hook_done, self, &err);
    if (self->worker == NULL) {
        char why[WV_ERR_MAX + 64];
        snprintf(why, sizeof why, "pre-upgrade script: %s", err.msg);
        s_finish(self, why);
    }
}

static int s_on_hook_retry(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    self->step_timer = -1;
    char path[PATH_MAX];
    s_hook_path(self, self->hook_index, path, sizeof path);
    s_run_hook(self, path);
    return 0;
}

static void s_next_hook(runner_t *self)
{
    for (; self->hook_index < 2; self->hook_index++) {
        char path[PATH_MAX];
        s_hook_path(self, self->hook_index, path, sizeof path);
        if (path[0] != '\0') {
            s_run_hook(self, path);
            return;
        }
    }
    s_finish(self, NULL);
}

void hooks_start(runner_t *self, hooks_done_fn *done)
{
    self->hooks_done = done;
    self->hook_index = 0;
    self->hook_attempt = 0;
    s_next_hook(self);
}
