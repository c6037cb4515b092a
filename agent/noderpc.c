/* noderpc: one libcurl easy handle per node address, used for synchronous JSON-RPC 2.0 calls.
 * It does not retry, cache or judge the node; a failed call is reported and the caller decides. */
#include "noderpc.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 512
#define HTTP_OK 200
#define QUANTITY_DIGITS_MAX 16 /* 64 bits of hex */
#define SNIPPET_MAX 80         /* how much of an unexpected body goes into an error */
#define SHOWN_TEXT_MAX 40      /* how much of a bad quantity goes into an error */
#define BODY_FIRST_CAP 4096    /* first allocation for a reply; most fit */

/* Used by one thread at a time (libcurl easy handles are not shared). */
struct noderpc {
    char *address;                    /* host:port, as given; named in every error */
    uint64_t timeout_ms;              /* bound of each call, connect included */
    CURL *curl;                       /* reused across calls, so keep-alive connections are too */
    struct curl_slist *headers;       /* Content-Type: application/json, no Expect */
    char curl_error[CURL_ERROR_SIZE]; /* libcurl's detail of the last failure */
    json_int_t next_id;               /* id of the next request; replies must echo it */
    char *body;                       /* reply being received, NUL-terminated */
    size_t body_len;
    size_t body_cap;
    bool body_too_large; /* the reply went over NODERPC_REPLY_MAX and was refused */
    bool body_no_memory; /* growing the body buffer failed */
};

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode s_curl_init_code = CURLE_FAILED_INIT;

static void s_curl_global_init(void)
{
    s_curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* libcurl's write callback: appends to self->body, refusing anything past NODERPC_REPLY_MAX so a
 * broken or hostile endpoint cannot make the agent allocate without bound. Returning less than
 * asked makes libcurl abort the transfer with CURLE_WRITE_ERROR. */
static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    noderpc_t *self = arg;
    size_t n = size * nmemb;
    if (n > NODERPC_REPLY_MAX - self->body_len) {
        self->body_too_large = true;
        return 0;
    }
    if (self->body_len + n + 1 > self->body_cap) {
        size_t cap = self->body_cap == 0 ? BODY_FIRST_CAP : self->body_cap;
        while (cap < self->body_len + n + 1)
            cap *= 2;
        if (cap > NODERPC_REPLY_MAX + 1)
            cap = NODERPC_REPLY_MAX + 1; /* still enough: checked above */
        char *grown = realloc(self->body, cap);
        if (grown == NULL) {
            self->body_no_memory = true;
            return 0;
        }
        self->body = grown;
        self->body_cap = cap;
    }
    memcpy(self->body + self->body_len, data, n);
    self->body_len += n;
    self->body[self->body_len] = '\0';
    return n;
}

noderpc_t *noderpc_new(const char *address, uint64_t timeout_ms)
{
    assert(address != NULL);
    assert(timeout_ms > 0); /* 0 would mean "no limit" to libcurl */
    pthread_once(&s_curl_once, s_curl_global_init);
    if (s_curl_init_code != CURLE_OK)
        return NULL;

    char url[URL_MAX];
    int n = snprintf(url, sizeof url, "http://%s/", address);
    if (n < 0 || (size_t)n >= sizeof url)
        return NULL;

    noderpc_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->timeout_ms = timeout_ms;
    self->next_id = 1;
    self->address = strdup(address);
    self->curl = curl_easy_init();
    self->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* no "Expect: 100-continue" round trip before larger requests */
    struct curl_slist *more =
        self->headers != NULL ? curl_slist_append(self->headers, "Expect:") : NULL;
    if (more != NULL)
        self->headers = more;
    if (self->address == NULL || self->curl == NULL || more == NULL) {
        noderpc_destroy(&self);
        return NULL;
    }
    long limit = timeout_ms > LONG_MAX ? LONG_MAX : (long)timeout_ms;
    CURL *c = self->curl;
    /* The node's RPC is always reached directly: a proxy set for downloads must not apply. */
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, self->headers) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, limit) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, limit) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, self) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->curl_error) != CURLE_OK) {
        noderpc_destroy(&self);
        return NULL;
    }
    return self;
}

void noderpc_destroy(noderpc_t **self_p)
{
    assert(self_p != NULL);
    noderpc_t *self = *self_p;
    if (self == NULL)
        return;
    if (self->curl != NULL)
        curl_easy_cleanup(self->curl);
    curl_slist_free_all(self->headers);
    free(self->body);
    free(self->address);
    free(self);
    *self_p = NULL;
}

/* The first line of the reply body, printable characters only, for an error message. */
static void s_body_snippet(const noderpc_t *self, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < self->body_len && n + 1 < size && n < SNIPPET_MAX; i++) {
        unsigned char ch = (unsigned char)self->body[i];
        if (ch == '\n' || ch == '\r')
            break;
        buf[n++] = isprint(ch) ? (char)ch : '?';
    }
    buf[n] = '\0';
}

/* Says why a transfer failed in words an operator can act on. */
static int s_transfer_error(noderpc_t *self, const char *method, CURLcode code, wv_err_t *err)
{
    const char *who = self->address;
    if (self->body_too_large)
        return err_set(err, "node RPC %s, %s: reply larger than %d bytes", who, method,
                       NODERPC_REPLY_MAX);
    if (self->body_no_memory)
        return err_set(err, "node RPC %s, %s: out of memory reading the reply", who, method);
    switch (code) {
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        curl_easy_getinfo(self->curl, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == ECONNREFUSED || os_errno == 0)
            return err_set(err,
                           "node RPC %s, %s: connection refused (is the node running with HTTP "
                           "RPC on this address?)",
                           who, method);
        return err_set(err, "node RPC %s, %s: cannot connect: %s", who, method,
                       strerror((int)os_errno));
    }
    case CURLE_OPERATION_TIMEDOUT:
        return err_set(err, "node RPC %s, %s: timed out after %" PRIu64 " ms", who, method,
                       self->timeout_ms);
    case CURLE_COULDNT_RESOLVE_HOST:
        return err_set(err, "node RPC %s, %s: cannot resolve the host (check DAEMON_RPC_ADDRESS)",
                       who, method);
    default:
        return err_set(err, "node RPC %s, %s: %s", who, method,
                       self->curl_error[0] != '\0' ? self->curl_error : curl_easy_strerror(code));
    }
}

/* Builds the request text; params is a JSON array in text, NULL meaning []. */
static char *s_request_text(noderpc_t *self, const char *method, const char *params, json_int_t id,
                            wv_err_t *err)
{
    json_t *array;
    if (params == NULL) {
        array = json_array();
    } else {
        json_error_t jerr;
        array = json_loads(params, JSON_DECODE_ANY, &jerr);
        if (array != NULL && !json_is_array(array)) {
            json_decref(array);
            err_set(err, "node RPC %s, %s: params must be a JSON array, not %.*s", self->address,
                    method, SHOWN_TEXT_MAX, params);
            return NULL;
        }
        if (array == NULL) {
            err_set(err, "node RPC %s, %s: params are not JSON: %s", self->address, method,
                    jerr.text);
            return NULL;
        }
    }
    if (array == NULL) {
        err_set(err, "node RPC %s, %s: out of memory", self->address, method);
        return NULL;
    }
    json_t *request = json_object();
    if (request == NULL) {
        json_decref(array);
        err_set(err, "node RPC %s, %s: out of memory", self->address, method);
        return NULL;
    }
    /* json_object_set_new takes the value whatever happens, so every call is made */
    int rc = json_object_set_new(request, "jsonrpc", json_string("2.0"));
    rc |= json_object_set_new(request, "id", json_integer(id));
    rc |= json_object_set_new(request, "method", json_string(method));
    rc |= json_object_set_new(request, "params", array);
    char *text = rc == 0 ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (text == NULL)
        err_set(err, "node RPC %s, %s: out of memory", self->address, method);
    return text;
}

/* Checks a JSON-RPC 2.0 reply to request id and takes its result. */
static int s_take_result(noderpc_t *self, const char *method, json_t *reply, json_int_t id,
                         json_t **result, wv_err_t *err)
{
    const char *who = self->address;
    if (!json_is_object(reply))
        return err_set(err, "node RPC %s, %s: reply is not a JSON object", who, method);
    const char *version = json_string_value(json_object_get(reply, "jsonrpc"));
    if (version == NULL || strcmp(version, "2.0") != 0)
        return err_set(err, "node RPC %s, %s: reply is not JSON-RPC 2.0 (no \"jsonrpc\": \"2.0\")",
                       who, method);
    /* An error reply may carry id null when the node could not read the request's id. */
    json_t *reply_id = json_object_get(reply, "id");
    json_t *error = json_object_get(reply, "error");
    bool has_error = error != NULL && !json_is_null(error);
    bool id_matches = json_is_integer(reply_id) && json_integer_value(reply_id) == id;
    if (!id_matches && !(has_error && json_is_null(reply_id)))
        return err_set(
            err,
            "node RPC %s, %s: reply is for another request (its id is not %" JSON_INTEGER_FORMAT
            ")",
            who, method, id);
    if (has_error) {
        /* any error object is an error, code 0 included */
        json_t *code = json_object_get(error, "code");
        const char *message = json_string_value(json_object_get(error, "message"));
        if (json_is_integer(code))
            return err_set(err, "node RPC %s, %s: error %" JSON_INTEGER_FORMAT ": %s", who, method,
                           json_integer_value(code), message != NULL ? message : "(no message)");
        return err_set(err, "node RPC %s, %s: error: %s", who, method,
                       message != NULL ? message : "(no message)");
    }
    json_t *value = json_object_get(reply, "result");
    if (value == NULL)
        return err_set(err, "node RPC %s, %s: reply has neither \"result\" nor \"error\"", who,
                       method);
    *result = json_incref(value);
    return 0;
}

int noderpc_call(noderpc_t *self, const char *method, const char *params, json_t **result,
                 wv_err_t *err)
{
    assert(self != NULL && method != NULL && result != NULL);
    *result = NULL;
    json_int_t id = self->next_id++;
    char *request = s_request_text(self, method, params, id, err);
    if (request == NULL)
        return -1;

    self->body_len = 0;
    if (self->body != NULL)
        self->body[0] = '\0';
    self->body_too_large = false;
    self->body_no_memory = false;
    self->curl_error[0] = '\0';
    CURLcode code = curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, request);
    if (code == CURLE_OK)
        code = curl_easy_setopt(self->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(request));
    if (code == CURLE_OK)
        code = curl_easy_perform(self->curl);
    /* libcurl keeps the pointer: forget it before the text goes */
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, NULL);
    free(request);
    if (code != CURLE_OK)
        return s_transfer_error(self, method, code, err);

    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != HTTP_OK) {
        char snippet[SNIPPET_MAX + 1];
        s_body_snippet(self, snippet, sizeof snippet);
        return err_set(err, "node RPC %s, %s: HTTP status %ld%s%s", self->address, method, status,
                       snippet[0] != '\0' ? ": " : "", snippet);
    }
    json_error_t jerr;
    json_t *reply = json_loadb(self->body != NULL ? self->body : "", self->body_len, 0, &jerr);
    if (reply == NULL) {
        char snippet[SNIPPET_MAX + 1];
        s_body_snippet(self, snippet, sizeof snippet);
        return err_set(err, "node RPC %s, %s: reply is not JSON (%s): %s", self->address, method,
                       jerr.text, snippet);
    }
    int rc = s_take_result(self, method, reply, id, result, err);
    json_decref(reply);
    return rc;
}

static int s_hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int noderpc_parse_quantity(const char *text, int64_t *out, wv_err_t *err)
{
    assert(text != NULL && out != NULL);
    if (text[0] != '0' || text[1] != 'x')
        return err_set(err, "\"%.*s\" is not a hex quantity: it must start with \"0x\"",
                       SHOWN_TEXT_MAX, text);
    const char *digits = text + 2;
    size_t len = strlen(digits);
    if (len == 0)
        return err_set(err, "\"%.*s\" is not a hex quantity: no digits after \"0x\"",
                       SHOWN_TEXT_MAX, text);
    if (len > 1 && digits[0] == '0')
        return err_set(err, "\"%.*s\" is not a hex quantity: leading zero", SHOWN_TEXT_MAX, text);
    if (len > QUANTITY_DIGITS_MAX)
        return err_set(err, "\"%.*s\" is not a hex quantity: more than %d digits", SHOWN_TEXT_MAX,
                       text, QUANTITY_DIGITS_MAX);
    uint64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        int d = s_hex_digit(digits[i]);
        if (d < 0)
            return err_set(err, "\"%.*s\" is not a hex quantity: '%c' is not a hex digit",
                           SHOWN_TEXT_MAX, text,
                           isprint((unsigned char)digits[i]) ? digits[i] : '?');
        value = value << 4 | (uint64_t)d;
    }
    if (value > INT64_MAX)
        return err_set(err, "\"%.*s\" is out of range: more than %" PRId64, SHOWN_TEXT_MAX, text,
                       INT64_MAX);
    *out = (int64_t)value;
    return 0;
}

int noderpc_block_number(noderpc_t *self, int64_t *height, wv_err_t *err)
{
    json_t *result;
    if (noderpc_call(self, "eth_blockNumber", NULL, &result, err) != 0)
        return -1;
    int rc;
    const char *text = json_string_value(result);
    if (text == NULL) {
        rc = err_set(err, "node RPC %s, eth_blockNumber: result is not a string", self->address);
    } else {
        rc = noderpc_parse_quantity(text, height, err);
        if (rc != 0)
            err_wrap(err, "node RPC %s, eth_blockNumber", self->address);
    }
    json_decref(result);
    return rc;
}

int noderpc_client_version(noderpc_t *self, char *buf, size_t size, wv_err_t *err)
{
    json_t *result;
    if (noderpc_call(self, "web3_clientVersion", NULL, &result, err) != 0)
        return -1;
    int rc = 0;
    const char *text = json_string_value(result);
    if (text == NULL)
        rc = err_set(err, "node RPC %s, web3_clientVersion: result is not a string", self->address);
    else
        snprintf(buf, size, "%s", text);
    json_decref(result);
    return rc;
}

int noderpc_syncing(noderpc_t *self, bool *syncing, wv_err_t *err)
{
    json_t *result;
    if (noderpc_call(self, "eth_syncing", NULL, &result, err) != 0)
        return -1;
    int rc = 0;
    if (json_is_false(result))
        *syncing = false;
    else if (json_is_object(result))
        *syncing = true;
    else
        rc = err_set(err, "node RPC %s, eth_syncing: result is neither false nor an object",
                     self->address);
    json_decref(result);
    return rc;
}
