/* testutil: the fixtures the unit tests share (cmocka, temp dirs, small files, assert_contains,
 * fd capture, a DAEMON_* environment with its config and layout). Not a test of anything; only the
 * tu_env_* helpers use the code under test (config and layout). */
#ifndef WV_TESTUTIL_H
#define WV_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "config.h"
#include "layout.h"

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

/* A loopback TCP port that was free a moment ago (bound to port 0, read, closed); -1 on error. */
int tu_free_port(void);

/* ---- capturing fd 1 and 2 ---- */

#define TU_OUTPUT_MAX 16384

/* What a command printed. */
typedef struct {
    char out[TU_OUTPUT_MAX];
    char err[TU_OUTPUT_MAX];
} tu_output_t;

/* Between tu_capture_begin and tu_capture_end, fd 1 and 2 go to temp files. */
typedef struct {
    FILE *out;
    FILE *err;
    int saved_out;
    int saved_err;
} tu_capture_t;

void tu_capture_begin(tu_capture_t *c);

/* Puts fd 1 and 2 back and copies what they got into o (cut to fit, nul-terminated). */
void tu_capture_end(tu_capture_t *c, tu_output_t *o);

/* A `wemixvisor <command>` entry point, such as cmd_upgrade or cmd_plan. */
typedef int (*tu_command_fn)(const wv_config_t *cfg, int argc, char **argv);

/* Runs cmd with argv (ended by NULL), capturing what it prints on fd 1 and 2 into o. */
int tu_run_command(tu_output_t *o, tu_command_fn cmd, const wv_config_t *cfg, char **argv);

/* Fails with what the command said unless it exited with `expected`. */
#define tu_assert_exit(rc, expected, o)                                                            \
    do {                                                                                           \
        if ((rc) != (expected))                                                                    \
            fail_msg("exit %d, expected %d\nstdout: %s\nstderr: %s", (rc), (expected), (o).out,    \
                     (o).err);                                                                     \
    } while (0)

/* ---- a DAEMON_* environment, its config and layout ---- */

/* The members of tu_env_t, for a fixture that wants them by name next to its own (through an
 * anonymous union with a tu_env_t). */
#define TU_ENV_MEMBERS                                                                             \
    char home[64]; /* DAEMON_HOME, a fresh temp dir */                                             \
    char rpc[64];  /* DAEMON_RPC_ADDRESS, a loopback port where nobody listens */                  \
    wv_config_t cfg;                                                                               \
    layout_t l

typedef struct {
    TU_ENV_MEMBERS;
} tu_env_t;

/* Unsets every DAEMON_* variable the config reads, and its aliases. */
void tu_env_clear(void);

/* A fresh DAEMON_HOME with its layout created, DAEMON_NAME=wemixd, DAEMON_RPC_ADDRESS where nobody
 * listens, and the config loaded from that environment; -1 (having cleaned up) on error. */
int tu_env_setup(tu_env_t *env);

/* Frees the config, clears the environment and removes DAEMON_HOME. */
void tu_env_teardown(tu_env_t *env);

#endif
