/* Tests of sweep: leftovers of interrupted writes are removed at start, work in progress (a live
 * writer's lock) and everything that only looks like a leftover is kept. */
#include "testutil.h"

#include "fsutil.h"
#include "sweep.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int s_setup(void **state)
{
    tu_env_t *env = calloc(1, sizeof *env);
    if (env == NULL || tu_env_setup(env) != 0) {
        free(env);
        return -1;
    }
    *state = env;
    return 0;
}

static int s_teardown(void **state)
{
    tu_env_t *env = *state;
    tu_env_teardown(env);
    free(env);
    return 0;
}

static void s_path(char *buf, size_t size, const char *dir, const char *name)
{
    assert_true(snprintf(buf, size, "%s/%s", dir, name) < (int)size);
}

static bool s_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    s_path(path, sizeof path, dir, name);
    return lstat(path, &st) == 0;
}

static void s_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    s_path(path, sizeof path, dir, name);
    tu_write_file(path, "partial", 0600);
}

/* A temp dir with a read-only sub-dir inside, as a refused archive leaves it. */
static void s_readonly_tree(const char *dir, const char *name)
{
    char path[PATH_MAX], sub[PATH_MAX];
    s_path(path, sizeof path, dir, name);
    assert_int_equal(mkdir(path, 0700), 0);
    s_path(sub, sizeof sub, path, "lib");
    assert_int_equal(mkdir(sub, 0700), 0);
    s_file(sub, "libx.so");
    assert_int_equal(chmod(sub, 0500), 0);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(sweep_is_temp_name("state.json.tmp.a1B2c3"));
    assert_true(sweep_is_temp_name(".v2.tmp.XyZ123"));
    assert_false(sweep_is_temp_name("state.json.tmp."));
    assert_false(sweep_is_temp_name("state.json.tmp.abc"));        /* not mkstemp's 6 */
    assert_false(sweep_is_temp_name("state.json.tmp.abc1234"));    /* 7 */
    assert_false(sweep_is_temp_name("state.json.tmp.abc-12"));     /* not alphanumeric */
    assert_false(sweep_is_temp_name("v2.tmp"));                    /* an upgrade may be named so */
    assert_false(sweep_is_temp_name(".tmp.abcdef"));               /* nothing before */
    assert_false(sweep_is_temp_name("data-20261203T101010Z.tar")); /* a backup */
}

static void test_removes_leftovers(void **state)
{
    tu_env_t *env = *state;
    char bin[PATH_MAX], backups[PATH_MAX], scheduled[PATH_MAX];
    s_path(bin, sizeof bin, env->l.upgrades, "v2/bin");
    assert_int_equal(fs_mkdir_p(bin, 0755, NULL), 0);
    s_path(backups, sizeof backups, env->home, "backups");
    assert_int_equal(fs_mkdir_p(backups, 0700, NULL), 0);
    s_path(scheduled, sizeof scheduled, env->l.data, "upgrades/1000");
    assert_int_equal(fs_mkdir_p(scheduled, 0755, NULL), 0);

    s_file(env->l.root, "state.json.tmp.aaaaaa");
    s_readonly_tree(env->l.upgrades, ".v3.tmp.bbbbbb");
    s_file(bin, "wemixd.tmp.cccccc");
    s_file(backups, "data-20261203T101010Z.tar.zst.tmp.dddddd");
    s_file(scheduled, "upgrade-info.json.tmp.eeeeee");
    char link[PATH_MAX];
    s_path(link, sizeof link, env->l.root, "current.new.999999999");
    assert_int_equal(symlink("upgrades/v2", link), 0);
    /* a restore killed after the swap: data exists, its old content beside it */
    char old[PATH_MAX];
    assert_int_equal(fs_mkdir_p(env->l.data, 0700, NULL), 0);
    s_path(old, sizeof old, env->home, "data.old.ffffff");
    assert_int_equal(mkdir(old, 0700), 0);
    s_file(old, "000001.ldb");

    /* things that stay: real files, names that only look alike */
    s_file(env->l.root, "state.json");
    s_file(bin, "wemixd");
    s_file(backups, "data-20261203T101010Z.tar.zst");
    s_file(env->l.root, "notes.tmp");
    s_file(env->home, "data.old.keep"); /* not mkdtemp's 6 characters */

    assert_int_equal(sweep_stale_temps(&env->l, backups), 7);
    assert_false(s_exists(env->l.root, "state.json.tmp.aaaaaa"));
    assert_false(s_exists(env->l.upgrades, ".v3.tmp.bbbbbb"));
    assert_false(s_exists(bin, "wemixd.tmp.cccccc"));
    assert_false(s_exists(backups, "data-20261203T101010Z.tar.zst.tmp.dddddd"));
    assert_false(s_exists(scheduled, "upgrade-info.json.tmp.eeeeee"));
    assert_false(s_exists(env->l.root, "current.new.999999999"));
    assert_false(s_exists(env->home, "data.old.ffffff"));
    assert_true(s_exists(env->l.root, "state.json"));
    assert_true(s_exists(bin, "wemixd"));
    assert_true(s_exists(backups, "data-20261203T101010Z.tar.zst"));
    assert_true(s_exists(env->l.root, "notes.tmp"));
    assert_true(s_exists(env->home, "data.old.keep"));
    assert_int_equal(sweep_stale_temps(&env->l, backups), 0);
}

/* A writer that is alive (it holds its temp's lock) keeps its temp. */
static void test_keeps_work_in_progress(void **state)
{
    tu_env_t *env = *state;
    char path[PATH_MAX];
    s_path(path, sizeof path, env->l.upgrades, ".v4.tmp.gggggg");
    assert_int_equal(mkdir(path, 0700), 0);
    int ready[2], done[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the writer: holds the lock until told to stop */
        int fd = open(path, O_RDONLY | O_DIRECTORY);
        if (fd < 0 || fs_temp_hold(fd, path, NULL) != 0)
            _exit(1);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
            _exit(1);
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(sweep_stale_temps(&env->l, NULL), 0);
    assert_true(s_exists(env->l.upgrades, ".v4.tmp.gggggg"));
    assert_int_equal(write(done[1], &c, 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the writer is gone without renaming its temp: now it is a leftover */
    assert_int_equal(sweep_stale_temps(&env->l, NULL), 1);
    assert_false(s_exists(env->l.upgrades, ".v4.tmp.gggggg"));
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
}

/* Without the data dir, its siblings may hold the only copy of the chain data: kept. */
static void test_keeps_data_siblings_without_data(void **state)
{
    tu_env_t *env = *state;
    char old[PATH_MAX];
    s_path(old, sizeof old, env->home, "data.old.hhhhhh");
    assert_int_equal(mkdir(old, 0700), 0);
    assert_int_equal(tu_rm_rf(env->l.data), 0);
    assert_int_equal(sweep_stale_temps(&env->l, NULL), 0);
    assert_true(s_exists(env->home, "data.old.hhhhhh"));
}

/* fs_write_atomic holds its temp while it writes: nothing of it is left, and its lock does not
 * outlive the write. */
static void test_atomic_write_leaves_nothing(void **state)
{
    tu_env_t *env = *state;
    char path[PATH_MAX];
    s_path(path, sizeof path, env->l.root, "x.json");
    assert_int_equal(fs_write_atomic(path, "{}", 2, 0600, NULL), 0);
    assert_int_equal(sweep_stale_temps(&env->l, NULL), 0);
    assert_true(s_exists(env->l.root, "x.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_removes_leftovers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keeps_work_in_progress, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keeps_data_siblings_without_data, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write_leaves_nothing, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
