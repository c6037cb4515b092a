/* fuzz_noderpc: the node's JSON-RPC replies, end to end: a libmicrohttpd server in this process
 * answers each call of agent/noderpc.c with the fuzz input, so the reply goes through libcurl,
 * noderpc's body buffer (s_on_body and its size limit) and its reply parsing, as from a real
 * node. The first byte picks the call (bits 0-1), the HTTP status (2-4), whitespace before the
 * body (5-6: none, none, 20 kB, 1 MiB if bit 7) and Connection: close (7); every
 * "@ID" in the rest becomes the id of the request, so replies can match it. Not fuzzed here:
 * libcurl's own HTTP parsing (not our code) and the request side. */
#include "fuzzutil.h"
#include "noderpc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_TIMEOUT_MS 10000 /* the server always answers; this only bounds a bug */
#define ID_TOKEN "@ID"
#define ID_TEXT_MAX 24
#define PAD_SMALL 20000 /* whitespace before the body: a reply that arrives in pieces */
#define PAD_LARGE (NODERPC_REPLY_MAX) /* one over the limit with any body: costly, so rare */
#define VERSION_MAX 256

enum { CALL_BLOCK_NUMBER = 0, CALL_CLIENT_VERSION, CALL_SYNCING, CALL_RAW };
#define SEL_CALL(s) ((s)&3)
#define SEL_STATUS(s) (((s) >> 2) & 7)
#define SEL_PAD(s) (((s) >> 5) & 3)
#define SEL_CLOSE(s) (((s) >> 7) & 1)

static const unsigned s_statuses[8] = {200, 200, 200, 200, 500, 404, 503, 400};

/* The answer the server gives next; set by the fuzz thread, read by the server's thread. */
static struct {
    pthread_mutex_t lock;
    unsigned status;
    const uint8_t *body;
    size_t body_len;
    size_t pad;
    bool close;
    size_t sent; /* bytes of the last reply body sent */
} s_answer = {.lock = PTHREAD_MUTEX_INITIALIZER};

static noderpc_t *s_rpc;

/* The request's id, as text ("0" if it has none: the reply then cannot match). */
static void s_request_id(const char *body, size_t len, char *out, size_t size)
{
    json_error_t jerr;
    json_t *req = json_loadb(body, len, 0, &jerr);
    json_t *id = json_object_get(req, "id");
    snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_is_integer(id) ? json_integer_value(id) : 0);
    json_decref(req);
}

/* The server's side: pad spaces, then the body with each ID_TOKEN made the request's id. */
static char *s_answer_request(void *cls, const char *request, size_t request_len, size_t *len,
                              unsigned *status, bool *close_after)
{
    (void)cls;
    char id[ID_TEXT_MAX];
    s_request_id(request, request_len, id, sizeof id);
    size_t idlen = strlen(id), toklen = strlen(ID_TOKEN);
    pthread_mutex_lock(&s_answer.lock);
    size_t cap = s_answer.pad + s_answer.body_len * (idlen > toklen ? idlen : toklen) + 1;
    char *out = malloc(cap);
    size_t n = s_answer.pad;
    if (out != NULL)
        memset(out, ' ', s_answer.pad);
    for (size_t i = 0; out != NULL && i < s_answer.body_len;) {
        if (s_answer.body_len - i >= toklen && memcmp(s_answer.body + i, ID_TOKEN, toklen) == 0) {
            memcpy(out + n, id, idlen);
            n += idlen;
            i += toklen;
        } else {
            out[n++] = (char)s_answer.body[i++];
        }
    }
    *len = n;
    *status = s_answer.status;
    *close_after = s_answer.close;
    s_answer.sent = out != NULL ? n : 0;
    pthread_mutex_unlock(&s_answer.lock);
    return out;
}

static void s_stop(void)
{
    noderpc_destroy(&s_rpc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init("noderpc");
    char address[64];
    fz_http_start(s_answer_request, NULL, address, sizeof address);
    s_rpc = noderpc_new(address, CALL_TIMEOUT_MS);
    if (s_rpc == NULL)
        abort();
    atexit(s_stop);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    wv_err_t err = {{0}};

    /* the same bytes as a hex quantity, as eth_blockNumber's result */
    char *text = fz_strndup(data + 1, size - 1);
    int64_t quantity = -1;
    if (noderpc_parse_quantity(text, &quantity, &err) == 0)
        FZ_CHECK(quantity >= 0);
    free(text);

    pthread_mutex_lock(&s_answer.lock);
    s_answer.status = s_statuses[SEL_STATUS(sel)];
    s_answer.body = data + 1;
    s_answer.body_len = size - 1;
    s_answer.pad = SEL_PAD(sel) == 2                     ? PAD_SMALL
                   : SEL_PAD(sel) == 3 && SEL_CLOSE(sel) ? PAD_LARGE
                                                         : 0;
    s_answer.close = SEL_CLOSE(sel);
    s_answer.sent = 0;
    pthread_mutex_unlock(&s_answer.lock);

    int rc = -1;
    switch (SEL_CALL(sel)) {
    case CALL_BLOCK_NUMBER: {
        int64_t height = -1;
        rc = noderpc_block_number(s_rpc, &height, &err);
        if (rc == 0)
            FZ_CHECK(height >= 0);
        break;
    }
    case CALL_CLIENT_VERSION: {
        char version[VERSION_MAX];
        rc = noderpc_client_version(s_rpc, version, sizeof version, &err);
        if (rc == 0)
            FZ_CHECK(memchr(version, '\0', sizeof version) != NULL);
        break;
    }
    case CALL_SYNCING: {
        bool syncing;
        rc = noderpc_syncing(s_rpc, &syncing, &err);
        break;
    }
    case CALL_RAW: {
        json_t *result = NULL;
        rc = noderpc_call(s_rpc, "eth_getBlockByNumber", "[\"latest\", false]", &result, &err);
        FZ_CHECK((rc == 0) == (result != NULL));
        json_decref(result);
        break;
    }
    }
    if (rc != 0)
        FZ_CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
    /* a reply over the limit, or any status but 200, is never a success */
    pthread_mutex_lock(&s_answer.lock);
    if (s_answer.sent > NODERPC_REPLY_MAX || s_answer.status != 200)
        FZ_CHECK(rc != 0);
    s_answer.body = NULL; /* the input goes away after this call */
    s_answer.body_len = 0;
    pthread_mutex_unlock(&s_answer.lock);
    return 0;
}
