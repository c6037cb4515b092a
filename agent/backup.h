/* backup: the data dir into one archive (libarchive: zstd, gzip or none), and back.
 * Archives live in DAEMON_DATA_BACKUP_DIR (0700) as <label>-<UTC timestamp>.tar[.zst|.gz], mode
 * 0600, each with <archive>.sha256 beside it (sha256sum format). Synchronous: the agent runs it
 * in a child process (`wemixvisor backup ...`) so its loop never waits on it. */
#ifndef WV_BACKUP_H
#define WV_BACKUP_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef enum { BACKUP_ZSTD = 0, BACKUP_GZIP, BACKUP_NONE } backup_compression_t;

#define BACKUP_DIR_MODE 0700
#define BACKUP_FILE_MODE 0600
#define BACKUP_LABEL_MAX 128

/* Parses "zstd", "gzip" or "none". */
int backup_compression_parse(const char *text, backup_compression_t *out);
const char *backup_compression_name(backup_compression_t c);

/* Bytes under dir (regular files' sizes, not following symlinks). */
int backup_dir_size(const char *dir, uint64_t *bytes, wv_err_t *err);

/* Refuses (with a message giving both figures) when the file system of backup_dir has less free
 * space than the size of data_dir plus a margin of 5 %, which holds for any compression. Walks
 * data_dir: minutes on a large chain, so never on the agent's loop (backup_check_room is). */
int backup_check_space(const char *data_dir, const char *backup_dir, wv_err_t *err);

/* backup_check_space with the size of data_dir already measured (data_bytes, e.g. by `wemixvisor
 * backup size` in a child): one statvfs, data_dir only named in the message. */
int backup_check_room(const char *data_dir, uint64_t data_bytes, const char *backup_dir,
                      wv_err_t *err);

/* The bytes a backup of data_bytes needs: the data plus the 5 % margin. */
uint64_t backup_room_needed(uint64_t data_bytes);

/* The free bytes (for an unprivileged user) of the file system of backup_dir, or of its nearest
 * existing parent while it does not exist yet; where (if not NULL) gets the dir asked. */
int backup_free_space(const char *backup_dir, uint64_t *free_bytes, char *where, size_t where_size,
                      wv_err_t *err);

/* `wemixvisor backup create` exits with this when the backup does not fit in the backup dir
 * (refused before a byte is written, or the disk filled up while it wrote): the agent then waits
 * for space instead of failing the upgrade. */
#define BACKUP_EXIT_NO_ROOM 4

/* Refuses (naming the dir and what to do) when no file can be created in backup_dir: a read-only
 * file system, no permission, a path through a regular file. Creates the dir (0700) if missing
 * and probes it with an empty temp file, so it answers for ACLs and mount options too. A full
 * disk passes: backup_check_space() is the judge of space. On the way it removes the temp files
 * of backups that died (a power cut, kill -9): not locked by a live backup_create() and
 * unchanged for a minute. */
int backup_check_writable(const char *backup_dir, wv_err_t *err);

/* Archives data_dir into backup_dir (created 0700 if missing) as <label>-<timestamp>.<ext>,
 * written to a temp name, fsynced and renamed, then the .sha256 beside it. The archive holds
 * the directory's content with relative paths (no leading data/). Symlinks are stored as links,
 * modes and mtimes kept. Logs progress (bytes) every few seconds through shared/log.
 * On success the archive's path is in out_path. A failure leaves no archive behind. */
int backup_create(const char *data_dir, const char *backup_dir, const char *label,
                  backup_compression_t compression, char *out_path, size_t out_size, wv_err_t *err);

/* Checks an archive against its .sha256 (and that it is readable to the end). */
int backup_verify(const char *archive, wv_err_t *err);

/* Replaces data_dir with the archive's content: verify, extract into a temp dir beside data_dir
 * with libarchive's secure flags (no absolute paths, no .., no links out of the tree), fsync,
 * rename data_dir aside, rename the temp dir into place, remove the old one. An interrupted
 * restore leaves data_dir either as it was or fully restored. */
int backup_restore(const char *archive, const char *data_dir, wv_err_t *err);

typedef struct {
    char path[4096];
    char label[BACKUP_LABEL_MAX + 1];
    time_t created; /* from the name's timestamp */
    uint64_t bytes;
} backup_entry_t;

/* Lists the archives of backup_dir, newest first; *entries is a heap array (free it). */
int backup_list(const char *backup_dir, backup_entry_t **entries, size_t *count, wv_err_t *err);

/* Deletes archives (and their .sha256) older than max_age_s (0: no age limit) and beyond the
 * newest keep (0: no count limit); *removed says how many. */
int backup_clean(const char *backup_dir, uint64_t max_age_s, size_t keep, size_t *removed,
                 wv_err_t *err);

#endif
