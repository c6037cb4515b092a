/* httpserv: libmicrohttpd in external epoll mode, driven by the owner's zloop (MHD's epoll fd as a
 * poller, a one-shot timer re-armed from MHD_get_timeout). Not a router, and never threaded. */
#include "httpserv.h"
#include "log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define COMPONENT "httpserv"
#define HTTPSERV_CONNECTION_TIMEOUT_S 10 /* an idle connection is closed after this */
#define HTTPSERV_CONNECTION_LIMIT 64     /* connections beyond this are refused */
#define HTTPSERV_PORT_MAX 65535
#define HTTPSERV_HOST_MAX 64     /* longer than any IPv4 or [IPv6] literal */
#define HTTPSERV_MHD_MSG_MAX 256 /* one libmicrohttpd log message */
#define HTTPSERV_ALLOWED "GET, HEAD"
#define HTTPSERV_NOT_ALLOWED_BODY "method not allowed: use GET or HEAD\n"
#define HTTPSERV_TEXT "text/plain; charset=utf-8"

struct httpserv {
    zloop_t *loop;
    struct MHD_Daemon *daemon;
    httpserv_fn *fn; /* the owner's handler, and its argument */
    void *arg;
    zmq_pollitem_t item; /* MHD's epoll fd as registered with the loop */
    bool polling;        /* item is registered */
    int timer;           /* one-shot timer until MHD wants to run again; -1 when none */
    int port;            /* the port actually bound */
    bool starting;       /* inside MHD_start_daemon: its messages explain a failure */
    char start_error[HTTPSERV_MHD_MSG_MAX]; /* the first message MHD logged while starting */
};

/* MHD's log: while starting, the reason a start failed (kept for err); afterwards mostly what
 * clients did wrong (resets, timeouts), so it goes to the debug level. */
__attribute__((format(printf, 2, 0))) static void s_on_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
    httpserv_t *self = cls;
    char msg[HTTPSERV_MHD_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    if (self->starting) {
        if (self->start_error[0] == '\0')
            snprintf(self->start_error, sizeof self->start_error, "%s", msg);
        return;
    }
    log_debug(COMPONENT, "libmicrohttpd", LF_STR("message", msg));
}

/* Adds the headers, queues the response and drops our reference to it (MHD keeps its own). */
static enum MHD_Result s_queue(struct MHD_Connection *connection, unsigned int status,
                               struct MHD_Response *response, const char *content_type,
                               bool allow_header)
{
    enum MHD_Result rc = MHD_YES;
    if (content_type != NULL)
        rc = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (rc == MHD_YES && allow_header)
        rc = MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, HTTPSERV_ALLOWED);
    if (rc == MHD_YES)
        rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

/* Queues the owner's reply. Its body is released whatever happens: handed to MHD with
 * MUST_FREE, or freed here when MHD could not take it. */
static enum MHD_Result s_respond(struct MHD_Connection *connection, httpserv_reply_t *reply)
{
    assert(reply->body != NULL || reply->len == 0);
    struct MHD_Response *response;
    if (reply->body != NULL && reply->len > 0) {
        response = MHD_create_response_from_buffer(reply->len, reply->body, MHD_RESPMEM_MUST_FREE);
        if (response == NULL)
            free(reply->body);
    } else {
        free(reply->body);
        response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (response == NULL) {
        log_warn(COMPONENT, "cannot build a response: out of memory");
        return MHD_NO;
    }
    return s_queue(connection, (unsigned int)reply->status, response, reply->content_type, false);
}

/* Answers on the first call, once the headers are in: GET and HEAD go to the owner, anything
 * else gets 405 without its body being read. MHD drops the body of a HEAD response itself. */
static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    httpserv_t *self = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char body[] = HTTPSERV_NOT_ALLOWED_BODY;
        struct MHD_Response *response =
            MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (response == NULL)
            return MHD_NO;
        return s_queue(connection, MHD_HTTP_METHOD_NOT_ALLOWED, response, HTTPSERV_TEXT, true);
    }
    /* A handler that forgets to set a status answers 500, which is visible to whoever asked. */
    httpserv_reply_t reply = {.status = MHD_HTTP_INTERNAL_SERVER_ERROR};
    self->fn(method, url, &reply, self->arg);
    return s_respond(connection, &reply);
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg);

/* Replaces the timer with one that fires when MHD next wants to run (a connection's idle
 * timeout, or at once when work is pending); none when MHD has nothing to time. */
static void s_rearm(httpserv_t *self)
{
    if (self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    self->timer = -1;
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    if (MHD_get_timeout(self->daemon, &timeout) != MHD_YES)
        return;
    self->timer = zloop_timer(self->loop, (size_t)timeout, 1, s_on_timer, self);
    if (self->timer < 0)
        log_error(COMPONENT, "cannot arm the HTTP timer: idle connections may stay open",
                  LF_INT("port", self->port));
}

static void s_run(httpserv_t *self)
{
    if (MHD_run(self->daemon) != MHD_YES)
        log_warn(COMPONENT, "libmicrohttpd could not run", LF_INT("port", self->port));
    s_rearm(self);
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    httpserv_t *self = arg;
    if (timer_id != self->timer)
        return 0;     /* cannot happen: a replaced timer is ended before it can fire */
    self->timer = -1; /* a one-shot timer: the loop removes it after this call */
    s_run(self);
    return 0;
}

static int s_on_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_run(arg);
    return 0; /* never end the owner's loop over a client */
}

/* A port: 1 to 5 decimal digits, 0..65535. */
static int s_parse_port(const char *text, uint16_t *port)
{
    size_t len = strlen(text);
    if (len == 0 || len > 5)
        return -1;
    unsigned long value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value > HTTPSERV_PORT_MAX)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/* host:port, where host is an IPv4 literal, "localhost" (127.0.0.1) or an [IPv6] literal. */
static int s_parse_address(const char *host_port, struct sockaddr_storage *addr, bool *ipv6,
                           uint16_t *port, wv_err_t *err)
{
    const char *colon = strrchr(host_port, ':');
    size_t total = strlen(host_port);
    if (colon == NULL || (total > 0 && host_port[total - 1] == ']'))
        return err_set(err,
                       "HTTP address \"%s\" has no port; write host:port, e.g. 127.0.0.1:9100, "
                       "localhost:9100 or [::1]:9100",
                       host_port);
    if (s_parse_port(colon + 1, port) != 0)
        return err_set(err, "HTTP address \"%s\": the port must be a number 0..%d", host_port,
                       HTTPSERV_PORT_MAX);
    char host[HTTPSERV_HOST_MAX];
    size_t host_len = (size_t)(colon - host_port);
    if (host_len >= sizeof host)
        return err_set(err, "HTTP address \"%s\": the host is too long to be an IP address",
                       host_port);
    memcpy(host, host_port, host_len);
    host[host_len] = '\0';

    memset(addr, 0, sizeof *addr);
    if (host_len > 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host[host_len - 1] = '\0';
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
            return err_set(err, "HTTP address \"%s\": %s is not an IPv6 address", host_port,
                           host + 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(*port);
        *ipv6 = true;
        return 0;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
    const char *literal = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, literal, &in4->sin_addr) != 1)
        return err_set(err,
                       "HTTP address \"%s\": the host must be an IPv4 address, localhost or an "
                       "IPv6 address in brackets ([::1])",
                       host_port);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(*port);
    *ipv6 = false;
    return 0;
}

httpserv_t *httpserv_new(zloop_t *loop, const char *host_port, httpserv_fn *fn, void *arg,
                         wv_err_t *err)
{
    assert(loop != NULL && host_port != NULL && fn != NULL);
    struct sockaddr_storage addr;
    bool ipv6 = false;
    uint16_t port = 0;
    if (s_parse_address(host_port, &addr, &ipv6, &port, err) != 0)
        return NULL;

    httpserv_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        err_set(err, "HTTP address %s: out of memory", host_port);
        return NULL;
    }
    self->loop = loop;
    self->fn = fn;
    self->arg = arg;
    self->timer = -1;

    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    self->starting = true;
    /* One option and its values per line; MHD_OPTION_EXTERNAL_LOGGER first, to hear everything. */
    /* clang-format off */
    self->daemon = MHD_start_daemon(flags, port, NULL, NULL, s_on_request, self,
                                    MHD_OPTION_EXTERNAL_LOGGER, s_on_mhd_log, self,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                    MHD_OPTION_CONNECTION_TIMEOUT,
                                        (unsigned int)HTTPSERV_CONNECTION_TIMEOUT_S,
                                    MHD_OPTION_CONNECTION_LIMIT,
                                        (unsigned int)HTTPSERV_CONNECTION_LIMIT,
                                    MHD_OPTION_END);
    /* clang-format on */
    self->starting = false;
    if (self->daemon == NULL) {
        const char *why = self->start_error[0] != '\0' ? self->start_error : "unknown reason";
        err_set(err, "cannot listen on HTTP address %s: %s; choose a free port or another address",
                host_port, why);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL) {
        err_set(err, "HTTP address %s: libmicrohttpd has no epoll fd", host_port);
        goto fail;
    }
    self->item = (zmq_pollitem_t){NULL, info->epoll_fd, ZMQ_POLLIN, 0};
    info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        err_set(err, "HTTP address %s: libmicrohttpd does not say which port it bound", host_port);
        goto fail;
    }
    self->port = info->port;
    if (zloop_poller(loop, &self->item, s_on_readable, self) != 0) {
        err_set(err, "HTTP address %s: cannot watch the server on the loop", host_port);
        goto fail;
    }
    self->polling = true;
    s_rearm(self);
    return self;

fail:
    httpserv_destroy(&self);
    return NULL;
}

int httpserv_port(const httpserv_t *self)
{
    assert(self != NULL);
    return self->port;
}

void httpserv_destroy(httpserv_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    httpserv_t *self = *self_p;
    if (self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    if (self->polling)
        zloop_poller_end(self->loop, &self->item);
    if (self->daemon != NULL)
        MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}
