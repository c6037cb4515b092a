/* control: the running agent's local control socket, wemixvisor/agent.sock (owner-only), and
 * the client the CLI uses. ZeroMQ REQ/REP over ipc://, one JSON object each way.
 * It knows no commands: the owner answers them. */
#ifndef WV_CONTROL_H
#define WV_CONTROL_H

#include "err.h"

#include <czmq.h>
#include <jansson.h>
#include <stdint.h>

#define CONTROL_SOCKET_NAME "agent.sock"
#define CONTROL_REQUEST_MAX 65536
#define CONTROL_TIMEOUT_MS 5000

typedef struct control control_t;

/* Answers one request ({"cmd": "status", ...}, already checked to be an object with a string
 * "cmd"). Returns a new object; {"ok": true} is added unless the answer sets "ok". */
typedef json_t *(control_fn)(const char *cmd, json_t *request, void *arg);

/* Binds path (replacing a stale socket file) with mode 0600, on the loop. */
control_t *control_new(zloop_t *loop, const char *path, control_fn *fn, void *arg, wv_err_t *err);
void control_destroy(control_t **self_p);

/* Sends {"cmd": cmd} to the agent at path; *reply is the answer (new reference). Fails with err
 * when there is no answer within timeout_ms or the answer is not JSON. */
int control_request(const char *path, const char *cmd, uint64_t timeout_ms, json_t **reply,
                    wv_err_t *err);

#endif
