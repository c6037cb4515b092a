/* agentlock: flock on agent.lock and the node.pid record, read back through /proc.
 * A pid alone could name an unrelated process after a reboot; pid plus start time cannot. */
#include "agentlock.h"
#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOCK_NAME "agent.lock"
#define PID_NAME "node.pid"
#define LOCK_MODE 0600
#define STAT_MAX 4096
#define STARTTIME_FIELD 22 /* of /proc/PID/stat, counting from 1 */
#define ORPHAN_POLL_NS (50 * 1000 * 1000)

static int s_path(const char *root, const char *name, char *buf, size_t size, wv_err_t *err)
{
    return fs_join(buf, size, err, root, name, NULL);
}

static pid_t s_read_pid(const char *path)
{
    char *text = NULL;
    if (fs_read_file(path, 64, &text, NULL, NULL) != 0)
        return 0;
    long pid = strtol(text, NULL, 10);
    free(text);
    return pid > 1 && pid < INT_MAX ? (pid_t)pid : 0;
}

int agentlock_acquire(const char *root, wv_err_t *err)
{
    char path[PATH_MAX];
    if (s_path(root, LOCK_NAME, path, sizeof path, err) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, LOCK_MODE);
    if (fd < 0)
        return err_sys(err, "cannot open the agent lock %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            pid_t other = s_read_pid(path);
            return err_set(err,
                           "another wemixvisor agent (pid %ld) already runs for this "
                           "DAEMON_HOME; stop it first, or use `wemixvisor status`",
                           (long)other);
        }
        errno = e;
        return err_sys(err, "cannot lock %s", path);
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        err_sys(err, "cannot write %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

bool agentlock_running(const char *root, pid_t *pid)
{
    char path[PATH_MAX];
    *pid = 0;
    if (s_path(root, LOCK_NAME, path, sizeof path, NULL) != 0)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    if (held)
        *pid = s_read_pid(path);
    return held;
}

uint64_t proc_start_time(pid_t pid)
{
    char path[64], *text = NULL;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (fs_read_file(path, STAT_MAX, &text, NULL, NULL) != 0)
        return 0;
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses; fields follow the last ')' */
    char *p = strrchr(text, ')');
    uint64_t start = 0;
    if (p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X') {
        int field = 2; /* p points at the end of field 2 */
        char *save = NULL;
        for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            if (++field == STARTTIME_FIELD) {
                start = strtoull(tok, NULL, 10);
                break;
            }
        }
    }
    free(text);
    return start;
}

int nodepid_write(const char *root, pid_t pid, wv_err_t *err)
{
    char path[PATH_MAX], text[64];
    if (s_path(root, PID_NAME, path, sizeof path, err) != 0)
        return -1;
    int len = snprintf(text, sizeof text, "%ld %llu\n", (long)pid,
                       (unsigned long long)proc_start_time(pid));
    return fs_write_atomic(path, text, (size_t)len, LOCK_MODE, err);
}

void nodepid_clear(const char *root)
{
    char path[PATH_MAX];
    if (s_path(root, PID_NAME, path, sizeof path, NULL) == 0)
        unlink(path);
}

pid_t nodepid_alive(const char *root)
{
    char path[PATH_MAX], *text = NULL;
    if (s_path(root, PID_NAME, path, sizeof path, NULL) != 0 ||
        fs_read_file(path, 64, &text, NULL, NULL) != 0)
        return 0;
    long pid = 0;
    unsigned long long start = 0;
    int n = sscanf(text, "%ld %llu", &pid, &start);
    free(text);
    if (n != 2 || pid <= 1 || pid >= INT_MAX)
        return 0;
    uint64_t now_start = proc_start_time((pid_t)pid);
    return now_start != 0 && now_start == start ? (pid_t)pid : 0;
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits up to ms for the process (pid, start) to be gone; true if it is. */
static bool s_wait_gone(pid_t pid, uint64_t start, uint64_t ms)
{
    uint64_t deadline = s_now_ms() + ms;
    for (;;) {
        if (proc_start_time(pid) != start)
            return true;
        if (s_now_ms() >= deadline)
            return false;
        struct timespec step = {0, ORPHAN_POLL_NS};
        nanosleep(&step, NULL);
    }
}

int agentlock_stop_orphan(const char *root, uint64_t grace_ms, uint64_t quit_ms, wv_err_t *err)
{
    pid_t pid = nodepid_alive(root);
    if (pid == 0) {
        nodepid_clear(root);
        return 0;
    }
    uint64_t start = proc_start_time(pid);
    log_warn("agent", "a node left by an earlier agent is still running; stopping it first",
             LF_INT("pid", pid), LF_INT("grace_ms", (long long)grace_ms));
    static const int signals[] = {SIGTERM, SIGQUIT, SIGKILL};
    const uint64_t waits[] = {grace_ms, quit_ms, quit_ms};
    bool gone = false;
    for (size_t i = 0; i < sizeof signals / sizeof signals[0] && !gone; i++) {
        if (kill(-pid, signals[i]) != 0 && kill(pid, signals[i]) != 0 && errno == EPERM)
            return err_set(err,
                           "a node left by an earlier agent (pid %ld) is still running and "
                           "cannot be signalled (%s); stop it by hand, then start the agent",
                           (long)pid, strerror(errno));
        gone = s_wait_gone(pid, start, waits[i]);
    }
    if (!gone)
        return err_set(err,
                       "a node left by an earlier agent (pid %ld) survived SIGKILL; stop it "
                       "by hand, then start the agent",
                       (long)pid);
    kill(-pid, SIGKILL); /* its group may still hold children */
    nodepid_clear(root);
    log_info("agent", "the earlier node is stopped", LF_INT("pid", pid));
    return 0;
}
