/* peercert: finding a peer's public CURVE certificate by the endpoint it serves, in a directory
 * of zcert files whose metadata names it (`endpoint = "tcp://host:port"`). Shared by the agent's
 * gossip and wvcoord; it reads files, it opens no socket. */
#ifndef WV_PEERCERT_H
#define WV_PEERCERT_H

#include <czmq.h>

/* The cert in dir whose "endpoint" metadata equals endpoint, or NULL (destroy it when done). */
zcert_t *peercert_find(const char *dir, const char *endpoint);

#endif
