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

/* rm -rf without following symlinks; directories without write permission (as an archive may
 * create them) are made writable first, so that their content can go too. 0, or -1 with errno
 * of the first thing that could not be removed. A missing path is not an error. */
int fs_remove_tree(const char *path);

/* Temporary files and dirs (those renamed into place when complete) are flock()ed by their
 * writer for as long as it writes, so that a later sweep can tell a writer's leftovers (it died:
 * the lock is free) from work in progress beside it (a CLI command, another process).
 * fs_temp_hold takes that lock on fd (an open temp file or directory; never blocks: the temp is
 * new). fs_remove_if_abandoned removes path (tree or file) unless a live process holds it:
 * *removed says whether it did. */
int fs_temp_hold(int fd, const char *path, wv_err_t *err);
int fs_remove_if_abandoned(const char *path, bool *removed, wv_err_t *err);

bool fs_is_dir(const char *path);
bool fs_is_file(const char *path);
/* A regular file with at least one execute bit. */
bool fs_is_executable(const char *path);

#endif
