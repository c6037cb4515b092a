/* probe: the actor that polls the node's JSON-RPC on a timer and reports each probe to its owner.
 * It only measures; it never decides whether the node is healthy, and it never retries a call. */
#include "probe.h"
#include "noderpc.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define PROBE_CMD_TERM "$TERM"  /* sent by zactor_destroy */
#define PROBE_CMD_PROBE "PROBE" /* sent by probe_now */
#define PROBE_MSG_RESULT "RESULT"
#define PROBE_ADDRESS_MAX 256

/* What probe_new hands the actor; read before the actor signals, so it may live on the stack. */
typedef struct {
    const char *address;
    uint64_t interval_ms;
    uint64_t timeout_ms;
} s_probe_args_t;

/* The actor's state, owned by its thread. */
typedef struct {
    zsock_t *pipe;
    noderpc_t *rpc; /* NULL if it could not be made; each probe then reports that */
    char address[PROBE_ADDRESS_MAX];
    uint64_t interval_ms;
    char client_version[PROBE_VERSION_MAX]; /* last web3_clientVersion, "" until known */
    bool terminated;                        /* $TERM received: leave as soon as possible */
    bool probe_requested; /* PROBE received: probe without waiting for the interval */
} s_probe_t;

/* Reads one command from the pipe and records what it asks for. */
static void s_handle_command(s_probe_t *self)
{
    char *command = zstr_recv(self->pipe);
    if (command == NULL) {
        self->terminated = true; /* interrupted: the pipe is going away */
        return;
    }
    if (streq(command, PROBE_CMD_TERM))
        self->terminated = true;
    else if (streq(command, PROBE_CMD_PROBE))
        self->probe_requested = true;
    zstr_free(&command);
}

/* Takes every command already waiting, without blocking; true if the actor must stop. Called
 * between calls of a probe so that zactor_destroy waits for at most one call. */
static bool s_must_stop(s_probe_t *self)
{
    while (!self->terminated && (zsock_events(self->pipe) & ZMQ_POLLIN))
        s_handle_command(self);
    return self->terminated;
}

/* One probe: eth_blockNumber, then, if the node answered, eth_syncing and (until known)
 * web3_clientVersion. Fills out; returns -1 if the actor was told to stop meanwhile. */
static int s_probe(s_probe_t *self, probe_result_t *out)
{
    memset(out, 0, sizeof *out);
    wv_err_t err = {{0}};
    if (self->rpc == NULL) {
        snprintf(out->error, sizeof out->error, "node RPC %s: cannot set up a libcurl handle",
                 self->address);
        return 0;
    }
    if (noderpc_block_number(self->rpc, &out->height, &err) != 0) {
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        out->height = 0;
        /* the node may come back as another binary: ask its version again */
        self->client_version[0] = '\0';
        return 0;
    }
    out->ok = true;
    if (s_must_stop(self))
        return -1;
    bool syncing = false;
    if (noderpc_syncing(self->rpc, &syncing, &err) == 0)
        out->syncing = syncing; /* a node that does not serve eth_syncing counts as not syncing */
    if (self->client_version[0] == '\0') {
        if (s_must_stop(self))
            return -1;
        char version[PROBE_VERSION_MAX];
        if (noderpc_client_version(self->rpc, version, sizeof version, &err) == 0)
            snprintf(self->client_version, sizeof self->client_version, "%s", version);
    }
    snprintf(out->client_version, sizeof out->client_version, "%s", self->client_version);
    return 0;
}

/* Sends one result to the owner: a "RESULT" frame, then the struct as one frame. */
static void s_send_result(s_probe_t *self, const probe_result_t *result)
{
    zmsg_t *msg = zmsg_new();
    if (msg == NULL)
        return;
    if (zmsg_addstr(msg, PROBE_MSG_RESULT) != 0 || zmsg_addmem(msg, result, sizeof *result) != 0 ||
        zmsg_send(&msg, self->pipe) != 0)
        zmsg_destroy(&msg); /* the owner misses one result; the next one follows */
}

/* Milliseconds, clamped to what zpoller_wait takes. */
static int s_poll_timeout(int64_t ms)
{
    if (ms < 0)
        return 0;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void s_probe_actor(zsock_t *pipe, void *arg)
{
    const s_probe_args_t *args = arg;
    s_probe_t self = {.pipe = pipe, .interval_ms = args->interval_ms};
    snprintf(self.address, sizeof self.address, "%s", args->address);
    self.rpc = noderpc_new(args->address, args->timeout_ms);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    zsock_signal(pipe, 0); /* args are not read after this */
    if (poller == NULL) {
        noderpc_destroy(&self.rpc);
        return; /* the owner sees no results; zactor_destroy still works */
    }

    int64_t next_probe = zclock_mono(); /* the first probe runs at once */
    while (!self.terminated) {
        if (self.probe_requested || zclock_mono() >= next_probe) {
            self.probe_requested = false;
            probe_result_t result;
            if (s_probe(&self, &result) != 0)
                break;
            s_send_result(&self, &result);
            /* the interval runs from the end of a probe, so a slow node is not probed back to
             * back */
            next_probe = zclock_mono() + (int64_t)self.interval_ms;
            continue;
        }
        zsock_t *which = zpoller_wait(poller, s_poll_timeout(next_probe - zclock_mono()));
        if (which == pipe)
            s_handle_command(&self);
        else if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);
    noderpc_destroy(&self.rpc);
}

zactor_t *probe_new(const char *address, uint64_t interval_ms, uint64_t timeout_ms)
{
    assert(address != NULL);
    assert(interval_ms > 0 && timeout_ms > 0);
    assert(interval_ms <= INT64_MAX);
    s_probe_args_t args = {
        .address = address, .interval_ms = interval_ms, .timeout_ms = timeout_ms};
    return zactor_new(s_probe_actor, &args);
}

void probe_now(zactor_t *actor)
{
    assert(actor != NULL);
    zstr_send(actor, PROBE_CMD_PROBE);
}

int probe_recv(zactor_t *actor, probe_result_t *out)
{
    assert(actor != NULL && out != NULL);
    zmsg_t *msg = zmsg_recv(actor);
    if (msg == NULL)
        return -1;
    int rc = -1;
    zframe_t *kind = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    if (zmsg_size(msg) == 2 && zframe_streq(kind, PROBE_MSG_RESULT) &&
        zframe_size(body) == sizeof *out) {
        memcpy(out, zframe_data(body), sizeof *out);
        /* the strings come from our own actor, but a result must never be read past its end */
        out->client_version[sizeof out->client_version - 1] = '\0';
        out->error[sizeof out->error - 1] = '\0';
        rc = 0;
    }
    zmsg_destroy(&msg);
    return rc;
}
