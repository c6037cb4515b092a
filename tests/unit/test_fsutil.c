/* Unit tests of shared/fsutil.h: joins, directories, atomic writes and copies, bounded reads and
 * symlink switches, on a temp dir. Not tested here: crash safety (fsync) and full disks. */
#include "fsutil.h"
#include "testutil.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_path(char *buf, const char *dir, const char *name)
{
    snprintf(buf, PATH_MAX, "%s/%s", dir, name);
}

static mode_t s_mode(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* The names in dir, sorted and space-separated: "a b current". */
static void s_list_dir(const char *dir, char *buf, size_t size)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len > 0 ? " " : "",
                                    names[i]->d_name);
        free(names[i]);
    }
    free(names);
}

static void test_join_puts_one_slash_between_parts(void **state)
{
    (void)state;
    char buf[64];
    wv_err_t err = {{0}};
    assert_int_equal(fs_join(buf, sizeof buf, &err, "/home/node", "wemixvisor", "current", NULL),
                     0);
    assert_string_equal(buf, "/home/node/wemixvisor/current");
    assert_int_equal(fs_join(buf, sizeof buf, &err, "genesis", NULL), 0);
    assert_string_equal(buf, "genesis");
}

static void test_join_refuses_what_does_not_fit(void **state)
{
    (void)state;
    char buf[12];
    wv_err_t err = {{0}};
    assert_int_equal(fs_join(buf, sizeof buf, &err, "/home", "abcde", NULL), 0); /* 11 bytes */
    assert_int_equal(fs_join(buf, sizeof buf, &err, "/home", "abcdef", NULL), -1);
    tu_assert_contains(err.msg, "path too long");
    tu_assert_contains(err.msg, "/home");
}

static void test_mkdir_p_creates_parents_and_accepts_existing_dirs(void **state)
{
    const char *dir = *state;
    char deep[PATH_MAX];
    s_path(deep, dir, "a/b/c");
    wv_err_t err = {{0}};
    assert_int_equal(fs_mkdir_p(deep, 0750, &err), 0);
    assert_true(fs_is_dir(deep));
    assert_int_equal(fs_mkdir_p(deep, 0750, &err), 0); /* already there: fine */
    assert_int_equal(fs_mkdir_p(dir, 0750, &err), 0);
}

static void test_mkdir_p_refuses_a_file_in_the_way(void **state)
{
    const char *dir = *state;
    char file[PATH_MAX], below[PATH_MAX];
    s_path(file, dir, "data");
    s_path(below, dir, "data/backups");
    tu_write_file(file, "not a directory", 0644);
    wv_err_t err = {{0}};
    assert_int_equal(fs_mkdir_p(file, 0755, &err), -1);
    tu_assert_contains(err.msg, file);
    tu_assert_contains(err.msg, "not a directory");
    assert_int_equal(fs_mkdir_p(below, 0755, &err), -1);
    tu_assert_contains(err.msg, file);
}

static void test_write_atomic_writes_content_and_mode_and_leaves_no_temp(void **state)
{
    const char *dir = *state;
    char path[PATH_MAX];
    s_path(path, dir, "state.json");
    wv_err_t err = {{0}};
    assert_int_equal(fs_write_atomic(path, "{\"v\":1}\n", 8, 0600, &err), 0);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(fs_read_file(path, 1024, &text, &len, &err), 0);
    assert_string_equal(text, "{\"v\":1}\n");
    assert_int_equal(len, 8);
    free(text);
    assert_int_equal(s_mode(path), 0600);

    char names[256];
    s_list_dir(dir, names, sizeof names);
    assert_string_equal(names, "state.json");
}

static void test_write_atomic_replaces_an_existing_file(void **state)
{
    const char *dir = *state;
    char path[PATH_MAX];
    s_path(path, dir, "state.json");
    tu_write_file(path, "old content, longer than the new one", 0644);
    wv_err_t err = {{0}};
    assert_int_equal(fs_write_atomic(path, "new", 3, 0600, &err), 0);

    char *text = NULL;
    assert_int_equal(fs_read_file(path, 1024, &text, NULL, &err), 0);
    assert_string_equal(text, "new");
    free(text);
    assert_int_equal(s_mode(path), 0600);

    char names[256];
    s_list_dir(dir, names, sizeof names);
    assert_string_equal(names, "state.json");
}

static void test_write_atomic_fails_in_a_missing_directory(void **state)
{
    const char *dir = *state;
    char path[PATH_MAX];
    s_path(path, dir, "missing/state.json");
    wv_err_t err = {{0}};
    assert_int_equal(fs_write_atomic(path, "x", 1, 0600, &err), -1);
    tu_assert_contains(err.msg, path);
}

static void test_copy_file_copies_content_and_sets_mode(void **state)
{
    const char *dir = *state;
    char src[PATH_MAX], dst[PATH_MAX];
    s_path(src, dir, "wemixd.download");
    s_path(dst, dir, "wemixd");

    /* more than one copy chunk, with NUL bytes: a binary, not a string */
    size_t size = 600 * 1024;
    unsigned char *data = malloc(size);
    assert_non_null(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 % 251);
    wv_err_t err = {{0}};
    assert_int_equal(fs_write_atomic(src, data, size, 0600, &err), 0);

    assert_int_equal(fs_copy_file(src, dst, 0755, &err), 0);
    char *copy = NULL;
    size_t len = 0;
    assert_int_equal(fs_read_file(dst, size, &copy, &len, &err), 0);
    assert_int_equal(len, size);
    assert_memory_equal(copy, data, size);
    assert_int_equal(s_mode(dst), 0755);
    assert_true(fs_is_executable(dst));
    free(copy);
    free(data);

    char names[256];
    s_list_dir(dir, names, sizeof names);
    assert_string_equal(names, "wemixd wemixd.download");
}

static void test_copy_file_refuses_a_missing_source(void **state)
{
    const char *dir = *state;
    char src[PATH_MAX], dst[PATH_MAX];
    s_path(src, dir, "missing");
    s_path(dst, dir, "copy");
    wv_err_t err = {{0}};
    assert_int_equal(fs_copy_file(src, dst, 0755, &err), -1);
    tu_assert_contains(err.msg, src);
    assert_false(fs_is_file(dst));
}

static void test_read_file_reads_up_to_max_bytes(void **state)
{
    const char *dir = *state;
    char path[PATH_MAX];
    s_path(path, dir, "upgrade-info.json");
    tu_write_file(path, "0123456789", 0644);
    char *text = NULL;
    size_t len = 0;
    wv_err_t err = {{0}};

    assert_int_equal(fs_read_file(path, 10, &text, &len, &err), 0); /* exactly max: fine */
    assert_string_equal(text, "0123456789");
    assert_int_equal(len, 10);
    free(text);

    text = NULL;
    assert_int_equal(fs_read_file(path, 9, &text, &len, &err), -1);
    assert_null(text);
    tu_assert_contains(err.msg, path);
    tu_assert_contains(err.msg, "larger than 9 bytes");
}

static void test_read_file_refuses_missing_files_and_directories(void **state)
{
    const char *dir = *state;
    char missing[PATH_MAX];
    s_path(missing, dir, "missing");
    char *text = NULL;
    wv_err_t err = {{0}};
    assert_int_equal(fs_read_file(missing, 1024, &text, NULL, &err), -1);
    tu_assert_contains(err.msg, missing);
    tu_assert_contains(err.msg, "No such file");

    assert_int_equal(fs_read_file(dir, 1024, &text, NULL, &err), -1);
    tu_assert_contains(err.msg, dir);
    tu_assert_contains(err.msg, "not a regular file");
    assert_null(text);
}

static void test_symlink_replace_keeps_a_relative_target_verbatim(void **state)
{
    const char *dir = *state;
    char link[PATH_MAX];
    s_path(link, dir, "current");
    wv_err_t err = {{0}};
    /* the target need not exist, and stays relative to the link's directory */
    assert_int_equal(fs_symlink_replace("upgrades/v2", link, &err), 0);
    char target[PATH_MAX];
    assert_int_equal(fs_readlink(link, target, sizeof target, &err), 0);
    assert_string_equal(target, "upgrades/v2");
}

static void test_symlink_replace_switches_an_existing_link(void **state)
{
    const char *dir = *state;
    char link[PATH_MAX];
    s_path(link, dir, "current");
    wv_err_t err = {{0}};
    assert_int_equal(fs_symlink_replace("genesis", link, &err), 0);
    assert_int_equal(fs_symlink_replace("upgrades/v2", link, &err), 0);

    char target[PATH_MAX];
    assert_int_equal(fs_readlink(link, target, sizeof target, &err), 0);
    assert_string_equal(target, "upgrades/v2");
    char names[256];
    s_list_dir(dir, names, sizeof names);
    assert_string_equal(names, "current"); /* no temporary link left behind */
}

static void test_symlink_replace_refuses_to_replace_a_regular_file(void **state)
{
    const char *dir = *state;
    char link[PATH_MAX];
    s_path(link, dir, "current");
    tu_write_file(link, "someone's file", 0644);
    wv_err_t err = {{0}};
    assert_int_equal(fs_symlink_replace("upgrades/v2", link, &err), -1);
    tu_assert_contains(err.msg, link);
    tu_assert_contains(err.msg, "not a symlink");
    assert_true(fs_is_file(link)); /* untouched */

    char names[256];
    s_list_dir(dir, names, sizeof names);
    assert_string_equal(names, "current");
}

static void test_readlink_refuses_non_links_and_small_buffers(void **state)
{
    const char *dir = *state;
    char file[PATH_MAX], link[PATH_MAX];
    s_path(file, dir, "file");
    s_path(link, dir, "link");
    tu_write_file(file, "x", 0644);
    wv_err_t err = {{0}};
    char target[8];
    assert_int_equal(fs_readlink(file, target, sizeof target, &err), -1);
    tu_assert_contains(err.msg, file);

    assert_int_equal(fs_symlink_replace("upgrades/v2", link, &err), 0);
    assert_int_equal(fs_readlink(link, target, sizeof target, &err), -1);
    tu_assert_contains(err.msg, "too long");
}

static void test_is_executable_needs_a_regular_file_with_an_x_bit(void **state)
{
    const char *dir = *state;
    char bin[PATH_MAX], data[PATH_MAX], owner_only[PATH_MAX], missing[PATH_MAX];
    s_path(bin, dir, "wemixd");
    s_path(data, dir, "README");
    s_path(owner_only, dir, "private");
    s_path(missing, dir, "missing");
    tu_write_file(bin, "#!/bin/sh\n", 0755);
    tu_write_file(data, "text", 0644);
    tu_write_file(owner_only, "#!/bin/sh\n", 0700);

    assert_true(fs_is_executable(bin));
    assert_true(fs_is_executable(owner_only));
    assert_false(fs_is_executable(data));
    assert_false(fs_is_executable(dir)); /* a directory's x bit is not "executable" */
    assert_false(fs_is_executable(missing));
    assert_true(fs_is_file(data));
    assert_false(fs_is_file(dir));
    assert_true(fs_is_dir(dir));
    assert_false(fs_is_dir(data));
}

int main(void)
{
/* Each test works in its own temp dir, passed as *state. */
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_tmpdir_setup, tu_tmpdir_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_puts_one_slash_between_parts),
        cmocka_unit_test(test_join_refuses_what_does_not_fit),
        TEST(test_mkdir_p_creates_parents_and_accepts_existing_dirs),
        TEST(test_mkdir_p_refuses_a_file_in_the_way),
        TEST(test_write_atomic_writes_content_and_mode_and_leaves_no_temp),
        TEST(test_write_atomic_replaces_an_existing_file),
        TEST(test_write_atomic_fails_in_a_missing_directory),
        TEST(test_copy_file_copies_content_and_sets_mode),
        TEST(test_copy_file_refuses_a_missing_source),
        TEST(test_read_file_reads_up_to_max_bytes),
        TEST(test_read_file_refuses_missing_files_and_directories),
        TEST(test_symlink_replace_keeps_a_relative_target_verbatim),
        TEST(test_symlink_replace_switches_an_existing_link),
        TEST(test_symlink_replace_refuses_to_replace_a_regular_file),
        TEST(test_readlink_refuses_non_links_and_small_buffers),
        TEST(test_is_executable_needs_a_regular_file_with_an_x_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
