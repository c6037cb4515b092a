/* err: the one error convention of Wemixvisor.
 * Functions return 0 on success and -1 on failure, and fill a wv_err_t the caller owns with a
 * message an operator can act on (what, which file or value, what to do). Not for asserts. */
#ifndef WV_ERR_H
#define WV_ERR_H

#include <stddef.h>

#define WV_ERR_MAX 1024

typedef struct {
    char msg[WV_ERR_MAX]; /* human-readable reason; empty when no error was recorded */
} wv_err_t;

/* Records a formatted message and returns -1, so callers can write `return err_set(err, ...)`.
 * err may be NULL, in which case the message is dropped. */
int err_set(wv_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like err_set, with ": strerror(errno)" appended. */
int err_sys(wv_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the message already in err with more context ("reading X: <old message>"). */
int err_wrap(wv_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(wv_err_t *err);

#endif
