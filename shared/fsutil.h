/* fsutil: the file operations an upgrade must not get half right.
 * Every write that replaces something is temp file + fsync + rename + fsync of the directory,
 * so a crash leaves either the old or the new content, never a mix. */
#ifndef WV_FSUTIL_H
#define WV_FSUTIL_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Joins parts with '/' into buf; -1 (with err) if it does not fit. */
int fs_join(char *buf, size_t size, wv_err_t *err, const char *first, ...)
    __attribute__((sentinel));

/* Creates path and its missing parents with mode; an existing directory is fine. */
int fs_mkdir_p(const char *path, mode_t mode, wv_err_t *err);

/* Replaces path with data atomically: temp file in the same directory, fsync, rename, fsync of
 * the directory. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, wv_err_t *err);

/* Copies src to dst atomically (as fs_write_atomic) with mode. */
int fs_copy_file(const char *src, const char *dst, mode_t mode, wv_err_t *err);

/* Reads at most max bytes of a regular file into a NUL-terminated heap buffer. A file larger
 * than max is an error. */
int fs_read_file(const char *path, size_t max, char **out, size_t *out_len, wv_err_t *err);

/* Points linkpath at target (a relative path, kept as given) atomically: a new link under a
 * temporary name, then rename() over linkpath, then fsync of the directory. Refuses to replace
 * anything at linkpath that is not a symlink. */
int fs_symlink_replace(const char *target, const char *linkpath, wv_err_t *err);

/* Reads a symlink's target into buf; -1 if it is not a symlink. */
int fs_readlink(const char *path, char *buf, size_t size, wv_err_t *err);

/* fsync of a directory, so a rename in it survives a power loss. */
int fs_fsync_dir(const char *dir, wv_err_t *err);

bool fs_is_dir(const char *path);
bool fs_is_file(const char *path);
/* A regular file with at least one execute bit. */
bool fs_is_executable(const char *path);

#endif
