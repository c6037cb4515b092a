/* upgrade: the upgrade pipeline of a running agent, one journaled step at a time.
 * ready → stopping → backing up → hooks → switching → starting → verifying → done; a failure
 * after the stop → restoring → rolled back. Every step is written to state.json before it
 * starts, so an agent killed anywhere resumes or rolls back from there (upgrade_resume). */
#include "agent.h"
#include "backup.h"
#include "binguard.h"
#include "fault.h"
#include "hooks.h"
#include "fsutil.h"
#include "log.h"
#include "plan.h"
#include "preflight.h"
#include "schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define COMPONENT "upgrade"
#define BACKUP_TIMEOUT_MS 0    /* a backup runs as long as the data needs */
#define HEIGHT_SAVE_MS 5000    /* the journal's height is refreshed at most this often */
#define PREPARE_RETRY_MS 30000 /* after a failed download */
#define PREPARE_TIMEOUT_MS (60 * 60 * 1000) /* one download, all its retries included */

static const char *const s_step_names[STEP_COUNT] = {"none",       "ready",     "stopping",
                                                     "backing-up", "hooks",     "switching",
                                                     "starting",   "verifying", "restoring"};

const char *upgrade_step_name(upgrade_step_t step)
{
    return step < STEP_COUNT ? s_step_names[step] : "?";
}

static upgrade_step_t s_step_from_name(const char *name)
{
    for (int i = 0; i < STEP_COUNT; i++) {
        if (strcmp(name, s_step_names[i]) == 0)
            return (upgrade_step_t)i;
    }
    return STEP_NONE;
}

static void s_done_quietly(runner_t *self);
static void s_say_held(runner_t *self);

static void s_cancel_step_timer(runner_t *self)
{
    if (self->step_timer >= 0)
        zloop_timer_end(self->loop, self->step_timer);
    self->step_timer = -1;
}

/* Writes the step to the journal before it starts; the fault point comes after, so a kill there
 * leaves exactly "this step started". */
static int s_enter(runner_t *self, upgrade_step_t step)
{
    wv_err_t err;
    if (journal_set_step(self->journal, self->pending.name, self->pending.height,
                         s_step_names[step], &err) != 0 ||
        journal_save(self->journal, &err) != 0) {
        log_error(COMPONENT, "cannot write the journal; the upgrade waits",
                  LF_STR("name", self->pending.name), LF_STR("error", err.msg));
        return -1;
    }
    self->step = step;
    log_info(COMPONENT, "step", LF_STR("name", self->pending.name),
             LF_STR("step", s_step_names[step]));
    gossip_publish_now(self->gossip); /* the phase peers see follows the step */
    fault_point(s_step_names[step]);
    return 0;
}

static void s_clear_pending(runner_t *self)
{
    if (self->has_pending)
        upgrade_info_free(&self->pending);
    self->has_pending = false;
    self->pending_now = false;
    self->missing_logged = false;
    self->space_logged = false;
    self->step = STEP_NONE;
    self->failure[0] = '\0';
    s_cancel_step_timer(self);
    gate_reset(self);
    binguard_forget(self);
    preflight_forget(self);
}

/* Is this upgrade behind us, or given up? */
static bool s_already_done(runner_t *self, const upgrade_info_t *info)
{
    char current[UPGRADE_NAME_MAX + 1];
    if (layout_current_upgrade(&self->layout, current, sizeof current, NULL) == 0 &&
        strcmp(current, info->name) == 0)
        return true;
    if (journal_applied(self->journal, info->name) || journal_failed(self->journal, info->name))
        return true;
    return info->height <= journal_last_height(self->journal);
}

void upgrade_offer(runner_t *self, const upgrade_info_t *info, bool now)
{
    if (s_already_done(self, info)) {
        log_debug(COMPONENT, "upgrade already applied or failed", LF_STR("name", info->name));
        return;
    }
    if (self->has_pending && now && self->step == STEP_VERIFYING &&
        strcmp(self->pending.name, info->name) != 0 && info->height > self->pending.height) {
        /* the new node asks for its own next upgrade: it has gone past ours */
        s_done_quietly(self);
    }
    if (self->has_pending) {
        if (strcmp(self->pending.name, info->name) == 0) {
            self->pending_now = self->pending_now || now;
            runner_kick(self);
            return;
        }
        /* another one: an immediate request or a lower height wins, unless one is under way */
        if (self->step > STEP_READY || (!now && info->height >= self->pending.height))
            return;
        s_clear_pending(self);
    }
    self->pending = *info;
    self->pending.info = info->info ? strdup(info->info) : NULL;
    self->has_pending = true;
    self->pending_now = now;
    self->prepare_after = 0; /* a new upgrade may be downloaded at once */
    log_info(COMPONENT, "upgrade detected", LF_STR("name", info->name),
             LF_INT("height", info->height),
             LF_STR("when", now             ? "now"
                            : info->rolling ? "rolling, before the height"
                                            : "at height"));
    runner_kick(self);
}

void upgrade_scan_schedule(runner_t *self)
{
    if (self->has_pending && self->step > STEP_READY)
        return;
    scheduled_t *items = NULL;
    size_t count = 0;
    wv_err_t err;
    if (schedule_list(&self->layout, &items, &count, &err) != 0)
        return;
    /* a scheduled upgrade not started yet and no longer in the schedule was cancelled */
    if (self->has_pending && !self->pending_now) {
        bool listed = false;
        for (size_t i = 0; i < count && !listed; i++)
            listed = strcmp(items[i].info.name, self->pending.name) == 0;
        if (!listed) {
            log_info(COMPONENT, "upgrade cancelled", LF_STR("name", self->pending.name));
            worker_destroy(&self->worker);
            wv_err_t jerr;
            if (self->step == STEP_READY &&
                (journal_set_step(self->journal, NULL, 0, NULL, &jerr) != 0 ||
                 journal_save(self->journal, &jerr) != 0))
                log_error(COMPONENT, "cannot write the journal", LF_STR("error", jerr.msg));
            s_clear_pending(self);
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (!s_already_done(self, &items[i].info)) {
            upgrade_offer(self, &items[i].info, false);
            break;
        }
    }
    schedule_free(items, count);
}

/* The height the chain is at, as far as this agent knows: its node's, the last one saved, or
 * the one a quorum of validators reports (a dead or stalled node can't hide the height). */
static int64_t s_height(runner_t *self)
{
    int64_t h = self->health.height;
    int64_t saved = journal_height(self->journal);
    h = h > saved ? h : saved;
    /* a node that answers knows where it is (a syncing one must not switch before it gets
     * there); one that does not is dead or stalled, and the validators know better */
    if (self->health.state == HEALTH_HEALTHY || self->health.state == HEALTH_SYNCING)
        return h;
    int64_t network = gate_network_height(self);
    return h > network ? h : network;
}

/* The height the new node must pass to be verified: the upgrade's; for a rolling upgrade that
 * took its restart slot early, the height at which the old node was stopped. */
static int64_t s_verify_height(runner_t *self)
{
    const char *from = journal_step_str(self->journal, "rolling_from");
    return from[0] != '\0' ? strtoll(from, NULL, 10) : self->pending.height;
}

/* At-height mode: the old node stops once its head is at height - 1. */
static bool s_due(runner_t *self)
{
    return self->pending_now || s_height(self) >= self->pending.height - 1;
}

static void s_on_prepare_done(int status, bool timed_out, void *arg)
{
    runner_t *self = arg;
    worker_destroy(&self->worker);
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_error(COMPONENT, "downloading the upgrade failed; trying again later",
                  LF_STR("name", self->has_pending ? self->pending.name : "?"),
                  LF_INT("retry_in_ms", PREPARE_RETRY_MS));
        self->prepare_after = (uint64_t)zclock_mono() + PREPARE_RETRY_MS;
    }
    runner_kick(self);
}

/* A missing binary is downloaded (DAEMON_ALLOW_DOWNLOAD_BINARIES) by a child process,
 * `wemixvisor prepare-upgrade <name>`; the loop goes on meanwhile. */
static void s_start_prepare(runner_t *self)
{
    if (!self->cfg->allow_download_binaries || self->pending.info == NULL || self->worker != NULL ||
        (uint64_t)zclock_mono() < self->prepare_after)
        return;
    char *argv[] = {self->self_exe,    "--log-format",     "text",
                    "prepare-upgrade", self->pending.name, NULL};
    wv_err_t err;
    self->worker = worker_start(self->loop, "download", argv, NULL, PREPARE_TIMEOUT_MS,
                                s_on_prepare_done, self, &err);
    if (self->worker == NULL)
        log_error(COMPONENT, "cannot start the download", LF_STR("error", err.msg));
}

static bool s_binary_ready(runner_t *self)
{
    char path[PATH_MAX];
    wv_err_t err;
    if (layout_upgrade_bin(&self->layout, self->pending.name, path, sizeof path, &err) != 0)
        return false;
    if (fs_is_executable(path)) {
        if (self->missing_logged)
            log_info(COMPONENT, "upgrade binary is in place", LF_STR("name", self->pending.name),
                     LF_STR("path", path));
        self->missing_logged = false; /* status and control stop saying it is missing */
        self->held_logged = false;
        return true;
    }
    s_start_prepare(self);
    if (self->worker != NULL)
        return false; /* downloading */
    if (!self->missing_logged) {
        self->missing_logged = true;
        log_error(COMPONENT,
                  fs_is_file(path) ? "upgrade binary is not executable; the node is left as it "
                                     "is and the upgrade proceeds once it is (chmod +x)"
                                   : "upgrade binary is missing; the node is left as it is and "
                                     "the upgrade proceeds as soon as the binary is in place",
                  LF_STR("name", self->pending.name), LF_STR("expected", path));
    }
    return false;
}

static bool s_node_down(runner_t *self)
{
    node_state_t st = supervisor_state(self->sup);
    return st == NODE_STOPPED || st == NODE_FAILED || st == NODE_CRASHED;
}

/* What happens to the node while the upgrade binary is not the verified one (logged with it). */
static const char *s_node_note(runner_t *self)
{
    return !s_due(self)        ? "runs the old binary until the height"
           : s_node_down(self) ? "held stopped: the old binary is not started past its upgrade "
                                 "height"
                               : "left as it is; it is not started again past its upgrade height";
}

static bool s_binary_still_verified(runner_t *self, bool may_reverify)
{
    return binguard_still_verified(self, may_reverify, s_due(self), s_node_note(self));
}

/* Enters the ready step with the binary's sha256 in the journal (one save: a crash right after it
 * leaves both). */
static int s_enter_ready(runner_t *self)
{
    wv_err_t err;
    if (binguard_verify(self, s_node_note(self)) != 0)
        return -1;
    if (journal_set_step(self->journal, self->pending.name, self->pending.height,
                         s_step_names[STEP_READY], &err) != 0 ||
        journal_step_set_str(self->journal, "sha256", self->bin_sha256, &err) != 0) {
        log_error(COMPONENT, "cannot write the journal; the upgrade waits",
                  LF_STR("name", self->pending.name), LF_STR("error", err.msg));
        return -1;
    }
    return s_enter(self, STEP_READY);
}

static int s_point_current(runner_t *self, const char *name, wv_err_t *err);

/* The binary was removed or replaced between the stop and the switch: nothing is switched (an
 * agent killed mid-switch and resumed may have moved `current` already: it goes back). The
 * upgrade is ready again and waits for the verified binary, as before a stop; the node, stopped
 * at the height, is held (upgrade_before_start); before it (a rolling upgrade's early slot, given
 * back) the old binary runs again. Once the binary is back the backup and hooks run again. */
static void s_back_to_ready(runner_t *self)
{
    wv_err_t err;
    char current[UPGRADE_NAME_MAX + 1], previous[UPGRADE_NAME_MAX + 1];
    snprintf(previous, sizeof previous, "%s", journal_step_str(self->journal, "previous"));
    if (previous[0] != '\0' &&
        layout_current_upgrade(&self->layout, current, sizeof current, NULL) == 0 &&
        strcmp(current, self->pending.name) == 0 && s_point_current(self, previous, &err) != 0)
        log_error(COMPONENT, "cannot point current back; fix it by hand",
                  LF_STR("previous", previous), LF_STR("error", err.msg));
    self->gate.rolling_early = false;
    if (journal_step_set_str(self->journal, "rolling_from", "", &err) != 0 ||
        s_enter(self, STEP_READY) != 0)
        self->step = STEP_READY; /* journaled further on: a restarted agent stops and checks */
    runner_kick(self);
}

static void s_fail(runner_t *self, const char *reason);
static bool s_later_requested(runner_t *self);
static void s_start_hooks(runner_t *self);

/* --- backing up ------------------------------------------------------------------------ */

/* A backup that found no room in the backup dir (it says so by its exit code: the disk filled up
 * after the check before the stop, or there was no figure to check) or could no longer be written
 * is no failure of the upgrade: nothing has been changed. The upgrade goes back to ready and
 * waits, as it does before a stop, and goes on by itself once a backup is possible. The old
 * binary never runs past the upgrade height, so at the height the node stays stopped meanwhile;
 * before it (a rolling upgrade's early slot, given back here) the old binary runs again. False
 * when it failed for another reason. */
static bool s_backup_wait_for_room(runner_t *self, bool no_room)
{
    wv_err_t err;
    if (!preflight_backup_failed(self, no_room, &err))
        return false;
    s_back_to_ready(self);
    self->space_logged = true;
    bool held = s_due(self);
    log_error(COMPONENT,
              held ? "the backup failed: the backup dir is full or not writable; nothing was "
                     "changed. The node is left STOPPED (the previous binary cannot go past the "
                     "upgrade height) and the upgrade goes on by itself once a backup can be "
                     "written"
                   : "the backup failed: the backup dir is full or not writable; nothing was "
                     "changed. The previous binary runs again (before the height) and the "
                     "upgrade goes on by itself once a backup can be written",
              LF_STR("name", self->pending.name), LF_STR("dir", self->cfg->backup_dir),
              LF_STR("waiting_for", self->backup_waits), LF_STR("error", err.msg));
    return true;
}

static void s_on_backup_done(int status, bool timed_out, void *arg)
{
    runner_t *self = arg;
    worker_destroy(&self->worker);
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bool no_room =
            !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == BACKUP_EXIT_NO_ROOM;
        if (!s_backup_wait_for_room(self, no_room))
            s_fail(self, "the data backup failed (see the backup lines above)");
        return;
    }
    /* the newest archive with our label is the one just written */
    backup_entry_t *entries = NULL;
    size_t n = 0;
    wv_err_t err;
    char label[BACKUP_LABEL_MAX + 1];
    snprintf(label, sizeof label, "pre-%s", self->pending.name);
    const char *archive = NULL;
    if (backup_list(self->cfg->backup_dir, &entries, &n, &err) == 0) {
        for (size_t i = 0; i < n && archive == NULL; i++) {
            if (strcmp(entries[i].label, label) == 0)
                archive = entries[i].path;
        }
    }
    if (archive == NULL || journal_step_set_str(self->journal, "backup", archive, &err) != 0) {
        free(entries);
        s_fail(self, "the backup archive cannot be found after the backup");
        return;
    }
    log_info(COMPONENT, "data backed up", LF_STR("archive", archive));
    free(entries);
    s_start_hooks(self);
}

static void s_start_backup(runner_t *self)
{
    if (self->cfg->unsafe_skip_backup) {
        log_warn(COMPONENT,
                 "UNSAFE_SKIP_BACKUP is true: no backup; a failed upgrade cannot "
                 "restore the data",
                 LF_STR("name", self->pending.name));
        s_start_hooks(self);
        return;
    }
    if (s_enter(self, STEP_BACKING_UP) != 0)
        return;
    preflight_stop(self); /* the backup measures the data itself */
    char label[BACKUP_LABEL_MAX + 8];
    snprintf(label, sizeof label, "pre-%s", self->pending.name);
    char *argv[] = {self->self_exe, "--log-format", "text", "backup",
                    "create",       "--label",      label,  NULL};
    wv_err_t err;
    self->worker = worker_start(self->loop, "backup", argv, NULL, BACKUP_TIMEOUT_MS,
                                s_on_backup_done, self, &err);
    if (self->worker == NULL)
        s_fail(self, err.msg);
}

/* --- hooks ------------------------------------------------------------------------------ */

static void s_switch_and_start(runner_t *self);

static void s_on_hooks_done(runner_t *self, const char *why)
{
    if (why != NULL)
        s_fail(self, why);
    else
        s_switch_and_start(self);
}

static void s_start_hooks(runner_t *self)
{
    if (s_enter(self, STEP_HOOKS) == 0)
        hooks_start(self, s_on_hooks_done);
}

/* --- switching, starting, verifying ------------------------------------------------------ */

static int s_point_current(runner_t *self, const char *name, wv_err_t *err)
{
    char target[PATH_MAX];
    if (layout_link_target(name, target, sizeof target, err) != 0 ||
        fs_symlink_replace(target, self->layout.current, err) != 0)
        return -1;
    log_info(COMPONENT, "current switched", LF_STR("current", target));
    return 0;
}

static int s_on_verify_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    runner_t *self = arg;
    self->step_timer = -1;
    char why[256];
    snprintf(why, sizeof why, "the new node did not pass height %lld within %llu ms",
             (long long)s_verify_height(self), (unsigned long long)self->cfg->verify_timeout_ms);
    s_fail(self, why);
    return 0;
}

static void s_switch_and_start(runner_t *self)
{
    if (!s_binary_still_verified(self, false)) {
        s_back_to_ready(self); /* replaced or removed during the stop, the backup or a hook */
        return;
    }
    if (s_enter(self, STEP_SWITCHING) != 0)
        return;
    wv_err_t err;
    if (s_point_current(self, self->pending.name, &err) != 0) {
        s_fail(self, err.msg);
        return;
    }
    if (!self->cfg->restart_after_upgrade) {
        /* nothing to verify: the operator starts the node; the switch is the upgrade */
        if (journal_record_applied(self->journal, self->pending.name, self->pending.height, &err) !=
                0 ||
            journal_set_step(self->journal, NULL, 0, NULL, &err) != 0 ||
            journal_save(self->journal, &err) != 0)
            log_error(COMPONENT, "cannot write the journal", LF_STR("error", err.msg));
        log_info(COMPONENT, "DAEMON_RESTART_AFTER_UPGRADE is false; exiting after the switch",
                 LF_STR("name", self->pending.name));
        s_clear_pending(self);
        self->exit_code = 0;
        self->done = true;
        return;
    }
    if (s_enter(self, STEP_STARTING) != 0)
        return;
    runner_kick(self); /* the reconcile starts the node (after DAEMON_RESTART_DELAY) */
}

/* One upgrade is over: what was offered meanwhile (and refused while busy) is offered again. */
static void s_look_again(runner_t *self)
{
    watcher_forget(self->watcher);
    watcher_check(self->watcher);
    upgrade_scan_schedule(self);
    runner_kick(self);
}

/* The new node has passed the upgrade height: the upgrade is done. */
static void s_done(runner_t *self)
{
    s_done_quietly(self);
    s_look_again(self);
}

/* As s_done, without looking for what comes next (the caller has it in hand). */
static void s_done_quietly(runner_t *self)
{
    wv_err_t err;
    s_cancel_step_timer(self);
    if (journal_record_applied(self->journal, self->pending.name, self->pending.height, &err) !=
            0 ||
        journal_set_step(self->journal, NULL, 0, NULL, &err) != 0 ||
        journal_save(self->journal, &err) != 0)
        log_error(COMPONENT, "cannot write the journal", LF_STR("error", err.msg));
    fault_point("done");
    plan_upgrade_done(&self->layout, self->pending.name);
    log_info(COMPONENT, "upgrade done", LF_STR("name", self->pending.name),
             LF_INT("height", self->health.height));
    s_clear_pending(self);
}

void upgrade_on_height(runner_t *self, int64_t height)
{
    uint64_t now = zclock_mono();
    if (height != self->last_saved_height &&
        (now - self->last_height_save_ms >= HEIGHT_SAVE_MS || self->has_pending)) {
        wv_err_t err;
        journal_set_height(self->journal, height);
        if (journal_save(self->journal, &err) == 0) {
            self->last_saved_height = height;
            self->last_height_save_ms = now;
        }
    }
    if (!self->has_pending)
        return;
    if (self->step == STEP_VERIFYING && height > s_verify_height(self))
        s_done(self);
    else if (self->step == STEP_READY)
        runner_kick(self);
}

/* --- failure and rollback ---------------------------------------------------------------- */

static void s_rolled_back(runner_t *self)
{
    wv_err_t err;
    char previous[UPGRADE_NAME_MAX + 1];
    snprintf(previous, sizeof previous, "%s", journal_step_str(self->journal, "previous"));
    if (previous[0] != '\0' && s_point_current(self, previous, &err) != 0)
        log_error(COMPONENT, "cannot point current back; fix it by hand",
                  LF_STR("previous", previous), LF_STR("error", err.msg));
    plan_upgrade_failed(&self->layout, self->pending.name, self->failure);
    if (journal_record_failed(self->journal, self->pending.name, self->pending.height,
                              self->failure, &err) != 0 ||
        journal_set_step(self->journal, NULL, 0, NULL, &err) != 0 ||
        journal_save(self->journal, &err) != 0)
        log_error(COMPONENT, "cannot write the journal", LF_STR("error", err.msg));
    /* an upgrade the node asked for (data/upgrade-info.json) means it is at its height */
    bool past = self->pending_now || s_height(self) >= self->pending.height - 1;
    log_error(COMPONENT,
              past ? "upgrade rolled back; the node is left STOPPED: the previous binary cannot "
                     "go past the upgrade height. Fix the upgrade, then `wemixvisor start`"
                   : "upgrade rolled back; the previous binary runs again (before the height)",
              LF_STR("name", self->pending.name), LF_STR("reason", self->failure),
              LF_STR("current", previous));
    if (past)
        self->want_running = false;
    s_clear_pending(self);
    s_look_again(self);
}

static void s_on_restore_done(int status, bool timed_out, void *arg)
{
    runner_t *self = arg;
    worker_destroy(&self->worker);
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_error(COMPONENT,
                  "restoring the data failed; the node stays stopped: restore by hand "
                  "with `wemixvisor backup restore`",
                  LF_STR("archive", journal_step_str(self->journal, "backup")));
        self->want_running = false;
    }
    s_rolled_back(self);
}

/* The restore itself, once the node is down. */
static void s_restore(runner_t *self)
{
    const char *archive = journal_step_str(self->journal, "backup");
    if (archive[0] == '\0') {
        s_rolled_back(self); /* no backup was made (or skipped): only the binary goes back */
        return;
    }
    char *argv[] = {self->self_exe, "--log-format",  "text",    "backup",
                    "restore",      (char *)archive, "--force", NULL};
    wv_err_t err;
    self->worker =
        worker_start(self->loop, "restore", argv, NULL, 0, s_on_restore_done, self, &err);
    if (self->worker == NULL) {
        log_error(COMPONENT, "cannot start the restore", LF_STR("error", err.msg));
        self->want_running = false;
        s_rolled_back(self);
    }
}

static void s_fail(runner_t *self, const char *reason)
{
    snprintf(self->failure, sizeof self->failure, "%s", reason);
    log_error(COMPONENT, "upgrade failed; rolling back", LF_STR("name", self->pending.name),
              LF_STR("step", s_step_names[self->step]), LF_STR("reason", reason));
    s_cancel_step_timer(self);
    worker_destroy(&self->worker);
    wv_err_t err;
    if (journal_step_set_str(self->journal, "reason", reason, &err) != 0) {
        /* no step yet: nothing was stopped */
    }
    if (s_enter(self, STEP_RESTORING) != 0)
        return;
    if (!s_node_down(self)) {
        supervisor_stop(self->sup); /* the reconcile restores once it is down */
        return;
    }
    s_restore(self);
}

void upgrade_on_node_exit(runner_t *self)
{
    if (!self->has_pending || (self->step != STEP_STARTING && self->step != STEP_VERIFYING))
        return;
    /* A new node that stops at its own next upgrade has gone past ours: that is a success the
     * probe may not have seen yet. */
    if (s_later_requested(self)) {
        s_done(self);
        return;
    }
    s_fail(self, "the new node exited during verification");
}

bool upgrade_watching_height(const runner_t *self)
{
    if (!self->has_pending)
        return false;
    if (self->step == STEP_VERIFYING || self->step == STEP_STARTING)
        return true;
    return self->step == STEP_READY && !self->pending_now &&
           s_height((runner_t *)self) >= self->pending.height - UPGRADE_NEAR_BLOCKS;
}

/* --- the driver -------------------------------------------------------------------------- */

/* A rolling upgrade switched before its height is verified against the height it stopped at. */
static int s_note_rolling(runner_t *self, wv_err_t *err)
{
    if (!self->gate.rolling_early)
        return 0;
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)s_height(self));
    return journal_step_set_str(self->journal, "rolling_from", text, err);
}

bool upgrade_reconcile(runner_t *self)
{
    if (!self->has_pending)
        return false;
    switch (self->step) {
    case STEP_NONE:
        if (!s_binary_ready(self)) {
            gate_note_missing(self, s_due(self));
            s_say_held(self);
            /* the node is left as it is; one stopped at the height is held without start
             * attempts; the tick looks again */
            return s_node_down(self) && upgrade_holds_node(self);
        }
        if (s_enter_ready(self) != 0)
            return false;
        /* fall through */
    case STEP_READY: {
        if (!self->cfg->unsafe_skip_backup)
            preflight_refresh(self); /* the data dir's size, off the loop */
        if (!s_binary_still_verified(self, true)) {
            s_say_held(self);
            return s_node_down(self) && upgrade_holds_node(self); /* as above */
        }
        if (!gate_allows(self, s_due(self)))
            return false;
        /* the backup's room (preflight.h): without a figure yet, a node at its height - 1 or
         * already down goes on. Stopped at the height: held, without start attempts */
        if (!preflight_ok(self, s_node_down(self) || (s_due(self) && !self->pending_now),
                          s_node_down(self)))
            return s_node_down(self) && s_due(self);
        char previous[UPGRADE_NAME_MAX + 1];
        wv_err_t err;
        if (layout_current_upgrade(&self->layout, previous, sizeof previous, &err) != 0) {
            log_error(COMPONENT, "cannot read current", LF_STR("error", err.msg));
            return false;
        }
        if (s_enter(self, STEP_STOPPING) != 0 ||
            journal_step_set_str(self->journal, "previous", previous, &err) != 0 ||
            journal_step_set_str(self->journal, "info",
                                 self->pending.info ? self->pending.info : "", &err) != 0 ||
            s_note_rolling(self, &err) != 0 || journal_save(self->journal, &err) != 0)
            return true;
        log_info(COMPONENT,
                 self->gate.rolling_early ? "restart slot taken; stopping the node"
                                          : "upgrade height reached; stopping the node",
                 LF_STR("name", self->pending.name), LF_INT("height", s_height(self)),
                 LF_INT("upgrade_height", self->pending.height));
    }
        /* fall through */
    case STEP_STOPPING:
        if (!s_node_down(self)) {
            if (supervisor_state(self->sup) != NODE_STOPPING)
                supervisor_stop(self->sup);
            return true;
        }
        s_start_backup(self);
        return true;
    case STEP_SWITCHING:
        if (s_node_down(self))
            s_switch_and_start(self);
        return true;
    case STEP_STARTING:
        if (s_node_down(self)) {
            /* after DAEMON_RESTART_DELAY, if the node is wanted, and only the verified binary:
             * one replaced since the switch waits, the tick looks again */
            if (s_binary_still_verified(self, false))
                runner_start_later(self);
            return true;
        }
        if (supervisor_state(self->sup) == NODE_RUNNING) {
            if (s_enter(self, STEP_VERIFYING) != 0)
                return true;
            self->step_timer = zloop_timer(self->loop, self->cfg->verify_timeout_ms, 1,
                                           s_on_verify_deadline, self);
        }
        return true;
    case STEP_RESTORING:
        if (self->worker == NULL && s_node_down(self))
            s_restore(self);
        else if (!s_node_down(self) && supervisor_state(self->sup) != NODE_STOPPING)
            supervisor_stop(self->sup);
        return true;
    default:
        return true; /* a worker or a timer moves it on */
    }
}

/* Has the node asked for a later upgrade than the one in hand (data/upgrade-info.json)? Then
 * the one in hand was run past its height already. */
static bool s_later_requested(runner_t *self)
{
    upgrade_info_t next;
    wv_err_t err;
    if (upgrade_info_load(self->layout.upgrade_info, &next, &err) != 0)
        return false;
    bool later = strcmp(next.name, self->pending.name) != 0 && next.height > self->pending.height &&
                 !s_already_done(self, &next);
    upgrade_info_free(&next);
    return later;
}

/* Says once that a due upgrade without a usable binary holds the node, and what to do. */
static void s_say_held(runner_t *self)
{
    if (self->held_logged || self->step > STEP_READY ||
        (self->bin_problem == NULL && !self->missing_logged) || !upgrade_holds_node(self) ||
        !s_node_down(self))
        return;
    self->held_logged = true;
    char path[PATH_MAX] = "";
    layout_upgrade_bin(&self->layout, self->pending.name, path, sizeof path, NULL);
    log_error(COMPONENT,
              "the node is held: its upgrade is due and the upgrade binary is not usable, and the "
              "old binary is not started past its upgrade height. Put the binary in place and the "
              "upgrade goes on by itself",
              LF_STR("name", self->pending.name), LF_INT("upgrade_height", self->pending.height),
              LF_STR("binary", path),
              LF_STR("problem", self->bin_problem != NULL ? self->bin_problem : "missing"),
              LF_STR("verified_sha256", self->bin_sha256));
}

bool upgrade_holds_node(runner_t *self)
{
    if (!self->has_pending)
        return false;
    if (self->step >= STEP_STOPPING)
        return true;
    return s_due(self) && !(self->step == STEP_READY && self->gate.blocked);
}

sup_decision_t upgrade_before_start(runner_t *self)
{
    if (!self->has_pending)
        return SUP_PROCEED;
    if (self->step == STEP_STARTING && s_later_requested(self)) {
        /* resumed after a crash, and the new node had already reached its own next upgrade:
         * ours is done, and the next one must run before anything starts */
        s_done(self);
        return self->has_pending ? SUP_HOLD : SUP_PROCEED;
    }
    if (self->step == STEP_STARTING) /* the new binary, after the switch, if still verified */
        return s_binary_still_verified(self, false) ? SUP_PROCEED : SUP_HOLD;
    if (self->step == STEP_READY && self->gate.blocked) {
        /* no quorum switched: the chain still runs the current rules, and so does this node */
        return SUP_PROCEED;
    }
    if (self->step >= STEP_STOPPING || s_due(self)) {
        s_say_held(self);
        runner_kick(self);
        return SUP_HOLD; /* the old binary never starts past its upgrade */
    }
    return SUP_PROCEED;
}

bool upgrade_child_exited(runner_t *self, pid_t pid, int status)
{
    return worker_child_exited(self->worker, pid, status) ||
           preflight_child_exited(self, pid, status);
}

void upgrade_close(runner_t *self)
{
    worker_destroy(&self->worker);
    preflight_forget(self);
    s_cancel_step_timer(self);
    if (self->has_pending)
        upgrade_info_free(&self->pending);
    self->has_pending = false;
}

/* An earlier agent stopped in the middle of an upgrade. Before the node was stopped nothing
 * happened; after it, the pipeline resumes from the step it had reached (each is safe to run
 * again: a backup is written anew, hooks are run again, the switch and the restore are
 * idempotent). */
int upgrade_resume(runner_t *self, wv_err_t *err)
{
    const char *step_name = journal_step(self->journal);
    if (step_name[0] == '\0')
        return 0;
    upgrade_step_t step = s_step_from_name(step_name);
    const char *name = journal_step_upgrade(self->journal);
    if (step > STEP_READY) /* before that step nothing was touched: not worth a warning */
        log_warn(COMPONENT, "an earlier agent stopped in the middle of an upgrade; resuming",
                 LF_STR("name", name), LF_STR("step", step_name));

    if (strcmp(step_name, "switching") == 0 &&
        journal_step_str(self->journal, "previous")[0] == 0) {
        /* a journal of the first version (issue 2): the switch was the whole upgrade */
        char current[UPGRADE_NAME_MAX + 1];
        if (layout_current_upgrade(&self->layout, current, sizeof current, err) != 0)
            return -1;
        if (strcmp(current, name) == 0 && !journal_applied(self->journal, name) &&
            journal_record_applied(self->journal, name, journal_step_height(self->journal), err) !=
                0)
            return -1;
        if (journal_set_step(self->journal, NULL, 0, NULL, err) != 0)
            return -1;
        return journal_save(self->journal, err);
    }
    /* the sha256 verified at ready is what may be switched to, after this restart too */
    snprintf(self->bin_sha256, sizeof self->bin_sha256, "%s",
             journal_step_str(self->journal, "sha256"));
    snprintf(self->bin_sha256_of, sizeof self->bin_sha256_of, "%s", name);
    if (step <= STEP_READY) {
        /* nothing was touched yet: the upgrade is simply offered again */
        if (journal_set_step(self->journal, NULL, 0, NULL, err) != 0)
            return -1;
        return journal_save(self->journal, err);
    }
    upgrade_info_t info = {.height = journal_step_height(self->journal)};
    snprintf(info.name, sizeof info.name, "%s", name);
    const char *text = journal_step_str(self->journal, "info");
    info.info = text[0] ? strdup(text) : NULL;
    self->pending = info;
    self->has_pending = true;
    self->pending_now = true;
    switch (step) {
    case STEP_STOPPING:
    case STEP_BACKING_UP:
    case STEP_HOOKS:
        self->step = STEP_STOPPING; /* the node is down (the lock saw to it): back up again */
        break;
    case STEP_SWITCHING:
        self->step = STEP_SWITCHING; /* the reconcile switches again (idempotent) */
        break;
    case STEP_STARTING:
    case STEP_VERIFYING:
        self->step = STEP_STARTING;
        break;
    default:
        snprintf(self->failure, sizeof self->failure, "%s",
                 journal_step_str(self->journal, "reason"));
        self->step = STEP_RESTORING;
        break;
    }
    return 0;
}
