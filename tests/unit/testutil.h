/* testutil: the fixtures the unit tests share (cmocka, temp dirs, small files, assert_contains).
 * Not a test of anything, and not built on the code under test: plain libc only. */
#ifndef WV_TESTUTIL_H
#define WV_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/types.h>

/* Fails the test unless text contains part. */
#define tu_assert_contains(text, part)                                                             \
    do {                                                                                           \
        if (strstr((text), (part)) == NULL)                                                        \
            fail_msg("\"%s\" does not contain \"%s\"", (text), (part));                            \
    } while (0)

/* Creates a fresh directory /tmp/wv-<test program>-XXXXXX and puts its path in buf; -1 if that
 * fails or the path does not fit. */
int tu_mkdtemp(char *buf, size_t size);

/* Removes path and everything below it, not following symlinks; -1 if something stayed. */
int tu_rm_rf(const char *path);

/* A cmocka setup and teardown pair: *state is a fresh temp dir (a heap string), removed after. */
int tu_tmpdir_setup(void **state);
int tu_tmpdir_teardown(void **state);

/* Writes text to path with plain stdio, then sets mode (0755 for a script); fails the test on
 * error. */
void tu_write_file(const char *path, const char *text, mode_t mode);

#endif
