/* control: a czmq REP socket on ipc:// for the agent, a REQ socket for the CLI.
 * Requests are size-limited and parsed strictly; a bad one gets an error answer, never a crash. */
#include "control.h"
#include "log.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define COMPONENT "control"
#define SOCKET_MODE 0600

struct control {
    zloop_t *loop;
    zsock_t *rep;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    control_fn *fn;
    void *arg;
};

static json_t *s_error(const char *what, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s%s%s", what, detail[0] ? ": " : "", detail);
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* One request in, one answer out: REP requires exactly that, whatever came in. */
static int s_on_request(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    control_t *self = arg;
    char *text = zstr_recv(sock);
    json_t *answer = NULL;
    if (text == NULL) {
        answer = s_error("empty request", "");
    } else {
        json_error_t jerr;
        json_t *req = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        json_t *cmd = req ? json_object_get(req, "cmd") : NULL;
        if (req == NULL || !json_is_object(req))
            answer = s_error("request is not a JSON object", req ? "" : jerr.text);
        else if (!json_is_string(cmd))
            answer = s_error("request has no \"cmd\" string", "");
        else
            answer = self->fn(json_string_value(cmd), req, self->arg);
        json_decref(req);
        zstr_free(&text);
    }
    if (answer == NULL)
        answer = s_error("out of memory", "");
    if (json_object_get(answer, "ok") == NULL)
        json_object_set_new(answer, "ok", json_true());
    char *out = json_dumps(answer, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(answer);
    zstr_send(sock, out ? out : "{\"ok\":false,\"error\":\"encoding failed\"}");
    free(out);
    return 0;
}

control_t *control_new(zloop_t *loop, const char *path, control_fn *fn, void *arg, wv_err_t *err)
{
    control_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        err_set(err, "out of memory");
        return NULL;
    }
    if (snprintf(self->path, sizeof self->path, "%s", path) >= (int)sizeof self->path) {
        err_set(err, "control socket path %s is longer than %zu bytes; use a shorter DAEMON_HOME",
                path, sizeof self->path - 1);
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->fn = fn;
    self->arg = arg;
    self->rep = zsock_new(ZMQ_REP);
    if (self->rep == NULL) {
        err_set(err, "cannot create the control socket");
        free(self);
        return NULL;
    }
    zsock_set_maxmsgsize(self->rep, CONTROL_REQUEST_MAX);
    zsock_set_linger(self->rep, 0);
    unlink(path); /* a socket file left by an agent that died: we hold the lock, it is ours */
    mode_t old = umask(0077); /* owner-only from the first moment */
    int rc = zsock_bind(self->rep, "ipc://%s", path);
    umask(old);
    if (rc != 0 || chmod(path, SOCKET_MODE) != 0) {
        err_set(err, "cannot bind the control socket %s: %s", path, zmq_strerror(zmq_errno()));
        zsock_destroy(&self->rep);
        free(self);
        return NULL;
    }
    zloop_reader(loop, self->rep, s_on_request, self);
    return self;
}

void control_destroy(control_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    control_t *self = *self_p;
    zloop_reader_end(self->loop, self->rep);
    zsock_destroy(&self->rep);
    unlink(self->path);
    free(self);
    *self_p = NULL;
}

int control_request(const char *path, const char *cmd, uint64_t timeout_ms, json_t **reply,
                    wv_err_t *err)
{
    zsock_t *req = zsock_new(ZMQ_REQ);
    if (req == NULL)
        return err_set(err, "cannot create a socket");
    zsock_set_linger(req, 0);
    zsock_set_rcvtimeo(req, (int)timeout_ms);
    zsock_set_sndtimeo(req, (int)timeout_ms);
    zsock_set_maxmsgsize(req, 16 * CONTROL_REQUEST_MAX);
    int rc = -1;
    json_t *msg = json_pack("{s:s}", "cmd", cmd);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (text == NULL) {
        err_set(err, "out of memory");
    } else if (zsock_connect(req, "ipc://%s", path) != 0) {
        err_set(err, "cannot connect to %s", path);
    } else if (zstr_send(req, text) != 0) {
        err_set(err, "cannot send to %s", path);
    } else {
        char *answer = zstr_recv(req);
        if (answer == NULL) {
            err_set(err, "the agent did not answer on %s within %llu ms", path,
                    (unsigned long long)timeout_ms);
        } else {
            json_error_t jerr;
            *reply = json_loads(answer, 0, &jerr);
            if (*reply == NULL || !json_is_object(*reply)) {
                err_set(err, "the agent's answer is not a JSON object: %s", jerr.text);
                json_decref(*reply);
                *reply = NULL;
            } else {
                rc = 0;
            }
            zstr_free(&answer);
        }
    }
    free(text);
    zsock_destroy(&req);
    return rc;
}
