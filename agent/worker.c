/* worker: a supervised short-lived command with logged output and a time-out.
 * The exit is reported once; after a time-out, SIGTERM to its group, then SIGKILL. */
#include "worker.h"
#include "log.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define ENV_MAX 512

extern char **environ;

struct worker {
    zloop_t *loop;
    char name[64];
    pid_t pid;
    int out_fd; /* read end of the command's output, -1 when closed */
    zmq_pollitem_t item;
    int timer; /* time-out, then kill wait; -1 when none */
    bool timed_out;
    worker_fn *fn;
    void *arg;
    char line[LINE_MAX_BYTES];
    size_t line_len;
    char captured[WORKER_CAPTURE_MAX]; /* the first lines of output, NUL-terminated */
    size_t captured_len;
};

static void s_flush_line(worker_t *self)
{
    if (self->line_len == 0)
        return;
    self->line[self->line_len] = '\0';
    log_info(self->name, "output", LF_STR("line", self->line));
    size_t room = sizeof self->captured - self->captured_len;
    int n = snprintf(self->captured + self->captured_len, room, "%s\n", self->line);
    if (n > 0)
        self->captured_len += (size_t)n < room ? (size_t)n : room - 1;
    self->line_len = 0;
}

const char *worker_output(const worker_t *self)
{
    return self->captured;
}

static int s_on_output(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    worker_t *self = arg;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(self->out_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                s_flush_line(self);
                zloop_poller_end(self->loop, &self->item);
                close(self->out_fd);
                self->out_fd = -1;
            }
            return 0;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n' || self->line_len == sizeof self->line - 1)
                s_flush_line(self);
            if (chunk[i] != '\n')
                self->line[self->line_len++] = chunk[i];
        }
    }
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    worker_t *self = arg;
    self->timer = -1;
    if (self->pid <= 0)
        return 0;
    if (!self->timed_out) {
        self->timed_out = true;
        log_warn(self->name, "timed out; sending SIGTERM", LF_INT("pid", self->pid));
        proc_signal_group(self->pid, SIGTERM);
        self->timer = zloop_timer(self->loop, WORKER_KILL_WAIT_MS, 1, s_on_timer, self);
    } else {
        log_warn(self->name, "still running; sending SIGKILL", LF_INT("pid", self->pid));
        proc_signal_group(self->pid, SIGKILL);
    }
    return 0;
}

worker_t *worker_start(zloop_t *loop, const char *name, char *const argv[], char *const extra_env[],
                       uint64_t timeout_ms, worker_fn *fn, void *arg, wv_err_t *err)
{
    char *envp[ENV_MAX];
    size_t n = 0;
    for (char *const *e = extra_env; e != NULL && *e != NULL && n < ENV_MAX - 1; e++)
        envp[n++] = *e;
    for (char **e = environ; *e != NULL && n < ENV_MAX - 1; e++) {
        bool overridden = false;
        for (char *const *x = extra_env; x != NULL && *x != NULL; x++) {
            size_t k = strcspn(*x, "=");
            if (strncmp(*e, *x, k + 1) == 0)
                overridden = true;
        }
        if (!overridden)
            envp[n++] = *e;
    }
    envp[n] = NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        err_sys(err, "pipe");
        return NULL;
    }
    worker_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        close(fds[0]);
        close(fds[1]);
        err_set(err, "out of memory");
        return NULL;
    }
    self->pid = proc_spawn(argv[0], argv, envp, fds[1], err);
    close(fds[1]);
    if (self->pid < 0) {
        close(fds[0]);
        free(self);
        return NULL;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    self->loop = loop;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->out_fd = fds[0];
    self->fn = fn;
    self->arg = arg;
    self->timer = -1;
    self->item = (zmq_pollitem_t){.socket = NULL, .fd = self->out_fd, .events = ZMQ_POLLIN};
    zloop_poller(loop, &self->item, s_on_output, self);
    if (timeout_ms > 0)
        self->timer = zloop_timer(loop, timeout_ms, 1, s_on_timer, self);
    log_info(name, "started", LF_STR("command", argv[0]), LF_INT("pid", self->pid));
    return self;
}

bool worker_child_exited(worker_t *self, pid_t pid, int status)
{
    if (self == NULL || self->pid <= 0 || pid != self->pid)
        return false;
    self->pid = 0;
    if (self->out_fd >= 0)
        s_on_output(self->loop, &self->item, self); /* what is left in the pipe */
    if (self->timer >= 0) {
        zloop_timer_end(self->loop, self->timer);
        self->timer = -1;
    }
    proc_signal_group(pid, SIGKILL); /* nothing of a finished hook may linger */
    self->fn(status, self->timed_out, self->arg);
    return true;
}

void worker_destroy(worker_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    worker_t *self = *self_p;
    if (self->pid > 0)
        proc_signal_group(self->pid, SIGKILL);
    if (self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    if (self->out_fd >= 0) {
        zloop_poller_end(self->loop, &self->item);
        close(self->out_fd);
    }
    free(self);
    *self_p = NULL;
}
