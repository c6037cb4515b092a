/* backup_internal: what backup.c (writing, listing, space) and backup_restore.c (reading,
 * verifying, restoring) share. Not for other modules: backup.h is the interface. */
#ifndef WV_BACKUP_INTERNAL_H
#define WV_BACKUP_INTERNAL_H

#include "err.h"

#include <archive.h>
#include <stddef.h>
#include <stdint.h>

#define MIB (1024 * 1024)
#define IO_BUF_SIZE MIB /* one read or write of file data; large files stream */
#define SUM_SUFFIX ".sha256"
#define SUM_FILE_MAX 4096
#define SHA256_HEX_LEN 64
#define EXTRACT_FLAGS                                                                              \
    (ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |                           \
     ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME)

/* Logs bytes done of total at most every PROGRESS_INTERVAL_MS. */
typedef struct {
    uint64_t done;
    uint64_t total;
    uint64_t last_ms; /* monotonic time of the last line (or of the start) */
} backup_progress_t;

uint64_t backup_now_ms(void);
void backup_progress_add(backup_progress_t *p, uint64_t n);

/* Copies path into buf without trailing slashes ("/" stays "/"). */
int backup_clean_path(const char *path, char *buf, size_t size, wv_err_t *err);
void backup_dirname(const char *path, char *buf, size_t size);
/* Lower-case hex of len bytes of md into out (2 * len + 1 bytes). */
void backup_hex(const unsigned char *md, unsigned len, char *out);
/* The reason for a failed write, with what to do when the disk is full. */
int backup_write_failed(wv_err_t *err, const char *path, int errnum, const char *dir);

#endif
