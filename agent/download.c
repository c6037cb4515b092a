/* download: libcurl fetch with resume, retries and a streaming checksum, then a libarchive
 * install into upgrades/<name>/ by one rename(). Not for the agent's loop: it blocks and chdirs. */
#include "download.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_BASE_MS 1000ULL /* first pause between attempts; doubles each time */
#define BACKOFF_MAX_MS 30000ULL /* longest pause */
#define MAX_REDIRECTS 5L        /* CURLOPT_MAXREDIRS */
#define PROGRESS_LOG_MS 2000    /* a progress line in the log this often */
#define PROGRESS_BAR_MS 200     /* the terminal bar is redrawn this often */
#define PROGRESS_BAR_WIDTH 40   /* characters of the bar */
#define HTTP_RANGE_NOT_SATISFIABLE 416L
#define HTTP_PARTIAL_CONTENT 206L
#define SHA256_HEX_LEN 64
#define SHA512_HEX_LEN 128
#define COPY_BLOCK 65536
#define USER_AGENT "wemixvisor"

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode s_curl_init_rc = CURLE_FAILED_INIT;

static void s_curl_init(void)
{
    s_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const char *s_kind_name(digest_kind_t kind)
{
    return kind == DIGEST_SHA512 ? "sha512" : "sha256";
}

/* ---------------------------------------------------------------------------------------------
 * References: URL + checksum */

static bool s_is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Parses "sha256:<hex>" or "sha512:<hex>" (len bytes at value) into out. */
static int s_parse_checksum(const char *value, size_t len, download_ref_t *out, wv_err_t *err)
{
    const char *colon = memchr(value, ':', len);
    if (colon == NULL)
        return err_set(err, "checksum \"%.*s\" is not <algorithm>:<hex> (e.g. sha256:<64 hex>)",
                       (int)len, value);
    size_t alg_len = (size_t)(colon - value);
    const char *hex = colon + 1;
    size_t hex_len = len - alg_len - 1;
    size_t want;
    if (alg_len == 6 && strncasecmp(value, "sha256", 6) == 0) {
        out->kind = DIGEST_SHA256;
        want = SHA256_HEX_LEN;
    } else if (alg_len == 6 && strncasecmp(value, "sha512", 6) == 0) {
        out->kind = DIGEST_SHA512;
        want = SHA512_HEX_LEN;
    } else {
        return err_set(err, "checksum algorithm \"%.*s\" is not supported: use sha256 or sha512",
                       (int)alg_len, value);
    }
    if (hex_len != want || !s_is_hex(hex, hex_len))
        return err_set(err, "%s checksum \"%.*s\" must be %zu hex digits", s_kind_name(out->kind),
                       (int)hex_len, hex, want);
    for (size_t i = 0; i < hex_len; i++)
        out->hex[i] = (char)tolower((unsigned char)hex[i]);
    out->hex[hex_len] = '\0';
    return 0;
}

int download_parse_ref(const char *url, download_ref_t *out, wv_err_t *err)
{
    assert(url != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    size_t len = strlen(url);
    if (len >= sizeof out->url)
        return err_set(err, "URL is longer than %zu bytes", sizeof out->url - 1);
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return err_set(err, "URL \"%s\" must start with http:// or https://", url);
    const char *query = strchr(url, '?');
    const char *fragment = strchr(url, '#');
    if (fragment != NULL && query != NULL && query > fragment)
        query = NULL;
    if (query == NULL) {
        snprintf(out->url, sizeof out->url, "%s", url);
        return 0;
    }
    const char *query_end = fragment != NULL ? fragment : url + len;
    /* the part before '?', then the kept parameters, then the fragment */
    size_t used = (size_t)(query - url);
    memcpy(out->url, url, used);
    bool first = true;
    for (const char *p = query + 1; p < query_end;) {
        const char *amp = memchr(p, '&', (size_t)(query_end - p));
        const char *end = amp != NULL ? amp : query_end;
        size_t plen = (size_t)(end - p);
        if (plen >= 9 && strncmp(p, "checksum=", 9) == 0) {
            if (out->kind != DIGEST_NONE)
                return err_set(err, "URL \"%s\" has more than one checksum parameter", url);
            if (s_parse_checksum(p + 9, plen - 9, out, err) != 0)
                return err_wrap(err, "URL \"%s\"", url);
        } else if (plen > 0) {
            out->url[used++] = first ? '?' : '&';
            memcpy(out->url + used, p, plen);
            used += plen;
            first = false;
        }
        p = end + (amp != NULL ? 1 : 0);
    }
    if (fragment != NULL) {
        size_t flen = strlen(fragment);
        memcpy(out->url + used, fragment, flen);
        used += flen;
    }
    out->url[used] = '\0'; /* never longer than url itself */
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Picking the binary for this machine */

const char *download_os_arch(void)
{
#if defined(__linux__)
#define WV_OS "linux"
#elif defined(__APPLE__)
#define WV_OS "darwin"
#else
#define WV_OS "unknown"
#endif
#if defined(__x86_64__)
    return WV_OS "/amd64";
#elif defined(__aarch64__)
    return WV_OS "/arm64";
#elif defined(__i386__)
    return WV_OS "/386";
#elif defined(__arm__)
    return WV_OS "/arm";
#else
    return WV_OS "/unknown";
#endif
}

/* The keys of an object, comma-separated, into buf. */
static void s_keys(json_t *obj, char *buf, size_t size)
{
    size_t used = 0;
    const char *key;
    json_t *value;
    buf[0] = '\0';
    json_object_foreach(obj, key, value)
    {
        (void)value;
        int n = snprintf(buf + used, size - used, "%s\"%s\"", used > 0 ? ", " : "", key);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, size, "none");
}

int download_pick_url(const char *info_json, const char *os_arch, char *url, size_t size,
                      wv_err_t *err)
{
    assert(info_json != NULL && os_arch != NULL && url != NULL);
    json_error_t jerr;
    json_t *root = json_loads(info_json, JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return err_set(err, "upgrade info is not JSON: %s", jerr.text);
    if (json_is_string(root)) { /* a JSON string holding the object */
        const char *inner = json_string_value(root);
        if (strncasecmp(inner, "http://", 7) == 0 || strncasecmp(inner, "https://", 8) == 0) {
            err_set(err, "upgrade info is a URL (%s): fetch it first", inner);
            json_decref(root);
            return -1;
        }
        json_t *obj = json_loads(inner, 0, &jerr);
        json_decref(root);
        if (obj == NULL)
            return err_set(err, "upgrade info is a string that is not a JSON object: %s",
                           jerr.text);
        root = obj;
    }
    int rc = -1;
    json_t *binaries = json_object_get(root, "binaries");
    if (!json_is_object(root)) {
        err_set(err, "upgrade info must be an object with \"binaries\"");
    } else if (!json_is_object(binaries)) {
        err_set(err, "upgrade info has no \"binaries\" object: nothing to download");
    } else {
        const char *key = os_arch;
        json_t *value = json_object_get(binaries, key);
        if (value == NULL) {
            key = "any";
            value = json_object_get(binaries, key);
        }
        char keys[512];
        s_keys(binaries, keys, sizeof keys);
        if (value == NULL)
            err_set(err, "upgrade info has no binary for \"%s\" (nor \"any\"); it has: %s", os_arch,
                    keys);
        else if (!json_is_string(value))
            err_set(err, "upgrade info: binaries[\"%s\"] must be a URL string", key);
        else if ((size_t)snprintf(url, size, "%s", json_string_value(value)) >= size)
            err_set(err, "upgrade info: binaries[\"%s\"] is too long", key);
        else
            rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Fetching */

/* One download in progress, shared by its attempts. */
typedef struct {
    const download_ref_t *ref;
    const download_opts_t *opts;
    CURL *curl;
    int fd;                /* the temp file */
    const char *tmp;       /* its path, for messages */
    EVP_MD_CTX *md;        /* digest of every byte in the file so far */
    const EVP_MD *md_type; /* sha256 or sha512 */
    uint64_t written;      /* bytes in the file */
    uint64_t max_bytes;
    uint64_t attempt_from; /* file size when this attempt started */
    bool first_write;      /* no byte of this attempt written yet */
    bool too_large;        /* the write callback refused: over max_bytes */
    bool write_failed;     /* the write callback refused: local I/O error */
    int write_errno;
    bool no_room;         /* the write callback refused: the disk cannot hold the announced size */
    uint64_t room_need;   /* then: the bytes still to come */
    uint64_t room_avail;  /* and the bytes free */
    bool stalled;         /* the progress callback aborted: no byte for stall_timeout_ms */
    int64_t last_byte_ms; /* when the last byte of this attempt came */
    bool bar;             /* draw the bar */
    bool bar_drawn;       /* a bar is on the terminal: end it with a newline */
    int64_t attempt_start_ms;
    int64_t last_log_ms;
    int64_t last_bar_ms;
} fetch_t;

static int s_restart(fetch_t *f)
{
    if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) != 0 ||
        EVP_DigestInit_ex(f->md, f->md_type, NULL) != 1) {
        f->write_failed = true;
        f->write_errno = errno;
        return -1;
    }
    f->written = 0;
    f->attempt_from = 0;
    return 0;
}

/* Does the disk have room for what the server announced? Checked before the first byte: filling
 * the disk up would starve the node too (it is usually the same disk), and the agent tries again
 * every half minute. Without a size from the server the writes tell. */
static bool s_fits(fetch_t *f)
{
    curl_off_t left = -1;
    struct statvfs vfs;
    if (curl_easy_getinfo(f->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &left) != CURLE_OK ||
        left < 0 || fstatvfs(f->fd, &vfs) != 0)
        return true;
    uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if ((uint64_t)left <= avail)
        return true;
    f->no_room = true;
    f->room_need = (uint64_t)left;
    f->room_avail = avail;
    return false;
}

static size_t s_on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    fetch_t *f = userdata;
    size_t n = size * nmemb;
    f->last_byte_ms = s_now_ms();
    if (f->first_write) {
        f->first_write = false;
        long code = 0;
        curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
        /* a resume answered with the whole file: start over (libcurl normally refuses that) */
        if (f->written > 0 && code != HTTP_PARTIAL_CONTENT && s_restart(f) != 0)
            return 0;
        if (!s_fits(f))
            return 0;
    }
    if (f->written + n > f->max_bytes) {
        f->too_large = true;
        return 0;
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = write(f->fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->write_failed = true;
            f->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        done += (size_t)w;
    }
    if (EVP_DigestUpdate(f->md, data, n) != 1) {
        f->write_failed = true;
        f->write_errno = EIO;
        return 0;
    }
    f->written += n;
    return n;
}

static void s_draw_bar(fetch_t *f, uint64_t total)
{
    char bar[PROGRESS_BAR_WIDTH + 1];
    int filled = total > 0 ? (int)(f->written * PROGRESS_BAR_WIDTH / total) : 0;
    if (filled > PROGRESS_BAR_WIDTH)
        filled = PROGRESS_BAR_WIDTH;
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, ' ', (size_t)(PROGRESS_BAR_WIDTH - filled));
    bar[PROGRESS_BAR_WIDTH] = '\0';
    double mib = 1024.0 * 1024.0;
    if (total > 0)
        fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MiB", bar, (int)(f->written * 100 / total),
                (double)f->written / mib, (double)total / mib);
    else
        fprintf(stderr, "\r[%s] %.1f MiB", bar, (double)f->written / mib);
    f->bar_drawn = true;
}

static int s_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    fetch_t *f = userdata;
    int64_t now = s_now_ms();
    uint64_t total = dltotal > 0 ? f->attempt_from + (uint64_t)dltotal : 0;
    /* once the body has started: libcurl's low-speed check averages over seconds, so bytes
     * received before a stall would hide it for longer than stall_timeout_ms */
    uint64_t stall = f->opts->stall_timeout_ms;
    if (stall > 0 && !f->first_write && (uint64_t)(now - f->last_byte_ms) >= stall) {
        f->stalled = true;
        return 1;
    }
    if (now - f->last_log_ms >= PROGRESS_LOG_MS) {
        f->last_log_ms = now;
        int64_t elapsed = now - f->attempt_start_ms;
        uint64_t got = f->written - (f->written >= f->attempt_from ? f->attempt_from : 0);
        uint64_t rate = elapsed > 0 ? got * 1000 / (uint64_t)elapsed : 0;
        log_info("download", "progress", LF_INT("bytes", f->written), LF_INT("total", total),
                 LF_INT("rate_bps", rate));
    }
    if (f->bar && now - f->last_bar_ms >= PROGRESS_BAR_MS) {
        f->last_bar_ms = now;
        s_draw_bar(f, total);
    }
    return 0;
}

static int s_setup_curl(fetch_t *f, char *errbuf)
{
    const download_opts_t *o = f->opts;
    CURL *c = f->curl;
    long stall_s = (long)((o->stall_timeout_ms + 999) / 1000);
    CURLcode rc = CURLE_OK;
#define SETOPT(opt, val)                                                                           \
    if (rc == CURLE_OK)                                                                            \
    rc = curl_easy_setopt(c, opt, val)
    SETOPT(CURLOPT_URL, f->ref->url);
    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_FAILONERROR, 1L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_USERAGENT, USER_AGENT);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    if (stall_s > 0) {
        SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SETOPT(CURLOPT_LOW_SPEED_TIME, stall_s);
    }
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_bytes);
    SETOPT(CURLOPT_WRITEFUNCTION, s_on_write);
    SETOPT(CURLOPT_WRITEDATA, f);
    SETOPT(CURLOPT_XFERINFOFUNCTION, s_on_progress);
    SETOPT(CURLOPT_XFERINFODATA, f);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
#undef SETOPT
    return rc == CURLE_OK ? 0 : -1;
}

/* One attempt from f->written on; returns the curl result. */
static CURLcode s_attempt(fetch_t *f, char *errbuf, long *http_code)
{
    errbuf[0] = '\0';
    f->first_write = true;
    f->stalled = false;
    f->attempt_from = f->written;
    f->attempt_start_ms = s_now_ms();
    curl_easy_setopt(f->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)f->written);
    CURLcode rc = curl_easy_perform(f->curl);
    *http_code = 0;
    curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, http_code);
    if (f->bar_drawn) {
        fputc('\n', stderr);
        f->bar_drawn = false;
    }
    return rc;
}

static void s_hex(const unsigned char *bytes, unsigned len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * len] = '\0';
}

/* The temp file could not be written; a full disk says where to free space, and how much the
 * whole download takes when the server said. */
static int s_write_failed(fetch_t *f, wv_err_t *err)
{
    int e = f->write_errno;
    if (!f->no_room && e != ENOSPC && e != EDQUOT)
        return err_set(err, "downloading %s: cannot write %s: %s", f->ref->url, f->tmp,
                       strerror(e));
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", f->tmp);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    if (f->no_room)
        return err_set(err,
                       "downloading %s: it needs %llu bytes and %s has only %llu bytes free; "
                       "free space there (nothing more was written)",
                       f->ref->url, (unsigned long long)f->room_need, slash != NULL ? dir : ".",
                       (unsigned long long)f->room_avail);
    curl_off_t left = -1;
    curl_easy_getinfo(f->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &left);
    char size[64] = "";
    if (left >= 0)
        snprintf(size, sizeof size, " (the download is %llu bytes)",
                 (unsigned long long)(f->attempt_from + (uint64_t)left));
    return err_set(err, "downloading %s: cannot write %s: %s; free space in %s%s", f->ref->url,
                   f->tmp, strerror(e), slash != NULL ? dir : ".", size);
}

/* The transfer loop: attempts with backoff until a complete body or a reason to stop. */
static int s_transfer(fetch_t *f, wv_err_t *err)
{
    char errbuf[CURL_ERROR_SIZE];
    if (s_setup_curl(f, errbuf) != 0)
        return err_set(err, "downloading %s: cannot set up libcurl", f->ref->url);
    uint64_t backoff = BACKOFF_BASE_MS;
    bool restarted_once = false;
    for (int attempt = 0;; attempt++) {
        long code = 0;
        CURLcode rc = s_attempt(f, errbuf, &code);
        if (rc == CURLE_OK)
            return 0;
        if (f->too_large || rc == CURLE_FILESIZE_EXCEEDED)
            return err_set(err, "downloading %s: larger than the limit of %llu bytes", f->ref->url,
                           (unsigned long long)f->max_bytes);
        if (f->write_failed || f->no_room)
            return s_write_failed(f, err);
        /* a server that cannot resume from here: start over at once, and only once */
        bool cannot_resume = rc == CURLE_RANGE_ERROR || code == HTTP_RANGE_NOT_SATISFIABLE;
        if (f->written > 0 && cannot_resume) {
            if (s_restart(f) != 0)
                return err_sys(err, "downloading %s: truncating the temp file", f->ref->url);
            if (!restarted_once) {
                log_info("download", "the server cannot resume: starting over",
                         LF_STR("url", f->ref->url), LF_INT("http_status", code));
                restarted_once = true;
                attempt--;
                continue;
            }
        }
        char what[CURL_ERROR_SIZE + 64];
        if (f->stalled)
            snprintf(what, sizeof what, "stalled: no data for %llu ms",
                     (unsigned long long)f->opts->stall_timeout_ms);
        else if (code >= 400)
            snprintf(what, sizeof what, "HTTP status %ld", code);
        else
            snprintf(what, sizeof what, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        if (attempt >= f->opts->retries)
            return err_set(err, "downloading %s: %s (after %d attempts)", f->ref->url, what,
                           attempt + 1);
        log_warn("download", "attempt failed, retrying", LF_STR("url", f->ref->url),
                 LF_STR("error", what), LF_INT("attempt", attempt + 1), LF_INT("bytes", f->written),
                 LF_INT("retry_in_ms", backoff));
        s_sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* Checks the digest of what was written against ref; the error gives both. */
static int s_verify(fetch_t *f, wv_err_t *err)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    char got[2 * EVP_MAX_MD_SIZE + 1];
    if (EVP_DigestFinal_ex(f->md, digest, &len) != 1)
        return err_set(err, "downloading %s: computing the digest failed", f->ref->url);
    s_hex(digest, len, got);
    const char *kind = s_kind_name(f->ref->kind);
    if (f->ref->kind == DIGEST_NONE) {
        log_warn("download", "UNSAFE_SKIP_CHECKSUM: downloaded without a checksum",
                 LF_STR("url", f->ref->url), LF_STR("sha256", got));
        return 0;
    }
    if (strcmp(got, f->ref->hex) != 0)
        return err_set(err, "checksum mismatch for %s: expected %s:%s, got %s:%s", f->ref->url,
                       kind, f->ref->hex, kind, got);
    return 0;
}

int download_fetch(const download_ref_t *ref, const char *path, const download_opts_t *opts,
                   wv_err_t *err)
{
    assert(ref != NULL && path != NULL && opts != NULL);
    if (ref->kind == DIGEST_NONE) {
        if (!opts->allow_no_checksum)
            return err_set(err,
                           "URL %s has no checksum: add ?checksum=sha256:<hex> (or set "
                           "UNSAFE_SKIP_CHECKSUM=true to accept it, at your own risk)",
                           ref->url);
        log_warn("download", "UNSAFE_SKIP_CHECKSUM: downloading without a checksum",
                 LF_STR("url", ref->url));
    }
    pthread_once(&s_curl_once, s_curl_init);
    if (s_curl_init_rc != CURLE_OK)
        return err_set(err, "libcurl cannot be initialised: %s",
                       curl_easy_strerror(s_curl_init_rc));

    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return err_set(err, "download path %s is too long", path);
    fetch_t f = {.ref = ref, .opts = opts, .fd = -1, .tmp = tmp};
    f.max_bytes = opts->max_bytes > 0 ? opts->max_bytes : DOWNLOAD_MAX_BYTES;
    f.md_type = ref->kind == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
    f.bar = opts->progress_bar && isatty(STDERR_FILENO);
    f.last_log_ms = s_now_ms();
    f.md = EVP_MD_CTX_new();
    f.curl = curl_easy_init();
    int rc = -1;
    if (f.md == NULL || f.curl == NULL || EVP_DigestInit_ex(f.md, f.md_type, NULL) != 1) {
        err_set(err, "downloading %s: out of memory", ref->url);
        goto done;
    }
    f.fd = mkstemp(tmp);
    if (f.fd < 0) {
        err_sys(err, "cannot create a temp file %s", tmp);
        goto done;
    }
    if (fs_temp_hold(f.fd, tmp, err) != 0) /* a sweep at agent start leaves it alone */
        goto done;
    log_info("download", "downloading", LF_STR("url", ref->url), LF_STR("to", path));
    if (s_transfer(&f, err) != 0 || s_verify(&f, err) != 0)
        goto done;
    if (fchmod(f.fd, 0644) != 0 || fsync(f.fd) != 0) {
        err_sys(err, "cannot write %s", tmp);
        goto done;
    }
    int fd = f.fd;
    f.fd = -1;
    if (close(fd) != 0) {
        err_sys(err, "cannot write %s", tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        err_sys(err, "cannot rename %s to %s", tmp, path);
        goto done;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    if (fs_fsync_dir(slash == NULL ? "." : (slash == dir ? "/" : dir), err) != 0)
        goto done;
    log_info("download", "downloaded", LF_STR("url", ref->url), LF_INT("bytes", f.written));
    rc = 0;
done:
    if (f.fd >= 0)
        close(f.fd);
    if (rc != 0)
        unlink(tmp); /* nothing half-written or unverified stays */
    curl_easy_cleanup(f.curl);
    EVP_MD_CTX_free(f.md);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Installing */

/* rm -rf of a refused or failed unpack (fs_remove_tree: read-only directories included). */
static void s_remove_tree(const char *path)
{
    if (fs_remove_tree(path) != 0)
        log_warn("download", "cannot remove a temp dir; remove it by hand", LF_STR("path", path),
                 LF_STR("error", strerror(errno)));
}

/* A path inside the tree: relative, without a ".." component. */
static bool s_path_inside(const char *p)
{
    if (p == NULL)
        return true;
    if (p[0] == '/')
        return false;
    for (const char *s = p; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.')
            return false;
        s += len;
        while (*s == '/')
            s++;
    }
    return true;
}

/* Refuses what libarchive's flags may let through: links out of the tree, devices, fifos. */
static int s_check_entry(struct archive_entry *entry, const char *file, wv_err_t *err)
{
    const char *name = archive_entry_pathname(entry);
    if (name == NULL)
        return err_set(err, "%s: an entry has no name", file);
    mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return err_set(err, "%s: entry %s is not a file, directory or symlink", file, name);
    if (!s_path_inside(name) || !s_path_inside(archive_entry_hardlink(entry)) ||
        (type == AE_IFLNK && !s_path_inside(archive_entry_symlink(entry))))
        return err_set(err, "%s: entry %s points outside the upgrade directory: refused", file,
                       name);
    return 0;
}

/* Why libarchive could not write an entry; a full disk says where to free space. */
static int s_unpack_failed(struct archive *disk, const char *file, const char *name,
                           const char *space_dir, wv_err_t *err)
{
    int e = archive_errno(disk);
    if (e == ENOSPC || e == EDQUOT)
        return err_set(err, "%s: cannot unpack %s: %s; free space in %s", file, name, strerror(e),
                       space_dir);
    return err_set(err, "%s: cannot unpack %s: %s", file, name, archive_error_string(disk));
}

/* Writes one entry (header, then its data block by block), counting the bytes against
 * DOWNLOAD_UNPACK_MAX_BYTES. */
static int s_copy_entry(struct archive *a, struct archive *disk, struct archive_entry *entry,
                        uint64_t *unpacked, const char *file, const char *space_dir, wv_err_t *err)
{
    const char *name = archive_entry_pathname(entry);
    if (archive_write_header(disk, entry) != ARCHIVE_OK)
        return s_unpack_failed(disk, file, name, space_dir, err);
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
        if (size > DOWNLOAD_UNPACK_MAX_BYTES - *unpacked)
            return err_set(err, "%s: the unpacked release grows past %llu bytes: refused", file,
                           (unsigned long long)DOWNLOAD_UNPACK_MAX_BYTES);
        *unpacked += size;
        if (archive_write_data_block(disk, buf, size, offset) != ARCHIVE_OK)
            return s_unpack_failed(disk, file, name, space_dir, err);
    }
    if (r != ARCHIVE_EOF)
        return err_set(err, "%s: %s: %s", file, name, archive_error_string(a));
    if (archive_write_finish_entry(disk) != ARCHIVE_OK)
        return s_unpack_failed(disk, file, name, space_dir, err);
    return 0;
}

/* Unpacks file into the current directory (the temp dir, in space_dir). A file that is no tar
 * or zip is libarchive's "raw" format: the (decompressed) bytes become bin/<daemon_name>. */
static int s_extract_here(const char *file, const char *space_dir, const char *daemon_name,
                          wv_err_t *err)
{
    struct archive *a = archive_read_new();
    struct archive *disk = archive_write_disk_new();
    int rc = -1;
    if (a == NULL || disk == NULL) {
        err_set(err, "%s: out of memory", file);
        goto done;
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_raw(a);
    archive_write_disk_set_options(
        disk, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM);
    if (archive_read_open_filename(a, file, COPY_BLOCK) != ARCHIVE_OK) {
        err_set(err, "cannot open %s: %s", file, archive_error_string(a));
        goto done;
    }
    char raw_name[PATH_MAX];
    snprintf(raw_name, sizeof raw_name, "bin/%s", daemon_name);
    uint64_t unpacked = 0;
    struct archive_entry *entry;
    int r;
    while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
        if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
            archive_entry_set_pathname(entry, raw_name);
            archive_entry_set_filetype(entry, AE_IFREG);
            archive_entry_set_perm(entry, 0755);
        } else if (s_check_entry(entry, file, err) != 0) {
            goto done;
        }
        /* a compression bomb must not fill the disk: the declared size first (libarchive would
         * size the file to it), then what is actually written */
        if (archive_entry_size_is_set(entry) &&
            (uint64_t)archive_entry_size(entry) > DOWNLOAD_UNPACK_MAX_BYTES - unpacked) {
            err_set(err, "%s: entry %s would take the unpacked release past %llu bytes: refused",
                    file, archive_entry_pathname(entry),
                    (unsigned long long)DOWNLOAD_UNPACK_MAX_BYTES);
            goto done;
        }
        if (s_copy_entry(a, disk, entry, &unpacked, file, space_dir, err) != 0)
            goto done;
    }
    if (r != ARCHIVE_EOF) {
        err_set(err, "%s: %s", file, archive_error_string(a));
        goto done;
    }
    if (archive_write_close(disk) != ARCHIVE_OK) {
        s_unpack_failed(disk, file, "its directories", space_dir, err);
        goto done;
    }
    rc = 0;
done:
    archive_read_free(a);
    archive_write_free(disk);
    return rc;
}

/* Extracts with the temp dir (in space_dir) as the working directory, and always comes back. */
static int s_extract_into(const char *file, const char *dir, const char *space_dir,
                          const char *daemon_name, wv_err_t *err)
{
    char abs[PATH_MAX];
    if (realpath(file, abs) == NULL)
        return err_sys(err, "cannot find %s", file);
    int back = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (back < 0)
        return err_sys(err, "cannot open the working directory");
    if (chdir(dir) != 0) {
        close(back);
        return err_sys(err, "cannot enter %s", dir);
    }
    int rc = s_extract_here(abs, space_dir, daemon_name, err);
    if (fchdir(back) != 0)
        abort(); /* every later relative path would be wrong: better no process than that */
    close(back);
    return rc;
}

/* Finds the binary in dir (bin/<d>, or <d> moved to bin/), makes it executable and durable. */
static int s_place_binary(const char *dir, const char *file, const char *daemon_name, wv_err_t *err)
{
    char bin_dir[PATH_MAX], bin[PATH_MAX], root_bin[PATH_MAX];
    if (fs_join(bin_dir, sizeof bin_dir, err, dir, "bin", NULL) != 0 ||
        fs_join(bin, sizeof bin, err, bin_dir, daemon_name, NULL) != 0 ||
        fs_join(root_bin, sizeof root_bin, err, dir, daemon_name, NULL) != 0)
        return -1;
    struct stat st;
    if (lstat(bin, &st) != 0) {
        if (lstat(root_bin, &st) != 0 || !S_ISREG(st.st_mode))
            return err_set(err, "%s holds neither bin/%s nor %s at its root", file, daemon_name,
                           daemon_name);
        if (fs_mkdir_p(bin_dir, 0755, err) != 0)
            return -1;
        if (rename(root_bin, bin) != 0)
            return err_sys(err, "cannot move %s to %s", root_bin, bin);
    } else if (!S_ISREG(st.st_mode)) {
        return err_set(err, "%s: bin/%s is not a regular file", file, daemon_name);
    }
    int fd = open(bin, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "cannot open %s", bin);
    if (fstat(fd, &st) != 0 || fchmod(fd, (st.st_mode & 07777) | 0111) != 0 || fsync(fd) != 0) {
        err_sys(err, "cannot make %s executable", bin);
        close(fd);
        return -1;
    }
    close(fd);
    if (fs_fsync_dir(bin_dir, err) != 0 || fs_fsync_dir(dir, err) != 0)
        return -1;
    return 0;
}

int download_install(const char *file, const char *upgrades_dir, const char *name,
                     const char *daemon_name, wv_err_t *err)
{
    assert(file != NULL && upgrades_dir != NULL && name != NULL && daemon_name != NULL);
    if (upgrade_name_check(name, err) != 0 || config_check_daemon_name(daemon_name, err) != 0)
        return -1;
    char target[PATH_MAX], tmp[PATH_MAX];
    if (fs_join(target, sizeof target, err, upgrades_dir, name, NULL) != 0)
        return -1;
    struct stat st;
    if (lstat(target, &st) == 0)
        return err_set(err, "%s exists already: remove it to install %s again", target, name);
    if (stat(file, &st) != 0)
        return err_sys(err, "cannot read %s", file);
    if (st.st_size == 0)
        return err_set(err, "%s is empty: nothing to install", file);
    if (fs_mkdir_p(upgrades_dir, 0755, err) != 0)
        return -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.tmp.XXXXXX", upgrades_dir, name) >= sizeof tmp)
        return err_set(err, "path %s/.%s.tmp is too long", upgrades_dir, name);
    if (mkdtemp(tmp) == NULL)
        return err_sys(err, "cannot create a temp dir in %s", upgrades_dir);
    int hold = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* until it is renamed or removed */
    if (hold < 0 || fs_temp_hold(hold, tmp, err) != 0) {
        if (hold < 0)
            err_sys(err, "cannot open %s", tmp);
        goto fail;
    }
    if (chmod(tmp, 0755) != 0 || s_extract_into(file, tmp, upgrades_dir, daemon_name, err) != 0 ||
        s_place_binary(tmp, file, daemon_name, err) != 0)
        goto fail;
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_NOREPLACE) != 0) {
#else
    if (rename(tmp, target) != 0) {
#endif
        err_sys(err, "cannot rename %s to %s", tmp, target);
        goto fail;
    }
    close(hold);
    if (fs_fsync_dir(upgrades_dir, err) != 0)
        return -1; /* installed; only durability is in doubt */
    log_info("download", "installed", LF_STR("upgrade", name), LF_STR("dir", target));
    return 0;
fail:
    s_remove_tree(tmp);
    if (hold >= 0)
        close(hold);
    return -1;
}
