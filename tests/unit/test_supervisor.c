/* Unit tests of agent/supervisor.h: a real supervisor on a zloop, /bin/sh scripts as the node and
 * SIGCHLD read through a signalfd as in runner.c. Not tested here: upgrades, the 60 s reset. */
#include "proc.h"
#include "supervisor.h"
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEADLINE_MS 15000 /* a test whose node never reaches the expected state fails by then */
#define GRACE_MS 200

/* Sets its traps, says "ready", then waits; SIGTERM ends it with exit code 0. */
static const char s_polite_node[] = "#!/bin/sh\n"
                                    "trap 'exit 0' TERM\n"
                                    "echo ready\n"
                                    "while :; do tail -f /dev/null & wait $!; done\n";

/* Ignores SIGTERM, says "quit" on SIGQUIT and ignores it too: only SIGKILL ends it. */
static const char s_stubborn_node[] = "#!/bin/sh\n"
                                      "trap '' TERM\n"
                                      "trap 'echo quit' QUIT\n"
                                      "echo ready\n"
                                      "while :; do tail -f /dev/null & wait $!; done\n";

static const char s_crashing_node[] = "#!/bin/sh\nexit 3\n";

/* The owner of the supervisor: its loop, its signalfd, the node's output, what the hooks saw. */
typedef struct {
    char dir[64];        /* temp dir holding the node script */
    char node[PATH_MAX]; /* the script */
    zloop_t *loop;
    supervisor_t *sup;
    int sigfd;
    int out[2];        /* the node's stdout and stderr: a pipe the test reads */
    char output[1024]; /* what the node printed so far */
    size_t output_len;

    /* the scenario */
    node_state_t end_state;      /* the loop ends when the node reaches this state */
    bool stop_when_ready;        /* call supervisor_stop once the node printed "ready" */
    sup_decision_t start_answer; /* what before_start answers */
    sup_decision_t exit_answer;  /* what on_exit answers */

    /* what happened */
    char history[512]; /* every state reported to on_state: "starting running ..." */
    bool done;
    bool timed_out;
    int starts;          /* before_start calls */
    int64_t start_ms[4]; /* when they happened */
    int exits;           /* on_exit calls */
    int exit_status;     /* the status on_exit was given last */
    int64_t stop_ms;     /* when supervisor_stop was called */
    int64_t stopped_ms;  /* when the node reached end_state */
} fixture_t;

static sup_decision_t s_before_start(void *arg)
{
    fixture_t *fx = arg;
    if (fx->starts < 4)
        fx->start_ms[fx->starts] = zclock_mono();
    fx->starts++;
    return fx->start_answer;
}

static sup_decision_t s_on_exit(int status, void *arg)
{
    fixture_t *fx = arg;
    fx->exits++;
    fx->exit_status = status;
    return fx->exit_answer;
}

static void s_on_state(node_state_t from, node_state_t to, void *arg)
{
    fixture_t *fx = arg;
    (void)from;
    size_t len = strlen(fx->history);
    snprintf(fx->history + len, sizeof fx->history - len, "%s%s", len > 0 ? " " : "",
             supervisor_state_name(to));
    if (to == fx->end_state && !fx->done) {
        fx->done = true;
        fx->stopped_ms = zclock_mono();
    }
}

/* SIGCHLD, exactly as runner.c: drain the signalfd, reap. Returning -1 ends the loop. */
static int s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    fixture_t *fx = arg;
    struct signalfd_siginfo si;
    while (read(fx->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            supervisor_reap(fx->sup);
    }
    return fx->done ? -1 : 0;
}

/* The node's output: the scripts say "ready" once their traps are set. */
static int s_on_output(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    fixture_t *fx = arg;
    ssize_t n =
        read(fx->out[0], fx->output + fx->output_len, sizeof fx->output - 1 - fx->output_len);
    if (n > 0) {
        fx->output_len += (size_t)n;
        fx->output[fx->output_len] = '\0';
    }
    if (fx->stop_when_ready && fx->stop_ms == 0 && strstr(fx->output, "ready\n") != NULL) {
        fx->stop_ms = zclock_mono();
        supervisor_stop(fx->sup);
    }
    return fx->done ? -1 : 0;
}

static int s_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    fixture_t *fx = arg;
    fx->timed_out = true;
    return -1;
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    fx->sigfd = -1;
    fx->out[0] = fx->out[1] = -1;
    *state = fx;

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    fx->sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    fx->loop = zloop_new();
    if (tu_mkdtemp(fx->dir, sizeof fx->dir) != 0 || fx->sigfd < 0 || fx->loop == NULL ||
        pipe2(fx->out, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    snprintf(fx->node, sizeof fx->node, "%s/node", fx->dir);
    zmq_pollitem_t sig_item = {NULL, fx->sigfd, ZMQ_POLLIN, 0};
    zmq_pollitem_t out_item = {NULL, fx->out[0], ZMQ_POLLIN, 0};
    if (zloop_poller(fx->loop, &sig_item, s_on_signal, fx) != 0 ||
        zloop_poller(fx->loop, &out_item, s_on_output, fx) != 0 ||
        zloop_timer(fx->loop, DEADLINE_MS, 1, s_on_deadline, fx) < 0)
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    if (fx->sup != NULL && supervisor_pid(fx->sup) > 0) {
        /* a failed test must not leave a node behind */
        pid_t pid = supervisor_pid(fx->sup);
        supervisor_forward(fx->sup, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    supervisor_destroy(&fx->sup);
    zloop_destroy(&fx->loop);
    if (fx->sigfd >= 0)
        close(fx->sigfd);
    if (fx->out[0] >= 0)
        close(fx->out[0]);
    if (fx->out[1] >= 0)
        close(fx->out[1]);
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

/* Writes the node script and a supervisor for it; the caller adjusts opts before starting. */
static supervisor_opts_t s_opts(fixture_t *fx, const char *script)
{
    tu_write_file(fx->node, script, 0755);
    return (supervisor_opts_t){
        .binary = fx->node,
        .args = NULL,
        .out_fd = fx->out[1],
        .shutdown_grace_ms = GRACE_MS,
        .restart_on_failure = false,
        .max_restarts = 0,
        .before_start = s_before_start,
        .on_exit = s_on_exit,
        .on_state = s_on_state,
        .arg = fx,
    };
}

/* Starts the node and runs the loop until end_state, or fails at the deadline. */
static void s_run(fixture_t *fx, const supervisor_opts_t *opts)
{
    fx->sup = supervisor_new(fx->loop, opts);
    assert_non_null(fx->sup);
    supervisor_start(fx->sup);
    zloop_start(fx->loop);
    if (fx->timed_out)
        fail_msg("node did not reach \"%s\" within %d ms; states: %s",
                 supervisor_state_name(fx->end_state), DEADLINE_MS, fx->history);
}

static void s_assert_status(int status, const char *expected)
{
    char what[64];
    proc_describe_status(status, what, sizeof what);
    assert_string_equal(what, expected);
}

static void test_start_then_stop(void **state)
{
    fixture_t *fx = *state;
    supervisor_opts_t opts = s_opts(fx, s_polite_node);
    fx->stop_when_ready = true;
    fx->end_state = NODE_STOPPED;

    fx->sup = supervisor_new(fx->loop, &opts);
    assert_non_null(fx->sup);
    supervisor_start(fx->sup);
    assert_int_equal(supervisor_state(fx->sup), NODE_RUNNING);
    assert_true(supervisor_pid(fx->sup) > 0);

    zloop_start(fx->loop); /* the node says ready, s_on_output stops it */
    assert_false(fx->timed_out);
    assert_int_equal(supervisor_state(fx->sup), NODE_STOPPED);
    assert_int_equal(supervisor_pid(fx->sup), 0);
    s_assert_status(supervisor_last_status(fx->sup), "exit code 0");
    assert_string_equal(fx->history, "starting running stopping stopped");
    assert_int_equal(fx->starts, 1);
    assert_int_equal(fx->exits, 0); /* on_exit is for exits nobody asked for */
}

static void test_stop_escalates_to_sigquit_then_sigkill(void **state)
{
    fixture_t *fx = *state;
    supervisor_opts_t opts = s_opts(fx, s_stubborn_node);
    fx->stop_when_ready = true;
    fx->end_state = NODE_STOPPED;

    s_run(fx, &opts);
    assert_int_equal(supervisor_state(fx->sup), NODE_STOPPED);
    s_assert_status(supervisor_last_status(fx->sup), "killed by KILL");
    assert_non_null(strstr(fx->output, "quit\n")); /* SIGQUIT came before SIGKILL */
    assert_string_equal(fx->history, "starting running stopping stopped");
    /* SIGTERM, the grace, SIGQUIT, the quit wait, SIGKILL */
    assert_true(fx->stopped_ms - fx->stop_ms >= GRACE_MS + SUPERVISOR_QUIT_WAIT_MS);
}

/* The backoff doubles from 1 s per restart in a row and stops at the cap. */
static void test_backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    assert_int_equal(supervisor_backoff_ms(0), SUPERVISOR_BACKOFF_MIN_MS);
    assert_int_equal(supervisor_backoff_ms(1), 2000);
    assert_int_equal(supervisor_backoff_ms(2), 4000);
    assert_int_equal(supervisor_backoff_ms(5), 32000);
    assert_int_equal(supervisor_backoff_ms(6), SUPERVISOR_BACKOFF_MAX_MS);
    assert_int_equal(supervisor_backoff_ms(1000), SUPERVISOR_BACKOFF_MAX_MS);
}

static void test_exit_without_restart_fails(void **state)
{
    fixture_t *fx = *state;
    supervisor_opts_t opts = s_opts(fx, s_crashing_node);
    opts.restart_on_failure = false;
    fx->end_state = NODE_FAILED;

    s_run(fx, &opts);
    assert_string_equal(fx->history, "starting running crashed failed");
    assert_int_equal(fx->exits, 1);
    assert_true(WIFEXITED(fx->exit_status));
    assert_int_equal(WEXITSTATUS(fx->exit_status), 3);
    s_assert_status(supervisor_last_status(fx->sup), "exit code 3");
    assert_int_equal(supervisor_pid(fx->sup), 0);
    assert_int_equal(fx->starts, 1);
}

static void test_exit_with_restart_retries_once_after_backoff(void **state)
{
    fixture_t *fx = *state;
    supervisor_opts_t opts = s_opts(fx, s_crashing_node);
    opts.restart_on_failure = true;
    opts.max_restarts = 1;
    fx->end_state = NODE_FAILED;

    s_run(fx, &opts);
    assert_string_equal(fx->history,
                        "starting running crashed backoff starting running crashed failed");
    assert_int_equal(fx->starts, 2);
    assert_int_equal(fx->exits, 2);
    assert_int_equal(WEXITSTATUS(fx->exit_status), 3);
    assert_true(fx->start_ms[1] - fx->start_ms[0] >= SUPERVISOR_BACKOFF_MIN_MS);
}

static void test_on_exit_hold_stops_restarts(void **state)
{
    fixture_t *fx = *state;
    supervisor_opts_t opts = s_opts(fx, s_crashing_node);
    opts.restart_on_failure = true;
    opts.max_restarts = 5;
    fx->exit_answer = SUP_HOLD; /* e.g. the node exited at the upgrade height */
    fx->end_state = NODE_STOPPED;

    s_run(fx, &opts);
    assert_string_equal(fx->history, "starting running crashed stopped");
    assert_int_equal(fx->starts, 1);
    assert_int_equal(fx->exits, 1);
    s_assert_status(supervisor_last_status(fx->sup), "exit code 3");
}

static void test_before_start_hold_keeps_the_node_stopped(void **state)
{
    fixture_t *fx = *state;
    supervisor_opts_t opts = s_opts(fx, s_polite_node);
    fx->start_answer = SUP_HOLD; /* e.g. an upgrade is due: don't start the old binary */

    fx->sup = supervisor_new(fx->loop, &opts);
    assert_non_null(fx->sup);
    supervisor_start(fx->sup); /* decided at once: no loop needed */
    assert_int_equal(supervisor_state(fx->sup), NODE_STOPPED);
    assert_int_equal(supervisor_pid(fx->sup), 0);
    assert_int_equal(fx->starts, 1);
    assert_string_equal(fx->history, "starting stopped");
}

int main(void)
{
    /* SIGCHLD is read from a signalfd, so it is blocked, before anything could start a thread;
     * czmq must not install its own SIGINT/SIGTERM handlers. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    zsys_handler_set(NULL);

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_start_then_stop),
        TEST(test_stop_escalates_to_sigquit_then_sigkill),
        cmocka_unit_test(test_backoff_doubles_up_to_the_cap),
        TEST(test_exit_without_restart_fails),
        TEST(test_exit_with_restart_retries_once_after_backoff),
        TEST(test_on_exit_hold_stops_restarts),
        TEST(test_before_start_hold_keeps_the_node_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
