/* fuzz_archive: a downloaded upgrade file through download_install (agent/download.c): detection
 * of tar.gz / tar.zst / zip / raw, libarchive extraction with the secure flags and the checks of
 * s_check_entry, then placing bin/<daemon>. The property that matters is that nothing is written
 * outside the destination: after each input the sandbox holds exactly what it held plus
 * upgrades/<name> (on success), every link in there stays inside, no file is hard-linked to one
 * outside, and no path an entry names outside the sandbox changed. Not fuzzed here: the download.
 */
#include "download.h"
#include "fuzzutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARCHIVE_FUZZ_MAX (1024 * 1024)
#define UPGRADE "v2.0.0"
#define DAEMON "wemixd"
#define WATCH_MAX 64 /* outside paths named by one input that are watched */
#define PATH_DEPTH_MAX 512
#define NFTW_FDS 16
#define READ_BLOCK 16384

static char s_box[PATH_MAX];      /* holds only s_root: anything else in it escaped */
static char s_root[PATH_MAX];     /* the sandbox: in/ and upgrades/ */
static char s_in[PATH_MAX];       /* in/ */
static char s_file[PATH_MAX];     /* in/upgrade.bin, the input */
static char s_upgrades[PATH_MAX]; /* upgrades/, download_install's upgrades_dir */
static char s_target[PATH_MAX];   /* upgrades/<name> */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fz_init("archive");
    snprintf(s_box, sizeof s_box, "%s/box", dir);
    snprintf(s_root, sizeof s_root, "%s/root", s_box);
    snprintf(s_in, sizeof s_in, "%s/in", s_root);
    snprintf(s_file, sizeof s_file, "%s/upgrade.bin", s_in);
    snprintf(s_upgrades, sizeof s_upgrades, "%s/upgrades", s_root);
    snprintf(s_target, sizeof s_target, "%s/%s", s_upgrades, UPGRADE);
    if (mkdir(s_box, 0755) != 0 || mkdir(s_root, 0755) != 0 || mkdir(s_in, 0755) != 0 ||
        mkdir(s_upgrades, 0755) != 0)
        abort();
    return 0;
}

/* ---- paths an archive names outside the sandbox ---- */

typedef struct {
    char path[PATH_MAX];
    bool existed;
    struct stat st;
} watched_t;

typedef struct {
    watched_t items[WATCH_MAX];
    size_t count;
} watch_t;

/* Resolves rel (a path in the archive, or a link target) lexically against base (absolute);
 * false if it does not fit. */
static bool s_resolve(const char *base, const char *rel, char *out, size_t size)
{
    char buf[2 * PATH_MAX];
    const char *parts[PATH_DEPTH_MAX];
    size_t depth = 0;
    if (snprintf(buf, sizeof buf, "%s/%s", rel[0] == '/' ? "" : base, rel) >= (int)sizeof buf)
        return false;
    for (char *save = NULL, *p = strtok_r(buf, "/", &save); p != NULL;
         p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            depth -= depth > 0;
            continue;
        }
        if (depth == PATH_DEPTH_MAX)
            return false;
        parts[depth++] = p;
    }
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < depth; i++) {
        int w = snprintf(out + n, size - n, "/%s", parts[i]);
        if (w < 0 || (size_t)w >= size - n)
            return false;
        n += (size_t)w;
    }
    if (depth == 0)
        snprintf(out, size, "/");
    return true;
}

static bool s_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Watches where rel would land if it were taken from the extraction dir or from a directory
 * below it (a link's target is relative to the link's directory), when that is outside the
 * sandbox; inside, the sandbox walk sees it. */
static void s_watch(watch_t *w, const char *rel)
{
    static const char *const below[] = {"", "/sub"};
    for (size_t i = 0; rel != NULL && i < sizeof below / sizeof below[0]; i++) {
        char base[PATH_MAX], where[PATH_MAX];
        snprintf(base, sizeof base, "%s/.%s.tmp.XXXXXX%s", s_upgrades, UPGRADE, below[i]);
        if (w->count == WATCH_MAX || !s_resolve(base, rel, where, sizeof where) ||
            s_under(where, s_root))
            continue;
        watched_t *item = &w->items[w->count++];
        snprintf(item->path, sizeof item->path, "%s", where);
        item->existed = lstat(where, &item->st) == 0;
    }
}

/* Reads the entries of the file as download_install will, and watches the outside paths they
 * name. An archive libarchive cannot read is fine: it will be refused or taken as raw. */
static void s_watch_entries(watch_t *w)
{
    w->count = 0;
    struct archive *a = archive_read_new();
    FZ_CHECK(a != NULL);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, s_file, READ_BLOCK) == ARCHIVE_OK) {
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
            s_watch(w, archive_entry_pathname(e));
            s_watch(w, archive_entry_hardlink(e));
            s_watch(w, archive_entry_symlink(e));
        }
    }
    archive_read_free(a);
}

static bool s_same_times(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
           a->st_size == b->st_size;
}

static void s_check_watched(const watch_t *w)
{
    for (size_t i = 0; i < w->count; i++) {
        const watched_t *item = &w->items[i];
        struct stat st;
        bool exists = lstat(item->path, &st) == 0;
        /* a directory's times change with anything in it (other processes too): what is
         * written into one is watched as its own path */
        bool dir = exists && item->existed && S_ISDIR(st.st_mode) && S_ISDIR(item->st.st_mode);
        if (exists != item->existed ||
            (exists && (st.st_ino != item->st.st_ino || st.st_dev != item->st.st_dev)) ||
            (exists && !dir && !s_same_times(&st, &item->st))) {
            fprintf(stderr, "fuzz_archive: %s was changed by the extraction\n", item->path);
            FZ_CHECK(!"a path outside the upgrade directory changed");
        }
    }
}

/* ---- the sandbox after the install ---- */

/* The names in dir, but . and ..; FZ_CHECK fails unless they are exactly those of want. */
static void s_expect_dir(const char *dir, const char *const want[], size_t nwant)
{
    DIR *d = opendir(dir);
    FZ_CHECK(d != NULL);
    size_t seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < nwant; i++)
            known = known || strcmp(e->d_name, want[i]) == 0;
        if (!known) {
            fprintf(stderr, "fuzz_archive: unexpected %s/%s\n", dir, e->d_name);
            FZ_CHECK(!"written outside the upgrade directory, or a temp dir left behind");
        }
        seen++;
    }
    closedir(d);
    FZ_CHECK(seen == nwant);
}

/* The installed tree: files, directories and symlinks only; every symlink stays inside it; every
 * hard link of a file is inside it (each multiply-linked inode is seen st_nlink times). */
typedef struct {
    ino_t ino;
    nlink_t nlink;
} sighting_t;

#define SIGHTINGS_MAX 4096
static sighting_t s_seen[SIGHTINGS_MAX];
static size_t s_nseen;
static bool s_seen_overflow;

static int s_check_node(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX], dir[PATH_MAX], where[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        FZ_CHECK(n >= 0);
        target[n] = '\0';
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        if (!s_resolve(dir, target, where, sizeof where) || !s_under(where, s_target)) {
            fprintf(stderr, "fuzz_archive: %s -> %s leaves the upgrade\n", path, target);
            FZ_CHECK(!"a symlink points outside the upgrade directory");
        }
    } else if (S_ISREG(st->st_mode)) {
        if (st->st_nlink > 1 && s_nseen < SIGHTINGS_MAX)
            s_seen[s_nseen++] = (sighting_t){.ino = st->st_ino, .nlink = st->st_nlink};
        else if (st->st_nlink > 1)
            s_seen_overflow = true;
    } else {
        FZ_CHECK(S_ISDIR(st->st_mode));
    }
    return 0;
}

static int s_by_ino(const void *a, const void *b)
{
    ino_t x = ((const sighting_t *)a)->ino, y = ((const sighting_t *)b)->ino;
    return x < y ? -1 : x > y;
}

static void s_check_tree(void)
{
    s_nseen = 0;
    s_seen_overflow = false;
    FZ_CHECK(nftw(s_target, s_check_node, NFTW_FDS, FTW_PHYS) == 0);
    if (s_seen_overflow)
        return;
    qsort(s_seen, s_nseen, sizeof s_seen[0], s_by_ino);
    for (size_t i = 0; i < s_nseen;) {
        size_t j = i;
        while (j < s_nseen && s_seen[j].ino == s_seen[i].ino)
            j++;
        if (j - i != s_seen[i].nlink) {
            fprintf(stderr, "fuzz_archive: inode %lu has %lu links, %zu in the upgrade\n",
                    (unsigned long)s_seen[i].ino, (unsigned long)s_seen[i].nlink, j - i);
            FZ_CHECK(!"a file is hard-linked to one outside the upgrade directory");
        }
        i = j;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_begin_input();
    if (size > ARCHIVE_FUZZ_MAX || fz_write_file(s_file, data, size) != 0)
        return 0;
    struct stat input_before;
    FZ_CHECK(stat(s_file, &input_before) == 0);
    static watch_t watch;
    s_watch_entries(&watch);

    wv_err_t err = {{0}};
    int rc = download_install(s_file, s_upgrades, UPGRADE, DAEMON, &err);

    static const char *const box[] = {"root"};
    static const char *const root[] = {"in", "upgrades"};
    static const char *const in[] = {"upgrade.bin"};
    static const char *const upgrades[] = {UPGRADE};
    s_expect_dir(s_box, box, 1);
    s_expect_dir(s_root, root, 2);
    s_expect_dir(s_in, in, 1);
    s_expect_dir(s_upgrades, upgrades, rc == 0 ? 1 : 0);
    s_check_watched(&watch);
    struct stat input_after;
    FZ_CHECK(stat(s_file, &input_after) == 0 && input_after.st_ino == input_before.st_ino &&
             s_same_times(&input_after, &input_before));
    if (rc == 0) {
        char bin[PATH_MAX];
        struct stat st;
        snprintf(bin, sizeof bin, "%s/bin/%s", s_target, DAEMON);
        FZ_CHECK(lstat(bin, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0);
        s_check_tree();
        FZ_CHECK(fz_rm_rf(s_target) == 0);
    } else {
        FZ_CHECK(err.msg[0] != '\0');
    }
    return 0;
}
