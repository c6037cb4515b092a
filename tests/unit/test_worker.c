/* Unit tests for agent/worker: a command run on a zloop, its output captured, its time-out.
 * SIGCHLD is read through a signalfd and handed over as runner.c does. Not tested: hooks. */
#include "testutil.h"
#include "worker.h"

#include <czmq.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEADLINE_MS 10000

typedef struct {
    zloop_t *loop;
    worker_t *worker;
    int sigfd;
    zmq_pollitem_t item;
    bool ended;
    int status;
    bool timed_out;
    char output[WORKER_CAPTURE_MAX];
} fixture_t;

static void s_on_end(int status, bool timed_out, void *arg)
{
    fixture_t *fx = arg;
    fx->ended = true;
    fx->status = status;
    fx->timed_out = timed_out;
    snprintf(fx->output, sizeof fx->output, "%s", worker_output(fx->worker));
    worker_destroy(&fx->worker);
}

static int s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    fixture_t *fx = arg;
    struct signalfd_siginfo si;
    while (read(fx->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            worker_child_exited(fx->worker, pid, status);
    }
    return fx->ended ? -1 : 0;
}

static int s_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return -1;
}

/* Runs argv as a worker until it ends (or the deadline). */
static void s_run(fixture_t *fx, char *const argv[], uint64_t timeout_ms)
{
    memset(fx, 0, sizeof *fx);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    fx->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    assert_true(fx->sigfd >= 0);
    fx->loop = zloop_new();
    fx->item = (zmq_pollitem_t){.socket = NULL, .fd = fx->sigfd, .events = ZMQ_POLLIN};
    zloop_poller(fx->loop, &fx->item, s_on_signal, fx);
    zloop_timer(fx->loop, DEADLINE_MS, 1, s_on_deadline, fx);
    wv_err_t err;
    fx->worker = worker_start(fx->loop, "test", argv, NULL, timeout_ms, s_on_end, fx, &err);
    assert_non_null(fx->worker);
    zloop_start(fx->loop);
    zloop_destroy(&fx->loop);
    close(fx->sigfd);
    worker_destroy(&fx->worker);
}

static void test_output_is_captured_line_by_line(void **state)
{
    (void)state;
    fixture_t fx;
    char *argv[] = {"/bin/sh", "-c", "echo hello; echo world >&2; exit 4", NULL};
    s_run(&fx, argv, 0);
    assert_true(fx.ended);
    assert_false(fx.timed_out);
    assert_true(WIFEXITED(fx.status));
    assert_int_equal(WEXITSTATUS(fx.status), 4);
    assert_string_equal(fx.output, "hello\nworld\n");
}

static void test_a_command_past_its_time_out_is_killed(void **state)
{
    (void)state;
    fixture_t fx;
    char *argv[] = {"/bin/sh", "-c", "exec tail -f /dev/null", NULL};
    s_run(&fx, argv, 200);
    assert_true(fx.ended);
    assert_true(fx.timed_out);
    assert_true(WIFSIGNALED(fx.status));
    assert_int_equal(WTERMSIG(fx.status), SIGTERM);
}

static void test_extra_environment_reaches_the_command(void **state)
{
    (void)state;
    fixture_t fx;
    char *argv[] = {"/bin/sh", "-c", "echo \"$UPGRADE_NAME:$HOME_OVERRIDE\"", NULL};
    char *env[] = {"UPGRADE_NAME=v2", "HOME_OVERRIDE=x", NULL};
    memset(&fx, 0, sizeof fx);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    fx.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    fx.loop = zloop_new();
    fx.item = (zmq_pollitem_t){.socket = NULL, .fd = fx.sigfd, .events = ZMQ_POLLIN};
    zloop_poller(fx.loop, &fx.item, s_on_signal, &fx);
    zloop_timer(fx.loop, DEADLINE_MS, 1, s_on_deadline, &fx);
    wv_err_t err;
    fx.worker = worker_start(fx.loop, "test", argv, env, 0, s_on_end, &fx, &err);
    assert_non_null(fx.worker);
    zloop_start(fx.loop);
    zloop_destroy(&fx.loop);
    close(fx.sigfd);
    assert_true(fx.ended);
    assert_string_equal(fx.output, "v2:x\n");
}

static void test_a_missing_command_is_an_error_at_start(void **state)
{
    (void)state;
    zloop_t *loop = zloop_new();
    char *argv[] = {"/nonexistent/hook", NULL};
    wv_err_t err = {{0}};
    worker_t *w = worker_start(loop, "test", argv, NULL, 0, s_on_end, NULL, &err);
    assert_null(w);
    tu_assert_contains(err.msg, "/nonexistent/hook");
    zloop_destroy(&loop);
}

int main(void)
{
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_is_captured_line_by_line),
        cmocka_unit_test(test_a_command_past_its_time_out_is_killed),
        cmocka_unit_test(test_extra_environment_reaches_the_command),
        cmocka_unit_test(test_a_missing_command_is_an_error_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
