/* fuzzutil: what the fuzz targets share: a scratch directory per process (on tmpfs when there is
 * one), recursive removal, whole-file writes, a quiet logger and limits that keep a decompression
 * bomb or a huge copy from filling the disk. Not a fuzz target and not linked outside tests/fuzz.
 */
#ifndef WV_FUZZUTIL_H
#define WV_FUZZUTIL_H

#include "identity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest file a target may write: bigger writes fail with EFBIG instead of filling the disk. */
#define FZ_FILE_SIZE_MAX (16 * 1024 * 1024)

/* Stops a target: the input broke a property the code promises (a sanitizer-style finding). */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__FILE__, __LINE__, #cond);                                                    \
    } while (0)

void fz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* Once per process: log lines go to /dev/null, SIGXFSZ is ignored and writes are limited to
 * FZ_FILE_SIZE_MAX, and a fresh scratch directory (<tmpfs or /tmp>/wvfuzz-<tag>-XXXXXX, removed at
 * exit) is created; returns its path. Aborts when that is impossible: no target can run. */
const char *fz_init(const char *tag);

/* At the start of an input that may write large files: ignores SIGXFSZ again, since libFuzzer
 * installs its own handler after LLVMFuzzerInitialize (which would stop the run on EFBIG). */
void fz_begin_input(void);

/* Removes path and everything below it, not following symlinks; -1 if something stayed. */
int fz_rm_rf(const char *path);

/* Removes everything below dir but keeps dir itself. */
int fz_empty_dir(const char *dir);

/* Creates or replaces path with the len bytes of data; -1 on error. */
int fz_write_file(const char *path, const void *data, size_t len);

/* A NUL-terminated heap copy of data (embedded NULs are kept, so C string parsers see a prefix);
 * aborts when out of memory. */
char *fz_strndup(const uint8_t *data, size_t len);

/* A node's HTTP endpoint in this process (libmicrohttpd on 127.0.0.1, its own thread). Each
 * request's body goes to answer(), which returns the reply body (heap, *len set; NULL drops the
 * connection) and may change *status (200) and *close_after (false; true: Connection: close).
 * Puts "127.0.0.1:<port>" in address; aborts if it cannot start; stops at exit. */
typedef char *(*fz_answer_fn)(void *cls, const char *request, size_t request_len, size_t *len,
                              unsigned *status, bool *close_after);
void fz_http_start(fz_answer_fn answer, void *cls, char *address, size_t size);

/* One of FZ_IDENTITIES fixed Ed25519 keys (the same in every run, so that a seed signed by one
 * verifies next time too), loaded once; aborts if it cannot be. */
#define FZ_IDENTITIES 2
const identity_t *fz_identity(int which);

#endif
