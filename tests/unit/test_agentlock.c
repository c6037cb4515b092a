/* Unit tests of agent/agentlock.h: the agent lock, node.pid and stopping a node left behind, with
 * forked children as the other agent and the node. Not tested here: how the runner uses them. */
#include "agentlock.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GRACE_MS 200 /* SIGTERM to SIGQUIT */
#define QUIT_MS 200  /* SIGQUIT to SIGKILL */

/* Each test has a temp dir (the home's wemixvisor/ directory) and at most one child, which the
 * teardown kills and reaps if the test did not. */
typedef struct {
    char dir[PATH_MAX];
    pid_t child;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL || tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    if (fx->child > 0) {
        kill(fx->child, SIGKILL);
        waitpid(fx->child, NULL, 0);
    }
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

static void s_path(const fixture_t *fx, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", fx->dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

static void s_read(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static bool s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Forks a stand-in for the node: its own process group, as the runner starts a node, and a pause()
 * loop. A stubborn one ignores SIGTERM and SIGQUIT, so only SIGKILL ends it. Returns once the
 * child has set its signals up. */
static pid_t s_spawn_node(fixture_t *fx, bool stubborn)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        if (stubborn) {
            signal(SIGTERM, SIG_IGN);
            signal(SIGQUIT, SIG_IGN);
        }
        close(ready[0]);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    setpgid(pid, pid); /* either call wins the race; both ask for the same */
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    fx->child = pid;
    return pid;
}

/* Waits for the child to exit and returns its wait status. */
static int s_reap(fixture_t *fx)
{
    int status = 0;
    assert_int_equal(waitpid(fx->child, &status, 0), fx->child);
    fx->child = 0;
    return status;
}

/* --- the agent lock --- */

static void test_acquire_writes_our_pid_and_holds_the_lock(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    int fd = agentlock_acquire(fx->dir, &err);
    assert_true(fd >= 0);

    char path[PATH_MAX], text[64], expected[64];
    s_path(fx, "agent.lock", path, sizeof path);
    s_read(path, text, sizeof text);
    snprintf(expected, sizeof expected, "%ld\n", (long)getpid());
    assert_string_equal(text, expected);

    /* agentlock_running opens the file anew, so it sees the lock even from the holder's process */
    pid_t pid = 0;
    assert_true(agentlock_running(fx->dir, &pid));
    assert_int_equal(pid, getpid());

    close(fd); /* the agent exits: the lock goes with its fd */
    pid = 12345;
    assert_false(agentlock_running(fx->dir, &pid));
    assert_int_equal(pid, 0);
}

static void test_a_second_agent_is_refused_and_told_the_first_ones_pid(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    int fd = agentlock_acquire(fx->dir, &err);
    assert_true(fd >= 0);

    /* a second agent: another process, which sends back what it was told */
    int answer[2];
    assert_int_equal(pipe(answer), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(answer[0]);
        wv_err_t child_err = {{0}};
        int child_fd = agentlock_acquire(fx->dir, &child_err);
        const char *msg = child_fd < 0 ? child_err.msg : "acquired";
        ssize_t len = (ssize_t)strlen(msg);
        _exit(write(answer[1], msg, (size_t)len) == len ? 0 : 1);
    }
    fx->child = pid;
    close(answer[1]);
    char msg[WV_ERR_MAX + 1];
    size_t len = 0;
    ssize_t n;
    while ((n = read(answer[0], msg + len, sizeof msg - 1 - len)) > 0)
        len += (size_t)n;
    msg[len] = '\0';
    close(answer[0]);
    int status = s_reap(fx);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    char our_pid[32];
    snprintf(our_pid, sizeof our_pid, "(pid %ld)", (long)getpid());
    tu_assert_contains(msg, "another wemixvisor agent");
    tu_assert_contains(msg, our_pid);

    /* flock belongs to the open file, not the process: a second acquire here is refused too */
    wv_err_t again = {{0}};
    assert_int_equal(agentlock_acquire(fx->dir, &again), -1);
    tu_assert_contains(again.msg, "another wemixvisor agent");
    tu_assert_contains(again.msg, our_pid);

    /* the refused ones did not touch the file */
    char path[PATH_MAX], text[64], expected[64];
    s_path(fx, "agent.lock", path, sizeof path);
    s_read(path, text, sizeof text);
    snprintf(expected, sizeof expected, "%ld\n", (long)getpid());
    assert_string_equal(text, expected);
    close(fd);
}

static void test_a_lock_file_left_by_a_dead_agent_is_taken_over(void **state)
{
    fixture_t *fx = *state;
    char path[PATH_MAX], text[64], expected[64];
    s_path(fx, "agent.lock", path, sizeof path);
    tu_write_file(path, "99999999\n", 0600); /* a pid longer than ours */

    pid_t pid = 12345;
    assert_false(agentlock_running(fx->dir, &pid)); /* a file nobody holds is no agent */
    assert_int_equal(pid, 0);

    wv_err_t err = {{0}};
    int fd = agentlock_acquire(fx->dir, &err);
    assert_true(fd >= 0);
    s_read(path, text, sizeof text);
    snprintf(expected, sizeof expected, "%ld\n", (long)getpid());
    assert_string_equal(text, expected); /* no digits of the old pid are left */
    close(fd);
}

static void test_acquire_in_a_missing_directory_names_the_file(void **state)
{
    fixture_t *fx = *state;
    char missing[PATH_MAX];
    s_path(fx, "no-such-dir", missing, sizeof missing);
    wv_err_t err = {{0}};
    assert_int_equal(agentlock_acquire(missing, &err), -1);
    tu_assert_contains(err.msg, "no-such-dir/agent.lock");

    pid_t pid = 12345;
    assert_false(agentlock_running(missing, &pid));
    assert_int_equal(pid, 0);
}

/* --- process start times --- */

static void test_start_time_is_zero_for_zombies_and_the_departed(void **state)
{
    fixture_t *fx = *state;
    uint64_t ours = proc_start_time(getpid());
    assert_true(ours > 0);

    pid_t pid = s_spawn_node(fx, false);
    uint64_t childs = proc_start_time(pid);
    assert_true(childs >= ours); /* it was born after us */

    /* killed but not yet waited for: a zombie, which counts as gone */
    assert_int_equal(kill(pid, SIGKILL), 0);
    siginfo_t info;
    assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
    assert_int_equal(proc_start_time(pid), 0);

    s_reap(fx);
    assert_int_equal(proc_start_time(pid), 0);
}

/* --- node.pid --- */

static void test_node_pid_names_the_node_while_it_lives(void **state)
{
    fixture_t *fx = *state;
    char path[PATH_MAX];
    s_path(fx, "node.pid", path, sizeof path);
    assert_int_equal(nodepid_alive(fx->dir), 0); /* no record */

    pid_t pid = s_spawn_node(fx, false);
    wv_err_t err = {{0}};
    assert_int_equal(nodepid_write(fx->dir, pid, &err), 0);
    assert_int_equal(nodepid_alive(fx->dir), pid);

    /* the record is "pid start-time" */
    char text[64], expected[64];
    s_read(path, text, sizeof text);
    snprintf(expected, sizeof expected, "%ld %llu\n", (long)pid,
             (unsigned long long)proc_start_time(pid));
    assert_string_equal(text, expected);

    assert_int_equal(kill(pid, SIGKILL), 0);
    siginfo_t info;
    assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
    assert_int_equal(nodepid_alive(fx->dir), 0); /* a zombie is not a running node */
    s_reap(fx);
    assert_int_equal(nodepid_alive(fx->dir), 0);

    nodepid_clear(fx->dir);
    assert_false(s_exists(path));
    nodepid_clear(fx->dir); /* nothing to clear is fine */
}

static void test_node_pid_with_another_start_time_is_another_process(void **state)
{
    fixture_t *fx = *state;
    char path[PATH_MAX], text[64];
    s_path(fx, "node.pid", path, sizeof path);
    pid_t pid = s_spawn_node(fx, false);

    /* the pid was reused: a live process, but not the node that was recorded */
    snprintf(text, sizeof text, "%ld %llu\n", (long)pid,
             (unsigned long long)proc_start_time(pid) + 1);
    tu_write_file(path, text, 0600);
    assert_int_equal(nodepid_alive(fx->dir), 0);

    snprintf(text, sizeof text, "%ld %llu\n", (long)pid, (unsigned long long)proc_start_time(pid));
    tu_write_file(path, text, 0600);
    assert_int_equal(nodepid_alive(fx->dir), pid);
}

static void test_node_pid_garbage_names_no_node(void **state)
{
    fixture_t *fx = *state;
    char path[PATH_MAX];
    s_path(fx, "node.pid", path, sizeof path);
    char our_pid_alone[32];
    snprintf(our_pid_alone, sizeof our_pid_alone, "%ld\n", (long)getpid());
    char init[32];
    snprintf(init, sizeof init, "1 %llu\n", (unsigned long long)proc_start_time(1));
    const char *const garbage[] = {
        "",                  /* empty */
        "garbage\n",         /* not numbers */
        our_pid_alone,       /* a pid without its start time */
        init,                /* pid 1 is never a node of ours */
        "-5 100\n",          /* negative */
        "99999999999 100\n", /* not a pid */
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        tu_write_file(path, garbage[i], 0600);
        if (nodepid_alive(fx->dir) != 0)
            fail_msg("node.pid \"%s\" names a node", garbage[i]);
    }
}

/* --- stopping a node left behind --- */

static void test_stop_orphan_stops_a_node_with_sigterm(void **state)
{
    fixture_t *fx = *state;
    char path[PATH_MAX];
    s_path(fx, "node.pid", path, sizeof path);
    pid_t pid = s_spawn_node(fx, false);
    wv_err_t err = {{0}};
    assert_int_equal(nodepid_write(fx->dir, pid, &err), 0);

    assert_int_equal(agentlock_stop_orphan(fx->dir, GRACE_MS, QUIT_MS, &err), 0);
    int status = s_reap(fx);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM); /* the polite signal was enough */
    assert_false(s_exists(path));
}

static void test_stop_orphan_kills_a_node_that_ignores_sigterm_and_sigquit(void **state)
{
    fixture_t *fx = *state;
    pid_t pid = s_spawn_node(fx, true);
    wv_err_t err = {{0}};
    assert_int_equal(nodepid_write(fx->dir, pid, &err), 0);

    assert_int_equal(agentlock_stop_orphan(fx->dir, GRACE_MS, QUIT_MS, &err), 0);
    int status = s_reap(fx);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_stop_orphan_without_a_live_node_does_nothing(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    assert_int_equal(agentlock_stop_orphan(fx->dir, GRACE_MS, QUIT_MS, &err), 0); /* no node.pid */

    /* a record of a node that is gone is cleared */
    char path[PATH_MAX];
    s_path(fx, "node.pid", path, sizeof path);
    tu_write_file(path, "99999999 100\n", 0600);
    assert_int_equal(agentlock_stop_orphan(fx->dir, GRACE_MS, QUIT_MS, &err), 0);
    assert_false(s_exists(path));
}

int main(void)
{
#define LOCK_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        LOCK_TEST(test_acquire_writes_our_pid_and_holds_the_lock),
        LOCK_TEST(test_a_second_agent_is_refused_and_told_the_first_ones_pid),
        LOCK_TEST(test_a_lock_file_left_by_a_dead_agent_is_taken_over),
        LOCK_TEST(test_acquire_in_a_missing_directory_names_the_file),
        LOCK_TEST(test_start_time_is_zero_for_zombies_and_the_departed),
        LOCK_TEST(test_node_pid_names_the_node_while_it_lives),
        LOCK_TEST(test_node_pid_with_another_start_time_is_another_process),
        LOCK_TEST(test_node_pid_garbage_names_no_node),
        LOCK_TEST(test_stop_orphan_stops_a_node_with_sigterm),
        LOCK_TEST(test_stop_orphan_kills_a_node_that_ignores_sigterm_and_sigquit),
        LOCK_TEST(test_stop_orphan_without_a_live_node_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
