/* download: fetches an upgrade's binary (libcurl), verifies its checksum while the bytes stream
 * in (OpenSSL EVP), unpacks archives (libarchive, secure flags) and installs the result as
 * upgrades/<name>/ with one rename(). Synchronous: the agent runs it in a child process
 * (`wemixvisor prepare-upgrade`), never on its loop. */
#ifndef WV_DOWNLOAD_H
#define WV_DOWNLOAD_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOWNLOAD_MAX_BYTES (2ULL * 1024 * 1024 * 1024)        /* a larger download is refused */
#define DOWNLOAD_UNPACK_MAX_BYTES (4ULL * 1024 * 1024 * 1024) /* all a release may unpack to */
#define DOWNLOAD_RETRIES 5                                    /* attempts after the first */

typedef enum { DIGEST_NONE = 0, DIGEST_SHA256, DIGEST_SHA512 } digest_kind_t;

/* A URL split from its ?checksum=sha256:<hex> (or sha512:) parameter. */
typedef struct {
    char url[4096];     /* without the checksum parameter */
    digest_kind_t kind; /* DIGEST_NONE when the URL has no checksum */
    char hex[129];      /* lower-case hex of the expected digest */
} download_ref_t;

/* Parses a URL with an optional checksum parameter; refuses a malformed checksum (unknown
 * algorithm, wrong length, non-hex) and schemes other than http and https. */
int download_parse_ref(const char *url, download_ref_t *out, wv_err_t *err);

/* Picks the URL for this machine from an upgrade's "info": an object {"binaries": {"linux/amd64":
 * URL, "any": URL}}, or a JSON string holding such an object. An "info" that is itself a URL to
 * such a file is refused here: `prepare-upgrade` fetches that file first (checksum required, as
 * for binaries) and passes its content. os_arch is e.g. "linux/amd64". */
int download_pick_url(const char *info_json, const char *os_arch, char *url, size_t size,
                      wv_err_t *err);

/* "linux/amd64", "linux/arm64", ... for this build. */
const char *download_os_arch(void);

typedef struct {
    uint64_t connect_timeout_ms; /* per attempt */
    uint64_t stall_timeout_ms;   /* no byte for this long aborts the attempt */
    uint64_t max_bytes;          /* 0: DOWNLOAD_MAX_BYTES */
    int retries;                 /* attempts after the first, with exponential backoff */
    bool allow_no_checksum;      /* UNSAFE_SKIP_CHECKSUM: a URL without one is accepted */
    bool progress_bar;           /* draw a bar on stderr (when it is a terminal) */
} download_opts_t;

/* Downloads ref to path (a temp file is written, checked, fsynced and renamed there). Resumes a
 * broken transfer with a Range request where the server supports it; retries with backoff up
 * to opts->retries. A checksum mismatch deletes the file and the error gives both digests.
 * Progress (bytes, total, rate) goes to the log every few seconds. */
int download_fetch(const download_ref_t *ref, const char *path, const download_opts_t *opts,
                   wv_err_t *err);

/* Installs the upgrade `name` under upgrades_dir from a downloaded file: a raw binary, or a
 * .tar.gz/.tar.zst/.zip archive (detected from the content) holding bin/<daemon_name> or
 * <daemon_name> at its root. Everything is unpacked into upgrades_dir/.<name>.tmp.XXXXXX with
 * libarchive's secure flags (entries with absolute paths, .. or links out of the tree are
 * refused), the binary ends at bin/<daemon_name> with its execute bits, then one rename() to
 * upgrades_dir/<name>. An existing upgrades_dir/<name> is an error. */
int download_install(const char *file, const char *upgrades_dir, const char *name,
                     const char *daemon_name, wv_err_t *err);

#endif
