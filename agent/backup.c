/* backup: the data dir into a pax archive (zstd, gzip or none) hashed while it is written, and
 * back through libarchive's secure extraction and a rename swap. Not a scheduler, not a worker. */
#include "backup.h"
#include "backup_internal.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_MS 2000
#define SPACE_MARGIN_DIVISOR 20 /* 5 % on top of the data's size */
/* Chain data is mostly compressed already (snappy SST and freezer files). Measured on 1 GiB of
 * such data, 2 CPUs, warm cache: no compression 1.5 s; zstd level 1 1.65 s (98.8 % of the size),
 * level 3 1.8 s with threads, 2.0 s without (98.6 %); gzip 27 s at level 1 or 6 (98.7 %).
 * So the fastest levels: zstd costs almost nothing over a plain copy, gzip is for old tools. */
#define ZSTD_LEVEL "1"
#define GZIP_LEVEL "1"
/* Archive names: <label>-<YYYYmmddTHHMMSSZ><ext>, e.g. manual-20250102T030405Z.tar.zst. */
#define STAMP_FORMAT "%Y%m%dT%H%M%SZ"
#define STAMP_LEN 16
#define NAME_TRIES 60 /* a name taken in this second: try the following seconds */
#define PROBE_PREFIX ".wemixvisor-probe." /* backup_check_writable()'s empty temp file */
#define TEMP_INFIX ".tmp."                /* <archive>.tmp.XXXXXX, <archive>.sha256.tmp.XXXXXX */
#define TEMP_SUFFIX_LEN 6                 /* the XXXXXX of mkostemp */
#define DEAD_TEMP_AGE_S 60 /* an unlocked temp file unchanged this long is a dead backup's */
#define LABEL_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define DISK_READ_FLAGS                                                                            \
    (ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS |            \
     ARCHIVE_READDISK_NO_SPARSE)

static const struct {
    const char *name;
    const char *ext;
} s_compressions[] = {
    [BACKUP_ZSTD] = {"zstd", ".tar.zst"},
    [BACKUP_GZIP] = {"gzip", ".tar.gz"},
    [BACKUP_NONE] = {"none", ".tar"},
};
#define COMPRESSION_COUNT (sizeof s_compressions / sizeof s_compressions[0])

int backup_compression_parse(const char *text, backup_compression_t *out)
{
    for (size_t i = 0; i < COMPRESSION_COUNT; i++) {
        if (strcmp(text, s_compressions[i].name) == 0) {
            *out = (backup_compression_t)i;
            return 0;
        }
    }
    return -1;
}

const char *backup_compression_name(backup_compression_t c)
{
    return (size_t)c < COMPRESSION_COUNT ? s_compressions[c].name : "unknown";
}

uint64_t backup_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void backup_progress_add(backup_progress_t *p, uint64_t n)
{
    p->done += n;
    uint64_t now = backup_now_ms();
    if (now - p->last_ms >= PROGRESS_INTERVAL_MS) {
        log_info("backup", "progress", LF_INT("bytes", p->done), LF_INT("total", p->total));
        p->last_ms = now;
    }
}

/* Copies path into buf without trailing slashes ("/" stays "/"). */
int backup_clean_path(const char *path, char *buf, size_t size, wv_err_t *err)
{
    if (snprintf(buf, size, "%s", path) >= (int)size)
        return err_set(err, "path too long: %s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    return 0;
}

void backup_dirname(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        snprintf(buf, size, ".");
    else if (slash == buf)
        buf[1] = '\0';
    else
        *slash = '\0';
}

void backup_hex(const unsigned char *md, unsigned len, char *out)
{
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int s_label_check(const char *label, wv_err_t *err)
{
    size_t len = strlen(label);
    if (len == 0 || len > BACKUP_LABEL_MAX || label[0] == '.' || strspn(label, LABEL_CHARS) != len)
        return err_set(err,
                       "backup label \"%.140s\": use 1 to %d of A-Z a-z 0-9 . _ - (not starting "
                       "with .)",
                       label, BACKUP_LABEL_MAX);
    return 0;
}

/* The reason for a failed write, with what to do when the disk is full. */
int backup_write_failed(wv_err_t *err, const char *path, int errnum, const char *dir)
{
    if (errnum == ENOSPC || errnum == EDQUOT)
        return err_set(err, "cannot write %s: %s; free space in %s", path, strerror(errnum), dir);
    return err_set(err, "cannot write %s: %s", path, strerror(errnum ? errnum : EIO));
}

typedef int(visit_fn)(void *ctx, const FTSENT *f, const char *rel, wv_err_t *err);

/* Visits root and everything below it, not following symlinks below root (root itself may be
 * one), directories before their content; rel is the path relative to root, "." for root. */
static int s_walk(const char *root, visit_fn *visit, void *ctx, wv_err_t *err)
{
    char *roots[] = {(char *)root, NULL};
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_COMFOLLOW | FTS_NOCHDIR, NULL);
    if (fts == NULL)
        return err_sys(err, "cannot read %s", root);
    size_t root_len = strlen(root);
    int rc = 0;
    FTSENT *f;
    while (rc == 0 && (f = fts_read(fts)) != NULL) {
        if (f->fts_info == FTS_DNR || f->fts_info == FTS_ERR || f->fts_info == FTS_NS ||
            f->fts_info == FTS_DC)
            rc = err_set(err, "cannot read %s: %s; check its permissions", f->fts_path,
                         strerror(f->fts_errno ? f->fts_errno : ELOOP));
        else if (f->fts_info != FTS_DP) {
            const char *rel = f->fts_path + root_len;
            while (*rel == '/')
                rel++;
            rc = visit(ctx, f, f->fts_level == 0 ? "." : rel, err);
        }
    }
    if (rc == 0 && errno != 0) /* fts_read() ends with NULL and errno 0, or fails */
        rc = err_sys(err, "cannot read %s", root);
    fts_close(fts);
    return rc;
}

static int s_add_size(void *ctx, const FTSENT *f, const char *rel, wv_err_t *err)
{
    (void)rel;
    (void)err;
    if (f->fts_info == FTS_F)
        *(uint64_t *)ctx += (uint64_t)f->fts_statp->st_size;
    return 0;
}

int backup_dir_size(const char *dir, uint64_t *bytes, wv_err_t *err)
{
    uint64_t sum = 0;
    if (s_walk(dir, s_add_size, &sum, err) != 0)
        return -1;
    *bytes = sum;
    return 0;
}

uint64_t backup_room_needed(uint64_t data_bytes)
{
    uint64_t margin = data_bytes / SPACE_MARGIN_DIVISOR + (data_bytes % SPACE_MARGIN_DIVISOR != 0);
    return data_bytes + margin;
}

int backup_free_space(const char *backup_dir, uint64_t *free_bytes, char *where, size_t where_size,
                      wv_err_t *err)
{
    /* The backup dir may not exist yet: its nearest existing parent holds the space. */
    char dir[PATH_MAX];
    if (backup_clean_path(backup_dir, dir, sizeof dir, err) != 0)
        return -1;
    struct statvfs vfs;
    while (statvfs(dir, &vfs) != 0) {
        if (errno != ENOENT || strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
            return err_sys(err, "cannot read the free space of %s", dir);
        char parent[PATH_MAX];
        backup_dirname(dir, parent, sizeof parent);
        snprintf(dir, sizeof dir, "%s", parent);
    }
    *free_bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (where != NULL)
        snprintf(where, where_size, "%s", dir);
    return 0;
}

int backup_check_room(const char *data_dir, uint64_t data_bytes, const char *backup_dir,
                      wv_err_t *err)
{
    char dir[PATH_MAX];
    uint64_t free_bytes;
    if (backup_free_space(backup_dir, &free_bytes, dir, sizeof dir, err) != 0)
        return -1;
    uint64_t need = backup_room_needed(data_bytes);
    if (need > free_bytes)
        return err_set(err,
                       "not enough space for a backup of %s: it needs %llu bytes (%.1f MiB: the "
                       "data + 5 %%) and %s has %llu bytes (%.1f MiB) free; free space in %s or "
                       "point DAEMON_DATA_BACKUP_DIR at a larger disk",
                       data_dir, (unsigned long long)need, (double)need / MIB, dir,
                       (unsigned long long)free_bytes, (double)free_bytes / MIB, dir);
    return 0;
}

int backup_check_space(const char *data_dir, const char *backup_dir, wv_err_t *err)
{
    uint64_t data;
    if (backup_dir_size(data_dir, &data, err) != 0)
        return -1;
    return backup_check_room(data_dir, data, backup_dir, err);
}

static bool s_parse_name(const char *name, char *label, time_t *created);

/* A temp file of this module: <archive name>[.sha256].tmp.XXXXXX, or the writable probe. */
static int s_is_temp_name(const struct dirent *de)
{
    const char *name = de->d_name;
    if (strncmp(name, PROBE_PREFIX, strlen(PROBE_PREFIX)) == 0)
        return 1;
    size_t tail = strlen(TEMP_INFIX) + TEMP_SUFFIX_LEN, sum_len = strlen(SUM_SUFFIX);
    size_t len = strlen(name);
    if (len <= tail || strncmp(name + len - tail, TEMP_INFIX, strlen(TEMP_INFIX)) != 0)
        return 0;
    len -= tail; /* the archive's (or its checksum file's) name */
    if (len > sum_len && strncmp(name + len - sum_len, SUM_SUFFIX, sum_len) == 0)
        len -= sum_len;
    char base[NAME_MAX + 1], label[BACKUP_LABEL_MAX + 1];
    snprintf(base, sizeof base, "%.*s", (int)len, name);
    time_t created;
    return s_parse_name(base, label, &created);
}

/* Removes what backups that died (a power cut, kill -9) left: a backup holds a lock on its temp
 * file while it writes, so a temp file nobody locks that has not changed for a minute is garbage,
 * and it would keep its space from the next backup. */
static void s_remove_dead_temps(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, s_is_temp_name, NULL);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        bool removed = false;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path &&
            lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            time(NULL) - st.st_mtime >= DEAD_TEMP_AGE_S &&
            fs_remove_if_abandoned(path, &removed, NULL) == 0 && removed)
            log_warn("backup", "removed the temp file of a backup that did not finish",
                     LF_STR("path", path), LF_INT("bytes", st.st_size));
        free(names[i]);
    }
    if (n >= 0)
        free(names);
}

int backup_check_writable(const char *backup_dir, wv_err_t *err)
{
    assert(backup_dir);
    char dir[PATH_MAX], probe[PATH_MAX];
    if (backup_clean_path(backup_dir, dir, sizeof dir, err) != 0)
        return -1;
    wv_err_t why = {{0}};
    if (fs_mkdir_p(dir, BACKUP_DIR_MODE, &why) != 0)
        return err_set(err,
                       "backup dir %s cannot be created (%s); point DAEMON_DATA_BACKUP_DIR at a "
                       "writable directory",
                       dir, why.msg);
    s_remove_dead_temps(dir);
    if (snprintf(probe, sizeof probe, "%s/" PROBE_PREFIX "XXXXXX", dir) >= (int)sizeof probe)
        return err_set(err, "path too long: %s", dir);
    int fd = mkostemp(probe, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOSPC || e == EDQUOT)
            return 0; /* writable, only full: the space check says so with the figures */
        return err_set(err,
                       "backup dir %s is not writable: %s; %s, or point DAEMON_DATA_BACKUP_DIR at "
                       "a writable directory",
                       dir, strerror(e),
                       e == EROFS ? "remount its file system read-write"
                                  : "give this user write access to it");
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* Where the archive's bytes go: hashed, then written to the temp file. */
typedef struct {
    int fd;
    EVP_MD_CTX *md;
    int saved_errno; /* of the failed write, for the message */
} sink_t;

static la_ssize_t s_sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
    sink_t *sink = data;
    if (EVP_DigestUpdate(sink->md, buf, len) != 1) {
        sink->saved_errno = EIO;
        archive_set_error(a, EIO, "SHA-256 failed");
        return -1;
    }
    const char *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(sink->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sink->saved_errno = errno;
            archive_set_error(a, errno, "write failed");
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    return (la_ssize_t)len;
}

/* One archive being written from a tree. */
typedef struct {
    struct archive *out;
    struct archive *disk; /* only for archive_read_disk_entry_from_file() */
    struct archive_entry_linkresolver *links;
    struct archive_entry *entry;
    char *buf;
    sink_t sink;
    backup_progress_t progress;
    const char *path;       /* the archive's final name, for messages */
    const char *backup_dir; /* where space must be freed when the disk is full */
} writer_t;

static int s_out_failed(writer_t *w, wv_err_t *err)
{
    if (w->sink.saved_errno != 0)
        return backup_write_failed(err, w->path, w->sink.saved_errno, w->backup_dir);
    const char *why = archive_error_string(w->out);
    return err_set(err, "cannot write %s: %s", w->path, why ? why : "libarchive error");
}

static void s_filter_option(struct archive *a, const char *filter, const char *key,
                            const char *value)
{
    if (archive_write_set_filter_option(a, filter, key, value) != ARCHIVE_OK) {
        const char *why = archive_error_string(a);
        log_warn("backup", "compression option not available", LF_STR("option", key),
                 LF_STR("value", value), LF_STR("reason", why ? why : "unknown"));
    }
}

static int s_writer_setup(writer_t *w, backup_compression_t c, wv_err_t *err)
{
    struct archive *a = w->out;
    int r = archive_write_set_format_pax_restricted(a);
    if (r == ARCHIVE_OK && c == BACKUP_ZSTD) {
        r = archive_write_add_filter_zstd(a);
        if (r >= ARCHIVE_WARN) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            char threads[24];
            snprintf(threads, sizeof threads, "%ld", cpus > 0 ? cpus : 1L);
            s_filter_option(a, "zstd", "compression-level", ZSTD_LEVEL);
            s_filter_option(a, "zstd", "threads", threads);
        }
    } else if (r == ARCHIVE_OK && c == BACKUP_GZIP) {
        r = archive_write_add_filter_gzip(a);
        if (r >= ARCHIVE_WARN)
            s_filter_option(a, "gzip", "compression-level", GZIP_LEVEL);
    }
    if (r < ARCHIVE_WARN)
        return err_set(err, "cannot set up a %s archive: %s", backup_compression_name(c),
                       archive_error_string(a));
    /* Whole 1 MiB writes to the file, and no padding of the last one. */
    archive_write_set_bytes_per_block(a, IO_BUF_SIZE);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_entry_linkresolver_set_strategy(w->links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    archive_read_disk_set_behavior(w->disk, DISK_READ_FLAGS);
    archive_read_disk_set_symlink_physical(w->disk);
    if (archive_write_open2(a, &w->sink, NULL, s_sink_write, NULL, NULL) != ARCHIVE_OK)
        return s_out_failed(w, err);
    return 0;
}

/* Streams size bytes of fd into the current entry. */
static int s_copy_file_data(writer_t *w, int fd, const char *path, uint64_t size, wv_err_t *err)
{
    uint64_t left = size;
    while (left > 0) {
        size_t want = left < IO_BUF_SIZE ? (size_t)left : IO_BUF_SIZE;
        ssize_t n = read(fd, w->buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_sys(err, "cannot read %s", path);
        if (n == 0)
            return err_set(err, "%s shrank while it was archived; stop the node before a backup",
                           path);
        if (archive_write_data(w->out, w->buf, (size_t)n) != n)
            return s_out_failed(w, err);
        left -= (uint64_t)n;
        backup_progress_add(&w->progress, (uint64_t)n);
        fault_pause("backup-data"); /* the fault suite fills the disk here */
    }
    return 0;
}

/* Adds one file, directory, symlink or special file under the name rel; the root is ".",
 * which carries the data dir's own mode and mtime. */
static int s_add_entry(void *ctx, const FTSENT *f, const char *rel, wv_err_t *err)
{
    writer_t *w = ctx;
    if (S_ISSOCK(f->fts_statp->st_mode)) {
        /* a node's IPC socket (geth.ipc): tar cannot hold it, and the node makes a new one */
        log_info("backup", "socket skipped", LF_STR("path", f->fts_path));
        return 0;
    }
    int fd = -1;
    struct stat st = *f->fts_statp;
    if (f->fts_info == FTS_F) {
        fd = open(f->fts_accpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
            err_sys(err, "cannot read %s; check its permissions", f->fts_path);
            if (fd >= 0)
                close(fd);
            return -1;
        }
    }
    struct archive_entry *e = w->entry, *spare = NULL;
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, rel);
    archive_entry_copy_sourcepath(e, f->fts_path); /* where a symlink's target is read */
    int rc = 0;
    if (archive_read_disk_entry_from_file(w->disk, e, fd, &st) < ARCHIVE_WARN) {
        rc = err_set(err, "cannot read %s: %s", f->fts_path, archive_error_string(w->disk));
        goto done;
    }
    archive_entry_linkify(w->links, &e, &spare); /* a second hard link becomes a link entry */
    if (archive_write_header(w->out, e) < ARCHIVE_WARN) {
        rc = s_out_failed(w, err);
        goto done;
    }
    if (fd >= 0 && archive_entry_hardlink(e) == NULL && st.st_size > 0)
        rc = s_copy_file_data(w, fd, f->fts_path, (uint64_t)st.st_size, err);
    if (rc == 0 && archive_write_finish_entry(w->out) < ARCHIVE_WARN)
        rc = s_out_failed(w, err);
done:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Writes the archive of data to fd and puts its SHA-256 (hex) in hex. */
static int s_write_archive(int fd, const char *path, const char *data, const char *backup_dir,
                           backup_compression_t c, char *hex, wv_err_t *err)
{
    writer_t w = {
        .out = archive_write_new(),
        .disk = archive_read_disk_new(),
        .links = archive_entry_linkresolver_new(),
        .entry = archive_entry_new(),
        .buf = malloc(IO_BUF_SIZE),
        .sink = {.fd = fd, .md = EVP_MD_CTX_new()},
        .path = path,
        .backup_dir = backup_dir,
    };
    int rc = -1;
    uint64_t total = 0;
    if (w.out == NULL || w.disk == NULL || w.links == NULL || w.entry == NULL || w.buf == NULL ||
        w.sink.md == NULL) {
        err_set(err, "out of memory");
        goto done;
    }
    if (EVP_DigestInit_ex(w.sink.md, EVP_sha256(), NULL) != 1) {
        err_set(err, "SHA-256 is not available from OpenSSL");
        goto done;
    }
    if (backup_dir_size(data, &total, err) != 0 || s_writer_setup(&w, c, err) != 0)
        goto done;
    w.progress = (backup_progress_t){.total = total, .last_ms = backup_now_ms()};
    if (s_walk(data, s_add_entry, &w, err) != 0)
        goto done;
    if (archive_write_close(w.out) != ARCHIVE_OK) {
        s_out_failed(&w, err);
        goto done;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (EVP_DigestFinal_ex(w.sink.md, md, &md_len) != 1) {
        err_set(err, "SHA-256 failed");
        goto done;
    }
    backup_hex(md, md_len, hex);
    log_info("backup", "progress", LF_INT("bytes", w.progress.done), LF_INT("total", total));
    rc = 0;
done: /* each of these takes NULL */
    archive_write_free(w.out);
    archive_read_free(w.disk);
    archive_entry_linkresolver_free(w.links);
    archive_entry_free(w.entry);
    EVP_MD_CTX_free(w.sink.md);
    free(w.buf);
    return rc;
}

/* A name in backup_dir that neither an archive nor a checksum file has yet. */
static int s_pick_name(const char *backup_dir, const char *label, backup_compression_t c, char *buf,
                       size_t size, wv_err_t *err)
{
    time_t now = time(NULL);
    for (int i = 0; i < NAME_TRIES; i++) {
        time_t t = now + i;
        struct tm tm;
        char stamp[STAMP_LEN + 1], sum[PATH_MAX];
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, STAMP_FORMAT, &tm);
        if (snprintf(buf, size, "%s/%s-%s%s", backup_dir, label, stamp, s_compressions[c].ext) >=
                (int)size ||
            snprintf(sum, sizeof sum, "%s%s", buf, SUM_SUFFIX) >= (int)sizeof sum)
            return err_set(err, "path too long: %s/%s-...", backup_dir, label);
        struct stat st;
        if (lstat(buf, &st) != 0 && errno == ENOENT && lstat(sum, &st) != 0 && errno == ENOENT)
            return 0;
    }
    return err_set(err, "%s: every name for label %s in the next %d s is taken; use another label",
                   backup_dir, label, NAME_TRIES);
}

/* Renames tmp to path unless path exists (the name was picked earlier, and another backup may
 * have taken it since). */
static int s_rename_noreplace(const char *tmp, const char *path, wv_err_t *err)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EINVAL || errno == ENOSYS) { /* a file system without RENAME_NOREPLACE */
        if (link(tmp, path) == 0)
            return unlink(tmp) == 0 ? 0 : err_sys(err, "cannot remove %s", tmp);
    }
    if (errno == EEXIST)
        return err_set(err, "%s appeared while the backup was written; run it again", path);
    return err_sys(err, "cannot rename %s to %s", tmp, path);
}

/* The backup dir must not lie inside the data dir: a backup would hold the earlier ones and a
 * restore would throw them all away. */
static int s_check_outside(const char *data, const char *backup_dir, wv_err_t *err)
{
    char rdata[PATH_MAX], rbackup[PATH_MAX];
    if (realpath(data, rdata) == NULL)
        return err_sys(err, "cannot resolve %s", data);
    if (realpath(backup_dir, rbackup) == NULL)
        return err_sys(err, "cannot resolve %s", backup_dir);
    size_t len = strlen(rdata);
    if (strncmp(rbackup, rdata, len) == 0 && (rbackup[len] == '/' || rbackup[len] == '\0'))
        return err_set(err,
                       "backup dir %s is inside the data dir %s; set DAEMON_DATA_BACKUP_DIR "
                       "outside it",
                       backup_dir, data);
    return 0;
}

int backup_create(const char *data_dir, const char *backup_dir, const char *label,
                  backup_compression_t compression, char *out_path, size_t out_size, wv_err_t *err)
{
    assert(data_dir && backup_dir && label && out_path);
    char data[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], sum[PATH_MAX];
    if (s_label_check(label, err) != 0)
        return -1;
    if ((size_t)compression >= COMPRESSION_COUNT)
        return err_set(err, "unknown compression %d; use zstd, gzip or none", (int)compression);
    if (backup_clean_path(data_dir, data, sizeof data, err) != 0 ||
        backup_clean_path(backup_dir, dir, sizeof dir, err) != 0)
        return -1;
    if (!fs_is_dir(data))
        return err_set(err, "data dir %s is not a directory; check DAEMON_HOME", data);
    if (fs_mkdir_p(dir, BACKUP_DIR_MODE, err) != 0 || s_check_outside(data, dir, err) != 0 ||
        s_pick_name(dir, label, compression, path, sizeof path, err) != 0)
        return -1;
    if (strlen(path) >= out_size)
        return err_set(err, "the archive's path %s does not fit the caller's buffer", path);
    snprintf(sum, sizeof sum, "%s%s", path, SUM_SUFFIX); /* fits: checked by s_pick_name */
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return err_set(err, "path too long: %s", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot create a temporary file in %s", dir);
    if (flock(fd, LOCK_EX) != 0) /* while it is locked, s_remove_dead_temps() leaves it alone */
        log_warn("backup",
                 "cannot lock the temp file; another backup may remove it if this one "
                 "stalls for a minute",
                 LF_STR("path", tmp), LF_STR("reason", strerror(errno)));
    char hex[SHA256_HEX_LEN + 1];
    int rc = fchmod(fd, BACKUP_FILE_MODE) == 0 ? 0 : err_sys(err, "cannot chmod %s", tmp);
    if (rc == 0)
        rc = s_write_archive(fd, path, data, dir, compression, hex, err);
    if (rc == 0 && fsync(fd) != 0)
        rc = backup_write_failed(err, path, errno, dir);
    if (close(fd) != 0 && rc == 0)
        rc = backup_write_failed(err, path, errno, dir);
    if (rc == 0)
        rc = s_rename_noreplace(tmp, path, err);
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    /* sha256sum's format, so `sha256sum -c` in the backup dir checks it too */
    char line[SHA256_HEX_LEN + PATH_MAX + 8];
    int len = snprintf(line, sizeof line, "%s  %s\n", hex, strrchr(path, '/') + 1);
    if (fs_write_atomic(sum, line, (size_t)len, BACKUP_FILE_MODE, err) != 0) {
        unlink(path);
        return err_wrap(err, "checksum of %s", path);
    }
    snprintf(out_path, out_size, "%s", path);
    struct stat st;
    log_info("backup", "created", LF_STR("archive", path),
             LF_INT("bytes", stat(path, &st) == 0 ? st.st_size : 0), LF_STR("sha256", hex));
    return 0;
}

/* Parses <label>-<YYYYmmddTHHMMSSZ><ext>; false for anything else (temp files, checksums). */
static bool s_parse_name(const char *name, char *label, time_t *created)
{
    size_t len = strlen(name), base = 0;
    for (size_t i = 0; i < COMPRESSION_COUNT && base == 0; i++) {
        size_t ext = strlen(s_compressions[i].ext);
        if (len > ext && strcmp(name + len - ext, s_compressions[i].ext) == 0)
            base = len - ext;
    }
    if (base < STAMP_LEN + 2 || name[base - STAMP_LEN - 1] != '-')
        return false;
    size_t label_len = base - STAMP_LEN - 1;
    if (label_len > BACKUP_LABEL_MAX)
        return false;
    char stamp[STAMP_LEN + 1];
    memcpy(label, name, label_len);
    label[label_len] = '\0';
    memcpy(stamp, name + base - STAMP_LEN, STAMP_LEN);
    stamp[STAMP_LEN] = '\0';
    if (s_label_check(label, NULL) != 0)
        return false;
    struct tm tm = {0};
    char *end = strptime(stamp, STAMP_FORMAT, &tm);
    if (end == NULL || *end != '\0')
        return false;
    time_t t = timegm(&tm);
    char again[STAMP_LEN + 1]; /* refuses what strptime accepts loosely (single digits) */
    if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL ||
        strftime(again, sizeof again, STAMP_FORMAT, &tm) != STAMP_LEN || strcmp(again, stamp) != 0)
        return false;
    *created = t;
    return true;
}

static int s_newest_first(const void *a, const void *b)
{
    const backup_entry_t *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return -strcmp(x->path, y->path);
}

static int s_is_archive(const struct dirent *de)
{
    char label[BACKUP_LABEL_MAX + 1];
    time_t created;
    return s_parse_name(de->d_name, label, &created);
}

int backup_list(const char *backup_dir, backup_entry_t **entries, size_t *count, wv_err_t *err)
{
    assert(backup_dir && entries && count);
    *entries = NULL;
    *count = 0;
    struct dirent **names;
    int n = scandir(backup_dir, &names, s_is_archive, NULL);
    if (n < 0)
        return errno == ENOENT ? 0 : err_sys(err, "cannot read backup dir %s", backup_dir);
    backup_entry_t *list = calloc((size_t)n + 1, sizeof *list);
    size_t kept = 0;
    for (int i = 0; i < n; i++) {
        backup_entry_t *e = list ? &list[kept] : NULL;
        struct stat st;
        if (e != NULL && s_parse_name(names[i]->d_name, e->label, &e->created) &&
            snprintf(e->path, sizeof e->path, "%s/%s", backup_dir, names[i]->d_name) <
                (int)sizeof e->path &&
            lstat(e->path, &st) == 0 && S_ISREG(st.st_mode)) {
            e->bytes = (uint64_t)st.st_size;
            kept++;
        }
        free(names[i]);
    }
    free(names);
    if (list == NULL)
        return err_set(err, "out of memory");
    qsort(list, kept, sizeof *list, s_newest_first);
    *entries = list;
    *count = kept;
    return 0;
}

int backup_clean(const char *backup_dir, uint64_t max_age_s, size_t keep, size_t *removed,
                 wv_err_t *err)
{
    assert(backup_dir && removed);
    *removed = 0;
    backup_entry_t *list;
    size_t n;
    if (backup_list(backup_dir, &list, &n, err) != 0)
        return -1;
    time_t now = time(NULL);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool too_old =
            max_age_s > 0 && list[i].created < now && (uint64_t)(now - list[i].created) > max_age_s;
        bool beyond_keep = keep > 0 && i >= keep;
        if (!too_old && !beyond_keep)
            continue;
        char sum[PATH_MAX + sizeof SUM_SUFFIX];
        snprintf(sum, sizeof sum, "%s%s", list[i].path, SUM_SUFFIX);
        if (unlink(list[i].path) != 0 && errno != ENOENT)
            rc = err_sys(err, "cannot remove %s", list[i].path);
        else if (unlink(sum) != 0 && errno != ENOENT)
            rc = err_sys(err, "cannot remove %s", sum);
        else {
            log_info("backup", "removed", LF_STR("archive", list[i].path));
            (*removed)++;
        }
    }
    free(list);
    if (rc == 0 && *removed > 0)
        rc = fs_fsync_dir(backup_dir, err);
    return rc;
}
