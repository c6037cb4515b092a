/* Unit tests of agent/control.h: a real control socket on a zloop, asked by control_request or a
 * raw REQ socket from a client thread. Not tested here: the agent's commands (commands.c). */
#include "control.h"
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_TIMEOUT_MS 2000
#define DEADLINE_MS 10000        /* the loop ends by then even if the client never finishes */
#define NO_ANSWER_TIMEOUT_MS 300 /* how long a client waits for an answer that does not come */
#define NO_ANSWER_SLACK_MS 1000  /* ... and how much later than that it may give up */
#define MAX_RAW 4                /* raw requests one client sends */
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* The agent's side (a loop and its control socket) and what the client thread got. The thread
 * only records; the test asserts after joining it. */
typedef struct {
    char dir[PATH_MAX];
    char path[PATH_MAX]; /* the socket */
    zloop_t *loop;
    control_t *ctl;
    int done[2]; /* the client writes a byte here when it is finished, which ends the loop */
    bool timed_out;
    int requests; /* answered by s_answer */

    /* the client's requests */
    const char *cmd;          /* for control_request */
    const char *raw[MAX_RAW]; /* sent as they are; NULL ends them early */
    /* what it got */
    int rc;
    json_t *reply;
    wv_err_t err;
    char *raw_reply[MAX_RAW];
} fixture_t;

/* The owner's commands: "refuse" is answered with ok false, anything else is echoed. */
static json_t *s_answer(const char *cmd, json_t *request, void *arg)
{
    (void)request;
    fixture_t *fx = arg;
    fx->requests++;
    if (strcmp(cmd, "refuse") == 0)
        return json_pack("{s:b, s:s}", "ok", 0, "error", "refused by the test");
    return json_pack("{s:s}", "echo", cmd);
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL || tu_mkdtemp(fx->dir, sizeof fx->dir) != 0) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/%s", fx->dir, CONTROL_SOCKET_NAME);
    fx->loop = zloop_new();
    if (fx->loop == NULL || pipe(fx->done) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    control_destroy(&fx->ctl);
    zloop_destroy(&fx->loop);
    close(fx->done[0]);
    close(fx->done[1]);
    json_decref(fx->reply);
    for (size_t i = 0; i < MAX_RAW; i++)
        free(fx->raw_reply[i]);
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

/* Starts the agent's side: the control socket on the loop. */
static void s_serve(fixture_t *fx)
{
    wv_err_t err = {{0}};
    fx->ctl = control_new(fx->loop, fx->path, s_answer, fx, &err);
    if (fx->ctl == NULL)
        fail_msg("control_new: %s", err.msg);
}

/* The client is finished: end the loop. The byte stays unread; each test has its own pipe. */
static int s_on_done(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    return -1;
}

static int s_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    fixture_t *fx = arg;
    fx->timed_out = true;
    return -1;
}

static void s_client_done(fixture_t *fx)
{
    if (write(fx->done[1], "d", 1) != 1)
        abort(); /* the loop would wait for the deadline: better fail loudly now */
}

/* The CLI: one request with control_request. */
static void *s_ask(void *arg)
{
    fixture_t *fx = arg;
    fx->rc = control_request(fx->path, fx->cmd, CLIENT_TIMEOUT_MS, &fx->reply, &fx->err);
    s_client_done(fx);
    return NULL;
}

/* Something else on the socket: raw strings over a REQ socket, then a proper request. */
static void *s_send_raw(void *arg)
{
    fixture_t *fx = arg;
    zsock_t *req = zsock_new(ZMQ_REQ);
    if (req != NULL && zsock_connect(req, "ipc://%s", fx->path) == 0) {
        zsock_set_rcvtimeo(req, CLIENT_TIMEOUT_MS);
        for (size_t i = 0; i < MAX_RAW && fx->raw[i] != NULL; i++) {
            if (zstr_send(req, fx->raw[i]) != 0)
                break;
            fx->raw_reply[i] = zstr_recv(req);
            if (fx->raw_reply[i] == NULL)
                break;
        }
    }
    zsock_destroy(&req);
    fx->rc = control_request(fx->path, "status", CLIENT_TIMEOUT_MS, &fx->reply, &fx->err);
    s_client_done(fx);
    return NULL;
}

/* A request of exactly CONTROL_REQUEST_MAX bytes (fx->raw[0]), then one byte more (fx->raw[1]) on
 * the same socket, then a proper request on a new one. */
static void *s_send_oversized(void *arg)
{
    fixture_t *fx = arg;
    zsock_t *req = zsock_new(ZMQ_REQ);
    if (req != NULL && zsock_connect(req, "ipc://%s", fx->path) == 0) {
        zsock_set_rcvtimeo(req, CLIENT_TIMEOUT_MS);
        if (zstr_send(req, fx->raw[0]) == 0)
            fx->raw_reply[0] = zstr_recv(req);
        zsock_set_rcvtimeo(req, NO_ANSWER_TIMEOUT_MS);
        if (fx->raw_reply[0] != NULL && zstr_send(req, fx->raw[1]) == 0)
            fx->raw_reply[1] = zstr_recv(req);
    }
    zsock_destroy(&req); /* it waits for an answer that never comes: a REQ socket is stuck then */
    fx->rc = control_request(fx->path, "status", CLIENT_TIMEOUT_MS, &fx->reply, &fx->err);
    s_client_done(fx);
    return NULL;
}

/* Runs the loop while the client thread does its part; returns when it is finished. */
static void s_run(fixture_t *fx, void *(*client)(void *))
{
    zmq_pollitem_t done = {NULL, fx->done[0], ZMQ_POLLIN, 0};
    assert_int_equal(zloop_poller(fx->loop, &done, s_on_done, fx), 0);
    int timer = zloop_timer(fx->loop, DEADLINE_MS, 1, s_on_deadline, fx);
    assert_true(timer >= 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, client, fx), 0);
    zloop_start(fx->loop);
    assert_int_equal(pthread_join(thread, NULL), 0);
    zloop_poller_end(fx->loop, &done);
    zloop_timer_end(fx->loop, timer);
    assert_false(fx->timed_out);
}

static void test_a_request_gets_the_owners_answer_with_ok_added(void **state)
{
    fixture_t *fx = *state;
    s_serve(fx);
    fx->cmd = "status";
    s_run(fx, s_ask);
    if (fx->rc != 0)
        fail_msg("control_request: %s", fx->err.msg);
    assert_int_equal(fx->requests, 1);
    assert_string_equal(json_string_value(json_object_get(fx->reply, "echo")), "status");
    assert_true(json_is_true(json_object_get(fx->reply, "ok")));
}

static void test_an_answer_that_says_no_is_passed_through(void **state)
{
    fixture_t *fx = *state;
    s_serve(fx);
    fx->cmd = "refuse";
    s_run(fx, s_ask);
    assert_int_equal(fx->rc, 0); /* the request worked; the answer is no */
    assert_true(json_is_false(json_object_get(fx->reply, "ok")));
    assert_string_equal(json_string_value(json_object_get(fx->reply, "error")),
                        "refused by the test");
}

static void test_a_malformed_request_gets_an_error_answer(void **state)
{
    fixture_t *fx = *state;
    s_serve(fx);
    static const struct {
        const char *request;
        const char *error;
    } cases[] = {
        {"not json", "request is not a JSON object: "}, /* and the parser's reason */
        {"[\"status\"]", "request is not a JSON object"},
        {"{\"cmd\": \"status\", \"cmd\": \"stop\"}", "request is not a JSON object: "},
        {"{\"cmd\": 5}", "request has no \"cmd\" string"},
    };
    for (size_t i = 0; i < MAX_RAW; i++)
        fx->raw[i] = cases[i].request;
    s_run(fx, s_send_raw);

    for (size_t i = 0; i < MAX_RAW; i++) {
        if (fx->raw_reply[i] == NULL)
            fail_msg("no answer to %s", cases[i].request);
        json_t *answer = json_loads(fx->raw_reply[i], 0, NULL);
        assert_non_null(answer);
        assert_true(json_is_false(json_object_get(answer, "ok")));
        const char *error = json_string_value(json_object_get(answer, "error"));
        assert_non_null(error);
        if (strncmp(error, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("%s: error \"%s\" does not start with \"%s\"", cases[i].request, error,
                     cases[i].error);
        json_decref(answer);
    }
    /* none reached the owner, and the socket still answers a proper request */
    if (fx->rc != 0)
        fail_msg("control_request after the bad ones: %s", fx->err.msg);
    assert_int_equal(fx->requests, 1);
    assert_string_equal(json_string_value(json_object_get(fx->reply, "echo")), "status");
}

/* {"cmd":"status","pad":"aaa..."} of exactly size bytes (heap). */
static char *s_padded_request(size_t size)
{
    static const char head[] = "{\"cmd\":\"status\",\"pad\":\"", tail[] = "\"}";
    char *text = malloc(size + 1);
    assert_non_null(text);
    size_t pad = size - strlen(head) - strlen(tail);
    memcpy(text, head, strlen(head));
    memset(text + strlen(head), 'a', pad);
    memcpy(text + strlen(head) + pad, tail, sizeof tail);
    assert_int_equal(strlen(text), size);
    return text;
}

static void test_an_oversized_request_is_dropped_and_the_socket_keeps_serving(void **state)
{
    fixture_t *fx = *state;
    s_serve(fx);
    char *largest = s_padded_request(CONTROL_REQUEST_MAX);
    char *too_large = s_padded_request(CONTROL_REQUEST_MAX + 1);
    fx->raw[0] = largest;
    fx->raw[1] = too_large;
    s_run(fx, s_send_oversized);
    free(largest);
    free(too_large);

    if (fx->raw_reply[0] == NULL)
        fail_msg("no answer to a request of %d bytes", CONTROL_REQUEST_MAX);
    tu_assert_contains(fx->raw_reply[0], "\"echo\":\"status\"");
    assert_null(fx->raw_reply[1]); /* ZeroMQ drops the sender; nothing reaches the owner */
    if (fx->rc != 0)
        fail_msg("control_request after the oversized one: %s", fx->err.msg);
    assert_int_equal(fx->requests, 2);
}

static void test_no_agent_is_an_error_within_the_timeout(void **state)
{
    fixture_t *fx = *state;
    json_t *reply = NULL;
    wv_err_t err = {{0}};
    int64_t start = zclock_mono();
    assert_int_equal(control_request(fx->path, "status", NO_ANSWER_TIMEOUT_MS, &reply, &err), -1);
    int64_t took = zclock_mono() - start;
    assert_null(reply);
    tu_assert_contains(err.msg, fx->path);
    tu_assert_contains(err.msg, "did not answer");
    assert_true(took < NO_ANSWER_TIMEOUT_MS + NO_ANSWER_SLACK_MS);
}

static void test_the_socket_is_owner_only_and_destroy_removes_it(void **state)
{
    fixture_t *fx = *state;
    s_serve(fx);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    control_destroy(&fx->ctl);
    assert_null(fx->ctl);
    assert_int_equal(stat(fx->path, &st), -1);
    assert_int_equal(errno, ENOENT);
    control_destroy(&fx->ctl); /* twice is harmless */
}

static void test_a_stale_socket_file_is_replaced(void **state)
{
    fixture_t *fx = *state;
    tu_write_file(fx->path, "left by an agent that died\n", 0644);
    s_serve(fx);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    fx->cmd = "status";
    s_run(fx, s_ask);
    assert_int_equal(fx->rc, 0);
}

static void test_a_path_longer_than_sun_path_is_refused(void **state)
{
    fixture_t *fx = *state;
    /* dir/aaa...: the longest path a socket can have, then one byte more */
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/", fx->dir);
    size_t len = (size_t)n;
    while (len < SUN_PATH_SIZE - 1)
        path[len++] = 'a';
    path[len] = '\0';

    wv_err_t err = {{0}};
    fx->ctl = control_new(fx->loop, path, s_answer, fx, &err);
    if (fx->ctl == NULL)
        fail_msg("a path of %zu bytes is refused: %s", strlen(path), err.msg);
    control_destroy(&fx->ctl);

    path[len++] = 'a';
    path[len] = '\0';
    assert_null(control_new(fx->loop, path, s_answer, fx, &err));
    tu_assert_contains(err.msg, path);
    char limit[64];
    snprintf(limit, sizeof limit, "longer than %zu bytes", SUN_PATH_SIZE - 1);
    tu_assert_contains(err.msg, limit);
    tu_assert_contains(err.msg, "shorter DAEMON_HOME");
}

int main(void)
{
    zsys_handler_set(NULL); /* cmocka and the tests own signals, not czmq */
#define CONTROL_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        CONTROL_TEST(test_a_request_gets_the_owners_answer_with_ok_added),
        CONTROL_TEST(test_an_answer_that_says_no_is_passed_through),
        CONTROL_TEST(test_a_malformed_request_gets_an_error_answer),
        CONTROL_TEST(test_an_oversized_request_is_dropped_and_the_socket_keeps_serving),
        CONTROL_TEST(test_no_agent_is_an_error_within_the_timeout),
        CONTROL_TEST(test_the_socket_is_owner_only_and_destroy_removes_it),
        CONTROL_TEST(test_a_stale_socket_file_is_replaced),
        CONTROL_TEST(test_a_path_longer_than_sun_path_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
