/* watcher: inotify + polling of one file, with patience for files caught half-written.
 * A file that does not parse is read again until it has been left alone for WATCHER_SETTLE_MS;
 * only then is it reported as invalid, once. */
#include "watcher.h"
#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "watcher"
#define INOTIFY_MASK                                                                               \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |       \
     IN_MOVE_SELF | IN_ONLYDIR)

struct watcher {
    zloop_t *loop;
    char path[PATH_MAX];
    char dir[PATH_MAX];
    const char *base; /* file name within dir (points into path) */
    watch_mode_t mode;
    uint64_t poll_ms;
    watcher_fn *fn;
    void *arg;

    int ifd; /* inotify fd, -1 when polling only */
    int wd;  /* watch descriptor of dir, -1 when lost */
    zmq_pollitem_t item;
    int poll_timer;
    int retry_timer; /* -1 when no retry is pending */

    struct stat last_st; /* what the file looked like at the last check */
    bool have_st;
    char *reported;        /* bytes last handed to fn */
    char *failed;          /* bytes that last failed to parse */
    uint64_t failed_since; /* monotonic ms those bytes were first seen */
    bool failed_logged;
};

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool s_same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int s_on_retry(zloop_t *loop, int timer_id, void *arg);

static void s_schedule_retry(watcher_t *self)
{
    if (self->retry_timer < 0)
        self->retry_timer = zloop_timer(self->loop, WATCHER_RETRY_MS, 1, s_on_retry, self);
}

/* Reads and parses the file; reports new valid content, retries content that fails. */
static void s_read(watcher_t *self)
{
    char *text = NULL;
    size_t len = 0;
    wv_err_t err;
    if (fs_read_file(self->path, UPGRADE_INFO_MAX_BYTES, &text, &len, &err) != 0) {
        if (errno != ENOENT)
            log_warn(COMPONENT, "cannot read upgrade info", LF_STR("error", err.msg));
        return;
    }
    upgrade_info_t info;
    if (upgrade_info_parse(text, len, &info, &err) == 0) {
        free(self->failed);
        self->failed = NULL;
        if (self->reported != NULL && strcmp(self->reported, text) == 0) {
            free(text);
            upgrade_info_free(&info);
            return;
        }
        free(self->reported);
        self->reported = text;
        self->fn(&info, self->arg);
        upgrade_info_free(&info);
        return;
    }
    /* Maybe caught half-written: try again until the bytes have settled. */
    uint64_t now = s_now_ms();
    if (self->failed == NULL || strcmp(self->failed, text) != 0) {
        free(self->failed);
        self->failed = text;
        self->failed_since = now;
        self->failed_logged = false;
        s_schedule_retry(self);
        return;
    }
    free(text);
    if (self->failed_logged)
        return;
    if (now - self->failed_since < WATCHER_SETTLE_MS) {
        s_schedule_retry(self);
        return;
    }
    self->failed_logged = true;
    log_error(COMPONENT, "upgrade info is invalid; nothing was switched, fix or remove the file",
              LF_STR("file", self->path), LF_STR("error", err.msg));
}

void watcher_check(watcher_t *self)
{
    struct stat st;
    if (stat(self->path, &st) != 0) {
        self->have_st = false;
        return;
    }
    if (self->have_st && s_same_stat(&st, &self->last_st))
        return;
    self->last_st = st;
    self->have_st = true;
    s_read(self);
}

static int s_on_retry(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    watcher_t *self = arg;
    self->retry_timer = -1;
    self->have_st = false; /* read again even if the stat did not change */
    watcher_check(self);
    return 0;
}

static void s_add_watch(watcher_t *self)
{
    if (self->ifd < 0 || self->wd >= 0)
        return;
    self->wd = inotify_add_watch(self->ifd, self->dir, INOTIFY_MASK);
    if (self->wd >= 0)
        watcher_check(self); /* whatever happened while unwatched */
}

static int s_on_inotify(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    watcher_t *self = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool relevant = false;
    for (;;) {
        ssize_t n = read(self->ifd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                if (ev->wd == self->wd) {
                    inotify_rm_watch(self->ifd, self->wd);
                    self->wd = -1; /* the directory went away; polling re-adds the watch */
                }
            }
            if (ev->mask & IN_Q_OVERFLOW)
                relevant = true;
            if (ev->len > 0 && strcmp(ev->name, self->base) == 0)
                relevant = true;
            p += sizeof *ev + ev->len;
        }
    }
    if (relevant)
        watcher_check(self);
    return 0;
}

static int s_on_poll(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    watcher_t *self = arg;
    s_add_watch(self);
    watcher_check(self);
    return 0;
}

watcher_t *watcher_new(zloop_t *loop, const char *path, watch_mode_t mode, uint64_t poll_ms,
                       watcher_fn *fn, void *arg)
{
    watcher_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->loop = loop;
    snprintf(self->path, sizeof self->path, "%s", path);
    snprintf(self->dir, sizeof self->dir, "%s", path);
    char *slash = strrchr(self->dir, '/');
    if (slash != NULL && slash != self->dir)
        *slash = '\0';
    const char *base = strrchr(self->path, '/');
    self->base = base ? base + 1 : self->path;
    self->mode = mode;
    self->poll_ms = poll_ms;
    self->fn = fn;
    self->arg = arg;
    self->ifd = -1;
    self->wd = -1;
    self->retry_timer = -1;

    if (mode == WATCH_AUTO) {
        self->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (self->ifd < 0) {
            log_warn(COMPONENT, "inotify unavailable; polling instead",
                     LF_STR("error", strerror(errno)));
        } else {
            self->item = (zmq_pollitem_t){.socket = NULL, .fd = self->ifd, .events = ZMQ_POLLIN};
            zloop_poller(loop, &self->item, s_on_inotify, self);
            s_add_watch(self);
        }
    }
    self->poll_timer = zloop_timer(loop, poll_ms, 0, s_on_poll, self);
    log_info(COMPONENT, "watching for upgrades", LF_STR("file", path),
             LF_STR("mode", self->ifd >= 0 ? "inotify+poll" : "poll"),
             LF_INT("poll_ms", (long long)poll_ms));
    return self;
}

void watcher_destroy(watcher_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    watcher_t *self = *self_p;
    zloop_timer_end(self->loop, self->poll_timer);
    if (self->retry_timer >= 0)
        zloop_timer_end(self->loop, self->retry_timer);
    if (self->ifd >= 0) {
        zloop_poller_end(self->loop, &self->item);
        close(self->ifd);
    }
    free(self->reported);
    free(self->failed);
    free(self);
    *self_p = NULL;
}

void watcher_forget(watcher_t *self)
{
    free(self->reported);
    self->reported = NULL;
    self->have_st = false;
}

bool watcher_inotify(const watcher_t *self)
{
    return self->ifd >= 0 && self->wd >= 0;
}
