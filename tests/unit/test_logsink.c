/* Unit tests of agent/logsink.h: a real pipe read on a real zloop into files in a temp dir, with
 * forked children as the node. Not tested here: a full disk (a rename that fails stands in). */
#include "log.h"
#include "logsink.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEADLINE_MS 10000    /* a pipe that is never drained fails the test by then */
#define CHECK_MS 1           /* how often the pump looks at the pipe and the child */
#define FLOOD_BYTES 262144   /* four times a default pipe: the writer blocks unless we read */
#define READ_MAX 65536       /* the most a test reads back from one file */
#define LOG_CAPTURE_MAX 8192 /* the agent's own log lines a test reads back */

typedef struct {
    char *dir; /* temp dir, removed by the teardown */
    char path[PATH_MAX];
    zloop_t *loop;
    logsink_t *sink;
    pid_t child;      /* a child writing to the sink; 0 when none or reaped */
    int child_status; /* its wait status, once reaped */
    bool timed_out;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    void *dir = NULL;
    if (fx == NULL || tu_tmpdir_setup(&dir) != 0) {
        free(fx);
        return -1;
    }
    fx->dir = dir;
    snprintf(fx->path, sizeof fx->path, "%s/node.log", fx->dir);
    fx->loop = zloop_new();
    if (fx->loop == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    logsink_destroy(&fx->sink);
    zloop_destroy(&fx->loop);
    void *dir = fx->dir;
    tu_tmpdir_teardown(&dir);
    free(fx);
    return 0;
}

static int s_pipe_bytes(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) != 0)
        fail_msg("FIONREAD: %s", strerror(errno));
    return n;
}

/* Ends the loop once the child (if any) has exited and the sink has emptied the pipe. */
static int s_on_check(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    fixture_t *fx = arg;
    if (fx->child > 0 && waitpid(fx->child, &fx->child_status, WNOHANG) == fx->child)
        fx->child = 0;
    return fx->child == 0 && s_pipe_bytes(logsink_fd(fx->sink)) == 0 ? -1 : 0;
}

static int s_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    fixture_t *fx = arg;
    fx->timed_out = true;
    return -1;
}

/* Runs the loop until everything written so far is out of the pipe, or fails at the deadline. */
static void s_pump(fixture_t *fx)
{
    int check = zloop_timer(fx->loop, CHECK_MS, 0, s_on_check, fx);
    int deadline = zloop_timer(fx->loop, DEADLINE_MS, 1, s_on_deadline, fx);
    assert_true(check >= 0 && deadline >= 0);
    zloop_start(fx->loop);
    zloop_timer_end(fx->loop, check);
    zloop_timer_end(fx->loop, deadline);
    if (fx->timed_out)
        fail_msg("the pipe was not drained within %d ms", DEADLINE_MS);
}

/* Writes text to the sink's pipe, as the node would, and lets the loop move it to the file. */
static void s_say(fixture_t *fx, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(write(logsink_fd(fx->sink), text, len), (ssize_t)len);
    s_pump(fx);
}

/* The content of path, or fails the test. */
static const char *s_read(const char *path)
{
    static char buf[READ_MAX];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char *s_rotated(const fixture_t *fx, int n)
{
    static char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s.%d", fx->path, n);
    return path;
}

static bool s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void s_open_sink(fixture_t *fx, uint64_t max_bytes, int max_files)
{
    wv_err_t err = {{0}};
    fx->sink = logsink_new(fx->loop, fx->path, max_bytes, max_files, &err);
    if (fx->sink == NULL)
        fail_msg("logsink_new: %s", err.msg);
}

static void test_bytes_written_to_the_pipe_appear_in_the_file(void **state)
{
    fixture_t *fx = *state;
    snprintf(fx->path, sizeof fx->path, "%s/logs/node/node.log", fx->dir); /* dirs are created */
    s_open_sink(fx, 1024, 3);

    s_say(fx, "hello\n");
    s_say(fx, "a partial line");
    s_say(fx, " completed\n");

    assert_string_equal(s_read(fx->path), "hello\na partial line completed\n");
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, LOGSINK_FILE_MODE);
    assert_false(s_exists(s_rotated(fx, 1)));
}

static void test_rotation_keeps_max_files_in_order(void **state)
{
    fixture_t *fx = *state;
    s_open_sink(fx, 25, 3); /* two 10-byte lines fit, a third rotates */

    for (int i = 1; i <= 11; i++) {
        char line[16];
        snprintf(line, sizeof line, "line-%04d\n", i);
        s_say(fx, line);
    }

    assert_string_equal(s_read(fx->path), "line-0011\n");
    assert_string_equal(s_read(s_rotated(fx, 1)), "line-0009\nline-0010\n");
    assert_string_equal(s_read(s_rotated(fx, 2)), "line-0007\nline-0008\n");
    assert_string_equal(s_read(s_rotated(fx, 3)), "line-0005\nline-0006\n");
    assert_false(s_exists(s_rotated(fx, 4))); /* lines 1-4 were dropped with the oldest files */
}

static void test_an_existing_file_counts_toward_the_limit(void **state)
{
    fixture_t *fx = *state;
    tu_write_file(fx->path, "from an earlier run\n", LOGSINK_FILE_MODE); /* 20 bytes */
    s_open_sink(fx, 25, 2);

    s_say(fx, "line-0001\n"); /* 30 > 25: rotates first */

    assert_string_equal(s_read(s_rotated(fx, 1)), "from an earlier run\n");
    assert_string_equal(s_read(fx->path), "line-0001\n");
}

static void test_a_write_larger_than_the_limit_goes_into_an_empty_file(void **state)
{
    fixture_t *fx = *state;
    s_open_sink(fx, 5, 1);

    s_say(fx, "longer than five\n"); /* the file is empty: nothing to rotate */
    assert_string_equal(s_read(fx->path), "longer than five\n");
    assert_false(s_exists(s_rotated(fx, 1)));

    s_say(fx, "next\n");
    assert_string_equal(s_read(s_rotated(fx, 1)), "longer than five\n");
    assert_string_equal(s_read(fx->path), "next\n");
}

static void test_rotate_on_demand(void **state)
{
    fixture_t *fx = *state;
    s_open_sink(fx, 1024, 2);
    wv_err_t err = {{0}};

    s_say(fx, "before\n");
    assert_int_equal(logsink_rotate(fx->sink, &err), 0);
    s_say(fx, "after\n");

    assert_string_equal(s_read(s_rotated(fx, 1)), "before\n");
    assert_string_equal(s_read(fx->path), "after\n");
}

static void test_an_unwritable_path_is_an_error(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};

    /* a directory where the file should be */
    assert_null(logsink_new(fx->loop, fx->dir, 1024, 3, &err));
    tu_assert_contains(err.msg, fx->dir);

    /* a file where a directory should be */
    char blocker[PATH_MAX];
    char path[PATH_MAX + 16];
    snprintf(blocker, sizeof blocker, "%s/not-a-dir", fx->dir);
    snprintf(path, sizeof path, "%s/node.log", blocker);
    tu_write_file(blocker, "", 0644);
    err.msg[0] = '\0';
    assert_null(logsink_new(fx->loop, path, 1024, 3, &err));
    tu_assert_contains(err.msg, blocker);

    /* max_files outside 1..100 */
    assert_null(logsink_new(fx->loop, fx->path, 1024, 0, &err));
    tu_assert_contains(err.msg, "1..100");
    assert_null(logsink_new(fx->loop, fx->path, 1024, 101, &err));
    tu_assert_contains(err.msg, "1..100");
}

static void test_lines_from_a_child_process_arrive(void **state)
{
    fixture_t *fx = *state;
    s_open_sink(fx, 1024, 3);

    fx->child = fork();
    assert_true(fx->child >= 0);
    if (fx->child == 0) {
        int fd = logsink_fd(fx->sink);
        if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", "echo 'to stdout'; echo 'to stderr' >&2", (char *)NULL);
        _exit(127);
    }
    s_pump(fx);

    assert_true(WIFEXITED(fx->child_status) && WEXITSTATUS(fx->child_status) == 0);
    assert_string_equal(s_read(fx->path), "to stdout\nto stderr\n");
}

/* Captures the agent's own log (shared/log) in a pipe, so a test can count warnings. */
static int s_capture_log(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    log_set_fd(fds[1]);
    return 0;
}

static const char *s_release_log(int fds[2])
{
    static char buf[LOG_CAPTURE_MAX];
    log_set_fd(STDERR_FILENO);
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    close(fds[1]);
    return buf;
}

static int s_count(const char *text, const char *part)
{
    int n = 0;
    for (const char *p = strstr(text, part); p != NULL; p = strstr(p + 1, part))
        n++;
    return n;
}

static void test_a_failing_rotation_drops_output_but_keeps_reading(void **state)
{
    fixture_t *fx = *state;
    s_open_sink(fx, 15, 1);
    char obstacle[PATH_MAX + 16];
    snprintf(obstacle, sizeof obstacle, "%s.1", fx->path);
    assert_int_equal(mkdir(obstacle, 0755), 0); /* rename(file, file.1) fails: EISDIR */
    int log_fds[2];
    assert_int_equal(s_capture_log(log_fds), 0);

    s_say(fx, "line-0001\n");
    s_say(fx, "line-0002\n"); /* 20 > 15: the rotation fails, the line is dropped */

    /* A node writing much more than the pipe holds would block if the sink stopped reading. */
    fx->child = fork();
    assert_true(fx->child >= 0);
    if (fx->child == 0) {
        static char flood[FLOOD_BYTES];
        memset(flood, 'x', sizeof flood);
        ssize_t n = write(logsink_fd(fx->sink), flood, sizeof flood);
        _exit(n == (ssize_t)sizeof flood ? 0 : 1);
    }
    s_pump(fx);
    assert_true(WIFEXITED(fx->child_status) && WEXITSTATUS(fx->child_status) == 0);

    wv_err_t err = {{0}};
    assert_int_equal(logsink_rotate(fx->sink, &err), -1);
    tu_assert_contains(err.msg, obstacle);
    const char *log = s_release_log(log_fds);
    assert_int_equal(s_count(log, "node output dropped"), 1); /* once a minute at most */
    tu_assert_contains(log, fx->path);
    assert_string_equal(s_read(fx->path), "line-0001\n");

    /* Once the obstacle is gone, rotation works again. */
    assert_int_equal(rmdir(obstacle), 0);
    s_say(fx, "line-0003\n");
    assert_string_equal(s_read(obstacle), "line-0001\n");
    assert_string_equal(s_read(fx->path), "line-0003\n");
}

static void test_destroy_drains_the_pipe(void **state)
{
    fixture_t *fx = *state;
    s_open_sink(fx, 1024, 3);

    const char last[] = "last words\n";
    assert_int_equal(write(logsink_fd(fx->sink), last, strlen(last)), (ssize_t)strlen(last));
    logsink_destroy(&fx->sink); /* the loop never ran */
    assert_null(fx->sink);
    logsink_destroy(&fx->sink); /* twice is fine */

    assert_string_equal(s_read(fx->path), last);
}

static void test_a_special_file_is_never_rotated(void **state)
{
    fixture_t *fx = *state;
    assert_int_equal(symlink("/dev/null", fx->path), 0);
    s_open_sink(fx, 5, 1);

    s_say(fx, "more than five\n");
    s_say(fx, "and again\n");

    assert_false(s_exists(s_rotated(fx, 1)));
    struct stat st;
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

#define SINK_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int main(void)
{
    zsys_handler_set(NULL); /* czmq must not install its own SIGINT/SIGTERM handlers */
    umask(022);             /* so the file mode is LOGSINK_FILE_MODE as given */
    const struct CMUnitTest tests[] = {
        SINK_TEST(test_bytes_written_to_the_pipe_appear_in_the_file),
        SINK_TEST(test_rotation_keeps_max_files_in_order),
        SINK_TEST(test_an_existing_file_counts_toward_the_limit),
        SINK_TEST(test_a_write_larger_than_the_limit_goes_into_an_empty_file),
        SINK_TEST(test_rotate_on_demand),
        SINK_TEST(test_an_unwritable_path_is_an_error),
        SINK_TEST(test_lines_from_a_child_process_arrive),
        SINK_TEST(test_a_failing_rotation_drops_output_but_keeps_reading),
        SINK_TEST(test_destroy_drains_the_pipe),
        SINK_TEST(test_a_special_file_is_never_rotated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
