/* Unit tests of agent/download.h: checksum references, picking the binary, fetching from a
 * libmicrohttpd server in this process (drops, stalls, redirects, Range, 404) and installing real
 * archives. */
#include "download.h"
#include "testhttp.h"
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BODY_LEN 300000   /* bytes the fake server serves */
#define DROP_AFTER 100000 /* a dropping response stops after this many bytes */
#define STALL_AFTER 1000  /* a stalling response sends this many bytes, then nothing */
#define STALL_HOLD_S 10   /* for at most this long (or until the teardown) */
#define STALL_MS 1000     /* the stall timeout of the stall test */
#define READ_BLOCK 8192
#define SHA256_HEX "sha256:"
#define TIMEOUT_MS 5000
#define DAEMON "wemixd"
#define SCRIPT "#!/bin/sh\necho wemixd v2\n"
#define NOBODY_ID 65534 /* who a test run as root installs as, so that permission bits count */

/* ---------------------------------------------------------------------------------------------
 * The fake release server: serves one body at any path, optionally with Range, drops, stalls or
 * errors; /old redirects to /new and /evil to a file:// URL */

typedef struct {
    tu_http_t *http;
    char base[64]; /* http://127.0.0.1:port */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled at teardown: a stalled response ends */
    bool stopping;
    unsigned char body[BODY_LEN];
    char tmpdir[PATH_MAX];
    /* set by the test */
    unsigned status;   /* 200: serve the body; else this status */
    bool honour_range; /* answer Range with 206 */
    int drops;         /* this many responses stop after DROP_AFTER bytes */
    bool stall;        /* responses stall after STALL_AFTER bytes */
    /* seen by the server */
    int requests;
    int range_requests;
    unsigned long long last_range_from;
} server_t;

typedef struct {
    server_t *server;
    size_t start; /* offset in the body */
    size_t limit; /* bytes to send before failing; SIZE_MAX: all */
    bool stall;   /* hold the connection at limit before failing */
} reader_t;

/* Blocks a connection's thread for STALL_HOLD_S at most, or until the teardown. */
static void s_hold(server_t *s)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += STALL_HOLD_S;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&s->lock);
}

static ssize_t s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    reader_t *r = cls;
    if (pos >= r->limit) {
        if (r->stall)
            s_hold(r->server);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = BODY_LEN - r->start - (size_t)pos;
    if (n > max)
        n = max;
    if (n > r->limit - pos)
        n = r->limit - (size_t)pos;
    memcpy(buf, r->server->body + r->start + pos, n);
    return (ssize_t)n;
}

static enum MHD_Result s_queue_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result s_queue_redirect(struct MHD_Connection *conn, const char *location)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    enum MHD_Result rc = MHD_NO;
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, location) == MHD_YES)
        rc = MHD_queue_response(conn, MHD_HTTP_FOUND, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *upload, size_t len)
{
    (void)method;
    (void)upload;
    (void)len;
    server_t *s = cls;
    const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Range");
    pthread_mutex_lock(&s->lock);
    s->requests++;
    unsigned long long from = 0;
    if (range != NULL && sscanf(range, "bytes=%llu-", &from) == 1) {
        s->range_requests++;
        s->last_range_from = from;
    }
    unsigned status = s->status;
    bool ranged = range != NULL && s->honour_range;
    bool drop = s->drops > 0;
    if (drop && status == MHD_HTTP_OK)
        s->drops--;
    bool stall = s->stall;
    pthread_mutex_unlock(&s->lock);
    if (strcmp(url, "/old") == 0)
        return s_queue_redirect(conn, "/new");
    if (strcmp(url, "/evil") == 0)
        return s_queue_redirect(conn, "file:///etc/passwd");
    if (status != MHD_HTTP_OK)
        return s_queue_text(conn, status, "no such file");
    if (!ranged)
        from = 0;
    if (from >= BODY_LEN)
        return s_queue_text(conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, "");
    reader_t *r = malloc(sizeof *r);
    if (r == NULL)
        return MHD_NO;
    *r = (reader_t){.server = s,
                    .start = (size_t)from,
                    .limit = stall  ? STALL_AFTER
                             : drop ? DROP_AFTER
                                    : SIZE_MAX,
                    .stall = stall};
    struct MHD_Response *response =
        MHD_create_response_from_callback(BODY_LEN - from, READ_BLOCK, s_read, r, free);
    if (response == NULL) {
        free(r);
        return MHD_NO;
    }
    if (ranged) {
        char content_range[96];
        snprintf(content_range, sizeof content_range, "bytes %llu-%d/%d", from, BODY_LEN - 1,
                 BODY_LEN);
        MHD_add_response_header(response, "Content-Range", content_range);
    }
    enum MHD_Result rc =
        MHD_queue_response(conn, ranged ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return rc;
}

/* cmocka setup: a server on 127.0.0.1 serving BODY_LEN pseudo-random bytes, and a temp dir. A
 * thread per connection, so that a stalled response holds only its own. */
static int s_server_setup(void **state)
{
    server_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < BODY_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s->body[i] = (unsigned char)x;
    }
    s->status = MHD_HTTP_OK;
    s->honour_range = true;
    assert_int_equal(tu_mkdtemp(s->tmpdir, sizeof s->tmpdir), 0);
    char address[48];
    s->http =
        tu_http_start(s_on_request, s, MHD_USE_THREAD_PER_CONNECTION, address, sizeof address);
    snprintf(s->base, sizeof s->base, "http://%s", address);
    *state = s;
    return 0;
}

static int s_server_teardown(void **state)
{
    server_t *s = *state;
    pthread_mutex_lock(&s->lock);
    s->stopping = true; /* a stalled response ends, so that its thread can be joined */
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    tu_http_stop(&s->http);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    tu_rm_rf(s->tmpdir);
    free(s);
    return 0;
}

static void s_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    assert_int_equal(EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static download_opts_t s_opts(void)
{
    return (download_opts_t){.connect_timeout_ms = TIMEOUT_MS, .stall_timeout_ms = TIMEOUT_MS};
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A reference to the server's path (e.g. "/old") with checksum (NULL: none). */
static download_ref_t s_ref_at(server_t *s, const char *path, const char *checksum)
{
    char url[512];
    if (checksum != NULL)
        snprintf(url, sizeof url, "%s%s?checksum=%s", s->base, path, checksum);
    else
        snprintf(url, sizeof url, "%s%s", s->base, path);
    download_ref_t ref;
    wv_err_t err = {{0}};
    if (download_parse_ref(url, &ref, &err) != 0)
        fail_msg("%s", err.msg);
    return ref;
}

/* A reference to the server's body with checksum (NULL: none). */
static download_ref_t s_ref(server_t *s, const char *checksum)
{
    return s_ref_at(s, "/wemixd-v2", checksum);
}

/* A reference to the server's path with the body's right checksum. */
static download_ref_t s_good_ref_at(server_t *s, const char *path)
{
    char checksum[8 + 64 + 1] = SHA256_HEX;
    s_sha256_hex(s->body, BODY_LEN, checksum + strlen(SHA256_HEX));
    return s_ref_at(s, path, checksum);
}

static download_ref_t s_good_ref(server_t *s)
{
    return s_good_ref_at(s, "/wemixd-v2");
}

/* The number of entries in dir (without . and ..). */
static int s_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Fails unless path holds exactly the server's body. */
static void s_assert_body(server_t *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *got = malloc(BODY_LEN + 1);
    assert_non_null(got);
    size_t n = fread(got, 1, BODY_LEN + 1, f);
    fclose(f);
    assert_int_equal(n, BODY_LEN);
    assert_memory_equal(got, s->body, BODY_LEN);
    free(got);
}

static void s_out(server_t *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s/out", s->tmpdir);
}

/* ---------------------------------------------------------------------------------------------
 * References */

static void test_parse_ref_splits_the_checksum(void **state)
{
    (void)state;
    download_ref_t ref;
    wv_err_t err = {{0}};
    const char *upper = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789";
    char url[512];
    snprintf(url, sizeof url, "https://h.example/w.tar.gz?checksum=sha256:%s", upper);
    assert_int_equal(download_parse_ref(url, &ref, &err), 0);
    assert_string_equal(ref.url, "https://h.example/w.tar.gz");
    assert_int_equal(ref.kind, DIGEST_SHA256);
    assert_string_equal(ref.hex,
                        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");

    /* among other parameters, which are kept in order */
    char sha512[129];
    memset(sha512, 'a', 128);
    sha512[128] = '\0';
    snprintf(url, sizeof url, "http://h/w?a=1&checksum=sha512:%s&b=2#frag", sha512);
    assert_int_equal(download_parse_ref(url, &ref, &err), 0);
    assert_string_equal(ref.url, "http://h/w?a=1&b=2#frag");
    assert_int_equal(ref.kind, DIGEST_SHA512);
    assert_string_equal(ref.hex, sha512);
    snprintf(url, sizeof url, "http://h/w?checksum=SHA512:%s&a=1", sha512);
    assert_int_equal(download_parse_ref(url, &ref, &err), 0);
    assert_string_equal(ref.url, "http://h/w?a=1");

    /* no checksum at all */
    assert_int_equal(download_parse_ref("https://h/w?x=y", &ref, &err), 0);
    assert_string_equal(ref.url, "https://h/w?x=y");
    assert_int_equal(ref.kind, DIGEST_NONE);
}

static void test_parse_ref_refuses_a_bad_checksum_or_scheme(void **state)
{
    (void)state;
    download_ref_t ref;
    wv_err_t err = {{0}};
    const char *hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char url[512];
    snprintf(url, sizeof url, "https://h/w?checksum=md5:%s", hex64);
    assert_int_equal(download_parse_ref(url, &ref, &err), -1);
    tu_assert_contains(err.msg, "md5");
    snprintf(url, sizeof url, "https://h/w?checksum=sha512:%s", hex64); /* wrong length */
    assert_int_equal(download_parse_ref(url, &ref, &err), -1);
    tu_assert_contains(err.msg, "128 hex digits");
    assert_int_equal(download_parse_ref("https://h/w?checksum=sha256:xyz", &ref, &err), -1);
    tu_assert_contains(err.msg, "64 hex digits");
    snprintf(url, sizeof url, "https://h/w?checksum=sha256:%.63sg", hex64); /* not hex */
    assert_int_equal(download_parse_ref(url, &ref, &err), -1);
    assert_int_equal(download_parse_ref("https://h/w?checksum=", &ref, &err), -1);
    assert_int_equal(download_parse_ref("https://h/w?checksum=abc", &ref, &err), -1);
    snprintf(url, sizeof url, "https://h/w?checksum=sha256:%s&checksum=sha256:%s", hex64, hex64);
    assert_int_equal(download_parse_ref(url, &ref, &err), -1);
    tu_assert_contains(err.msg, "more than one");
    assert_int_equal(download_parse_ref("ftp://h/w", &ref, &err), -1);
    tu_assert_contains(err.msg, "http://");
    assert_int_equal(download_parse_ref("file:///bin/sh", &ref, &err), -1);
}

/* ---------------------------------------------------------------------------------------------
 * Picking the binary */

static void test_pick_url_prefers_this_machine_then_any(void **state)
{
    (void)state;
    char url[256], info[512];
    wv_err_t err = {{0}};
    snprintf(info, sizeof info, "{\"binaries\":{\"any\":\"https://a\",\"%s\":\"https://m\"}}",
             download_os_arch());
    assert_int_equal(download_pick_url(info, download_os_arch(), url, sizeof url, &err), 0);
    assert_string_equal(url, "https://m");
    assert_int_equal(download_pick_url("{\"binaries\":{\"any\":\"https://a\"}}", "linux/amd64", url,
                                       sizeof url, &err),
                     0);
    assert_string_equal(url, "https://a");
    /* a JSON string holding the object */
    assert_int_equal(
        download_pick_url("\"{\\\"binaries\\\":{\\\"linux/arm64\\\":\\\"https://b\\\"}}\"",
                          "linux/arm64", url, sizeof url, &err),
        0);
    assert_string_equal(url, "https://b");
}

static void test_pick_url_explains_what_is_missing(void **state)
{
    (void)state;
    char url[256];
    wv_err_t err = {{0}};
    assert_int_equal(download_pick_url("{\"x\":1}", "linux/amd64", url, sizeof url, &err), -1);
    tu_assert_contains(err.msg, "no \"binaries\"");
    assert_int_equal(download_pick_url("{\"binaries\":{\"windows/amd64\":\"https://w\","
                                       "\"darwin/arm64\":\"https://d\"}}",
                                       "linux/amd64", url, sizeof url, &err),
                     -1);
    tu_assert_contains(err.msg, "\"linux/amd64\"");
    tu_assert_contains(err.msg, "\"windows/amd64\", \"darwin/arm64\"");
    assert_int_equal(
        download_pick_url("{\"binaries\":{\"any\":7}}", "linux/amd64", url, sizeof url, &err), -1);
    tu_assert_contains(err.msg, "must be a URL string");
    assert_int_equal(download_pick_url("{nope", "linux/amd64", url, sizeof url, &err), -1);
    tu_assert_contains(err.msg, "not JSON");
    assert_int_equal(download_pick_url("\"https://h/info.json?checksum=sha256:00\"", "linux/amd64",
                                       url, sizeof url, &err),
                     -1);
    tu_assert_contains(err.msg, "is a URL");
}

/* ---------------------------------------------------------------------------------------------
 * Fetching */

static void test_fetch_verifies_a_good_checksum(void **state)
{
    server_t *s = *state;
    download_ref_t ref = s_good_ref(s);
    download_opts_t opts = s_opts();
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    if (download_fetch(&ref, out, &opts, &err) != 0)
        fail_msg("%s", err.msg);
    s_assert_body(s, out);
    assert_int_equal(s_entries(s->tmpdir), 1); /* no temp file left */
    assert_int_equal(s->requests, 1);
}

static void test_fetch_removes_a_file_with_the_wrong_checksum(void **state)
{
    server_t *s = *state;
    char want[80], got[65];
    snprintf(want, sizeof want, "sha256:%064d", 0);
    s_sha256_hex(s->body, BODY_LEN, got);
    download_ref_t ref = s_ref(s, want);
    download_opts_t opts = s_opts();
    opts.retries = 3; /* a mismatch is not retried */
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    assert_int_equal(download_fetch(&ref, out, &opts, &err), -1);
    tu_assert_contains(err.msg, "checksum mismatch for");
    tu_assert_contains(err.msg, ref.url);
    tu_assert_contains(err.msg, want);
    tu_assert_contains(err.msg, got);
    assert_int_equal(s_entries(s->tmpdir), 0);
    assert_int_equal(s->requests, 1);
}

static void test_fetch_needs_a_checksum_unless_told_otherwise(void **state)
{
    server_t *s = *state;
    download_ref_t ref = s_ref(s, NULL);
    download_opts_t opts = s_opts();
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    assert_int_equal(download_fetch(&ref, out, &opts, &err), -1);
    tu_assert_contains(err.msg, "has no checksum");
    tu_assert_contains(err.msg, "UNSAFE_SKIP_CHECKSUM");
    assert_int_equal(s->requests, 0);
    assert_int_equal(s_entries(s->tmpdir), 0);

    opts.allow_no_checksum = true;
    if (download_fetch(&ref, out, &opts, &err) != 0)
        fail_msg("%s", err.msg);
    s_assert_body(s, out);
}

static void test_fetch_gives_up_after_the_retries(void **state)
{
    server_t *s = *state;
    s->status = MHD_HTTP_NOT_FOUND;
    download_ref_t ref = s_good_ref(s);
    download_opts_t opts = s_opts();
    opts.retries = 1; /* one backoff of a second */
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    assert_int_equal(download_fetch(&ref, out, &opts, &err), -1);
    tu_assert_contains(err.msg, "HTTP status 404");
    tu_assert_contains(err.msg, "after 2 attempts");
    assert_int_equal(s->requests, 2);
    assert_int_equal(s_entries(s->tmpdir), 0);
}

static void test_fetch_refuses_more_than_max_bytes(void **state)
{
    server_t *s = *state;
    download_ref_t ref = s_good_ref(s);
    download_opts_t opts = s_opts();
    opts.max_bytes = 1000;
    opts.retries = 2; /* not retried */
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    assert_int_equal(download_fetch(&ref, out, &opts, &err), -1);
    tu_assert_contains(err.msg, "limit of 1000 bytes");
    assert_int_equal(s->requests, 1);
    assert_int_equal(s_entries(s->tmpdir), 0);
}

static void test_fetch_resumes_a_dropped_transfer_with_range(void **state)
{
    server_t *s = *state;
    s->drops = 1;
    download_ref_t ref = s_good_ref(s);
    download_opts_t opts = s_opts();
    opts.retries = 2;
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    if (download_fetch(&ref, out, &opts, &err) != 0)
        fail_msg("%s", err.msg);
    s_assert_body(s, out);
    assert_int_equal(s->requests, 2);
    assert_int_equal(s->range_requests, 1);
    assert_true(s->last_range_from > 0 && s->last_range_from <= DROP_AFTER);
}

static void test_fetch_starts_over_when_the_server_ignores_range(void **state)
{
    server_t *s = *state;
    s->drops = 1;
    s->honour_range = false;
    download_ref_t ref = s_good_ref(s);
    download_opts_t opts = s_opts();
    opts.retries = 1;
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    if (download_fetch(&ref, out, &opts, &err) != 0)
        fail_msg("%s", err.msg);
    s_assert_body(s, out);
    assert_int_equal(s->range_requests, 1);
    assert_true(s->requests >= 2);
}

static void test_fetch_gives_up_on_a_stalled_server(void **state)
{
    server_t *s = *state;
    s->stall = true; /* headers and STALL_AFTER bytes, then nothing for STALL_HOLD_S */
    download_ref_t ref = s_good_ref(s);
    download_opts_t opts = s_opts();
    opts.stall_timeout_ms = STALL_MS;
    opts.retries = 0;
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    int64_t start = s_now_ms();
    assert_int_equal(download_fetch(&ref, out, &opts, &err), -1);
    int64_t took = s_now_ms() - start;
    if (took >= 4 * STALL_MS)
        fail_msg("a stall of %d ms was noticed after %lld ms: %s", STALL_MS, (long long)took,
                 err.msg);
    tu_assert_contains(err.msg, "stall");
    tu_assert_contains(err.msg, "after 1 attempts");
    assert_int_equal(s->requests, 1);
    assert_int_equal(s_entries(s->tmpdir), 0); /* neither out nor its temp file */
}

static void test_fetch_follows_an_http_redirect_only(void **state)
{
    server_t *s = *state;
    download_ref_t ref = s_good_ref_at(s, "/old"); /* 302 to /new */
    download_opts_t opts = s_opts();
    char out[PATH_MAX];
    s_out(s, out, sizeof out);
    wv_err_t err = {{0}};
    if (download_fetch(&ref, out, &opts, &err) != 0)
        fail_msg("%s", err.msg);
    s_assert_body(s, out);
    assert_int_equal(s_entries(s->tmpdir), 1);
    assert_int_equal(s->requests, 2);
    assert_int_equal(unlink(out), 0);

    /* a redirect to file:// is not followed */
    ref = s_good_ref_at(s, "/evil");
    assert_int_equal(download_fetch(&ref, out, &opts, &err), -1);
    tu_assert_contains(err.msg, ref.url);
    tu_assert_contains(err.msg, "\"file\""); /* libcurl: Protocol "file" not supported */
    assert_int_equal(s->requests, 3);
    assert_int_equal(s_entries(s->tmpdir), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Installing */

typedef struct {
    const char *name;
    const char *text; /* file content; NULL: a directory, or a symlink when link is set */
    const char *link;
    mode_t perm;
} entry_t;

typedef enum { AR_TAR_GZ, AR_TAR_ZST, AR_ZIP } archive_kind_t;

/* Writes an archive of the entries (ended by a NULL name) with libarchive's writer. */
static void s_make_archive(const char *path, archive_kind_t kind, const entry_t *entries)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    if (kind == AR_ZIP) {
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    } else {
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(kind == AR_TAR_GZ ? archive_write_add_filter_gzip(a)
                                           : archive_write_add_filter_zstd(a),
                         ARCHIVE_OK);
    }
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (const entry_t *e = entries; e->name != NULL; e++) {
        struct archive_entry *entry = archive_entry_new();
        assert_non_null(entry);
        archive_entry_set_pathname(entry, e->name);
        archive_entry_set_perm(entry, e->perm);
        if (e->link != NULL) {
            archive_entry_set_filetype(entry, AE_IFLNK);
            archive_entry_set_symlink(entry, e->link);
        } else if (e->text == NULL) {
            archive_entry_set_filetype(entry, AE_IFDIR);
        } else {
            archive_entry_set_filetype(entry, AE_IFREG);
            archive_entry_set_size(entry, (la_int64_t)strlen(e->text));
        }
        assert_int_equal(archive_write_header(a, entry), ARCHIVE_OK);
        if (e->text != NULL && e->link == NULL)
            assert_int_equal(archive_write_data(a, e->text, strlen(e->text)),
                             (la_ssize_t)strlen(e->text));
        archive_entry_free(entry);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Paths of one install test under the temp dir. */
typedef struct {
    char archive[PATH_MAX];
    char upgrades[PATH_MAX];
    char bin[PATH_MAX];
} install_paths_t;

static install_paths_t s_paths(const char *dir)
{
    install_paths_t p;
    snprintf(p.archive, sizeof p.archive, "%s/download", dir);
    snprintf(p.upgrades, sizeof p.upgrades, "%s/upgrades", dir);
    snprintf(p.bin, sizeof p.bin, "%s/upgrades/v2/bin/" DAEMON, dir);
    return p;
}

static void s_install_ok(const install_paths_t *p, const char *expect)
{
    wv_err_t err = {{0}};
    if (download_install(p->archive, p->upgrades, "v2", DAEMON, &err) != 0)
        fail_msg("%s", err.msg);
    struct stat st;
    assert_int_equal(lstat(p->bin, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true((st.st_mode & 0111) == 0111);
    FILE *f = fopen(p->bin, "r");
    assert_non_null(f);
    char buf[256] = {0};
    assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, expect);
    assert_int_equal(s_entries(p->upgrades), 1); /* v2 only: no temp dir left */
}

/* Expects the install to fail with `what`, leaving nothing in upgrades/. */
static void s_install_fails(const install_paths_t *p, const char *what)
{
    wv_err_t err = {{0}};
    assert_int_equal(download_install(p->archive, p->upgrades, "v2", DAEMON, &err), -1);
    tu_assert_contains(err.msg, what);
    assert_int_equal(s_entries(p->upgrades), 0);
}

static void test_install_a_raw_binary(void **state)
{
    install_paths_t p = s_paths(*state);
    tu_write_file(p.archive, SCRIPT, 0644);
    s_install_ok(&p, SCRIPT);
}

static void test_install_a_tar_gz_with_bin(void **state)
{
    install_paths_t p = s_paths(*state);
    const entry_t entries[] = {{"bin", NULL, NULL, 0755},
                               {"bin/" DAEMON, SCRIPT, NULL, 0755},
                               {"lib/libextra.so", "elf", NULL, 0644},
                               {NULL, NULL, NULL, 0}};
    s_make_archive(p.archive, AR_TAR_GZ, entries);
    s_install_ok(&p, SCRIPT);
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/v2/lib/libextra.so", p.upgrades);
    assert_int_equal(access(lib, F_OK), 0);
}

static void test_install_a_tar_zst_with_the_binary_at_the_root(void **state)
{
    install_paths_t p = s_paths(*state);
    const entry_t entries[] = {{DAEMON, SCRIPT, NULL, 0600}, {NULL, NULL, NULL, 0}};
    s_make_archive(p.archive, AR_TAR_ZST, entries);
    s_install_ok(&p, SCRIPT);
}

static void test_install_a_zip(void **state)
{
    install_paths_t p = s_paths(*state);
    const entry_t entries[] = {{"bin/" DAEMON, SCRIPT, NULL, 0755}, {NULL, NULL, NULL, 0}};
    s_make_archive(p.archive, AR_ZIP, entries);
    s_install_ok(&p, SCRIPT);
}

static void test_install_refuses_paths_out_of_the_tree(void **state)
{
    const char *dir = *state;
    install_paths_t p = s_paths(dir);
    char evil[PATH_MAX], abs_name[PATH_MAX];
    snprintf(abs_name, sizeof abs_name, "%s/abs-evil", dir);
    const char *bad[] = {"../evil", "../../evil", "bin/../../../evil", abs_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const entry_t entries[] = {{"bin/" DAEMON, SCRIPT, NULL, 0755},
                                   {bad[i], "pwned", NULL, 0644},
                                   {NULL, NULL, NULL, 0}};
        s_make_archive(p.archive, AR_TAR_GZ, entries);
        s_install_fails(&p, "outside the upgrade directory");
    }
    /* a symlink to outside, as the binary or anywhere */
    const entry_t link_bin[] = {{"bin/" DAEMON, NULL, "/bin/sh", 0755}, {NULL, NULL, NULL, 0}};
    s_make_archive(p.archive, AR_TAR_GZ, link_bin);
    s_install_fails(&p, "outside the upgrade directory");
    const entry_t link_up[] = {{"up", NULL, "../..", 0755}, {NULL, NULL, NULL, 0}};
    s_make_archive(p.archive, AR_ZIP, link_up);
    s_install_fails(&p, "outside the upgrade directory");
    snprintf(evil, sizeof evil, "%s/evil", dir);
    assert_int_equal(access(evil, F_OK), -1);
    assert_int_equal(access(abs_name, F_OK), -1);
    snprintf(evil, sizeof evil, "%s/evil", p.upgrades);
    assert_int_equal(access(evil, F_OK), -1);
}

static void test_install_refuses_an_archive_without_the_binary(void **state)
{
    install_paths_t p = s_paths(*state);
    const entry_t entries[] = {
        {"README", "hello", NULL, 0644}, {"bin/otherd", SCRIPT, NULL, 0755}, {NULL, NULL, NULL, 0}};
    s_make_archive(p.archive, AR_TAR_GZ, entries);
    s_install_fails(&p, "neither bin/" DAEMON " nor " DAEMON);
}

static void test_install_refuses_an_existing_upgrade(void **state)
{
    install_paths_t p = s_paths(*state);
    tu_write_file(p.archive, SCRIPT, 0644);
    char existing[PATH_MAX];
    snprintf(existing, sizeof existing, "%s/v2", p.upgrades);
    assert_int_equal(mkdir(p.upgrades, 0755), 0);
    assert_int_equal(mkdir(existing, 0755), 0);
    wv_err_t err = {{0}};
    assert_int_equal(download_install(p.archive, p.upgrades, "v2", DAEMON, &err), -1);
    tu_assert_contains(err.msg, "exists already");
    assert_int_equal(s_entries(p.upgrades), 1);
    assert_int_equal(s_entries(existing), 0);
    /* and a name that could leave upgrades/ */
    assert_int_equal(download_install(p.archive, p.upgrades, "..", DAEMON, &err), -1);
}

/* Counts the entries of dir without cmocka (for a child process); -1 if it cannot be read. */
static int s_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The install of a refused archive, as the user the test runs as: 0 when it failed as expected
 * and left upgrades/ empty. */
static int s_refused_install_leaves_nothing(const install_paths_t *p)
{
    wv_err_t err = {{0}};
    if (download_install(p->archive, p->upgrades, "v2", DAEMON, &err) == 0)
        return 1;
    if (strstr(err.msg, "neither bin/" DAEMON) == NULL)
        return 2;
    return s_count_entries(p->upgrades) == 0 ? 0 : 3;
}

/* A refused archive whose directories are read-only, or unreadable, leaves no temp dir behind,
 * also for a user who is not root (root ignores permission bits: as root the install runs in a
 * child process as nobody). */
static void test_install_removes_read_only_dirs_of_a_refused_archive(void **state)
{
    const char *dir = *state;
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/user", dir);
    assert_int_equal(mkdir(home, 0755), 0);
    install_paths_t p = s_paths(home);
    const entry_t entries[] = {{"ro", NULL, NULL, 0555},
                               {"ro/file", "x", NULL, 0444},
                               {"locked", NULL, NULL, 0},
                               {"locked/deep", NULL, NULL, 0555},
                               {"locked/deep/file", "y", NULL, 0644},
                               {NULL, NULL, NULL, 0}}; /* no binary: refused once unpacked */
    s_make_archive(p.archive, AR_TAR_GZ, entries);
    if (geteuid() != 0) {
        assert_int_equal(s_refused_install_leaves_nothing(&p), 0);
        return;
    }
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(chown(home, NOBODY_ID, NOBODY_ID), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(NOBODY_ID) != 0 || setuid(NOBODY_ID) != 0)
            _exit(4);
        _exit(s_refused_install_leaves_nothing(&p));
    }
    static const char *const why[] = {"", "the install succeeded", "it failed for another reason",
                                      "a temp dir was left in upgrades/", "cannot become nobody"};
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && (size_t)WEXITSTATUS(status) < sizeof why / sizeof why[0]);
    if (WEXITSTATUS(status) != 0)
        fail_msg("as uid %d: %s", NOBODY_ID, why[WEXITSTATUS(status)]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ref_splits_the_checksum),
        cmocka_unit_test(test_parse_ref_refuses_a_bad_checksum_or_scheme),
        cmocka_unit_test(test_pick_url_prefers_this_machine_then_any),
        cmocka_unit_test(test_pick_url_explains_what_is_missing),
#define SERVED(t) cmocka_unit_test_setup_teardown(t, s_server_setup, s_server_teardown)
        SERVED(test_fetch_verifies_a_good_checksum),
        SERVED(test_fetch_removes_a_file_with_the_wrong_checksum),
        SERVED(test_fetch_needs_a_checksum_unless_told_otherwise),
        SERVED(test_fetch_gives_up_after_the_retries),
        SERVED(test_fetch_refuses_more_than_max_bytes),
        SERVED(test_fetch_resumes_a_dropped_transfer_with_range),
        SERVED(test_fetch_starts_over_when_the_server_ignores_range),
        SERVED(test_fetch_gives_up_on_a_stalled_server),
        SERVED(test_fetch_follows_an_http_redirect_only),
#define IN_TMP(t) cmocka_unit_test_setup_teardown(t, tu_tmpdir_setup, tu_tmpdir_teardown)
        IN_TMP(test_install_a_raw_binary),
        IN_TMP(test_install_removes_read_only_dirs_of_a_refused_archive),
        IN_TMP(test_install_a_tar_gz_with_bin),
        IN_TMP(test_install_a_tar_zst_with_the_binary_at_the_root),
        IN_TMP(test_install_a_zip),
        IN_TMP(test_install_refuses_paths_out_of_the_tree),
        IN_TMP(test_install_refuses_an_archive_without_the_binary),
        IN_TMP(test_install_refuses_an_existing_upgrade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
