/* proc: fork + exec with a process group per child, clean signals and a parent-death signal.
 * It does not decide when to stop or restart anything; the supervisor does. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAPTURE_STEP_MS 20 /* how often a captured command is checked for its exit */

extern char **environ;

static mode_t s_child_umask = 022; /* what children start with: the operator's umask */

void proc_set_child_umask(mode_t mask)
{
    s_child_umask = mask;
}

void proc_agent_sigset(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGHUP);
}

/* In the child, between fork and exec: only async-signal-safe calls. Reports a failure to the
 * parent through the close-on-exec pipe as an errno value, then exits 127. */
static void s_child(const char *path, char *const argv[], char *const envp[], int out_fd,
                    int report_fd, pid_t parent)
{
    setpgid(0, 0);
    /* The node must not outlive its agent for long: SIGTERM when the agent dies, even by
     * SIGKILL. If the agent died before this line, the node would be orphaned: give up. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    sigset_t agent;
    proc_agent_sigset(&agent);
    sigaddset(&agent, SIGPIPE);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&agent, sig) == 1)
            sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    umask(s_child_umask);
    if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)) {
        int e = errno;
        (void)!write(report_fd, &e, sizeof e);
        _exit(127);
    }
    execve(path, argv, envp);
    int e = errno;
    (void)!write(report_fd, &e, sizeof e);
    _exit(127);
}

pid_t proc_spawn(const char *path, char *const argv[], char *const envp[], int out_fd,
                 wv_err_t *err)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        err_sys(err, "cannot start %s: pipe", path);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        err_sys(err, "cannot start %s: fork", path);
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        s_child(path, argv, envp ? envp : environ, out_fd, report[1], parent);
    }
    close(report[1]);
    /* Also set the group from the parent, so that it exists before we may signal it. */
    setpgid(pid, pid);
    int child_errno = 0;
    ssize_t n;
    do
        n = read(report[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof child_errno) {
        /* exec failed: the child has exited 127; reap it here so nobody mistakes it for a node */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        errno = child_errno;
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

/* Appends what the pipe holds now (non-blocking) to out; false at EOF. */
static bool s_drain(int fd, char *out, size_t out_size, size_t *len)
{
    for (;;) {
        char chunk[512];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return true; /* EAGAIN: nothing more for now */
        if (got == 0)
            return false;
        size_t room = out_size - 1 - *len;
        size_t take = (size_t)got < room ? (size_t)got : room;
        memcpy(out + *len, chunk, take);
        *len += take;
    }
}

/* The command is done when its own process has exited: a background child it left holding the
 * pipe must not keep us waiting, and is killed with the rest of its group. */
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
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    size_t len = 0;
    uint64_t deadline = s_now_ms() + timeout_ms;
    int status = 0;
    bool exited = false, open = true;
    while (!exited) {
        uint64_t now = s_now_ms();
        if (now >= deadline)
            break;
        uint64_t wait = deadline - now < CAPTURE_STEP_MS ? deadline - now : CAPTURE_STEP_MS;
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (open && poll(&pfd, 1, (int)wait) > 0)
            open = s_drain(fds[0], out, out_size, &len);
        else if (!open)
            poll(NULL, 0, (int)wait);
        pid_t r = waitpid(pid, &status, WNOHANG);
        exited = r == pid || (r < 0 && errno == ECHILD);
    }
    if (open)
        s_drain(fds[0], out, out_size, &len);
    out[len] = '\0';
    close(fds[0]);
    proc_signal_group(pid, SIGKILL); /* leftovers of the command, or the command on time-out */
    if (!exited) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return err_set(err, "%s did not finish within %llu ms", path,
                       (unsigned long long)timeout_ms);
    }
    if (!WIFEXITED(status)) {
        char what[64];
        proc_describe_status(status, what, sizeof what);
        return err_set(err, "%s: %s", path, what);
    }
    return WEXITSTATUS(status);
}
