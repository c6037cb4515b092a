/* Unit tests of shared/httpserv.h: a real server on the test's zloop, asked by libcurl from a
 * second thread that ends the loop when its request is done. Not tested here: idle time-outs. */
#include "httpserv.h"
#include "testutil.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_MS 15000       /* a request the server never answers fails the test by then */
#define CLIENT_TIMEOUT_MS 10000 /* shorter than the deadline, so the client thread always ends */
#define BODY_MAX 1024
#define HEADERS_MAX 2048
#define METRICS_BODY "wemixvisor_up 1\n"
#define METRICS_TYPE "text/plain; version=0.0.4"

/* The owner of the server: its loop, what its handler saw, and one request from a client thread. */
typedef struct {
    zloop_t *loop;
    httpserv_t *server;
    bool timed_out;

    /* what the handler saw */
    int calls;
    char method[16];
    char url[256];

    /* the request, set before the client thread starts */
    char request_url[256];
    const char *request_method; /* "GET", "HEAD" or "POST" */
    int done[2];                /* the client writes one byte here when it is done */

    /* the answer, read after the client thread is joined */
    CURLcode curl_rc;
    long status;
    char content_type[128];
    char body[BODY_MAX];
    size_t body_len;
    char headers[HEADERS_MAX];
    size_t headers_len;
} fixture_t;

static char *s_strdup(const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        fail_msg("out of memory");
    return copy;
}

/* The owner's handler: /metrics, /empty (204, no body), anything else 404. */
static void s_handler(const char *method, const char *url, httpserv_reply_t *reply, void *arg)
{
    fixture_t *fx = arg;
    fx->calls++;
    snprintf(fx->method, sizeof fx->method, "%s", method);
    snprintf(fx->url, sizeof fx->url, "%s", url);
    if (strcmp(url, "/metrics") == 0) {
        reply->status = 200;
        reply->content_type = METRICS_TYPE;
        reply->body = s_strdup(METRICS_BODY);
        reply->len = strlen(METRICS_BODY);
    } else if (strcmp(url, "/empty") == 0) {
        reply->status = 204;
    } else {
        reply->status = 404;
        reply->content_type = "text/plain";
        reply->body = s_strdup("not found\n");
        reply->len = strlen("not found\n");
    }
}

static int s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    fx->loop = zloop_new();
    if (fx->loop == NULL) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fx = *state;
    httpserv_destroy(&fx->server);
    zloop_destroy(&fx->loop);
    free(fx);
    return 0;
}

static void s_start(fixture_t *fx, const char *address)
{
    wv_err_t err = {{0}};
    fx->server = httpserv_new(fx->loop, address, s_handler, fx, &err);
    if (fx->server == NULL)
        fail_msg("httpserv_new(%s): %s", address, err.msg);
}

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    fixture_t *fx = arg;
    size_t len = size * nmemb;
    size_t room = sizeof fx->body - 1 - fx->body_len;
    size_t take = len < room ? len : room;
    memcpy(fx->body + fx->body_len, data, take);
    fx->body_len += take;
    fx->body[fx->body_len] = '\0';
    return len;
}

static size_t s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    fixture_t *fx = arg;
    size_t len = size * nmemb;
    size_t room = sizeof fx->headers - 1 - fx->headers_len;
    size_t take = len < room ? len : room;
    memcpy(fx->headers + fx->headers_len, data, take);
    fx->headers_len += take;
    fx->headers[fx->headers_len] = '\0';
    return len;
}

/* The client thread: one request with libcurl, then a byte on fx->done to end the loop. */
static void *s_client(void *arg)
{
    fixture_t *fx = arg;
    fx->curl_rc = CURLE_FAILED_INIT;
    CURL *curl = curl_easy_init();
    if (curl != NULL) {
        curl_easy_setopt(curl, CURLOPT_URL, fx->request_url);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)CLIENT_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, fx);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, fx);
        if (strcmp(fx->request_method, "HEAD") == 0)
            curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        else if (strcmp(fx->request_method, "POST") == 0)
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "height=100");
        fx->curl_rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &fx->status);
        char *type = NULL;
        if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL)
            snprintf(fx->content_type, sizeof fx->content_type, "%s", type);
        curl_easy_cleanup(curl);
    }
    const char byte = 1;
    if (write(fx->done[1], &byte, 1) != 1)
        abort(); /* the loop would wait for the deadline; make the failure loud instead */
    return NULL;
}

static int s_on_client_done(zloop_t *loop, zmq_pollitem_t *item, void *arg)
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

/* Sends one request from a client thread while the server runs on the loop; returns when the
 * client has its answer (or fails at the deadline). */
static void s_request(fixture_t *fx, const char *method, const char *host, const char *path)
{
    snprintf(fx->request_url, sizeof fx->request_url, "http://%s:%d%s", host,
             httpserv_port(fx->server), path);
    fx->request_method = method;
    fx->status = 0;
    fx->content_type[0] = fx->body[0] = fx->headers[0] = '\0';
    fx->body_len = fx->headers_len = 0;
    assert_int_equal(pipe2(fx->done, O_CLOEXEC), 0);
    zmq_pollitem_t item = {NULL, fx->done[0], ZMQ_POLLIN, 0};
    assert_int_equal(zloop_poller(fx->loop, &item, s_on_client_done, fx), 0);
    int deadline = zloop_timer(fx->loop, DEADLINE_MS, 1, s_on_deadline, fx);
    assert_true(deadline >= 0);

    pthread_t client;
    assert_int_equal(pthread_create(&client, NULL, s_client, fx), 0);
    zloop_start(fx->loop);
    pthread_join(client, NULL);

    zloop_timer_end(fx->loop, deadline);
    zloop_poller_end(fx->loop, &item);
    close(fx->done[0]);
    close(fx->done[1]);
    if (fx->timed_out)
        fail_msg("no answer to %s %s within %d ms", method, fx->request_url, DEADLINE_MS);
    if (fx->curl_rc != CURLE_OK)
        fail_msg("%s %s: %s", method, fx->request_url, curl_easy_strerror(fx->curl_rc));
}

static void test_get_returns_the_handlers_body_and_type(void **state)
{
    fixture_t *fx = *state;
    s_start(fx, "127.0.0.1:0");

    s_request(fx, "GET", "127.0.0.1", "/metrics?format=text");

    assert_int_equal(fx->status, 200);
    assert_string_equal(fx->content_type, METRICS_TYPE);
    assert_string_equal(fx->body, METRICS_BODY);
    assert_int_equal(fx->calls, 1);
    assert_string_equal(fx->method, "GET");
    assert_string_equal(fx->url, "/metrics"); /* without the query */
}

static void test_a_404_passes_through(void **state)
{
    fixture_t *fx = *state;
    s_start(fx, "localhost:0");

    s_request(fx, "GET", "127.0.0.1", "/nothing-here");

    assert_int_equal(fx->status, 404);
    assert_string_equal(fx->body, "not found\n");
    assert_string_equal(fx->url, "/nothing-here");
}

static void test_an_empty_body_and_head(void **state)
{
    fixture_t *fx = *state;
    s_start(fx, "127.0.0.1:0");

    s_request(fx, "GET", "127.0.0.1", "/empty");
    assert_int_equal(fx->status, 204);
    assert_int_equal(fx->body_len, 0);

    s_request(fx, "HEAD", "127.0.0.1", "/metrics");
    assert_int_equal(fx->status, 200);
    assert_int_equal(fx->body_len, 0);
    assert_string_equal(fx->method, "HEAD");
    tu_assert_contains(fx->headers, "Content-Length: 16"); /* the length of the GET body */
    assert_int_equal(fx->calls, 2);
}

static void test_post_is_405_without_the_handler(void **state)
{
    fixture_t *fx = *state;
    s_start(fx, "127.0.0.1:0");

    s_request(fx, "POST", "127.0.0.1", "/metrics");

    assert_int_equal(fx->status, 405);
    tu_assert_contains(fx->headers, "Allow: GET, HEAD");
    assert_int_equal(fx->calls, 0);

    s_request(fx, "GET", "127.0.0.1", "/metrics"); /* the server is still fine */
    assert_int_equal(fx->status, 200);
}

static void test_port_0_binds_a_real_port(void **state)
{
    fixture_t *fx = *state;
    s_start(fx, "127.0.0.1:0");
    assert_true(httpserv_port(fx->server) > 0);
}

static void test_ipv6_loopback(void **state)
{
    fixture_t *fx = *state;
    wv_err_t err = {{0}};
    fx->server = httpserv_new(fx->loop, "[::1]:0", s_handler, fx, &err);
    if (fx->server == NULL) {
        print_message("no IPv6 loopback here (%s); skipped\n", err.msg);
        skip();
    }

    s_request(fx, "GET", "[::1]", "/metrics");

    assert_int_equal(fx->status, 200);
    assert_string_equal(fx->body, METRICS_BODY);
}

static void test_a_port_in_use_is_an_error(void **state)
{
    fixture_t *fx = *state;
    s_start(fx, "127.0.0.1:0");
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", httpserv_port(fx->server));

    wv_err_t err = {{0}};
    httpserv_t *second = httpserv_new(fx->loop, address, s_handler, fx, &err);

    assert_null(second);
    tu_assert_contains(err.msg, address);
}

static void test_a_bad_address_is_an_error(void **state)
{
    fixture_t *fx = *state;
    const char *bad[] = {"127.0.0.1",     "127.0.0.1:",    "127.0.0.1:65536",
                         "127.0.0.1:-1",  "127.0.0.1:80x", "example.com:80",
                         "256.1.1.1:80",  "[::1]",         "[::1:80",
                         "[nonsense]:80", ":80",           "::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wv_err_t err = {{0}};
        httpserv_t *server = httpserv_new(fx->loop, bad[i], s_handler, fx, &err);
        if (server != NULL)
            fail_msg("%s was accepted", bad[i]);
        tu_assert_contains(err.msg, bad[i]);
    }
}

#define SERVER_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int main(void)
{
    zsys_handler_set(NULL); /* czmq must not install its own SIGINT/SIGTERM handlers */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        SERVER_TEST(test_get_returns_the_handlers_body_and_type),
        SERVER_TEST(test_a_404_passes_through),
        SERVER_TEST(test_an_empty_body_and_head),
        SERVER_TEST(test_post_is_405_without_the_handler),
        SERVER_TEST(test_port_0_binds_a_real_port),
        SERVER_TEST(test_ipv6_loopback),
        SERVER_TEST(test_a_port_in_use_is_an_error),
        SERVER_TEST(test_a_bad_address_is_an_error),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
