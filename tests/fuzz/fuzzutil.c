/* fuzzutil: scratch directories, file helpers and process limits for the fuzz targets (see
 * fuzzutil.h). It does no fuzzing itself and must stay deterministic: no clock, no randomness. */
#include "fuzzutil.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define FZ_NFTW_FDS 16
#define FZ_TMPFS "/dev/shm"

/* Throwaway keys made for the fuzz targets with `openssl genpkey -algorithm ed25519`: they sign
 * fuzz inputs and nothing else. */
static const char *const s_keys[FZ_IDENTITIES] = {
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ6BWUYnX2iN+64SALpuIqGT7IakmjROhDIYfETGA7pt\n"
    "-----END PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIBPGFKvssOwdzyvzeKUQ6K3ws7GuB4+B8mTMx3IEE5go\n"
    "-----END PRIVATE KEY-----\n"};
static identity_t *s_ids[FZ_IDENTITIES];

static char s_scratch[PATH_MAX];
static pid_t s_owner; /* only the process that made the scratch dir removes it */

void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz property broken: %s\n", file, line, what);
    abort();
}

static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int fz_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, s_remove_entry, FZ_NFTW_FDS, FTW_DEPTH | FTW_PHYS);
}

static int s_remove_below(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    return ftw->level == 0 ? 0 : remove(path);
}

int fz_empty_dir(const char *dir)
{
    return nftw(dir, s_remove_below, FZ_NFTW_FDS, FTW_DEPTH | FTW_PHYS);
}

int fz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    const char *p = data;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return close(fd);
}

char *fz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL)
        abort();
    if (len > 0)
        memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

void fz_begin_input(void)
{
    static bool ignored;
    if (!ignored) {
        signal(SIGXFSZ, SIG_IGN);
        ignored = true;
    }
}

static void s_remove_scratch(void)
{
    if (s_scratch[0] != '\0' && getpid() == s_owner)
        fz_rm_rf(s_scratch);
}

const char *fz_init(const char *tag)
{
    if (s_scratch[0] != '\0')
        return s_scratch;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0)
        abort();
    log_set_fd(devnull);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = FZ_FILE_SIZE_MAX, .rlim_max = FZ_FILE_SIZE_MAX};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        abort();
    const char *base = access(FZ_TMPFS, W_OK) == 0 ? FZ_TMPFS : "/tmp";
    int n = snprintf(s_scratch, sizeof s_scratch, "%s/wvfuzz-%s-XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= sizeof s_scratch || mkdtemp(s_scratch) == NULL) {
        fprintf(stderr, "fuzz: cannot create a scratch directory under %s: %s\n", base,
                strerror(errno));
        abort();
    }
    s_owner = getpid();
    atexit(s_remove_scratch);
    return s_scratch;
}

const identity_t *fz_identity(int which)
{
    if (which < 0 || which >= FZ_IDENTITIES)
        abort();
    if (s_ids[which] == NULL) {
        char path[PATH_MAX];
        wv_err_t err = {{0}};
        snprintf(path, sizeof path, "%s/key%d.pem", fz_init("key"), which);
        if (fz_write_file(path, s_keys[which], strlen(s_keys[which])) != 0 ||
            (s_ids[which] = identity_load(path, &err)) == NULL) {
            fprintf(stderr, "fuzz: cannot load key %d: %s\n", which, err.msg);
            abort();
        }
    }
    return s_ids[which];
}

/* ---- the in-process node ---- */

typedef struct {
    fz_answer_fn answer;
    void *cls;
} http_t;

typedef struct {
    char *data;
    size_t len;
} upload_t;

static http_t s_http;
static struct MHD_Daemon *s_daemon;

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    (void)url;
    (void)method;
    (void)version;
    http_t *http = cls;
    upload_t *up = *con_cls;
    if (up == NULL) { /* the headers: the body follows */
        up = calloc(1, sizeof *up);
        *con_cls = up;
        return up != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        char *grown = realloc(up->data, up->len + *upload_data_size + 1);
        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + up->len, upload_data, *upload_data_size);
        up->data = grown;
        up->len += *upload_data_size;
        up->data[up->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    size_t len = 0;
    unsigned status = MHD_HTTP_OK;
    bool close_after = false;
    char *body = http->answer(http->cls, up->data != NULL ? up->data : "", up->len, &len, &status,
                              &close_after);
    if (body == NULL)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (close_after)
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void s_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    upload_t *up = *con_cls;
    if (up != NULL) {
        free(up->data);
        free(up);
        *con_cls = NULL;
    }
}

static void s_http_stop(void)
{
    if (s_daemon != NULL)
        MHD_stop_daemon(s_daemon);
    s_daemon = NULL;
}

void fz_http_start(fz_answer_fn answer, void *cls, char *address, size_t size)
{
    if (s_daemon != NULL)
        abort(); /* one per process */
    s_http = (http_t){.answer = answer, .cls = cls};
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_on_request,
                                &s_http, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
                                s_on_completed, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        s_daemon != NULL ? MHD_get_daemon_info(s_daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (info == NULL) {
        fprintf(stderr, "fuzz: cannot start the HTTP server\n");
        abort();
    }
    snprintf(address, size, "127.0.0.1:%u", (unsigned)info->port);
    atexit(s_http_stop);
}
