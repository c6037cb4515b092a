/* seqgen: a sender's message sequence that never goes back, not even across a restart or a
 * clock stepped backwards. seq = max(now in microseconds, last + 1); before any seq reaches the
 * reservation written in a file, a new reservation (seq + SEQGEN_RESERVE_US) is written first
 * (temp, fsync, rename), and a restart starts at the reservation at least. */
#ifndef WV_SEQGEN_H
#define WV_SEQGEN_H

#include "err.h"

#include <limits.h>
#include <stdint.h>

#define SEQGEN_RESERVE_US (60ULL * 1000 * 1000)

typedef struct {
    char path[PATH_MAX];
    uint64_t last;     /* the last seq handed out, 0 if none */
    uint64_t reserved; /* no seq >= this has been handed out, and the file says so */
} seqgen_t;

/* Reads path (a missing file is a first start; a corrupt one is an error naming it) and writes
 * a first reservation. */
int seqgen_open(seqgen_t *self, const char *path, uint64_t now_us, wv_err_t *err);
/* The next seq; -1 only when a new reservation cannot be written (nothing may be sent then). */
int seqgen_next(seqgen_t *self, uint64_t now_us, uint64_t *seq, wv_err_t *err);

#endif
