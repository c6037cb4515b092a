/* web: wvcoord serve's HTTP side: the dashboard page, /api/fleet, /api/upgrades, /metrics and
 * /healthz, served by shared/httpserv on the coordinator's loop. It renders what coord.c holds. */
#ifndef WV_WEB_H
#define WV_WEB_H

#include "coord.h"

typedef struct web web_t;

web_t *web_new(zloop_t *loop, coord_t *coord, const char *host_port, wv_err_t *err);
int web_port(const web_t *self);
void web_destroy(web_t **self_p);

#endif
