/* testhttp: the in-process HTTP server of the unit tests (see testhttp.h). */
#include "testhttp.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tu_http {
    struct MHD_Daemon *daemon;
    tu_http_handler_t handler;
    void *cls;
};

/* One request's body as it arrives. */
typedef struct {
    char *data;
    size_t len;
} upload_t;

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    (void)version;
    tu_http_t *self = cls;
    upload_t *upload = *con_cls;
    if (upload == NULL) { /* headers only so far */
        upload = calloc(1, sizeof *upload);
        if (upload == NULL)
            return MHD_NO;
        *con_cls = upload;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *grown = realloc(upload->data, upload->len + *upload_data_size + 1);
        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + upload->len, upload_data, *upload_data_size);
        upload->data = grown;
        upload->len += *upload_data_size;
        upload->data[upload->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    return self->handler(self->cls, conn, url, method, upload->data != NULL ? upload->data : "",
                         upload->len);
}

static void s_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    upload_t *upload = *con_cls;
    if (upload != NULL) {
        free(upload->data);
        free(upload);
        *con_cls = NULL;
    }
}

tu_http_t *tu_http_start(tu_http_handler_t handler, void *cls, unsigned flags, char *address,
                         size_t size)
{
    tu_http_t *self = calloc(1, sizeof *self);
    assert_non_null(self);
    self->handler = handler;
    self->cls = cls;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    self->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | flags, 0, NULL, NULL,
                         s_on_request, self, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self, MHD_OPTION_END);
    assert_non_null(self->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(address, size, "127.0.0.1:%u", (unsigned)info->port);
    return self;
}

void tu_http_stop(tu_http_t **self_p)
{
    if (*self_p == NULL)
        return;
    MHD_stop_daemon((*self_p)->daemon);
    free(*self_p);
    *self_p = NULL;
}

enum MHD_Result tu_http_reply_json(struct MHD_Connection *conn, unsigned status, char *body)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (response == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(response, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return rc;
}
