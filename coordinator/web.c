/* web: routes of `wvcoord serve`. The dashboard is one self-contained page (dashboard.html,
 * embedded at build time: no CDN, works offline) that polls /api/fleet every heartbeat. */
#include "web.h"
#include "httpserv.h"

#include <stdlib.h>
#include <string.h>

extern const unsigned char dashboard_html[];
extern const unsigned long dashboard_html_len;

struct web {
    httpserv_t *http;
    coord_t *coord;
};

static void s_text(httpserv_reply_t *reply, int status, const char *type, char *body)
{
    reply->status = body ? status : 500;
    reply->content_type = type;
    reply->body = body;
    reply->len = body ? strlen(body) : 0;
}

static void s_json(httpserv_reply_t *reply, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    s_text(reply, 200, "application/json", text);
}

static void s_on_request(const char *method, const char *url, httpserv_reply_t *reply, void *arg)
{
    (void)method;
    web_t *self = arg;
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        char *page = malloc(dashboard_html_len + 1);
        if (page != NULL)
            memcpy(page, dashboard_html, dashboard_html_len + 1);
        s_text(reply, 200, "text/html; charset=utf-8", page);
    } else if (strcmp(url, "/api/fleet") == 0) {
        s_json(reply, coord_fleet_json(self->coord));
    } else if (strcmp(url, "/api/upgrades") == 0) {
        s_json(reply, coord_upgrades_json(self->coord));
    } else if (strcmp(url, "/metrics") == 0) {
        s_text(reply, 200, "text/plain; version=0.0.4", coord_metrics(self->coord));
    } else if (strcmp(url, "/healthz") == 0) {
        s_json(reply, json_pack("{s:b, s:I, s:I}", "ok", 1, "members",
                                (json_int_t)coord_members(self->coord), "heard",
                                (json_int_t)coord_heard(self->coord)));
    } else {
        s_text(reply, 404, "text/plain",
               strdup("not found; try /, /api/fleet, /api/upgrades, /metrics or /healthz\n"));
    }
}

web_t *web_new(zloop_t *loop, coord_t *coord, const char *host_port, wv_err_t *err)
{
    web_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        err_set(err, "out of memory");
        return NULL;
    }
    self->coord = coord;
    self->http = httpserv_new(loop, host_port, s_on_request, self, err);
    if (self->http == NULL) {
        free(self);
        return NULL;
    }
    return self;
}

int web_port(const web_t *self)
{
    return httpserv_port(self->http);
}

void web_destroy(web_t **self_p)
{
    web_t *self = *self_p;
    if (self == NULL)
        return;
    httpserv_destroy(&self->http);
    free(self);
    *self_p = NULL;
}
