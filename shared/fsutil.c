/* fsutil: atomic writes, copies, symlink switches and bounded reads.
 * Nothing here logs; errors name the path and the system's reason. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fts.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK (256 * 1024)

int fs_join(char *buf, size_t size, wv_err_t *err, const char *first, ...)
{
    size_t len = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *part = first; part != NULL; part = va_arg(ap, const char *)) {
        int n = snprintf(buf + len, size - len, "%s%s", len > 0 ? "/" : "", part);
        if (n < 0 || (size_t)n >= size - len) {
            va_end(ap);
            return err_set(err, "path too long: %s/...%s", first, part);
        }
        len += (size_t)n;
    }
    va_end(ap);
    return 0;
}

static int s_dirname(const char *path, char *buf, size_t size, wv_err_t *err)
{
    if (snprintf(buf, size, "%s", path) >= (int)size)
        return err_set(err, "path too long: %s", path);
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        snprintf(buf, size, ".");
    else if (slash == buf)
        buf[1] = '\0';
    else
        *slash = '\0';
    return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, wv_err_t *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(err, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return err_sys(err, "cannot create directory %s", buf);
        if (!fs_is_dir(buf))
            return err_set(err, "%s exists and is not a directory; move it away", buf);
        *p = saved;
        if (saved == '\0')
            break;
    }
    return 0;
}

int fs_fsync_dir(const char *dir, wv_err_t *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot open directory %s", dir);
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return err_sys(err, "cannot fsync directory %s", dir);
    return 0;
}

/* Opens a fresh temp file beside path; its name goes to tmp. */
static int s_open_temp(const char *path, mode_t mode, char *tmp, size_t size, wv_err_t *err)
{
    if (snprintf(tmp, size, "%s.tmp.XXXXXX", path) >= (int)size)
        return err_set(err, "path too long: %s", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot create a temporary file beside %s", path);
    int rc = fs_temp_hold(fd, tmp, err);
    if (rc == 0 && fchmod(fd, mode) != 0)
        rc = err_sys(err, "cannot set the mode of %s", tmp);
    if (rc != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

static int s_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync + rename + close + fsync of the directory; removes tmp on failure. The temp is renamed
 * while still open, so its lock (fs_temp_hold) lasts as long as its temporary name. */
static int s_commit_temp(int fd, const char *tmp, const char *path, wv_err_t *err)
{
    if (fsync(fd) != 0) {
        err_sys(err, "cannot fsync %s", tmp);
        unlink(tmp);
        close(fd);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        err_sys(err, "cannot rename %s to %s", tmp, path);
        unlink(tmp);
        close(fd);
        return -1;
    }
    if (close(fd) != 0)
        return err_sys(err, "cannot close %s", path);
    char dir[PATH_MAX];
    if (s_dirname(path, dir, sizeof dir, err) != 0)
        return -1;
    return fs_fsync_dir(dir, err);
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, wv_err_t *err)
{
    char tmp[PATH_MAX];
    int fd = s_open_temp(path, mode, tmp, sizeof tmp, err);
    if (fd < 0)
        return -1;
    if (s_write_all(fd, data, len) != 0) {
        err_sys(err, "cannot write %s", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    return s_commit_temp(fd, tmp, path, err);
}

int fs_copy_file(const char *src, const char *dst, mode_t mode, wv_err_t *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return err_sys(err, "cannot open %s", src);
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return err_set(err, "%s is not a regular file", src);
    }
    char tmp[PATH_MAX];
    int out = s_open_temp(dst, mode, tmp, sizeof tmp, err);
    if (out < 0) {
        close(in);
        return -1;
    }
    char *chunk = malloc(COPY_CHUNK);
    if (chunk == NULL) {
        close(in);
        close(out);
        unlink(tmp);
        return err_set(err, "out of memory");
    }
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, chunk, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = err_sys(err, "cannot read %s", src);
            break;
        }
        if (n == 0)
            break;
        if (s_write_all(out, chunk, (size_t)n) != 0) {
            rc = err_sys(err, "cannot write %s", tmp);
            break;
        }
    }
    free(chunk);
    close(in);
    if (rc != 0) {
        close(out);
        unlink(tmp);
        return -1;
    }
    return s_commit_temp(out, tmp, dst, err);
}

int fs_read_file(const char *path, size_t max, char **out, size_t *out_len, wv_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, "%s is not a regular file", path);
    }
    char *buf = malloc(max + 1);
    if (buf == NULL) {
        close(fd);
        return err_set(err, "out of memory");
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(err, "cannot read %s", path);
            free(buf);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            free(buf);
            close(fd);
            return err_set(err, "%s is larger than %zu bytes", path, max);
        }
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    if (out_len != NULL)
        *out_len = len;
    return 0;
}

int fs_symlink_replace(const char *target, const char *linkpath, wv_err_t *err)
{
    struct stat st;
    if (lstat(linkpath, &st) == 0 && !S_ISLNK(st.st_mode))
        return err_set(err, "%s exists and is not a symlink; move it away and run again", linkpath);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.new.%ld", linkpath, (long)getpid()) >= (int)sizeof tmp)
        return err_set(err, "path too long: %s", linkpath);
    unlink(tmp); /* a leftover of an earlier crash of this same pid number */
    if (symlink(target, tmp) != 0)
        return err_sys(err, "cannot create symlink %s", tmp);
    if (rename(tmp, linkpath) != 0) {
        err_sys(err, "cannot rename %s to %s", tmp, linkpath);
        unlink(tmp);
        return -1;
    }
    char dir[PATH_MAX];
    if (s_dirname(linkpath, dir, sizeof dir, err) != 0)
        return -1;
    return fs_fsync_dir(dir, err);
}

int fs_readlink(const char *path, char *buf, size_t size, wv_err_t *err)
{
    ssize_t n = readlink(path, buf, size - 1);
    if (n < 0)
        return err_sys(err, "cannot read symlink %s", path);
    if ((size_t)n >= size - 1)
        return err_set(err, "symlink %s: target too long", path);
    buf[n] = '\0';
    return 0;
}

bool fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fs_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool fs_is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

int fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    char *roots[] = {(char *)path, NULL};
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    int failed = fts == NULL ? errno : 0;
    FTSENT *f;
    while (fts != NULL && (f = fts_read(fts)) != NULL) {
        int rc = 0, e = 0;
        mode_t mode = f->fts_statp->st_mode & 07777;
        if (f->fts_info == FTS_D) /* before fts reads it: an archive may have made it read-only */
            rc = (mode & S_IRWXU) == S_IRWXU ? 0 : chmod(f->fts_accpath, mode | S_IRWXU);
        else if (f->fts_info == FTS_DP || f->fts_info == FTS_DNR)
            rc = rmdir(f->fts_accpath);
        else if (f->fts_info == FTS_ERR || f->fts_info == FTS_NS)
            e = f->fts_errno;
        else
            rc = unlink(f->fts_accpath);
        if (rc != 0)
            e = errno;
        if (e != 0 && e != ENOENT && failed == 0)
            failed = e;
    }
    if (fts != NULL && errno != 0 && failed == 0) /* fts_read() ends with NULL and errno 0 */
        failed = errno;
    if (fts != NULL)
        fts_close(fts);
    errno = failed;
    return failed == 0 ? 0 : -1;
}

int fs_temp_hold(int fd, const char *path, wv_err_t *err)
{
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        return err_sys(err, "cannot lock the temporary %s", path);
    return 0;
}

int fs_remove_if_abandoned(const char *path, bool *removed, wv_err_t *err)
{
    *removed = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno != ELOOP) /* a symlink is never one of ours: left alone */
            return err_sys(err, "cannot open %s", path);
        return 0;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return 0; /* its writer is alive */
        errno = e;
        return err_sys(err, "cannot lock %s", path);
    }
    int rc = fs_remove_tree(path); /* under the lock: no writer can take it meanwhile */
    int e = errno;
    close(fd);
    if (rc != 0) {
        errno = e;
        return err_sys(err, "cannot remove %s", path);
    }
    *removed = true;
    return 0;
}
