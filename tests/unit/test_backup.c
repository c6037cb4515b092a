/* Unit tests of agent/backup.h: create, verify and restore for each compression on a real tree,
 * refusal of corrupt and hostile archives, list, clean and the free-space checks (walking the
 * data, or by a size measured before). */
#include "backup.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG_FILE_SIZE (3 * 1024 * 1024)
#define FIXED_MTIME 1600000000
#define DAY 86400

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

static bool s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Writes size bytes of a fixed pseudo-random sequence (incompressible, the same every time). */
static void s_write_random(const char *path, size_t size, uint64_t seed, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t x = seed | 1;
    for (size_t i = 0; i < size; i += sizeof x) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = size - i < sizeof x ? size - i : sizeof x;
        assert_int_equal(fwrite(&x, 1, n, f), n);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The tree every round trip starts from; building it twice gives two equal trees. */
static void s_make_tree(const char *root)
{
    char p[PATH_MAX], q[PATH_MAX];
    assert_int_equal(mkdir(root, 0755), 0);
    s_path(p, root, "chaindata");
    assert_int_equal(mkdir(p, 0755), 0);
    s_path(p, root, "chaindata/ancient");
    assert_int_equal(mkdir(p, 0700), 0);
    s_path(p, root, "chaindata/ancient/deep");
    assert_int_equal(mkdir(p, 0755), 0);
    s_path(p, root, "chaindata/ancient/deep/empty");
    tu_write_file(p, "", 0600);
    s_path(p, root, "chaindata/000001.sst");
    s_write_random(p, BIG_FILE_SIZE, 42, 0600);
    struct timespec times[2] = {{FIXED_MTIME, 0}, {FIXED_MTIME, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, times, AT_SYMLINK_NOFOLLOW), 0);
    s_path(p, root, "nodekey");
    tu_write_file(p, "secret key\n", 0600);
    s_path(p, root, "run.sh");
    tu_write_file(p, "#!/bin/sh\nexit 0\n", 0755);
    s_path(p, root, "CURRENT");
    assert_int_equal(symlink("chaindata/000001.sst", p), 0);
    s_path(p, root, "chaindata/LOCK");
    tu_write_file(p, "lock", 0644);
    s_path(q, root, "chaindata/LOCK.link");
    assert_int_equal(link(p, q), 0);
}

static void s_compare_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    assert_non_null(fa);
    assert_non_null(fb);
    char ba[65536], bb[65536];
    for (;;) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0)
            fail_msg("%s and %s differ", a, b);
        if (na == 0)
            break;
    }
    fclose(fa);
    fclose(fb);
}

/* Fails unless the trees hold the same names, types, modes, contents and link targets. */
static void s_compare_trees(const char *a, const char *b)
{
    struct stat sa, sb;
    assert_int_equal(lstat(a, &sa), 0);
    assert_int_equal(lstat(b, &sb), 0);
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT) ||
        (sa.st_mode & 07777) != (sb.st_mode & 07777))
        fail_msg("%s (mode %o) and %s (mode %o) differ", a, sa.st_mode, b, sb.st_mode);
    if (S_ISREG(sa.st_mode)) {
        assert_int_equal(sa.st_size, sb.st_size);
        s_compare_files(a, b);
    } else if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX] = "", tb[PATH_MAX] = "";
        assert_true(readlink(a, ta, sizeof ta - 1) > 0);
        assert_true(readlink(b, tb, sizeof tb - 1) > 0);
        assert_string_equal(ta, tb);
    } else if (S_ISDIR(sa.st_mode)) {
        struct dirent **na, **nb;
        int ca = scandir(a, &na, NULL, alphasort), cb = scandir(b, &nb, NULL, alphasort);
        assert_true(ca >= 0 && cb >= 0);
        if (ca != cb)
            fail_msg("%s has %d entries, %s has %d", a, ca, b, cb);
        for (int i = 0; i < ca; i++) {
            assert_string_equal(na[i]->d_name, nb[i]->d_name);
            if (strcmp(na[i]->d_name, ".") != 0 && strcmp(na[i]->d_name, "..") != 0) {
                char pa[PATH_MAX], pb[PATH_MAX];
                s_path(pa, a, na[i]->d_name);
                s_path(pb, b, nb[i]->d_name);
                s_compare_trees(pa, pb);
            }
        }
        for (int i = 0; i < ca; i++) {
            free(na[i]);
            free(nb[i]);
        }
        free(na);
        free(nb);
    }
}

/* sha256sum's output for path: "<hex>  <basename>\n". */
static void s_sha256sum_line(const char *path, char *line, size_t size)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        assert_int_equal(EVP_DigestUpdate(md, buf, n), 1);
    fclose(f);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    assert_int_equal(EVP_DigestFinal_ex(md, digest, &len), 1);
    EVP_MD_CTX_free(md);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    const char *base = strrchr(path, '/');
    snprintf(line, size, "%s  %s\n", hex, base ? base + 1 : path);
}

static void s_read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Fails if dir holds a name containing part (leftover temp dirs and files). */
static void s_assert_no_name_with(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, part) != NULL)
            fail_msg("%s/%s was left behind", dir, de->d_name);
    }
    closedir(d);
}

static void test_compression_names_round_trip(void **state)
{
    (void)state;
    backup_compression_t c;
    const char *names[] = {"zstd", "gzip", "none"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(backup_compression_parse(names[i], &c), 0);
        assert_string_equal(backup_compression_name(c), names[i]);
    }
    assert_int_equal(backup_compression_parse("xz", &c), -1);
    assert_int_equal(backup_compression_parse("ZSTD", &c), -1);
}

/* The whole life of a backup with one compression: create, check what is on disk, verify,
 * damage the data dir, restore it to the original, and restore into a path that is missing. */
static void s_round_trip(const char *tmp, backup_compression_t c, const char *ext)
{
    char data[PATH_MAX], expected[PATH_MAX], backups[PATH_MAX], p[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(expected, tmp, "expected");
    s_path(backups, tmp, "nested/backups");
    s_make_tree(data);
    s_make_tree(expected);

    wv_err_t err = {{0}};
    char archive[PATH_MAX];
    if (backup_create(data, backups, "pre-v2.0.0", c, archive, sizeof archive, &err) != 0)
        fail_msg("create: %s", err.msg);
    tu_assert_contains(archive, "/pre-v2.0.0-");
    assert_string_equal(archive + strlen(archive) - strlen(ext), ext);
    assert_int_equal(s_mode(archive), BACKUP_FILE_MODE);
    assert_int_equal(s_mode(backups), BACKUP_DIR_MODE);
    s_assert_no_name_with(backups, ".tmp.");

    char want[PATH_MAX + 80], got[PATH_MAX + 80], sum[PATH_MAX];
    snprintf(sum, sizeof sum, "%s.sha256", archive);
    s_sha256sum_line(archive, want, sizeof want);
    s_read_text(sum, got, sizeof got);
    assert_string_equal(got, want);
    assert_int_equal(s_mode(sum), BACKUP_FILE_MODE);
    if (backup_verify(archive, &err) != 0)
        fail_msg("verify: %s", err.msg);

    /* damage: change, delete and add files, change a mode */
    s_path(p, data, "nodekey");
    tu_write_file(p, "another key\n", 0644);
    s_path(p, data, "chaindata/000001.sst");
    assert_int_equal(unlink(p), 0);
    s_path(p, data, "chaindata/ancient/deep");
    assert_int_equal(tu_rm_rf(p), 0);
    s_path(p, data, "chaindata/000002.sst");
    tu_write_file(p, "new after the backup", 0600);
    assert_int_equal(chmod(data, 0700), 0);

    if (backup_restore(archive, data, &err) != 0)
        fail_msg("restore: %s", err.msg);
    s_compare_trees(data, expected);
    struct stat st, st2;
    s_path(p, data, "chaindata/000001.sst");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mtime, FIXED_MTIME);
    s_path(p, data, "chaindata/LOCK");
    assert_int_equal(lstat(p, &st), 0);
    s_path(p, data, "chaindata/LOCK.link");
    assert_int_equal(lstat(p, &st2), 0);
    assert_true(st.st_ino == st2.st_ino); /* the hard link is one file again */
    s_assert_no_name_with(tmp, ".restore.");
    s_assert_no_name_with(tmp, ".old.");

    s_path(p, tmp, "fresh/data");
    s_path(want, tmp, "fresh");
    assert_int_equal(mkdir(want, 0755), 0);
    if (backup_restore(archive, p, &err) != 0)
        fail_msg("restore into a missing dir: %s", err.msg);
    s_compare_trees(p, expected);
}

static void test_round_trip_zstd(void **state)
{
    s_round_trip(*state, BACKUP_ZSTD, ".tar.zst");
}

static void test_round_trip_gzip(void **state)
{
    s_round_trip(*state, BACKUP_GZIP, ".tar.gz");
}

static void test_round_trip_none(void **state)
{
    s_round_trip(*state, BACKUP_NONE, ".tar");
}

static void test_corrupt_archive_fails_verify_and_restore_keeps_data(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], backups[PATH_MAX], archive[PATH_MAX], p[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(backups, tmp, "backups");
    s_make_tree(data);
    wv_err_t err = {{0}};
    assert_int_equal(
        backup_create(data, backups, "manual", BACKUP_ZSTD, archive, sizeof archive, &err), 0);
    FILE *f = fopen(archive, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, BIG_FILE_SIZE / 2, SEEK_SET), 0);
    int byte = fgetc(f);
    assert_int_equal(fseek(f, BIG_FILE_SIZE / 2, SEEK_SET), 0);
    fputc(byte ^ 0x01, f);
    assert_int_equal(fclose(f), 0);

    assert_int_equal(backup_verify(archive, &err), -1);
    tu_assert_contains(err.msg, "checksum mismatch");
    tu_assert_contains(err.msg, archive);

    s_path(p, data, "marker");
    tu_write_file(p, "written after the backup", 0600);
    assert_int_equal(backup_restore(archive, data, &err), -1);
    tu_assert_contains(err.msg, "checksum mismatch");
    assert_true(s_exists(p)); /* the data dir is the one we had */
    s_assert_no_name_with(tmp, ".restore.");
    s_assert_no_name_with(tmp, ".old.");

    /* without its checksum file an archive is not trusted either */
    char sum[PATH_MAX];
    snprintf(sum, sizeof sum, "%s.sha256", archive);
    assert_int_equal(unlink(sum), 0);
    assert_int_equal(backup_verify(archive, &err), -1);
    tu_assert_contains(err.msg, "no checksum file");
}

/* Writes an uncompressed archive of the given entries (a "->" in a name makes a symlink),
 * each file holding "evil", and its .sha256, so only the extraction can refuse it. */
static void s_craft_archive(const char *path, const char *const *names, size_t count)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    for (size_t i = 0; i < count; i++) {
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%s", names[i]);
        char *arrow = strstr(name, "->");
        archive_entry_clear(e);
        archive_entry_set_pathname(e, name);
        archive_entry_set_perm(e, 0644);
        if (arrow != NULL) {
            *arrow = '\0';
            archive_entry_set_pathname(e, name);
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, arrow + 2);
            assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, 4);
            assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
            assert_int_equal(archive_write_data(a, "evil", 4), 4);
        }
    }
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    char line[PATH_MAX + 80], sum[PATH_MAX];
    s_sha256sum_line(path, line, sizeof line);
    snprintf(sum, sizeof sum, "%s.sha256", path);
    tu_write_file(sum, line, 0600);
}

static void test_restore_refuses_entries_that_leave_the_tree(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], archive[PATH_MAX], marker[PATH_MAX], evil[PATH_MAX], abs[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(archive, tmp, "hostile.tar");
    s_path(marker, data, "marker");
    s_path(evil, tmp, "evil");
    s_path(abs, tmp, "abs-evil");
    assert_int_equal(mkdir(data, 0755), 0);
    tu_write_file(marker, "mine", 0600);

    const char *dotdot[] = {"ok.txt", "../evil"};
    const char *absolute[] = {"ok.txt", abs};
    const char *via_link[] = {"ok.txt", "up->..", "up/evil"};
    struct {
        const char *const *names;
        size_t count;
    } cases[] = {{dotdot, 2}, {absolute, 2}, {via_link, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_craft_archive(archive, cases[i].names, cases[i].count);
        wv_err_t err = {{0}};
        assert_int_equal(backup_verify(archive, &err), 0);         /* the checksum is right... */
        assert_int_equal(backup_restore(archive, data, &err), -1); /* ...the content is not */
        tu_assert_contains(err.msg, "refused");
        assert_false(s_exists(evil));
        assert_false(s_exists(abs));
        assert_true(s_exists(marker));
        s_assert_no_name_with(tmp, ".restore.");
    }
}

/* Creates an empty archive file and its .sha256 with a name in backup.h's format. */
static void s_fake_archive(const char *dir, const char *label, time_t created, const char *ext,
                           char *path_out)
{
    struct tm tm;
    char stamp[32], p[PATH_MAX], sum[PATH_MAX];
    gmtime_r(&created, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(p, sizeof p, "%s/%s-%s%s", dir, label, stamp, ext);
    tu_write_file(p, "archive", 0600);
    snprintf(sum, sizeof sum, "%s.sha256", p);
    tu_write_file(sum, "checksum", 0600);
    if (path_out != NULL)
        snprintf(path_out, PATH_MAX, "%s", p);
}

static void test_list_is_newest_first_and_ignores_other_names(void **state)
{
    const char *tmp = *state;
    char p[PATH_MAX];
    backup_entry_t *list;
    size_t n;
    wv_err_t err = {{0}};
    s_path(p, tmp, "missing");
    assert_int_equal(backup_list(p, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    free(list);

    time_t jan = 1704067200; /* 2024-01-01T00:00:00Z */
    s_fake_archive(tmp, "manual", jan, ".tar.zst", NULL);
    s_fake_archive(tmp, "pre-v2.0.0", jan + 60 * DAY, ".tar.gz", NULL);
    s_fake_archive(tmp, "x", jan + 31 * DAY, ".tar", NULL);
    const char *noise[] = {"notes.txt",
                           "manual-2024010T000000Z.tar",
                           "bad-20241340T000000Z.tar",
                           "manual-20240101T000000Z.tar.zst.tmp.Ab12Cd",
                           "-20240101T000000Z.tar",
                           ".hidden-20240101T000000Z.tar"};
    for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++) {
        s_path(p, tmp, noise[i]);
        tu_write_file(p, "x", 0600);
    }

    assert_int_equal(backup_list(tmp, &list, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].label, "pre-v2.0.0");
    assert_int_equal(list[0].created, jan + 60 * DAY);
    assert_string_equal(list[1].label, "x");
    assert_string_equal(list[2].label, "manual");
    assert_int_equal(list[2].created, jan);
    assert_int_equal(list[2].bytes, strlen("archive"));
    s_path(p, tmp, "manual-20240101T000000Z.tar.zst");
    assert_string_equal(list[2].path, p);
    free(list);
}

static void test_clean_keeps_the_newest(void **state)
{
    const char *tmp = *state;
    time_t now = time(NULL);
    char oldest[PATH_MAX], old[PATH_MAX], sum[PATH_MAX];
    s_fake_archive(tmp, "a", now - 4 * DAY, ".tar.zst", oldest);
    s_fake_archive(tmp, "b", now - 3 * DAY, ".tar.gz", old);
    s_fake_archive(tmp, "c", now - 2 * DAY, ".tar", NULL);
    s_fake_archive(tmp, "d", now - 1 * DAY, ".tar.zst", NULL);
    size_t removed = 99;
    wv_err_t err = {{0}};
    assert_int_equal(backup_clean(tmp, 0, 2, &removed, &err), 0);
    assert_int_equal(removed, 2);
    assert_false(s_exists(oldest));
    assert_false(s_exists(old));
    snprintf(sum, sizeof sum, "%s.sha256", oldest);
    assert_false(s_exists(sum));
    backup_entry_t *list;
    size_t n;
    assert_int_equal(backup_list(tmp, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].label, "d");
    assert_string_equal(list[1].label, "c");
    free(list);
    assert_int_equal(backup_clean(tmp, 0, 2, &removed, &err), 0);
    assert_int_equal(removed, 0);
}

static void test_clean_removes_what_is_older_than_max_age(void **state)
{
    const char *tmp = *state;
    time_t now = time(NULL);
    char ten_days[PATH_MAX], two_days[PATH_MAX], hour[PATH_MAX];
    s_fake_archive(tmp, "a", now - 10 * DAY, ".tar.zst", ten_days);
    s_fake_archive(tmp, "b", now - 2 * DAY, ".tar.zst", two_days);
    s_fake_archive(tmp, "c", now - 3600, ".tar.zst", hour);
    size_t removed = 0;
    wv_err_t err = {{0}};
    assert_int_equal(backup_clean(tmp, DAY, 0, &removed, &err), 0);
    assert_int_equal(removed, 2);
    assert_false(s_exists(ten_days));
    assert_false(s_exists(two_days));
    assert_true(s_exists(hour));
}

static void test_create_refuses_bad_labels_and_a_backup_dir_inside_the_data(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], inside[PATH_MAX], backups[PATH_MAX], out[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(inside, data, "backups");
    s_path(backups, tmp, "backups");
    assert_int_equal(mkdir(data, 0755), 0);
    wv_err_t err = {{0}};
    const char *bad[] = {"", "../x", "a/b", ".hidden", "sp ace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(backup_create(data, backups, bad[i], BACKUP_NONE, out, sizeof out, &err),
                         -1);
        tu_assert_contains(err.msg, "label");
    }
    assert_int_equal(backup_create(data, inside, "manual", BACKUP_NONE, out, sizeof out, &err), -1);
    tu_assert_contains(err.msg, "inside the data dir");
    s_path(out, tmp, "nowhere");
    assert_int_equal(backup_create(out, backups, "manual", BACKUP_NONE, out, sizeof out, &err), -1);
    tu_assert_contains(err.msg, "nowhere");
}

static void test_two_backups_in_one_second_get_different_names(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], backups[PATH_MAX], first[PATH_MAX], second[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(backups, tmp, "backups");
    assert_int_equal(mkdir(data, 0755), 0);
    wv_err_t err = {{0}};
    assert_int_equal(backup_create(data, backups, "manual", BACKUP_NONE, first, sizeof first, &err),
                     0);
    assert_int_equal(
        backup_create(data, backups, "manual", BACKUP_NONE, second, sizeof second, &err), 0);
    assert_string_not_equal(first, second);
    assert_int_equal(backup_verify(first, &err), 0);
    assert_int_equal(backup_verify(second, &err), 0);
}

/* Mounts a 1 MiB tmpfs on dir; false (the caller skips) where that is not allowed. */
static bool s_mount_small_disk(const char *dir)
{
    if (mkdir(dir, 0755) != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr,
                "skipped: cannot mount a tmpfs on %s (%s); run as root to test a small "
                "disk\n",
                dir, strerror(errno));
        return false;
    }
    return true;
}

static void test_check_space_needs_the_data_size_plus_five_percent(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], disk[PATH_MAX], backups[PATH_MAX], p[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(disk, tmp, "disk");
    s_path(backups, disk, "not/yet/backups"); /* missing: its nearest parent counts */
    assert_int_equal(mkdir(data, 0755), 0);
    s_path(p, data, "blob");
    s_write_random(p, 990000, 7, 0600); /* 1039500 bytes with the margin: fits 1 MiB */
    wv_err_t err = {{0}};
    s_path(p, tmp, "backups");
    assert_int_equal(backup_check_space(data, p, &err), 0); /* a roomy disk */
    if (!s_mount_small_disk(disk))
        skip();
    int rc = backup_check_space(data, backups, &err);
    s_path(p, data, "more");
    s_write_random(p, 10000, 8, 0600); /* 1050000 bytes with the margin: does not */
    int rc2 = backup_check_space(data, backups, &err);
    umount2(disk, MNT_DETACH);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, -1);
    tu_assert_contains(err.msg, "1050000 bytes");
    tu_assert_contains(err.msg, "1048576 bytes");
    tu_assert_contains(err.msg, "free space in");
}

/* The agent's check before it stops the node: a size measured earlier (off its loop) against one
 * statvfs. The data dir is only named, never read: here it does not even exist. */
static void test_check_room_goes_by_a_measured_size_without_reading_the_data(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], disk[PATH_MAX], backups[PATH_MAX], where[PATH_MAX];
    s_path(data, tmp, "no-such-data");
    s_path(disk, tmp, "disk");
    s_path(backups, disk, "not/yet/backups"); /* missing: its nearest parent counts */
    assert_int_equal(backup_room_needed(0), 0);
    assert_int_equal(backup_room_needed(1), 2); /* the margin rounds up */
    assert_int_equal(backup_room_needed(990000), 1039500);
    assert_int_equal(backup_room_needed(1000000), 1050000);
    wv_err_t err = {{0}};
    assert_int_equal(backup_check_room(data, 0, tmp, &err), 0);
    assert_int_equal(backup_check_room(data, UINT64_MAX / 4, tmp, &err), -1);
    tu_assert_contains(err.msg, "not enough space for a backup of");
    tu_assert_contains(err.msg, data);
    tu_assert_contains(err.msg, "free space in");
    if (!s_mount_small_disk(disk))
        skip();
    uint64_t free_bytes = 0;
    int free_rc = backup_free_space(backups, &free_bytes, where, sizeof where, &err);
    int fits = backup_check_room(data, 990000, backups, &err);
    int does_not = backup_check_room(data, 1000000, backups, &err);
    umount2(disk, MNT_DETACH);
    assert_int_equal(free_rc, 0);
    assert_int_equal(free_bytes, 1048576);
    assert_string_equal(where, disk);
    assert_int_equal(fits, 0);
    assert_int_equal(does_not, -1);
    tu_assert_contains(err.msg, "1050000 bytes");
    tu_assert_contains(err.msg, "1048576 bytes");
    tu_assert_contains(err.msg, disk);
}

static void test_create_on_a_full_disk_leaves_nothing_behind(void **state)
{
    const char *tmp = *state;
    char data[PATH_MAX], disk[PATH_MAX], out[PATH_MAX];
    s_path(data, tmp, "data");
    s_path(disk, tmp, "disk");
    s_make_tree(data); /* 3 MiB of random bytes: more than the disk holds */
    if (!s_mount_small_disk(disk))
        skip();
    wv_err_t err = {{0}};
    int rc = backup_create(data, disk, "manual", BACKUP_NONE, out, sizeof out, &err);
    DIR *d = opendir(disk);
    int names = 0;
    for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;)
        names += de->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    umount2(disk, MNT_DETACH);
    assert_int_equal(rc, -1);
    tu_assert_contains(err.msg, "free space in");
    tu_assert_contains(err.msg, disk);
    assert_int_equal(names, 0);
}

static void test_check_writable_creates_the_dir_and_names_what_is_wrong(void **state)
{
    const char *tmp = *state;
    char backups[PATH_MAX], file[PATH_MAX], under_file[PATH_MAX], ro[PATH_MAX], p[PATH_MAX];
    s_path(backups, tmp, "new/backups");
    wv_err_t err = {{0}};
    assert_int_equal(backup_check_writable(backups, &err), 0); /* created 0700, probe removed */
    struct stat st;
    assert_int_equal(stat(backups, &st), 0);
    assert_int_equal(st.st_mode & 07777, BACKUP_DIR_MODE);
    DIR *d = opendir(backups);
    assert_non_null(d);
    int names = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        names += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    assert_int_equal(names, 0);
    /* a path through a regular file */
    s_path(file, tmp, "file");
    s_path(under_file, file, "backups");
    s_write_random(file, 10, 1, 0600);
    assert_int_equal(backup_check_writable(under_file, &err), -1);
    tu_assert_contains(err.msg, under_file);
    tu_assert_contains(err.msg, "is not a directory");
    tu_assert_contains(err.msg, "DAEMON_DATA_BACKUP_DIR");
    /* a read-only file system (root ignores modes, not a read-only mount) */
    s_path(ro, tmp, "ro");
    if (mkdir(ro, 0755) != 0 || mount("tmpfs", ro, "tmpfs", MS_RDONLY, "size=1m") != 0) {
        fprintf(stderr, "skipped: cannot mount a read-only tmpfs on %s (%s)\n", ro,
                strerror(errno));
        skip();
    }
    s_path(p, ro, "backups");
    err_clear(&err);
    int rc = backup_check_writable(ro, &err), rc_missing = backup_check_writable(p, NULL);
    umount2(ro, MNT_DETACH);
    assert_int_equal(rc, -1);
    tu_assert_contains(err.msg, ro);
    tu_assert_contains(err.msg, "Read-only file system; remount its file system read-write");
    assert_int_equal(rc_missing, -1);
}

/* Sets path's mtime to age_s seconds ago. */
static void s_age(const char *path, time_t age_s)
{
    struct timespec times[2] = {{time(NULL) - age_s, 0}, {time(NULL) - age_s, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void test_check_writable_removes_what_dead_backups_left(void **state)
{
    const char *tmp = *state;
    char dead[PATH_MAX], dead_sum[PATH_MAX], locked[PATH_MAX], fresh[PATH_MAX], other[PATH_MAX];
    s_path(dead, tmp, "pre-v2-20250102T030405Z.tar.zst.tmp.AbC123");
    s_path(dead_sum, tmp, "manual-20250102T030405Z.tar.sha256.tmp.xYz789");
    s_path(locked, tmp, "pre-v3-20250102T030405Z.tar.tmp.LoCkEd");
    s_path(fresh, tmp, "pre-v4-20250102T030405Z.tar.tmp.FrEsH1");
    s_path(other, tmp, "notes.tmp.123456"); /* not a name a backup writes */
    const char *all[] = {dead, dead_sum, locked, fresh, other};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        s_write_random(all[i], 1000, i, 0600);
        if (all[i] != fresh)
            s_age(all[i], 3600);
    }
    int fd = open(locked, O_RDONLY | O_CLOEXEC); /* a live backup, stalled for an hour */
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    wv_err_t err = {{0}};
    assert_int_equal(backup_check_writable(tmp, &err), 0);
    close(fd);
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(dead_sum, F_OK), -1);
    assert_int_equal(access(locked, F_OK), 0);
    assert_int_equal(access(fresh, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
}

int main(void)
{
/* Each test works in its own temp dir, passed as *state. */
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_tmpdir_setup, tu_tmpdir_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compression_names_round_trip),
        TEST(test_round_trip_zstd),
        TEST(test_round_trip_gzip),
        TEST(test_round_trip_none),
        TEST(test_corrupt_archive_fails_verify_and_restore_keeps_data),
        TEST(test_restore_refuses_entries_that_leave_the_tree),
        TEST(test_list_is_newest_first_and_ignores_other_names),
        TEST(test_clean_keeps_the_newest),
        TEST(test_clean_removes_what_is_older_than_max_age),
        TEST(test_create_refuses_bad_labels_and_a_backup_dir_inside_the_data),
        TEST(test_two_backups_in_one_second_get_different_names),
        TEST(test_check_space_needs_the_data_size_plus_five_percent),
        TEST(test_check_room_goes_by_a_measured_size_without_reading_the_data),
        TEST(test_create_on_a_full_disk_leaves_nothing_behind),
        TEST(test_check_writable_creates_the_dir_and_names_what_is_wrong),
        TEST(test_check_writable_removes_what_dead_backups_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
