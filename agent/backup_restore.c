/* backup_restore: an archive read back — its checksum, libarchive's secure extraction into a
 * temporary dir beside the data dir, and an atomic swap into place (see backup.h). */
#include "backup.h"
#include "backup_internal.h"
#include "fsutil.h"
#include "log.h"

#include <archive_entry.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads the hex digest of <archive>.sha256 into hex (lower case). */
static int s_read_sum(const char *archive, char *hex, wv_err_t *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s", archive, SUM_SUFFIX) >= (int)sizeof path)
        return err_set(err, "path too long: %s", archive);
    if (!fs_is_file(path))
        return err_set(err,
                       "%s has no checksum file %s; the backup was not completed or was copied "
                       "without it: do not restore it",
                       archive, path);
    char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, SUM_FILE_MAX, &text, &len, err) != 0)
        return -1;
    bool ok = len > SHA256_HEX_LEN + 2 && text[SHA256_HEX_LEN] == ' ' &&
              (text[SHA256_HEX_LEN + 1] == ' ' || text[SHA256_HEX_LEN + 1] == '*');
    for (size_t i = 0; ok && i < SHA256_HEX_LEN; i++) {
        ok = isxdigit((unsigned char)text[i]);
        hex[i] = (char)tolower((unsigned char)text[i]);
    }
    hex[SHA256_HEX_LEN] = '\0';
    free(text);
    if (!ok)
        return err_set(err, "%s is not a sha256sum line (<64 hex digits>  <name>)", path);
    return 0;
}

/* Reads an archive for libarchive, hashing every byte (and logging progress) on the way. */
typedef struct {
    int fd;
    EVP_MD_CTX *md;
    char *buf;
    bool eof;
    int saved_errno;
    backup_progress_t progress;
} source_t;

static ssize_t s_source_fill(source_t *src)
{
    for (;;) {
        ssize_t n = read(src->fd, src->buf, IO_BUF_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            src->saved_errno = errno;
            return -1;
        }
        if (n == 0)
            src->eof = true;
        else if (EVP_DigestUpdate(src->md, src->buf, (size_t)n) != 1) {
            src->saved_errno = EIO;
            return -1;
        }
        backup_progress_add(&src->progress, (uint64_t)n);
        return n;
    }
}

static la_ssize_t s_source_read(struct archive *a, void *data, const void **buf)
{
    source_t *src = data;
    *buf = src->buf;
    ssize_t n = s_source_fill(src);
    if (n < 0)
        archive_set_error(a, src->saved_errno, "read failed");
    return n;
}

/* Copies every entry of in to out (a disk writer), or only reads through them when out is
 * NULL. The root entry "." is extracted like the others; its mtime goes to *root_mtime. */
static int s_read_entries(struct archive *in, struct archive *out, const char *archive,
                          const char *dest, struct timespec *root_mtime, wv_err_t *err)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return err_set(err, "%s is unreadable: %s", archive, archive_error_string(in));
        if (out == NULL) {
            if (archive_read_data_skip(in) != ARCHIVE_OK)
                return err_set(err, "%s is unreadable: %s", archive, archive_error_string(in));
            continue;
        }
        const char *name = archive_entry_pathname(e);
        if (name != NULL && (strcmp(name, ".") == 0 || strcmp(name, "./") == 0))
            *root_mtime = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        if (archive_write_header(out, e) < ARCHIVE_WARN)
            return err_set(err,
                           "%s: entry \"%s\" refused: %s; this is not a backup made by "
                           "wemixvisor, or it was tampered with",
                           archive, name ? name : "?", archive_error_string(out));
        const void *block;
        size_t size;
        la_int64_t offset;
        while ((r = archive_read_data_block(in, &block, &size, &offset)) == ARCHIVE_OK) {
            if (archive_write_data_block(out, block, size, offset) != ARCHIVE_OK) {
                char path[PATH_MAX], space_dir[PATH_MAX];
                snprintf(path, sizeof path, "%s/%s", dest, name);
                backup_dirname(dest, space_dir, sizeof space_dir);
                return backup_write_failed(err, path, archive_errno(out), space_dir);
            }
        }
        if (r != ARCHIVE_EOF)
            return err_set(err, "%s is unreadable: %s", archive, archive_error_string(in));
        if (archive_write_finish_entry(out) < ARCHIVE_WARN)
            return err_set(err, "cannot restore %s: %s", name, archive_error_string(out));
    }
}

/* Reads the whole archive, extracting it into dest unless dest is NULL, and checks its SHA-256
 * against the .sha256 file. A checksum mismatch is reported before any reading error: it is
 * the better explanation of both. Extraction changes the working directory for its duration
 * (libarchive's secure flags need relative paths), so this is not for threaded callers. */
static int s_read_archive(const char *archive, const char *dest, wv_err_t *err)
{
    char want[SHA256_HEX_LEN + 1];
    source_t src = {.fd = open(archive, O_RDONLY | O_CLOEXEC)};
    struct stat st;
    if (src.fd < 0 || fstat(src.fd, &st) != 0) {
        int e = errno;
        if (src.fd >= 0)
            close(src.fd);
        return err_set(err, "cannot read %s: %s%s", archive, strerror(e),
                       e == ENOENT ? "; see `wemixvisor backup list`" : "");
    }
    if (s_read_sum(archive, want, err) != 0) {
        close(src.fd);
        return -1;
    }
    src.md = EVP_MD_CTX_new();
    src.buf = malloc(IO_BUF_SIZE);
    struct archive *in = archive_read_new();
    struct archive *out = dest ? archive_write_disk_new() : NULL;
    int cwd = -1, rc = -1;
    wv_err_t read_err = {{0}};
    struct timespec root_mtime = {0, UTIME_OMIT};
    if (src.md == NULL || src.buf == NULL || in == NULL || (dest && out == NULL)) {
        err_set(err, "out of memory");
        goto done;
    }
    if (EVP_DigestInit_ex(src.md, EVP_sha256(), NULL) != 1) {
        err_set(err, "SHA-256 is not available from OpenSSL");
        goto done;
    }
    src.progress = (backup_progress_t){.total = (uint64_t)st.st_size, .last_ms = backup_now_ms()};
    archive_read_support_format_tar(in);
    archive_read_support_filter_gzip(in);
    archive_read_support_filter_zstd(in);
    if (out != NULL) {
        /* as root, files get back their owners; anyone else can only own what they write */
        archive_write_disk_set_options(out, EXTRACT_FLAGS |
                                                (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0));
        cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0 || chdir(dest) != 0) {
            err_sys(err, "cannot enter %s", dest);
            goto done;
        }
    }
    if (archive_read_open(in, &src, NULL, s_source_read, NULL) != ARCHIVE_OK)
        err_set(&read_err, "%s is unreadable: %s", archive, archive_error_string(in));
    else
        s_read_entries(in, out, archive, dest, &root_mtime, &read_err);
    /* The deferred directory modes and times are set at close, relative to the working
     * directory: close while it is still dest, whether the extraction worked or not. */
    if (out != NULL && archive_write_close(out) != ARCHIVE_OK && read_err.msg[0] == '\0')
        err_set(&read_err, "cannot restore into %s: %s", dest, archive_error_string(out));
    if (cwd >= 0 && fchdir(cwd) != 0) {
        err_sys(err, "cannot return to the working directory");
        goto done;
    }
    while (!src.eof && src.saved_errno == 0) /* libarchive may stop before the file's end */
        s_source_fill(&src);
    if (src.saved_errno != 0) {
        err_set(err, "cannot read %s: %s", archive, strerror(src.saved_errno));
        goto done;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    char got[SHA256_HEX_LEN + 1] = "";
    if (EVP_DigestFinal_ex(src.md, md, &md_len) == 1)
        backup_hex(md, md_len, got);
    if (strcmp(got, want) != 0) {
        err_set(err,
                "%s: checksum mismatch: the file's SHA-256 is %s, %s%s says %s; the archive is "
                "corrupt: do not restore it, use another backup",
                archive, got, archive, SUM_SUFFIX, want);
        goto done;
    }
    if (read_err.msg[0] != '\0') {
        err_set(err, "%s", read_err.msg);
        goto done;
    }
    if (dest != NULL && root_mtime.tv_nsec != UTIME_OMIT) {
        struct timespec times[2] = {{0, UTIME_OMIT}, root_mtime};
        utimensat(AT_FDCWD, dest, times, 0); /* the root's mtime is not worth failing over */
    }
    rc = 0;
done:
    if (cwd >= 0)
        close(cwd);
    archive_read_free(in);
    archive_write_free(out);
    EVP_MD_CTX_free(src.md);
    free(src.buf);
    close(src.fd);
    return rc;
}

int backup_verify(const char *archive, wv_err_t *err)
{
    assert(archive);
    return s_read_archive(archive, NULL, err);
}

/* Puts the restored tree at data in place of what is there, and removes the old content. */
static int s_swap_into_place(const char *restored, const char *data, bool exists,
                             const char *parent, wv_err_t *err)
{
    if (!exists) {
        if (rename(restored, data) != 0)
            return err_sys(err, "cannot rename %s to %s", restored, data);
        return fs_fsync_dir(parent, err);
    }
    char old[PATH_MAX];
    if (snprintf(old, sizeof old, "%s.old.XXXXXX", data) >= (int)sizeof old)
        return err_set(err, "path too long: %s", data);
    if (mkdtemp(old) == NULL)
        return err_sys(err, "cannot create a directory beside %s", data);
    /* One atomic exchange where the file system has it, so data is never missing. */
    if (renameat2(AT_FDCWD, restored, AT_FDCWD, data, RENAME_EXCHANGE) == 0) {
        if (rename(restored, old) != 0) /* the old content, now at the restore dir's name */
            snprintf(old, sizeof old, "%s", restored);
    } else if (errno == EINVAL || errno == ENOSYS) {
        if (rename(data, old) != 0) {
            err_sys(err, "cannot move %s aside to %s", data, old);
            rmdir(old);
            return -1;
        }
        if (rename(restored, data) != 0) {
            err_sys(err, "cannot rename %s to %s", restored, data);
            if (rename(old, data) != 0)
                err_wrap(err, "%s is now at %s; move it back", data, old);
            return -1;
        }
    } else {
        err_sys(err, "cannot swap %s and %s", restored, data);
        rmdir(old);
        return -1;
    }
    if (fs_fsync_dir(parent, err) != 0)
        return -1;
    if (fs_remove_tree(old) != 0)
        log_warn("backup", "the replaced data dir could not be removed; remove it by hand",
                 LF_STR("path", old), LF_STR("reason", strerror(errno)));
    return 0;
}

int backup_restore(const char *archive, const char *data_dir, wv_err_t *err)
{
    assert(archive && data_dir);
    char data[PATH_MAX], parent[PATH_MAX], tmp[PATH_MAX];
    if (backup_clean_path(data_dir, data, sizeof data, err) != 0)
        return -1;
    backup_dirname(data, parent, sizeof parent);
    struct stat st, pst;
    bool exists = lstat(data, &st) == 0;
    if (!exists && errno != ENOENT)
        return err_sys(err, "cannot read %s", data);
    if (exists && !S_ISDIR(st.st_mode))
        return err_set(err,
                       "%s is not a directory (a symlink?); restore replaces it by rename: "
                       "give the real directory",
                       data);
    if (stat(parent, &pst) != 0)
        return err_sys(err, "cannot read %s, the parent of the data dir", parent);
    if (exists && st.st_dev != pst.st_dev)
        return err_set(err,
                       "%s is a mount point: it cannot be replaced by rename; make the data dir "
                       "a directory inside the mounted file system",
                       data);
    if (snprintf(tmp, sizeof tmp, "%s.restore.XXXXXX", data) >= (int)sizeof tmp)
        return err_set(err, "path too long: %s", data);
    if (mkdtemp(tmp) == NULL)
        return err_sys(err, "cannot create a directory beside %s", data);
    /* held while it is filled, so that a sweep at agent start leaves it alone (sweep.h) */
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? err_sys(err, "cannot open %s", tmp) : fs_temp_hold(fd, tmp, err);
    if (rc == 0)
        rc = s_read_archive(archive, tmp, err);
    if (rc == 0 && syncfs(fd) != 0) /* everything on disk before the swap makes it visible */
        rc = backup_write_failed(err, tmp, errno, parent);
    if (rc == 0)
        rc = s_swap_into_place(tmp, data, exists, parent, err);
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        fs_remove_tree(tmp);
        return -1;
    }
    log_info("backup", "restored", LF_STR("archive", archive), LF_STR("data_dir", data));
    return 0;
}
