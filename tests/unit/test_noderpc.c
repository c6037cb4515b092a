/* Unit tests of agent/noderpc.h: calls to a fake node, a libmicrohttpd server in this process whose
 * answers each test sets, and strict hex quantities. Not tested here: host names (DNS). */
#include "noderpc.h"
#include "testhttp.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 2000       /* of calls that are answered */
#define SHORT_TIMEOUT_MS 400  /* of calls that are not */
#define TIMEOUT_SLACK_MS 1000 /* a timed-out call may return this late (valgrind is slow) */
#define HANG_MS 10000         /* longer than any timeout; teardown cuts it short */
#define FIELD_MAX 256
#define HTTP_UNSUPPORTED_MEDIA_TYPE 415

/* The fake node: what it answers (set by the test) and what it was asked (read by the test). */
typedef struct {
    tu_http_t *http;
    char address[64]; /* 127.0.0.1:port */
    pthread_mutex_t lock;
    pthread_cond_t released_cond;
    bool released; /* teardown: stop hanging */

    /* the answer: status, then the body is raw if set, else {"id":<id + id_offset>,<members>},
     * padded with spaces to pad_to bytes if set; hang_ms first if set */
    unsigned status;
    const char *raw;
    const char *members;
    long long id_offset;
    size_t pad_to;
    unsigned hang_ms;

    /* the last request */
    int requests;
    long long id;
    char method[FIELD_MAX];
    char params[FIELD_MAX];
    char jsonrpc[FIELD_MAX];
    char content_type[FIELD_MAX];
} fake_node_t;

/* A JSON string's text, "" for anything else. */
static const char *s_text(json_t *value)
{
    const char *text = json_string_value(value);
    return text != NULL ? text : "";
}

/* Records the request and returns its id. */
static long long s_record_request(fake_node_t *node, struct MHD_Connection *conn, const char *body,
                                  size_t len)
{
    json_t *request = json_loadb(body, len, 0, NULL);
    json_t *sent_params = json_object_get(request, "params");
    char *params = sent_params ? json_dumps(sent_params, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    long long id = (long long)json_integer_value(json_object_get(request, "id"));
    pthread_mutex_lock(&node->lock);
    node->requests++;
    node->id = id;
    snprintf(node->content_type, FIELD_MAX, "%s", type != NULL ? type : "");
    snprintf(node->method, FIELD_MAX, "%s", s_text(json_object_get(request, "method")));
    snprintf(node->jsonrpc, FIELD_MAX, "%s", s_text(json_object_get(request, "jsonrpc")));
    snprintf(node->params, FIELD_MAX, "%s", params != NULL ? params : "");
    pthread_mutex_unlock(&node->lock);
    free(params);
    json_decref(request);
    return id;
}

/* The body the test asked for, as a heap string. */
static char *s_reply_body(fake_node_t *node, long long id)
{
    pthread_mutex_lock(&node->lock);
    char *body;
    if (node->raw != NULL) {
        body = strdup(node->raw);
    } else {
        size_t size = node->pad_to > FIELD_MAX ? node->pad_to + 1 : 2 * FIELD_MAX;
        body = malloc(size);
        assert_non_null(body);
        int n = snprintf(body, size, "{\"id\":%lld,%s}", id + node->id_offset, node->members);
        assert_true(n > 0 && (size_t)n < size);
        if (node->pad_to > (size_t)n) { /* whitespace after the value is still JSON */
            memset(body + n, ' ', node->pad_to - (size_t)n);
            body[node->pad_to] = '\0';
        }
    }
    pthread_mutex_unlock(&node->lock);
    assert_non_null(body);
    return body;
}

/* Waits up to hang_ms, or until teardown releases the node. */
static void s_hang(fake_node_t *node)
{
    pthread_mutex_lock(&node->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += node->hang_ms / 1000;
    until.tv_nsec += (long)(node->hang_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!node->released)
        if (pthread_cond_timedwait(&node->released_cond, &node->lock, &until) != 0)
            break;
    pthread_mutex_unlock(&node->lock);
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *request, size_t len)
{
    (void)url;
    (void)method;
    fake_node_t *node = cls;
    long long id = s_record_request(node, conn, request, len);
    pthread_mutex_lock(&node->lock);
    bool hang = node->hang_ms > 0;
    unsigned status = node->status;
    pthread_mutex_unlock(&node->lock);
    if (hang)
        s_hang(node);
    return tu_http_reply_json(conn, status, s_reply_body(node, id));
}

/* cmocka setup: a fake node on 127.0.0.1 and a free port, answering "0x1b4" until told else. */
static int s_node_setup(void **state)
{
    fake_node_t *node = calloc(1, sizeof *node);
    assert_non_null(node);
    pthread_mutex_init(&node->lock, NULL);
    pthread_cond_init(&node->released_cond, NULL);
    node->status = MHD_HTTP_OK;
    node->members = "\"jsonrpc\":\"2.0\",\"result\":\"0x1b4\"";
    node->http = tu_http_start(s_on_request, node, 0, node->address, sizeof node->address);
    *state = node;
    return 0;
}

static int s_node_teardown(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->released = true;
    pthread_cond_broadcast(&node->released_cond);
    pthread_mutex_unlock(&node->lock);
    tu_http_stop(&node->http);
    pthread_cond_destroy(&node->released_cond);
    pthread_mutex_destroy(&node->lock);
    free(node);
    return 0;
}

/* Sets the next answers to {"id":<id>,<members>} with HTTP 200. */
static void s_answer(fake_node_t *node, const char *members)
{
    pthread_mutex_lock(&node->lock);
    node->members = members;
    pthread_mutex_unlock(&node->lock);
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls eth_blockNumber, expects a failure, and checks that err names the address, the method
 * and what went wrong. */
static void s_expect_block_number_error(fake_node_t *node, uint64_t timeout_ms, const char *what)
{
    noderpc_t *rpc = noderpc_new(node->address, timeout_ms);
    assert_non_null(rpc);
    int64_t height = -1;
    wv_err_t err = {{0}};
    assert_int_equal(noderpc_block_number(rpc, &height, &err), -1);
    assert_int_equal(height, -1);
    tu_assert_contains(err.msg, node->address);
    tu_assert_contains(err.msg, "eth_blockNumber");
    tu_assert_contains(err.msg, what);
    noderpc_destroy(&rpc);
}

static void test_block_number_reads_the_height(void **state)
{
    fake_node_t *node = *state;
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    int64_t height = 0;
    wv_err_t err = {{0}};
    if (noderpc_block_number(rpc, &height, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(height, 436);
    /* what geth needs: a JSON-RPC 2.0 POST as application/json, params [] */
    assert_int_equal(node->requests, 1);
    assert_string_equal(node->method, "eth_blockNumber");
    assert_string_equal(node->jsonrpc, "2.0");
    assert_string_equal(node->params, "[]");
    assert_string_equal(node->content_type, "application/json");
    noderpc_destroy(&rpc);
    noderpc_destroy(&rpc); /* safe twice */
}

static void test_call_sends_params_and_returns_the_result(void **state)
{
    fake_node_t *node = *state;
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":{\"number\":\"0x10\"}");
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    json_t *result = NULL;
    wv_err_t err = {{0}};
    if (noderpc_call(rpc, "eth_getBlockByNumber", "[\"latest\", false]", &result, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(node->method, "eth_getBlockByNumber");
    assert_string_equal(node->params, "[\"latest\",false]");
    assert_string_equal(json_string_value(json_object_get(result, "number")), "0x10");
    json_decref(result);

    /* a null result is a result (a block that does not exist yet) */
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":null");
    assert_int_equal(noderpc_call(rpc, "eth_getBlockByNumber", "[\"0x99\", false]", &result, &err),
                     0);
    assert_true(json_is_null(result));
    json_decref(result);
    noderpc_destroy(&rpc);
}

static void test_calls_reuse_the_handle_with_fresh_ids(void **state)
{
    fake_node_t *node = *state;
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    wv_err_t err = {{0}};
    int64_t height = 0;
    assert_int_equal(noderpc_block_number(rpc, &height, &err), 0);
    long long first_id = node->id;
    assert_int_equal(noderpc_block_number(rpc, &height, &err), 0);
    assert_int_equal(node->requests, 2);
    assert_true(node->id != first_id);
    noderpc_destroy(&rpc);
}

static void test_params_must_be_a_json_array(void **state)
{
    fake_node_t *node = *state;
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    json_t *result = NULL;
    wv_err_t err = {{0}};
    assert_int_equal(noderpc_call(rpc, "eth_getBalance", "{\"a\":1}", &result, &err), -1);
    tu_assert_contains(err.msg, "must be a JSON array");
    assert_int_equal(noderpc_call(rpc, "eth_getBalance", "[1,", &result, &err), -1);
    tu_assert_contains(err.msg, "not JSON");
    assert_null(result);
    assert_int_equal(node->requests, 0); /* nothing was sent */
    noderpc_destroy(&rpc);
}

static void test_an_error_object_is_an_error_whatever_its_code(void **state)
{
    fake_node_t *node = *state;
    s_answer(node,
             "\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"header not found\"}");
    s_expect_block_number_error(node, TIMEOUT_MS, "error -32000: header not found");
    s_answer(node, "\"jsonrpc\":\"2.0\",\"error\":{\"code\":0,\"message\":\"oops\"}");
    s_expect_block_number_error(node, TIMEOUT_MS, "error 0: oops");
    /* even alongside a result */
    s_answer(node,
             "\"jsonrpc\":\"2.0\",\"result\":\"0x1\",\"error\":{\"code\":0,\"message\":\"x\"}");
    s_expect_block_number_error(node, TIMEOUT_MS, "error 0: x");
}

static void test_an_http_status_other_than_200_is_an_error(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->status = HTTP_UNSUPPORTED_MEDIA_TYPE;
    node->raw = "invalid content type, only application/json is supported";
    pthread_mutex_unlock(&node->lock);
    s_expect_block_number_error(node, TIMEOUT_MS, "HTTP status 415");
    s_expect_block_number_error(node, TIMEOUT_MS, "only application/json"); /* the body says why */
}

static void test_a_body_that_is_not_json_is_an_error(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->raw = "<html>502 Bad Gateway</html>";
    pthread_mutex_unlock(&node->lock);
    s_expect_block_number_error(node, TIMEOUT_MS, "not JSON");
}

static void test_a_reply_that_is_not_json_rpc_2_is_an_error(void **state)
{
    fake_node_t *node = *state;
    s_answer(node, "\"result\":\"0x1\"");
    s_expect_block_number_error(node, TIMEOUT_MS, "not JSON-RPC 2.0");
    s_answer(node, "\"jsonrpc\":\"1.0\",\"result\":\"0x1\"");
    s_expect_block_number_error(node, TIMEOUT_MS, "not JSON-RPC 2.0");
    pthread_mutex_lock(&node->lock);
    node->raw = "[1,2]";
    pthread_mutex_unlock(&node->lock);
    s_expect_block_number_error(node, TIMEOUT_MS, "not a JSON object");
}

static void test_a_reply_without_result_is_an_error(void **state)
{
    fake_node_t *node = *state;
    s_answer(node, "\"jsonrpc\":\"2.0\"");
    s_expect_block_number_error(node, TIMEOUT_MS, "neither \"result\" nor \"error\"");
}

static void test_a_reply_to_another_id_is_an_error(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->id_offset = 1;
    pthread_mutex_unlock(&node->lock);
    s_expect_block_number_error(node, TIMEOUT_MS, "another request");
}

static void test_a_result_of_the_wrong_shape_is_an_error(void **state)
{
    fake_node_t *node = *state;
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":436");
    s_expect_block_number_error(node, TIMEOUT_MS, "not a string");
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":\"0x01b4\"");
    s_expect_block_number_error(node, TIMEOUT_MS, "leading zero");
}

static void test_a_reply_over_the_limit_is_an_error(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->pad_to = NODERPC_REPLY_MAX; /* exactly at the limit: fine */
    pthread_mutex_unlock(&node->lock);
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    int64_t height = 0;
    wv_err_t err = {{0}};
    if (noderpc_block_number(rpc, &height, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(height, 436);
    noderpc_destroy(&rpc);

    pthread_mutex_lock(&node->lock);
    node->pad_to = NODERPC_REPLY_MAX + 1;
    pthread_mutex_unlock(&node->lock);
    s_expect_block_number_error(node, TIMEOUT_MS, "larger than");
}

static void test_a_node_that_hangs_times_out(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->hang_ms = HANG_MS;
    pthread_mutex_unlock(&node->lock);
    int64_t start = s_now_ms();
    s_expect_block_number_error(node, SHORT_TIMEOUT_MS, "timed out");
    int64_t elapsed = s_now_ms() - start;
    if (elapsed < SHORT_TIMEOUT_MS - 50 || elapsed > SHORT_TIMEOUT_MS + TIMEOUT_SLACK_MS)
        fail_msg("the call took %lld ms with a time-out of %d ms", (long long)elapsed,
                 SHORT_TIMEOUT_MS);
}

static void test_a_port_nobody_listens_on_is_refused(void **state)
{
    (void)state;
    /* a socket bound but not listening: the port stays ours, and connecting to it is refused */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    fake_node_t nobody = {.address = ""};
    snprintf(nobody.address, sizeof nobody.address, "127.0.0.1:%u", ntohs(addr.sin_port));
    int64_t start = s_now_ms();
    s_expect_block_number_error(&nobody, TIMEOUT_MS, "connection refused");
    assert_true(s_now_ms() - start < TIMEOUT_MS); /* refused at once, not timed out */
    close(fd);
}

static void test_syncing_is_false_or_an_object(void **state)
{
    fake_node_t *node = *state;
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    wv_err_t err = {{0}};
    bool syncing = true;
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":false");
    assert_int_equal(noderpc_syncing(rpc, &syncing, &err), 0);
    assert_false(syncing);
    assert_string_equal(node->method, "eth_syncing");
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":{\"currentBlock\":\"0x10\","
                   "\"highestBlock\":\"0x20\"}");
    assert_int_equal(noderpc_syncing(rpc, &syncing, &err), 0);
    assert_true(syncing);
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":\"0x1\"");
    assert_int_equal(noderpc_syncing(rpc, &syncing, &err), -1);
    tu_assert_contains(err.msg, "eth_syncing");
    noderpc_destroy(&rpc);
}

static void test_client_version_is_a_string(void **state)
{
    fake_node_t *node = *state;
    noderpc_t *rpc = noderpc_new(node->address, TIMEOUT_MS);
    assert_non_null(rpc);
    wv_err_t err = {{0}};
    char version[64] = "";
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":\"Geth/v1.13.5-stable/linux-amd64/go1.21.5\"");
    assert_int_equal(noderpc_client_version(rpc, version, sizeof version, &err), 0);
    assert_string_equal(version, "Geth/v1.13.5-stable/linux-amd64/go1.21.5");
    assert_string_equal(node->method, "web3_clientVersion");
    s_answer(node, "\"jsonrpc\":\"2.0\",\"result\":{}");
    assert_int_equal(noderpc_client_version(rpc, version, sizeof version, &err), -1);
    tu_assert_contains(err.msg, "web3_clientVersion");
    noderpc_destroy(&rpc);
}

static void test_parse_quantity_accepts_ethereum_quantities(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t value;
    } cases[] = {
        {"0x0", 0},
        {"0x1", 1},
        {"0x1b4", 436},
        {"0x1B4", 436}, /* digits in either case, as geth accepts */
        {"0x7fffffffffffffff", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t value = -1;
        wv_err_t err = {{0}};
        if (noderpc_parse_quantity(cases[i].text, &value, &err) != 0)
            fail_msg("\"%s\" refused: %s", cases[i].text, err.msg);
        assert_int_equal(value, cases[i].value);
    }
}

static void test_parse_quantity_refuses_anything_else(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",
        "0x",
        "1b4",
        "0x01",
        "0x00",
        "0xg",
        "0x8000000000000000",
        "0xffffffffffffffffff",
        "-0x1",
        "0X1B4",
        " 0x1",
        "0x1 ",
        "1",
        "0x1b4\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int64_t value = -1;
        wv_err_t err = {{0}};
        if (noderpc_parse_quantity(texts[i], &value, &err) != -1)
            fail_msg("\"%s\" accepted as %lld", texts[i], (long long)value);
        assert_int_equal(value, -1);
        assert_true(err.msg[0] != '\0');
    }
    wv_err_t err = {{0}};
    int64_t value;
    assert_int_equal(noderpc_parse_quantity("0x8000000000000000", &value, &err), -1);
    tu_assert_contains(err.msg, "0x8000000000000000");
}

int main(void)
{
/* Each test gets its own fake node, passed as *state. */
#define NODE_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_node_setup, s_node_teardown)
    const struct CMUnitTest tests[] = {
        NODE_TEST(test_block_number_reads_the_height),
        NODE_TEST(test_call_sends_params_and_returns_the_result),
        NODE_TEST(test_calls_reuse_the_handle_with_fresh_ids),
        NODE_TEST(test_params_must_be_a_json_array),
        NODE_TEST(test_an_error_object_is_an_error_whatever_its_code),
        NODE_TEST(test_an_http_status_other_than_200_is_an_error),
        NODE_TEST(test_a_body_that_is_not_json_is_an_error),
        NODE_TEST(test_a_reply_that_is_not_json_rpc_2_is_an_error),
        NODE_TEST(test_a_reply_without_result_is_an_error),
        NODE_TEST(test_a_reply_to_another_id_is_an_error),
        NODE_TEST(test_a_result_of_the_wrong_shape_is_an_error),
        NODE_TEST(test_a_reply_over_the_limit_is_an_error),
        NODE_TEST(test_a_node_that_hangs_times_out),
        cmocka_unit_test(test_a_port_nobody_listens_on_is_refused),
        NODE_TEST(test_syncing_is_false_or_an_object),
        NODE_TEST(test_client_version_is_a_string),
        cmocka_unit_test(test_parse_quantity_accepts_ethereum_quantities),
        cmocka_unit_test(test_parse_quantity_refuses_anything_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
