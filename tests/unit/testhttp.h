/* testhttp: a small HTTP server in the test process (libmicrohttpd on 127.0.0.1 and a free port)
 * that gathers each request's body and hands it to the test's handler. Only for the unit tests
 * that link libmicrohttpd (see CMakeLists.txt). */
#ifndef WV_TESTHTTP_H
#define WV_TESTHTTP_H

#include <microhttpd.h>
#include <stddef.h>

typedef struct tu_http tu_http_t;

/* Answers one request whose whole body (nul-terminated, "" if none) has arrived: queues a response
 * on conn and returns what MHD_queue_response did, or MHD_NO to drop the connection. Runs on the
 * server's thread. */
typedef enum MHD_Result (*tu_http_handler_t)(void *cls, struct MHD_Connection *conn,
                                             const char *url, const char *method, const char *body,
                                             size_t len);

/* Starts a server on 127.0.0.1 and a free port calling handler(cls, ...) for each request, and
 * puts "127.0.0.1:<port>" in address; fails the test if it cannot. flags are added to
 * MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG (0, or MHD_USE_THREAD_PER_CONNECTION for a
 * handler that may block its connection). */
tu_http_t *tu_http_start(tu_http_handler_t handler, void *cls, unsigned flags, char *address,
                         size_t size);

/* Stops the server (waiting for the handlers that run) and frees it; safe on NULL. */
void tu_http_stop(tu_http_t **self_p);

/* Queues body (a heap string, taken over) with status and Content-Type: application/json. */
enum MHD_Result tu_http_reply_json(struct MHD_Connection *conn, unsigned status, char *body);

#endif
