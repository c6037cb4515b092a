/* proc: posix_spawn with a process group per child and a clean signal state.
 * It does not decide when to stop or restart anything; the supervisor does. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void proc_agent_sigset(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGHUP);
}

pid_t proc_spawn(const char *path, char *const argv[], char *const envp[], int out_fd,
                 wv_err_t *err)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);

    sigset_t none, defaults;
    sigemptyset(&none);
    proc_agent_sigset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
    }
    pid_t pid = -1;
    int rc = posix_spawn(&pid, path, &actions, &attr, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        err_sys(err, "cannot start %s", path);
        return -1;
    }
    return pid;
}

int proc_signal_group(pid_t pgid, int sig)
{
    if (pgid <= 1)
        return -1; /* never signal every process, nor init */
    if (kill(-pgid, sig) == 0 || errno == ESRCH)
        return 0;
    return -1;
}

void proc_describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by %s",
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "a signal");
    else
        snprintf(buf, size, "status 0x%x", (unsigned)status);
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int proc_run_capture(const char *path, char *const argv[], uint64_t timeout_ms, char *out,
                     size_t out_size, wv_err_t *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return err_sys(err, "pipe");
    pid_t pid = proc_spawn(path, argv, NULL, fds[1], err);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    size_t len = 0;
    uint64_t deadline = s_now_ms() + timeout_ms;
    bool timed_out = false;
    for (;;) {
        uint64_t now = s_now_ms();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char chunk[512];
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* EOF: every writer closed */
        size_t room = out_size - 1 - len;
        size_t take = (size_t)got < room ? (size_t)got : room;
        memcpy(out + len, chunk, take);
        len += take;
    }
    out[len] = '\0';
    close(fds[0]);
    if (timed_out)
        proc_signal_group(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return err_set(err, "%s did not finish within %llu ms", path,
                       (unsigned long long)timeout_ms);
    if (!WIFEXITED(status)) {
        char what[64];
        proc_describe_status(status, what, sizeof what);
        return err_set(err, "%s: %s", path, what);
    }
    return WEXITSTATUS(status);
}
