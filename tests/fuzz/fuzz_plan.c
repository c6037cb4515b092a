/* fuzz_plan: a plan document through `wemixvisor plan add <file>` (cmd_plan: read, JSON, the
 * validation of every upgrade against the journal, the schedule and the chain, then scheduling),
 * and the same bytes as a plan file already in wemixvisor/plans/ through `plan list`, `plan show`,
 * `plan cancel` and the agent's hand-over (plan_upgrade_done/failed). Every "@BIN" in the input
 * becomes the path of a small node binary, so "binary" upgrades can be valid. The chain's height
 * is the journal's (100) when no node answers; an input that starts with a line "@HEIGHT <text>"
 * has a node answer eth_blockNumber with <text>, so the height is the node's, as untrusted as any
 * reply. The home is reset after each input. */
#include "commands.h"
#include "config.h"
#include "fuzzutil.h"
#include "journal.h"
#include "layout.h"
#include "plan.h"
#include "schedule.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN_FUZZ_MAX (64 * 1024) /* plans are small; PLAN_MAX_BYTES is 1 MiB */
#define BIN_TOKEN "@BIN"
#define RAW_PLAN_FILE "fuzz-20240101T000000Z.json" /* the input as a plan file of plans/ */
#define CHAIN_HEIGHT 100
#define APPLIED "v1.0.0"   /* in the journal as applied */
#define FAILED "v1.1.0"    /* in the journal as failed */
#define SCHEDULED "v1.5.0" /* scheduled at SCHEDULED_HEIGHT before each input */
#define SCHEDULED_HEIGHT 500
#define HEIGHT_PREFIX "@HEIGHT "
#define HEIGHT_TEXT_MAX 64

static wv_config_t s_cfg;
static layout_t s_l;
static char s_plan[PATH_MAX];     /* where `plan add` reads the input */
static char s_bin[PATH_MAX];      /* the node binary "@BIN" names */
static char s_schedule[PATH_MAX]; /* data/upgrades */
static char s_raw[PATH_MAX];      /* plans/RAW_PLAN_FILE */
static char s_refused[64];        /* DAEMON_RPC_ADDRESS where nobody answers */
static char s_node[64];           /* ... and where the node answers s_height */
static char s_height[HEIGHT_TEXT_MAX + 1];
static pthread_mutex_t s_height_lock = PTHREAD_MUTEX_INITIALIZER;

/* A TCP port on loopback that refuses connections: bound, never listening, kept for the run. */
static int s_refusing_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        abort();
    return ntohs(sa.sin_port);
}

/* The node: eth_blockNumber (or anything) is answered with s_height as the result. */
static char *s_answer_request(void *cls, const char *request, size_t request_len, size_t *len,
                              unsigned *status, bool *close_after)
{
    (void)cls;
    json_error_t jerr;
    json_t *req = json_loadb(request, request_len, 0, &jerr);
    json_t *id = json_object_get(req, "id");
    pthread_mutex_lock(&s_height_lock);
    json_t *reply = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id",
                              (json_int_t)(json_is_integer(id) ? json_integer_value(id) : 0),
                              "result", s_height);
    pthread_mutex_unlock(&s_height_lock);
    json_decref(req);
    char *text = reply != NULL ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    /* each call is a new connection: closing it here keeps the TIME_WAIT off the client's ports */
    *close_after = true;
    if (text == NULL) {
        *status = 500;
        text = strdup("{}");
    }
    *len = text != NULL ? strlen(text) : 0;
    return text;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fz_init("plan");
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(s_plan, sizeof s_plan, "%s/plan.json", dir);
    snprintf(s_bin, sizeof s_bin, "%s/wemixd-new", dir);
    snprintf(s_refused, sizeof s_refused, "127.0.0.1:%d", s_refusing_port());
    fz_http_start(s_answer_request, NULL, s_node, sizeof s_node);
    for (int i = 0; i < CFG_COUNT; i++)
        unsetenv(config_var_name((cfg_var_t)i));
    unsetenv("WEMIXVISOR_CUSTOM_PREUPGRADE");
    setenv("DAEMON_HOME", home, 1);
    setenv("DAEMON_NAME", "wemixd", 1);
    setenv("DAEMON_RPC_ADDRESS", s_refused, 1);
    wv_err_t err = {{0}};
    static const char script[] = "#!/bin/sh\necho wemixd v2\n";
    journal_t *journal = NULL;
    if (mkdir(home, 0755) != 0 || fz_write_file(s_bin, script, strlen(script)) != 0 ||
        chmod(s_bin, 0755) != 0 || config_load(&s_cfg, NULL, &err) != 0 ||
        layout_init(&s_l, &s_cfg, &err) != 0 || layout_create(&s_l, &err) != 0 ||
        (journal = journal_load(s_l.state, &err)) == NULL) {
        fprintf(stderr, "fuzz_plan: setup: %s\n", err.msg);
        abort();
    }
    journal_set_height(journal, CHAIN_HEIGHT);
    if (journal_record_applied(journal, APPLIED, CHAIN_HEIGHT - 50, &err) != 0 ||
        journal_record_failed(journal, FAILED, CHAIN_HEIGHT - 10, "fuzz", &err) != 0 ||
        journal_save(journal, &err) != 0) {
        fprintf(stderr, "fuzz_plan: journal: %s\n", err.msg);
        abort();
    }
    journal_destroy(&journal);
    snprintf(s_schedule, sizeof s_schedule, "%s/upgrades", s_l.data);
    snprintf(s_raw, sizeof s_raw, "%s/%s", s_l.plans, RAW_PLAN_FILE);
    /* the commands print what they did: nobody reads it */
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, STDOUT_FILENO) < 0)
        abort();
    close(devnull);
    return 0;
}

/* The input with every BIN_TOKEN replaced by s_bin; *len is set. */
static char *s_substitute(const uint8_t *data, size_t size, size_t *len)
{
    size_t tok = strlen(BIN_TOKEN), bin = strlen(s_bin);
    char *out = malloc(size / tok * bin + size + 1);
    FZ_CHECK(out != NULL);
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        if (size - i >= tok && memcmp(data + i, BIN_TOKEN, tok) == 0) {
            memcpy(out + n, s_bin, bin);
            n += bin;
            i += tok;
        } else {
            out[n++] = (char)data[i++];
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static int s_plan_cmd(const char *a, const char *b, const char *c)
{
    char *argv[] = {(char *)a, (char *)b, (char *)c, NULL};
    int argc = c != NULL ? 3 : b != NULL ? 2 : 1;
    int rc = cmd_plan(&s_cfg, argc, argv);
    FZ_CHECK(rc == EXIT_OK || rc == EXIT_FAIL || rc == EXIT_USAGE);
    return rc;
}

/* The names in the input: the plan's and its first two upgrades' (NULL where there is none). */
static void s_names(const char *text, size_t len, char *plan, char *first, char *second,
                    size_t size)
{
    plan[0] = first[0] = second[0] = '\0';
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    const char *p = json_string_value(json_object_get(doc, "name"));
    json_t *ups = json_object_get(doc, "upgrades");
    const char *u0 = json_string_value(json_object_get(json_array_get(ups, 0), "name"));
    const char *u1 = json_string_value(json_object_get(json_array_get(ups, 1), "name"));
    snprintf(plan, size, "%s", p != NULL ? p : "");
    snprintf(first, size, "%s", u0 != NULL ? u0 : "");
    snprintf(second, size, "%s", u1 != NULL ? u1 : "");
    json_decref(doc);
}

/* Back to the state of LLVMFuzzerInitialize: no plans, no copied binaries, one schedule. */
static void s_reset(void)
{
    wv_err_t err = {{0}};
    FZ_CHECK(fz_empty_dir(s_l.plans) == 0);
    FZ_CHECK(fz_empty_dir(s_l.upgrades) == 0);
    FZ_CHECK(fz_rm_rf(s_schedule) == 0);
    if (schedule_add(&s_l, SCHEDULED, SCHEDULED_HEIGHT, NULL, NULL, &err) != 0) {
        fprintf(stderr, "fuzz_plan: %s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    fz_begin_input();
    if (!ready) {
        s_reset();
        ready = true;
    }
    if (size > PLAN_FUZZ_MAX)
        return 0;
    /* "@HEIGHT <text>\n": the node answers, with text */
    char *rpc_address = s_refused;
    size_t prefix = strlen(HEIGHT_PREFIX);
    if (size >= prefix && memcmp(data, HEIGHT_PREFIX, prefix) == 0) {
        const uint8_t *eol = memchr(data + prefix, '\n', size - prefix);
        size_t n = (eol != NULL ? (size_t)(eol - data) : size) - prefix;
        pthread_mutex_lock(&s_height_lock);
        snprintf(s_height, sizeof s_height, "%.*s",
                 (int)(n < HEIGHT_TEXT_MAX ? n : HEIGHT_TEXT_MAX), (const char *)data + prefix);
        pthread_mutex_unlock(&s_height_lock);
        rpc_address = s_node;
        size_t skip = prefix + n + (eol != NULL);
        data += skip;
        size -= skip;
    }
    char *configured = s_cfg.rpc_address;
    s_cfg.rpc_address = rpc_address;
    size_t len;
    char *text = s_substitute(data, size, &len);
    FZ_CHECK(fz_write_file(s_plan, text, len) == 0);
    FZ_CHECK(fz_write_file(s_raw, text, len) == 0);

    s_plan_cmd("add", s_plan, NULL);

    char plan[PATH_MAX], first[PATH_MAX], second[PATH_MAX];
    s_names(text, len, plan, first, second, sizeof plan);
    s_plan_cmd("list", NULL, NULL);
    s_plan_cmd("list", "--json", NULL);
    if (plan[0] != '\0' && plan[0] != '-') {
        s_plan_cmd("show", plan, NULL);
        s_plan_cmd("show", plan, "--json");
    }
    if (first[0] != '\0')
        plan_upgrade_done(&s_l, first);
    if (second[0] != '\0')
        plan_upgrade_failed(&s_l, second, "fuzz: the new binary did not start");
    if (plan[0] != '\0' && plan[0] != '-')
        s_plan_cmd("cancel", plan, NULL);

    free(text);
    s_cfg.rpc_address = configured;
    s_reset();
    return 0;
}
