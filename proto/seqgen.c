/* seqgen: a message sequence that never goes back, kept above every seq handed out by a
 * reservation written to a file before it is needed. It is not a clock: it only uses the one given.
 */
#include "seqgen.h"
#include "fsutil.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SEQGEN_FILE_MAX 32 /* 20 digits and a newline, with room to spare */
#define SEQGEN_DIGITS_MAX 20
#define SEQGEN_FILE_MODE 0644

/* Parses exactly one decimal number and a newline; anything else is a corrupt file. */
static int s_parse(const char *text, size_t len, uint64_t *out)
{
    if (len < 2 || len - 1 > SEQGEN_DIGITS_MAX || text[len - 1] != '\n')
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len - 1; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        unsigned digit = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* Writes a new reservation; self->reserved changes only once it is on disk. */
static int s_reserve(seqgen_t *self, uint64_t from, wv_err_t *err)
{
    if (from > UINT64_MAX - SEQGEN_RESERVE_US)
        return err_set(err, "%s: the sequence is exhausted; remove the file", self->path);
    uint64_t reserved = from + SEQGEN_RESERVE_US;
    char text[SEQGEN_FILE_MAX];
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", reserved);
    if (fs_write_atomic(self->path, text, (size_t)n, SEQGEN_FILE_MODE, err) != 0)
        return err_wrap(err, "cannot reserve message sequence numbers");
    self->reserved = reserved;
    return 0;
}

int seqgen_open(seqgen_t *self, const char *path, uint64_t now_us, wv_err_t *err)
{
    assert(self != NULL && path != NULL);
    memset(self, 0, sizeof *self);
    if (snprintf(self->path, sizeof self->path, "%s", path) >= (int)sizeof self->path)
        return err_set(err, "path too long: %s", path);

    struct stat st;
    if (stat(path, &st) == 0) {
        char *text = NULL;
        size_t len = 0;
        if (fs_read_file(path, SEQGEN_FILE_MAX, &text, &len, err) != 0)
            return -1;
        uint64_t reserved = 0;
        int rc = s_parse(text, len, &reserved);
        free(text);
        if (rc != 0)
            return err_set(err,
                           "%s is corrupt (it must hold one decimal number and a newline); remove "
                           "it only if this agent has not sent a message for a minute",
                           path);
        /* no seq at or above the reservation was handed out before the restart; so starting at
         * the reservation is above all of them, even when the clock went back */
        self->last = reserved > 0 ? reserved - 1 : 0;
    } else if (errno != ENOENT) {
        return err_sys(err, "cannot look at %s", path);
    }
    uint64_t first = self->last + 1 > now_us ? self->last + 1 : now_us;
    return s_reserve(self, first, err);
}

int seqgen_next(seqgen_t *self, uint64_t now_us, uint64_t *seq, wv_err_t *err)
{
    assert(self != NULL && seq != NULL);
    if (self->last == UINT64_MAX)
        return err_set(err, "%s: the sequence is exhausted; remove the file", self->path);
    uint64_t next = self->last + 1 > now_us ? self->last + 1 : now_us;
    /* the reservation is moved before it is reached, never after: a crash right after this
     * message must not let the next start hand out the same seq again */
    if (next >= self->reserved && s_reserve(self, next, err) != 0)
        return -1;
    self->last = next;
    *seq = next;
    return 0;
}
