/* logsink: the node's stdout and stderr, read from a pipe on the agent's loop and appended to
 * DAEMON_LOG_FILE, rotated by size. Not a line splitter, and never a reason to stop reading. */
#include "logsink.h"
#include "fsutil.h"
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "logsink"
#define LOGSINK_MAX_FILES 100           /* the documented range of max_files is 1..this */
#define LOGSINK_SUFFIX_MAX 8            /* room for ".100" after the path, with some to spare */
#define LOGSINK_DIR_MODE 0755           /* the log file's directory, when we create it */
#define LOGSINK_CHUNK_BYTES (64 * 1024) /* one read from the pipe, one write to the file */
#define LOGSINK_READS_PER_WAKE 16       /* then let the loop breathe; it calls us again */
#define LOGSINK_WARN_INTERVAL_MS 60000  /* at most one warning a minute about dropped output */

struct logsink {
    zloop_t *loop;
    char path[PATH_MAX]; /* the live file; rotated ones are path.1 ... path.max_files */
    uint64_t max_bytes;  /* a write that would take the live file past this rotates first */
    int max_files;       /* how many rotated files are kept */
    int read_fd;         /* the pipe's read end: non-blocking, polled by the loop */
    int write_fd;        /* the pipe's write end: the node's stdout and stderr */
    zmq_pollitem_t item; /* read_fd as registered with the loop */
    bool polling;        /* item is registered */
    int file_fd;         /* the live file; -1 after a failed reopen (retried on each write) */
    bool rotatable;      /* a regular file; /dev/null and other special files are never renamed */
    uint64_t size;       /* bytes in the live file */
    char *chunk;         /* LOGSINK_CHUNK_BYTES of read buffer */
    uint64_t dropped;    /* bytes dropped since the last warning */
    bool warned;         /* a warning was logged at warned_ms */
    uint64_t warned_ms;  /* monotonic */
};

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* path for n == 0, path.n otherwise; the length was checked in logsink_new. */
static void s_file_name(const logsink_t *self, int n, char *buf, size_t size)
{
    int len = n == 0 ? snprintf(buf, size, "%s", self->path)
                     : snprintf(buf, size, "%s.%d", self->path, n);
    assert(len > 0 && (size_t)len < size);
    (void)len;
}

/* Opens (or creates) the live file for appending and learns its size. */
static int s_open(logsink_t *self, wv_err_t *err)
{
    assert(self->file_fd < 0);
    int fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, LOGSINK_FILE_MODE);
    if (fd < 0)
        return err_sys(err, "cannot open DAEMON_LOG_FILE %s for appending", self->path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err_sys(err, "cannot stat DAEMON_LOG_FILE %s", self->path);
        close(fd);
        return -1;
    }
    self->file_fd = fd;
    self->rotatable = S_ISREG(st.st_mode);
    self->size = self->rotatable ? (uint64_t)st.st_size : 0;
    return 0;
}

/* Shifts path.(N-1) -> path.N ... path -> path.1 (the rename over path.N drops the oldest), then
 * opens a fresh live file. A rename that fails leaves the live file open and unchanged; the
 * next rotation starts the shift again from the top, so no file is ever lost twice. */
static int s_rotate(logsink_t *self, wv_err_t *err)
{
    if (!self->rotatable)
        return 0;
    char from[PATH_MAX];
    char to[PATH_MAX];
    for (int n = self->max_files; n >= 1; n--) {
        s_file_name(self, n - 1, from, sizeof from);
        s_file_name(self, n, to, sizeof to);
        if (rename(from, to) != 0 && errno != ENOENT)
            return err_sys(err, "cannot rotate DAEMON_LOG_FILE: rename %s to %s", from, to);
    }
    if (self->file_fd >= 0)
        close(self->file_fd);
    self->file_fd = -1;
    return s_open(self, err);
}

/* Counts bytes that could not be written and says so, at most once a minute, so a full disk
 * neither stops the node nor floods the agent's own log. */
static void s_drop(logsink_t *self, size_t bytes, const char *reason)
{
    self->dropped += bytes;
    uint64_t now = s_now_ms();
    if (self->warned && now - self->warned_ms < LOGSINK_WARN_INTERVAL_MS)
        return;
    log_warn(COMPONENT, "node output dropped: cannot write DAEMON_LOG_FILE; check the disk",
             LF_STR("file", self->path), LF_STR("error", reason),
             LF_INT("dropped_bytes", self->dropped));
    self->warned = true;
    self->warned_ms = now;
    self->dropped = 0;
}

/* Appends one chunk, rotating first if it would take the live file past max_bytes. */
static void s_append(logsink_t *self, const char *data, size_t len)
{
    wv_err_t err;
    if (self->file_fd < 0 && s_open(self, &err) != 0) {
        s_drop(self, len, err.msg);
        return;
    }
    if (self->rotatable && self->size > 0 && self->size + len > self->max_bytes &&
        s_rotate(self, &err) != 0) {
        s_drop(self, len, err.msg);
        return;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(self->file_fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            err_sys(&err, "cannot write DAEMON_LOG_FILE %s", self->path);
            self->size += done;
            s_drop(self, len - done, err.msg);
            return;
        }
        done += (size_t)n;
    }
    self->size += len;
}

/* Reads what the pipe holds, up to LOGSINK_READS_PER_WAKE chunks, into the file. */
static void s_drain(logsink_t *self)
{
    for (int reads = 0; reads < LOGSINK_READS_PER_WAKE;) {
        ssize_t n = read(self->read_fd, self->chunk, LOGSINK_CHUNK_BYTES);
        if (n > 0) {
            s_append(self, self->chunk, (size_t)n);
            reads++;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            wv_err_t err;
            err_sys(&err, "cannot read the node's output pipe");
            log_warn(COMPONENT, "node output not read", LF_STR("error", err.msg));
        }
        return; /* empty (EAGAIN), or end of file, which cannot happen while write_fd is open */
    }
}

static int s_on_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_drain(arg);
    return 0; /* never end the agent's loop over the node's output */
}

static void s_free(logsink_t *self)
{
    if (self->polling)
        zloop_poller_end(self->loop, &self->item);
    if (self->read_fd >= 0)
        close(self->read_fd);
    if (self->write_fd >= 0)
        close(self->write_fd);
    if (self->file_fd >= 0)
        close(self->file_fd);
    free(self->chunk);
    free(self);
}

logsink_t *logsink_new(zloop_t *loop, const char *path, uint64_t max_bytes, int max_files,
                       wv_err_t *err)
{
    assert(loop != NULL && path != NULL);
    if (max_files < 1 || max_files > LOGSINK_MAX_FILES) {
        err_set(err, "DAEMON_LOG_FILE %s: %d rotated files is out of range; use 1..%d", path,
                max_files, LOGSINK_MAX_FILES);
        return NULL;
    }
    if (max_bytes == 0) {
        err_set(err,
                "DAEMON_LOG_FILE %s: a maximum size of 0 bytes cannot hold anything; use "
                "a positive size",
                path);
        return NULL;
    }
    if (path[0] == '\0' || strlen(path) + LOGSINK_SUFFIX_MAX >= PATH_MAX) {
        err_set(err, "DAEMON_LOG_FILE \"%s\" is empty or too long", path);
        return NULL;
    }
    logsink_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        err_set(err, "out of memory");
        return NULL;
    }
    self->loop = loop;
    self->max_bytes = max_bytes;
    self->max_files = max_files;
    self->read_fd = self->write_fd = self->file_fd = -1;
    snprintf(self->path, sizeof self->path, "%s", path);

    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (fs_mkdir_p(dir, LOGSINK_DIR_MODE, err) != 0) {
            err_wrap(err, "DAEMON_LOG_FILE %s", path);
            goto fail;
        }
    }
    self->chunk = malloc(LOGSINK_CHUNK_BYTES);
    if (self->chunk == NULL) {
        err_set(err, "out of memory");
        goto fail;
    }
    if (s_open(self, err) != 0)
        goto fail;

    /* Only the read end is non-blocking: the node's writes must block on a full pipe, not fail. */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        err_sys(err, "cannot create the pipe for DAEMON_LOG_FILE %s", path);
        goto fail;
    }
    self->read_fd = fds[0];
    self->write_fd = fds[1];
    int flags = fcntl(self->read_fd, F_GETFL);
    if (flags < 0 || fcntl(self->read_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        err_sys(err, "cannot make the pipe for DAEMON_LOG_FILE %s non-blocking", path);
        goto fail;
    }
    self->item = (zmq_pollitem_t){NULL, self->read_fd, ZMQ_POLLIN, 0};
    if (zloop_poller(loop, &self->item, s_on_readable, self) != 0) {
        err_set(err, "cannot watch the pipe for DAEMON_LOG_FILE %s on the loop", path);
        goto fail;
    }
    self->polling = true;
    return self;

fail:
    s_free(self);
    return NULL;
}

int logsink_fd(const logsink_t *self)
{
    assert(self != NULL);
    return self->write_fd;
}

int logsink_rotate(logsink_t *self, wv_err_t *err)
{
    assert(self != NULL);
    return s_rotate(self, err);
}

void logsink_destroy(logsink_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    logsink_t *self = *self_p;
    s_drain(self);
    s_free(self);
    *self_p = NULL;
}
