/* Unit tests of agent/probe.h: the probe actor against a fake node (libmicrohttpd in this process)
 * that answers eth_blockNumber, eth_syncing and web3_clientVersion as each test sets. Not tested
 * here: the JSON-RPC details themselves (test_noderpc does that). */
#include "probe.h"
#include "testhttp.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 2000         /* of each call */
#define SHORT_TIMEOUT_MS 300    /* of calls to a node that hangs */
#define LONG_INTERVAL_MS 60000  /* so that only the first probe and probe_now happen */
#define SHORT_INTERVAL_MS 100   /* to see the timer work */
#define RESULT_DEADLINE_MS 5000 /* how long a test waits for a result (valgrind is slow) */
#define PROMPT_MS 1000          /* what "at once" may take */
#define HANG_MS 10000           /* longer than any timeout; teardown cuts it short */
#define REPLY_MAX 512
#define GETH_VERSION "Geth/v1.13.5-stable/linux-amd64/go1.21.5"

/* The fake node: its state (set by the test) and how often each method was asked. */
typedef struct {
    tu_http_t *http;
    char address[64]; /* 127.0.0.1:port */
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a call arrived, or teardown released a hanging one */
    bool released;

    int64_t height;
    bool failing; /* eth_blockNumber answers an error object */
    bool hanging; /* every call hangs until HANG_MS or teardown */
    bool syncing;
    const char *version;

    int block_calls;
    int syncing_calls;
    int version_calls;
} fake_node_t;

/* The reply members (after "id") for one method, in buf; called with the lock held. */
static void s_reply_members(fake_node_t *node, const char *method, char *buf, size_t size)
{
    if (streq(method, "eth_blockNumber")) {
        node->block_calls++;
        if (node->failing)
            snprintf(buf, size, "\"error\":{\"code\":-32000,\"message\":\"node is stopping\"}");
        else
            snprintf(buf, size, "\"result\":\"0x%llx\"", (unsigned long long)node->height);
    } else if (streq(method, "eth_syncing")) {
        node->syncing_calls++;
        snprintf(buf, size, "\"result\":%s",
                 node->syncing ? "{\"currentBlock\":\"0x1\",\"highestBlock\":\"0x2\"}" : "false");
    } else if (streq(method, "web3_clientVersion")) {
        node->version_calls++;
        snprintf(buf, size, "\"result\":\"%s\"", node->version);
    } else {
        snprintf(buf, size, "\"error\":{\"code\":-32601,\"message\":\"method not found\"}");
    }
}

/* Waits until teardown releases the node or HANG_MS pass; called with the lock held. */
static void s_hang(fake_node_t *node)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HANG_MS / 1000;
    while (!node->released)
        if (pthread_cond_timedwait(&node->changed, &node->lock, &until) != 0)
            break;
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *body, size_t len)
{
    (void)url;
    (void)method;
    fake_node_t *node = cls;
    json_t *request = json_loadb(body, len, 0, NULL);
    const char *rpc_method = json_string_value(json_object_get(request, "method"));
    long long id = (long long)json_integer_value(json_object_get(request, "id"));
    char members[REPLY_MAX];
    pthread_mutex_lock(&node->lock);
    s_reply_members(node, rpc_method != NULL ? rpc_method : "", members, sizeof members);
    pthread_cond_broadcast(&node->changed);
    if (node->hanging)
        s_hang(node);
    pthread_mutex_unlock(&node->lock);
    json_decref(request);

    char *reply = malloc(REPLY_MAX * 2);
    if (reply == NULL)
        return MHD_NO;
    snprintf(reply, REPLY_MAX * 2, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", id, members);
    return tu_http_reply_json(conn, MHD_HTTP_OK, reply);
}

/* cmocka setup: a healthy fake node at height 436 on 127.0.0.1 and a free port. */
static int s_node_setup(void **state)
{
    fake_node_t *node = calloc(1, sizeof *node);
    assert_non_null(node);
    pthread_mutex_init(&node->lock, NULL);
    pthread_cond_init(&node->changed, NULL);
    node->height = 436;
    node->version = GETH_VERSION;
    node->http = tu_http_start(s_on_request, node, 0, node->address, sizeof node->address);
    *state = node;
    return 0;
}

static int s_node_teardown(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->released = true;
    pthread_cond_broadcast(&node->changed);
    pthread_mutex_unlock(&node->lock);
    tu_http_stop(&node->http);
    pthread_cond_destroy(&node->changed);
    pthread_mutex_destroy(&node->lock);
    free(node);
    return 0;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to deadline_ms for the actor's next result; fails the test if none comes. */
static void s_wait_result(zactor_t *probe, int deadline_ms, probe_result_t *out)
{
    zpoller_t *poller = zpoller_new(probe, NULL);
    assert_non_null(poller);
    void *which = zpoller_wait(poller, deadline_ms);
    zpoller_destroy(&poller);
    if (which != probe)
        fail_msg("no probe result within %d ms", deadline_ms);
    assert_int_equal(probe_recv(probe, out), 0);
}

/* Waits up to RESULT_DEADLINE_MS until the node has been asked eth_blockNumber calls times. */
static void s_wait_block_calls(fake_node_t *node, int calls)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += RESULT_DEADLINE_MS / 1000;
    pthread_mutex_lock(&node->lock);
    while (node->block_calls < calls)
        if (pthread_cond_timedwait(&node->changed, &node->lock, &until) != 0)
            break;
    int seen = node->block_calls;
    pthread_mutex_unlock(&node->lock);
    if (seen < calls)
        fail_msg("the node was asked eth_blockNumber %d times, not %d", seen, calls);
}

static void s_set(fake_node_t *node, int64_t height, bool failing, bool syncing)
{
    pthread_mutex_lock(&node->lock);
    node->height = height;
    node->failing = failing;
    node->syncing = syncing;
    pthread_mutex_unlock(&node->lock);
}

static int s_version_calls(fake_node_t *node)
{
    pthread_mutex_lock(&node->lock);
    int calls = node->version_calls;
    pthread_mutex_unlock(&node->lock);
    return calls;
}

static void test_results_follow_the_node(void **state)
{
    fake_node_t *node = *state;
    zactor_t *probe = probe_new(node->address, LONG_INTERVAL_MS, TIMEOUT_MS);
    assert_non_null(probe);
    probe_result_t result;
    s_wait_result(probe, RESULT_DEADLINE_MS, &result); /* the first probe runs at once */
    if (!result.ok)
        fail_msg("%s", result.error);
    assert_int_equal(result.height, 436);
    assert_false(result.syncing);
    assert_string_equal(result.client_version, GETH_VERSION);
    assert_string_equal(result.error, "");

    s_set(node, 437, false, true);
    probe_now(probe);
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    assert_true(result.ok);
    assert_int_equal(result.height, 437);
    assert_true(result.syncing);
    assert_string_equal(result.client_version, GETH_VERSION); /* remembered, not asked again */
    assert_int_equal(s_version_calls(node), 1);
    zactor_destroy(&probe);
    assert_null(probe);
}

static void test_failures_carry_the_error_text(void **state)
{
    fake_node_t *node = *state;
    zactor_t *probe = probe_new(node->address, LONG_INTERVAL_MS, TIMEOUT_MS);
    assert_non_null(probe);
    probe_result_t result;
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    assert_true(result.ok);
    assert_int_equal(s_version_calls(node), 1);

    s_set(node, 436, true, false);
    probe_now(probe);
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    assert_false(result.ok);
    tu_assert_contains(result.error, "eth_blockNumber");
    tu_assert_contains(result.error, "-32000");
    tu_assert_contains(result.error, "node is stopping");
    assert_string_equal(result.client_version, ""); /* unknown while the node does not answer */

    s_set(node, 500, false, false);
    probe_now(probe);
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    assert_true(result.ok);
    assert_int_equal(result.height, 500);
    assert_string_equal(result.client_version, GETH_VERSION);
    assert_int_equal(s_version_calls(node), 2); /* asked again after the failure */
    zactor_destroy(&probe);
}

static void test_a_dead_node_is_reported(void **state)
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
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%u", ntohs(addr.sin_port));

    zactor_t *probe = probe_new(address, LONG_INTERVAL_MS, TIMEOUT_MS);
    assert_non_null(probe);
    probe_result_t result;
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    assert_false(result.ok);
    tu_assert_contains(result.error, "connection refused");
    tu_assert_contains(result.error, address);
    zactor_destroy(&probe);
    close(fd);
}

static void test_results_come_every_interval(void **state)
{
    fake_node_t *node = *state;
    zactor_t *probe = probe_new(node->address, SHORT_INTERVAL_MS, TIMEOUT_MS);
    assert_non_null(probe);
    probe_result_t result;
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    int64_t first = s_now_ms();
    s_set(node, 900, false, false);
    for (int i = 0; i < 2; i++)
        s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    assert_true(result.ok);
    assert_int_equal(result.height, 900);
    /* two intervals (less the delivery of the first) between the first and the third result */
    assert_true(s_now_ms() - first >= 3 * SHORT_INTERVAL_MS / 2);
    zactor_destroy(&probe);
}

static void test_probe_now_gives_a_prompt_result(void **state)
{
    fake_node_t *node = *state;
    zactor_t *probe = probe_new(node->address, LONG_INTERVAL_MS, TIMEOUT_MS);
    assert_non_null(probe);
    probe_result_t result;
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    int64_t start = s_now_ms();
    probe_now(probe);
    s_wait_result(probe, PROMPT_MS, &result); /* not LONG_INTERVAL_MS */
    assert_true(result.ok);
    assert_true(s_now_ms() - start < PROMPT_MS);
    zactor_destroy(&probe);
}

static void test_destroy_is_prompt_when_idle(void **state)
{
    fake_node_t *node = *state;
    zactor_t *probe = probe_new(node->address, LONG_INTERVAL_MS, TIMEOUT_MS);
    assert_non_null(probe);
    probe_result_t result;
    s_wait_result(probe, RESULT_DEADLINE_MS, &result);
    int64_t start = s_now_ms();
    zactor_destroy(&probe);
    assert_true(s_now_ms() - start < PROMPT_MS);
}

static void test_destroy_is_prompt_during_a_hung_call(void **state)
{
    fake_node_t *node = *state;
    pthread_mutex_lock(&node->lock);
    node->hanging = true;
    pthread_mutex_unlock(&node->lock);
    zactor_t *probe = probe_new(node->address, LONG_INTERVAL_MS, SHORT_TIMEOUT_MS);
    assert_non_null(probe);
    s_wait_block_calls(node, 1); /* the first probe is waiting for the node */
    int64_t start = s_now_ms();
    zactor_destroy(&probe);
    int64_t elapsed = s_now_ms() - start;
    if (elapsed > SHORT_TIMEOUT_MS + PROMPT_MS)
        fail_msg("zactor_destroy took %lld ms with a time-out of %d ms", (long long)elapsed,
                 SHORT_TIMEOUT_MS);
}

/* An actor that sends what probe_recv must refuse, then waits for $TERM. */
static void s_impostor_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_signal(pipe, 0);
    zstr_send(pipe, "HELLO");
    zsock_send(pipe, "sb", "RESULT", "short", (size_t)5);
    char *command = zstr_recv(pipe);
    zstr_free(&command);
}

static void test_recv_refuses_what_is_not_a_result(void **state)
{
    (void)state;
    zactor_t *impostor = zactor_new(s_impostor_actor, NULL);
    assert_non_null(impostor);
    probe_result_t result;
    assert_int_equal(probe_recv(impostor, &result), -1); /* HELLO */
    assert_int_equal(probe_recv(impostor, &result), -1); /* a RESULT of the wrong size */
    zactor_destroy(&impostor);
}

int main(void)
{
    zsys_handler_set(NULL); /* cmocka and the tests own signals, not czmq */
/* Each test gets its own fake node, passed as *state. */
#define NODE_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_node_setup, s_node_teardown)
    const struct CMUnitTest tests[] = {
        NODE_TEST(test_results_follow_the_node),
        NODE_TEST(test_failures_carry_the_error_text),
        cmocka_unit_test(test_a_dead_node_is_reported),
        NODE_TEST(test_results_come_every_interval),
        NODE_TEST(test_probe_now_gives_a_prompt_result),
        NODE_TEST(test_destroy_is_prompt_when_idle),
        NODE_TEST(test_destroy_is_prompt_during_a_hung_call),
        cmocka_unit_test(test_recv_refuses_what_is_not_a_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
