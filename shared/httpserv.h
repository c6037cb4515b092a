/* httpserv: a small libmicrohttpd server that runs on the owner's zloop (epoll mode, no
 * threads), for /metrics and the dashboard. It serves GET and HEAD; the owner renders bodies. */
#ifndef WV_HTTPSERV_H
#define WV_HTTPSERV_H

#include "err.h"

#include <czmq.h>
#include <stddef.h>

typedef struct httpserv httpserv_t;

/* A response built by the owner's handler. */
typedef struct {
    int status;               /* e.g. 200, 404 */
    const char *content_type; /* static string */
    char *body;               /* heap, freed by httpserv; may be NULL for an empty body */
    size_t len;
} httpserv_reply_t;

/* Called on the loop's thread for each request. url is the path without the query. */
typedef void(httpserv_fn)(const char *method, const char *url, httpserv_reply_t *reply, void *arg);

/* Listens on host:port (host: an IPv4 address, "localhost", or a [IPv6] literal; port 0 picks
 * one). The server's fds are driven by the loop, so handlers need no locking. */
httpserv_t *httpserv_new(zloop_t *loop, const char *host_port, httpserv_fn *fn, void *arg,
                         wv_err_t *err);
/* The port actually bound. */
int httpserv_port(const httpserv_t *self);
void httpserv_destroy(httpserv_t **self_p);

#endif
